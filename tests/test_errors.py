"""Bad input gets vzctl's exit code, one line on stderr, and changes nothing."""

from __future__ import annotations

import pytest
from conftest import Node, VeHandle


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if not line.startswith("Hint:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("args, code, message", [
    (["start", "no-such-name"], 21, "Bad CT ID no-such-name"),
    (["start", "12abc"], 21, "Bad CT ID 12abc"),
    (["start", "-5"], 21, "Bad CT ID -5"),
    (["start", "99999999999"], 21, "Bad CT ID 99999999999"),
    (["frobnicate", "101"], 20, "Bad command: frobnicate"),
    (["start"], 21, "CT ID missing"),
    (["start", "0"], 21, "Only set actions are allowed for CT0"),
    (["--bogus", "status", "101"], 20, "Invalid option --bogus"),
])
def test_bad_command_lines(node: Node, args: list[str], code: int, message: str) -> None:
    r = node.vzctl(*args)
    assert r.returncode == code, r
    assert _one_line(r.stderr) == message


def test_unknown_option(ve: VeHandle) -> None:
    for cmd in ("start", "stop", "create", "set", "destroy"):
        r = ve.vzctl(cmd, "--no-such-option")
        assert r.returncode == 20, (cmd, r)
        assert "Invalid option --no-such-option" in _one_line(r.stderr)


def test_missing_config(node: Node) -> None:
    ctid = str(node.new_ctid())
    for cmd in ("start", "stop", "mount", "destroy", "set"):
        args = ["--hostname", "x", "--save"] if cmd == "set" else []
        r = node.vzctl(cmd, ctid, *args)
        assert r.returncode == 14, (cmd, r)
        assert _one_line(r.stderr) == "Container config file does not exist"
    r = node.vzctl("exec", ctid, "true")
    assert r.returncode == 14
    assert node.vzctl("status", ctid).stdout.strip() == f"CTID {ctid} deleted unmounted down"


def test_unknown_template_leaves_nothing(node: Node) -> None:
    ctid = node.new_ctid()
    r = node.vzctl("create", str(ctid), "--ostemplate", "no-such-os")
    assert r.returncode == 91
    assert "no-such-os" in _one_line(r.stderr)
    assert not node.conf(ctid).exists()
    assert not node.private(ctid).exists()
    assert not (node.root / "vz/private" / f"{ctid}.partial").exists()
    # and running it again with a good template works
    try:
        node.vzctl("create", str(ctid), "--ostemplate", "busybox", check=True)
    finally:
        node.vzctl("destroy", str(ctid))


def test_running_ve_refuses_start_destroy(ve: VeHandle) -> None:
    r = ve.vzctl("start")
    assert r.returncode == 32
    assert _one_line(r.stderr) == "Container is already running"
    r = ve.vzctl("destroy")
    assert r.returncode == 32
    assert _one_line(r.stderr) == "Container is currently running. Stop it first."
    assert ve.node.private(ve.ctid).is_dir()
    r = ve.vzctl("umount")
    assert r.returncode == 32
    assert ve.vzctl("status").stdout.split()[-1] == "running"


def test_exec_in_stopped_ve(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    for cmd in ("exec", "exec2", "exec3", "enter"):
        r = ve.vzctl(cmd, "true") if cmd != "enter" else ve.vzctl(cmd)
        assert r.returncode == 31, (cmd, r)
        assert _one_line(r.stderr) == "Container is not running"


def test_create_existing(ve: VeHandle) -> None:
    r = ve.vzctl("create", "--ostemplate", "busybox")
    assert r.returncode in (32, 44)
    r2 = ve.node.vzctl("stop", str(ve.ctid), check=True)
    assert r2.returncode == 0
    r = ve.vzctl("create", "--ostemplate", "busybox")
    assert r.returncode == 44
    assert "already exists" in _one_line(r.stderr)


@pytest.mark.parametrize("args, code", [
    (["--hostname", "bad_host!"], 70),
    (["--ipadd", "300.1.2.3"], 71),
    (["--ipadd", "not-an-ip"], 71),
    (["--onboot", "maybe"], 21),
    (["--bootorder", "x"], 21),
    (["--name", "bad name"], 131),
    (["--name", "12345", "--save"], 131),
    (["--name", "good-name"], 131),           # --name needs --save
    (["--capability", "sys_bogus:on"], 21),
    (["--userpasswd", "nocolon"], 21),
    (["--setmode", "sometimes"], 21),
])
def test_set_bad_values(make_ve: object, args: list[str], code: int) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    before = ve.node.conf(ve.ctid).read_text()
    r = ve.vzctl("set", *args, "--save" if "--save" not in args and args[0] != "--name"
                 else "--force")
    assert r.returncode == code, r
    _one_line(r.stderr)
    assert ve.node.conf(ve.ctid).read_text() == before


def test_start_disabled(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    ve.vzctl("set", "--disabled", "yes", "--save", check=True)
    r = ve.vzctl("start")
    assert r.returncode == 105
    assert _one_line(r.stderr) == "Container start disabled"
    ve.vzctl("start", "--force", check=True)
    assert ve.vzctl("status").stdout.split()[-1] == "running"


def test_stop_of_stopped_ve_is_fine(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    r = ve.vzctl("stop")
    assert r.returncode == 0
    assert "not running" in r.stdout


def test_name_resolution(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    name = f"web{ve.ctid}"
    ve.vzctl("set", "--name", name, "--save", check=True)
    assert ve.node.vzctl("status", name).stdout.split()[1] == str(ve.ctid)
    ve.node.vzctl("start", name, check=True)
    assert ve.node.vzctl("exec", name, "true").returncode == 0
    assert ve.node.vzlist("-H", "-o", "ctid", name).stdout.split() == [str(ve.ctid)]
    other = make_ve(start=False)
    r = other.vzctl("set", "--name", name, "--save")
    assert r.returncode == 131
    assert "in use" in _one_line(r.stderr)


def test_broken_ve_without_init(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    ve.vzctl("mount", check=True)
    (ve.node.ve_root(ve.ctid) / "sbin/init").unlink()  # whiteout in the VE's upper layer
    ve.vzctl("umount", check=True)
    r = ve.vzctl("start")
    assert r.returncode == 47
    assert "no /sbin/init" in _one_line(r.stderr)
    assert ve.vzctl("status").stdout.split()[3:] == ["unmounted", "down"]
    assert not any(d.exists() for d in ve.node.cgroup_dirs(ve.ctid))


def test_full_disk_during_create_leaves_nothing(node: Node, tmp_path: object) -> None:
    import subprocess
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "pyvz-test-small", str(small)],
                   check=True)
    ctid = str(node.new_ctid())
    try:
        r = node.vzctl("create", ctid, "--ostemplate", "busybox", "--layout", "simfs",
                       "--private", f"{small}/$VEID")
        assert r.returncode == 46, r
        assert "No space left on device" in _one_line(r.stderr)
        assert list(small.iterdir()) == []
        assert not node.conf(int(ctid)).exists()
        # with room again, the same command works
        r = node.vzctl("create", ctid, "--ostemplate", "busybox", "--layout", "simfs",
                       "--private", f"{tmp_path}/roomy/$VEID")
        assert r.returncode == 0, r
    finally:
        node.vzctl("destroy", ctid)
        subprocess.run(["umount", str(small)], check=False)
