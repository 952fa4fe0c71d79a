"""Snapshot commands killed half-way: the next snapshot command repairs (thaws a VE left
frozen, finishes an interrupted switch, drops a half-made snapshot)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from conftest import VeHandle

pytestmark = pytest.mark.slow

ID_RE = re.compile(r"\{[0-9a-f-]{36}\}")


def _unlocked(ve: VeHandle, *args: str) -> subprocess.CompletedProcess[str]:
    for _ in range(200):
        r = ve.vzctl(*args)
        if r.returncode != 9:
            return r
        time.sleep(0.05)
    return r


def _files(ve: VeHandle) -> tuple[str, str]:
    """/a and /b of the stopped VE, read through a mount."""
    ve.vzctl("mount", check=True)
    try:
        root = ve.node.ve_root(ve.ctid)
        return (root / "a").read_text().strip(), (root / "b").read_text().strip()
    finally:
        ve.vzctl("umount", check=True)


@pytest.mark.parametrize("layout", [["--layout", "overlay"],
                                    ["--layout", "ploop", "--diskspace", "96M"]])
def test_killed_switch_and_snapshot_are_repaired(make_ve: object, layout: list[str]) -> None:
    assert callable(make_ve)
    ve: VeHandle = make_ve(*layout)
    # a big file makes each copy take long enough for kills to land inside it
    ve.exec("dd if=/dev/urandom of=/big bs=1M count=40 2>/dev/null; "
            "echo 1 > /a; echo 1 > /b")
    s1 = ID_RE.findall(ve.vzctl("snapshot", check=True).stdout)[0]
    ve.exec("echo 2 > /a; echo 2 > /b")
    s2 = ID_RE.findall(ve.vzctl("snapshot", check=True).stdout)[0]
    for delay in (0.05, 0.1, 0.15, 0.2):   # kills during copy + freeze of a running VE
        ve.node.kill_vzctl_after(delay, "snapshot", str(ve.ctid))
        r = _unlocked(ve, "snapshot-list", "-H", "-o", "uuid")
        assert r.returncode == 0, r.stderr
        ve.exec("echo alive > /c")                     # not left frozen
        snaps = ve.node.private(ve.ctid) / "snapshots"
        assert not list(snaps.glob(".*.partial"))
        for sid in ID_RE.findall(r.stdout):            # every listed one is whole
            assert (snaps / sid.strip("{}") / "meta").exists()
    ve.vzctl("stop", check=True)
    want = {s1: ("1", "1"), s2: ("2", "2")}
    target = s1
    for i in range(12):
        ve.node.kill_vzctl_after(0.04 + 0.02 * i, "snapshot-switch", str(ve.ctid), "--id", target)
        r = _unlocked(ve, "snapshot-list", "-H")       # repairs what was left
        assert r.returncode == 0, r.stderr
        assert not (ve.node.private(ve.ctid) / "snapshots" / ".switching").exists()
        got = _files(ve)
        assert got in want.values()                    # never half of each
        target = s2 if got == want[s1] else s1
    ve.vzctl("snapshot-switch", "--id", s1, check=True)
    assert _files(ve) == ("1", "1")
    ve.vzctl("start", check=True)


def test_left_frozen_is_thawed(make_ve: object) -> None:
    assert callable(make_ve)
    ve: VeHandle = make_ve()
    from pyvz.cgroups.hierarchy import Hierarchies

    hier = Hierarchies.probe()
    assert hier.v2
    cg = Path(hier.v2) / ve.node.node_name / str(ve.ctid)
    (cg / "cgroup.freeze").write_text("1")                 # as a killed snapshot leaves it
    (ve.node.root / "run/pyvz" / str(ve.ctid) / "disk-frozen").write_text("")
    ve.vzctl("snapshot-list", check=True)
    assert (cg / "cgroup.freeze").read_text().strip() == "0"
    ve.exec("true")
