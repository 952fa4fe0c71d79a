"""One command at a time per VE; VEs in parallel; nodes side by side."""

from __future__ import annotations

import fcntl
import os
import subprocess

import pytest
from conftest import Node, VeHandle


def test_locked_ve_gives_exit_9(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    lock = ve.node.root / f"vz/lock/{ve.ctid}.lck"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(f"{os.getpid()} test\n")
        f.flush()
        r = ve.vzctl("start")
        assert r.returncode == 9
        assert r.stderr.startswith("Container already locked")
        assert ve.vzctl("status").stdout.split()[-1] == "down"
        # --skiplock bypasses it, as in vzctl
        r = ve.node.vzctl("--skiplock", "start", str(ve.ctid))
        assert r.returncode == 0, r
    ve.vzctl("stop", check=True)


def test_stale_lock_is_taken_over(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    lock = ve.node.root / f"vz/lock/{ve.ctid}.lck"
    # a lock file left by a command that died: it names a PID, but nobody holds the flock
    dead = subprocess.run(["true"]).returncode  # noqa: F841 - just to have a finished child
    lock.write_text("999999 start\n")
    ve.vzctl("start", check=True)
    assert ve.vzctl("status").stdout.split()[-1] == "running"


def test_same_ve_twice_at_once(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    procs = [subprocess.Popen(ve.node.argv("vzctl", "start", str(ve.ctid)), env=ve.node.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    codes = sorted(p.wait() for p in procs)
    assert codes[0] == 0 and codes[1] in (9, 32), codes
    assert ve.vzctl("status").stdout.split()[-1] == "running"


def test_different_ves_in_parallel(make_ve: object) -> None:
    assert callable(make_ve)
    ves = [make_ve(start=False) for _ in range(4)]
    procs = [subprocess.Popen(v.node.argv("vzctl", "start", str(v.ctid)), env=v.node.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for v in ves]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    for v in ves:
        assert v.exec("true").returncode == 0


def test_two_nodes_run_the_same_ctid(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    a, b = Node(tmp_path / "node-a"), Node(tmp_path / "node-b")
    for n in (a, b):
        n.root.mkdir()
    try:
        for n in (a, b):
            n.vzctl("create", "101", "--ostemplate", "busybox", check=True)
            n.vzctl("set", "101", "--hostname", n.root.name, "--save", check=True)
            n.vzctl("start", "101", check=True)
        assert a.vzctl("exec", "101", "hostname").stdout.strip() == "node-a"
        assert b.vzctl("exec", "101", "hostname").stdout.strip() == "node-b"
        assert a.node_name != b.node_name
        for n in (a, b):
            assert any(d.exists() for d in n.cgroup_dirs(101))
        a.vzctl("stop", "101", check=True)
        assert b.vzctl("status", "101").stdout.split()[-1] == "running"
        assert not any(d.exists() for d in a.cgroup_dirs(101))
    finally:
        for n in (a, b):
            n.cleanup()


@pytest.mark.parametrize("cmd", ["status", "exec"])
def test_exec_and_status_do_not_wait_for_lock(ve: VeHandle, cmd: str) -> None:
    lock = ve.node.root / f"vz/lock/{ve.ctid}.lck"
    with open(lock, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        args = ["true"] if cmd == "exec" else []
        r = ve.vzctl(cmd, *args, timeout=10)
        assert r.returncode == 0, r


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][:1] in ("Z", "X")
    except OSError:
        return True


@pytest.mark.parametrize("how", [["--fast"], []])
def test_exit_handler_leaves_the_lock_to_the_next_command(make_ve: object,
                                                          how: list[str]) -> None:
    """After ``vzctl stop`` returns, the monitor's exit handler must not queue for the VE's
    lock: a ``vzctl start`` typed right after the stop would get "already locked"."""
    import time

    assert callable(make_ve)
    ve = make_ve()
    lock = ve.node.root / f"vz/lock/{ve.ctid}.lck"
    for _ in range(3):
        monitor = int(ve.state()["monitor_pid"])
        ve.vzctl("stop", *how, check=True)
        with open(lock, "a+") as f:  # the next command holds the lock for a while
            fcntl.flock(f, fcntl.LOCK_EX)
            deadline = time.monotonic() + 1.5
            while not _gone(monitor) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert _gone(monitor), "the exit handler is waiting for the VE's lock"
        ve.vzctl("start", check=True)
