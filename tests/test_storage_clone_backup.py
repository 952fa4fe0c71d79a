"""Clone (a new VE beside its source, new MACs, no IP) and backup -> destroy -> restore
(same files, to a new CT id and any layout), with incremental backups."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Node, VeHandle

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("layout", [["--layout", "overlay"],
                                    ["--layout", "ploop", "--diskspace", "64M"]])
def test_clone_runs_beside_source(node: Node, make_ve: object, layout: list[str]) -> None:
    assert callable(make_ve)
    src: VeHandle = make_ve(*layout, "--ipadd", "10.199.0.5")
    src.exec("echo original > /data")
    dst = node.new_ctid()
    r = src.vzctl("clone", str(dst), "--name", f"clone{dst}", "--hostname", "copy.example")
    try:
        assert r.returncode == 0, r.stderr
        conf = node.conf(dst).read_text()
        assert "IP_ADDRESS" not in conf and 'HOSTNAME="copy.example"' in conf
        assert f'NAME="clone{dst}"' in conf
        node.vzctl("start", str(dst), check=True)
        assert node.vzctl("exec", str(dst), "cat /data", check=True).stdout == "original\n"
        node.vzctl("exec", str(dst), "echo changed > /data", check=True)
        assert src.exec("cat /data").stdout == "original\n"  # separate files
        assert src.vzctl("status", check=True).stdout.split()[-1] == "running"
        assert node.vzctl("clone", str(src.ctid), str(dst)).returncode == 44  # exists
    finally:
        node.vzctl("stop", str(dst), "--fast")
        node.vzctl("destroy", str(dst))


def test_backup_destroy_restore(node: Node, make_ve: object, tmp_path: Path) -> None:
    assert callable(make_ve)
    ve: VeHandle = make_ve()
    ve.exec("mkdir -p /srv/app && echo v1 > /srv/app/a && echo gone > /srv/app/b && "
            "chown 1000:1000 /srv/app/a && chmod 4755 /srv/app/a && ln -s a /srv/app/l")
    full = tmp_path / "full.tar"
    inc = tmp_path / "inc.tar"
    ve.vzctl("backup", str(full), check=True)
    ve.exec("echo v2 > /srv/app/a && rm /srv/app/b && echo new > /srv/app/c")
    ve.vzctl("backup", str(inc), "--incremental", check=True)
    assert inc.stat().st_size < full.stat().st_size
    listing = ve.exec("ls -ln /srv/app").stdout
    ve.vzctl("stop", check=True)
    ve.vzctl("destroy", check=True)

    for layout in (["--layout", "simfs"], ["--layout", "ploop", "--diskspace", "64M"]):
        new = node.new_ctid()
        try:
            node.vzctl("restore-backup", str(new), f"{full},{inc}", *layout, check=True)
            node.vzctl("start", str(new), check=True)
            got = node.vzctl("exec", str(new), "cat /srv/app/a /srv/app/c; ls /srv/app/b",
                             )
            assert got.stdout == "v2\nnew\n" and "No such file" in got.stderr
            assert node.vzctl("exec", str(new), "ls -ln /srv/app",
                              check=True).stdout == listing
            assert layout[1] in node.vzlist("-o", "layout", "-H", str(new)).stdout
        finally:
            node.vzctl("stop", str(new), "--fast")
            node.vzctl("destroy", str(new))
    # a lone incremental one, or a file that is no backup: refused, nothing made
    new = node.new_ctid()
    assert node.vzctl("restore-backup", str(new), str(inc)).returncode == 21
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar")
    assert node.vzctl("restore-backup", str(new), str(junk)).returncode == 21
    assert not node.conf(new).exists() and not node.private(new).exists()
