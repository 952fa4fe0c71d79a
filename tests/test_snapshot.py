"""Snapshots on every layout that has them (overlay, ploop here; btrfs in
test_storage_btrfs): snapshot -> change -> switch -> the change is gone, switching to ANY
snapshot (older, newer, again), delete of a middle one, read-only mounts, vzctl's list
format, and the refusals."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from conftest import Node, VeHandle

pytestmark = pytest.mark.slow

ID_RE = re.compile(r"\{[0-9a-f-]{36}\}")


def _snap(ve: VeHandle, *args: str) -> str:
    r = ve.vzctl("snapshot", *args, check=True)
    found = ID_RE.findall(r.stdout)
    assert found, r.stdout
    return found[0]


def _cat(ve: VeHandle, path: str) -> str:
    return ve.exec(f"cat {path} 2>/dev/null || echo MISSING").stdout.strip()


@pytest.mark.parametrize("layout", [["--layout", "overlay"],
                                    ["--layout", "ploop", "--diskspace", "64M"]])
def test_switch_to_any_snapshot(make_ve: object, layout: list[str], tmp_path: Path) -> None:
    assert callable(make_ve)
    ve: VeHandle = make_ve(*layout)
    ve.exec("echo one > /f; echo keep > /k")
    s1 = _snap(ve, "--name", "first", "--description", "state one")
    ve.exec("echo two > /f; rm /k; mkdir /d; echo in > /d/x")
    s2 = _snap(ve, "--name", "second")
    ve.exec("echo three > /f")
    ve.vzctl("set", "--hostname", "after.example", "--save", check=True)

    # back to the first: files and config of then; the VE runs again
    ve.vzctl("snapshot-switch", "--id", s1, check=True)
    assert ve.vzctl("status", check=True).stdout.split()[-1] == "running"
    assert _cat(ve, "/f") == "one" and _cat(ve, "/k") == "keep"
    assert _cat(ve, "/d/x") == "MISSING"
    assert "after.example" not in ve.node.conf(ve.ctid).read_text()
    # forward to the second, then to the first again: any order works
    ve.vzctl("snapshot-switch", "--id", s2, check=True)
    assert _cat(ve, "/f") == "two" and _cat(ve, "/k") == "MISSING"
    assert _cat(ve, "/d/x") == "in"
    ve.vzctl("snapshot-switch", "--id", s1, "--skip-resume", check=True)
    assert ve.vzctl("status", check=True).stdout.split()[-1] == "down"
    ve.vzctl("start", check=True)
    assert _cat(ve, "/f") == "one"

    # the list: vzctl's columns, current marked, parent chain
    lines = ve.vzctl("snapshot-list", check=True).stdout.splitlines()
    assert lines[0].split() == ["PARENT_UUID", "C", "UUID", "DATE", "NAME"]
    rows = {ID_RE.findall(line)[-1]: line for line in lines[1:]}
    assert rows[s1].split()[0] == "*" and rows[s1].endswith("first")
    assert rows[s2].startswith(s1) and " * " not in rows[s2]
    out = ve.vzctl("snapshot-list", "-H", "-o", "uuid,desc", "--id", s2,
                   check=True).stdout.splitlines()
    assert [o.split()[0] for o in out] == [s2, s1]  # --id: that one back to the first
    assert out[1].endswith("state one")

    # read-only mount of a snapshot while the VE runs
    target = tmp_path / "snapmnt"
    target.mkdir()
    ve.vzctl("snapshot-mount", "--id", s2, "--target", str(target), check=True)
    try:
        assert (target / "f").read_text() == "two\n"
        with pytest.raises(OSError):
            (target / "new").write_text("x")
        assert ve.vzctl("snapshot-delete", "--id", s2).returncode == 158
        assert str(target) in ve.vzctl("snapshot-list", "-o", "uuid,target",
                                       check=True).stdout
    finally:
        ve.vzctl("snapshot-umount", "--id", s2, check=True)
    assert ve.vzctl("snapshot-umount", "--id", s2).returncode == 161

    # deleting the middle of a chain keeps the others whole and switchable
    s3 = _snap(ve, "--skip-suspend")
    ve.vzctl("snapshot-delete", "--id", s1, check=True)
    ids = ID_RE.findall(ve.vzctl("snapshot-list", "-H", "-o", "uuid",
                                 check=True).stdout)
    assert ids == [s2, s3]
    ve.vzctl("snapshot-switch", "--id", s2, check=True)
    assert _cat(ve, "/f") == "two"
    ve.vzctl("snapshot-delete", "--id", s2, check=True)
    ve.vzctl("snapshot-delete", "--id", s3, check=True)
    assert ve.vzctl("snapshot-list", "-H", check=True).stdout == ""
    assert not list((ve.node.private(ve.ctid) / "snapshots").glob("*-*"))


def test_snapshot_errors(node: Node, make_ve: object) -> None:
    assert callable(make_ve)
    simfs: VeHandle = make_ve("--layout", "simfs", start=False)
    r = simfs.vzctl("snapshot")
    assert r.returncode == 156 and "simfs layout has no snapshots" in r.stderr
    ve: VeHandle = make_ve(start=False)
    assert ve.vzctl("snapshot-switch").returncode == 20  # --id missing
    assert ve.vzctl("snapshot-switch", "--id", "nonsense").returncode == 21
    missing = "{" + str(uuid.uuid4()) + "}"
    assert ve.vzctl("snapshot-switch", "--id", missing).returncode == 21
    assert ve.vzctl("snapshot-list", "-o", "bogus").returncode == 21
    assert ve.vzctl("snapshot", "--name", 'a"b').returncode == 21
    sid = _snap(ve, "--id", missing)
    assert sid == missing
    assert ve.vzctl("snapshot", "--id", missing).returncode == 156  # exists
    # what a killed snapshot leaves (a .partial dir) is not listed and is cleaned up
    partial = ve.node.private(ve.ctid) / "snapshots" / ".deadbeef.partial"
    partial.mkdir()
    (partial / "junk").write_text("x")
    assert ID_RE.findall(ve.vzctl("snapshot-list", "-H", check=True).stdout) == [missing]
    _snap(ve)
    assert not partial.exists()
