"""A command killed with SIGKILL at any point leaves a state the next command repairs.

Each case kills a real ``vzctl`` after a range of delays (so the kill lands in different
steps), then checks that re-running commands brings the VE to a clean, consistent state:
no stray mount, cgroup, run state, lock or half-made private area.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import Node

DELAYS = (0.0, 0.01, 0.025, 0.05, 0.1, 0.2)


def _retry_while_locked(node: Node, *args: str) -> subprocess.CompletedProcess[str]:
    """The killed command's starter process may still finish its work (holding the lock):
    the next command says "locked" clearly, and works once it is done."""
    for _ in range(100):
        r = node.vzctl(*args)
        if r.returncode != 9:
            return r
        pid = r.stderr.split("PID ")[1].split()[0]
        assert Path(f"/proc/{pid}").exists(), r.stderr  # the holder named is alive
        time.sleep(0.05)
    return r


def _mounts_of(node: Node, ctid: int) -> list[str]:
    prefixes = (str(node.ve_root(ctid)), str(node.private(ctid)))
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f
                if line.split()[4].startswith(prefixes)]


def _assert_clean_stopped(node: Node, ctid: int) -> None:
    """Stopped (or gone) with nothing of a run left over."""
    status = node.vzctl("status", str(ctid)).stdout.split()
    assert status[-1] == "down", status
    assert status[3] == "unmounted", status
    assert not _mounts_of(node, ctid)
    assert not any(d.exists() for d in node.cgroup_dirs(ctid))
    assert not (node.root / f"run/pyvz/{ctid}").exists()
    lock = node.root / f"vz/lock/{ctid}.lck"
    if lock.exists():
        with open(lock) as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody holds it


def _assert_gone(node: Node, ctid: int) -> None:
    _assert_clean_stopped(node, ctid)
    assert not node.conf(ctid).exists()
    assert not node.private(ctid).exists()
    leftovers = [p.name for p in (node.root / "vz/private").iterdir()
                 if p.name.startswith(f"{ctid}.")]
    assert not leftovers


@pytest.mark.parametrize("delay", DELAYS)
def test_killed_create(node: Node, delay: float) -> None:
    ctid = node.new_ctid()
    try:
        node.kill_vzctl_after(delay, "create", str(ctid), "--ostemplate", "busybox")
        status = node.vzctl("status", str(ctid)).stdout.split()
        if status[2] == "exist":
            assert node.vzctl("create", str(ctid), "--ostemplate", "busybox").returncode == 44
        else:
            assert not node.conf(ctid).exists()  # never a config without a private area
            node.vzctl("create", str(ctid), "--ostemplate", "busybox", check=True)
        node.vzctl("start", str(ctid), check=True)
        node.vzctl("stop", str(ctid), check=True)
        _assert_clean_stopped(node, ctid)
        node.vzctl("destroy", str(ctid), check=True)
        _assert_gone(node, ctid)
    finally:
        node.vzctl("stop", str(ctid), "--fast")
        node.vzctl("destroy", str(ctid))


@pytest.mark.parametrize("delay", DELAYS)
def test_killed_start(node: Node, delay: float) -> None:
    ctid = node.new_ctid()
    try:
        node.vzctl("create", str(ctid), "--ostemplate", "busybox", check=True)
        node.kill_vzctl_after(delay, "start", str(ctid))
        r = _retry_while_locked(node, "start", str(ctid))
        assert r.returncode in (0, 32), r
        assert node.vzctl("exec", str(ctid), "true").returncode == 0
        node.vzctl("stop", str(ctid), check=True)
        _assert_clean_stopped(node, ctid)
    finally:
        node.vzctl("stop", str(ctid), "--fast")
        node.vzctl("destroy", str(ctid))


@pytest.mark.parametrize("delay", DELAYS)
def test_killed_stop(node: Node, delay: float) -> None:
    ctid = node.new_ctid()
    try:
        node.vzctl("create", str(ctid), "--ostemplate", "busybox", check=True)
        node.vzctl("start", str(ctid), check=True)
        node.kill_vzctl_after(delay, "stop", str(ctid))
        r = _retry_while_locked(node, "stop", str(ctid))  # the exit handler may hold it
        assert r.returncode == 0, r
        _assert_clean_stopped(node, ctid)
        node.vzctl("start", str(ctid), check=True)  # and it still starts
        node.vzctl("stop", str(ctid), "--fast", check=True)
        _assert_clean_stopped(node, ctid)
    finally:
        node.vzctl("stop", str(ctid), "--fast")
        node.vzctl("destroy", str(ctid))


@pytest.mark.parametrize("delay", DELAYS)
def test_killed_destroy(node: Node, delay: float) -> None:
    ctid = node.new_ctid()
    try:
        node.vzctl("create", str(ctid), "--ostemplate", "busybox", check=True)
        (node.ve_root(ctid).parent).mkdir(parents=True, exist_ok=True)
        node.kill_vzctl_after(delay, "destroy", str(ctid))
        r = _retry_while_locked(node, "destroy", str(ctid))
        assert r.returncode in (0, 14), r
        _assert_gone(node, ctid)
        # the CTID is free again
        node.vzctl("create", str(ctid), "--ostemplate", "busybox", check=True)
    finally:
        node.vzctl("destroy", str(ctid))


def test_killed_start_of_many_leaves_no_processes(node: Node) -> None:
    """After kills and repairs, no process of this node's VEs is left behind."""
    ctid = node.new_ctid()
    try:
        node.vzctl("create", str(ctid), "--ostemplate", "busybox", check=True)
        for delay in DELAYS:
            node.kill_vzctl_after(delay, "start", str(ctid))
            r = _retry_while_locked(node, "stop", str(ctid), "--fast")
            assert r.returncode == 0, r
        _assert_clean_stopped(node, ctid)
        sock = Path(node.root / f"run/pyvz/{ctid}/console.sock")
        assert not sock.exists()
        time.sleep(0.2)
        monitors = subprocess.run(["pgrep", "-f", f"pyvz-monitor --ctid {ctid} .*{node.root}"],
                                  capture_output=True, text=True).stdout.split()
        assert monitors == [], monitors
    finally:
        node.vzctl("stop", str(ctid), "--fast")
        node.vzctl("destroy", str(ctid))
        os.sync()


def test_create_killed_after_private_area_was_renamed(node: Node) -> None:
    """The window between moving the private area into place and writing CTID.conf: the
    area is marked, so the next create knows it for its own remains; an unmarked area
    (an admin's) is never removed."""
    ctid = node.new_ctid()
    try:
        node.vzctl("create", str(ctid), "--ostemplate", "busybox", check=True)
        node.conf(ctid).unlink()                       # as if killed before CTID.conf
        (node.private(ctid) / ".pyvz-creating").touch()
        node.vzctl("create", str(ctid), "--ostemplate", "busybox", check=True)
        assert not (node.private(ctid) / ".pyvz-creating").exists()
        node.conf(ctid).unlink()                       # an area without the mark...
        r = node.vzctl("create", str(ctid), "--ostemplate", "busybox")
        assert r.returncode == 44                      # ...is left alone
        assert node.private(ctid).is_dir()
    finally:
        import shutil

        shutil.rmtree(node.private(ctid), ignore_errors=True)
