"""reboot/halt from inside a VE, and the monitor that notices them."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from conftest import Node, VeHandle


def _wait_for(pred: object, timeout: float = 15.0) -> bool:
    assert callable(pred)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def _status(ve: VeHandle) -> str:
    return ve.vzctl("status").stdout.strip()


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and \
        "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_reboot_inside_restarts_with_same_config(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    ve.vzctl("set", "--hostname", "reboot-me", "--save", check=True)
    ve.vzctl("start", "--wait", check=True)
    old = ve.state()
    ve.exec("reboot")
    assert _wait_for(lambda: (ve.node.root / f"run/pyvz/{ve.ctid}/state").exists()
                     and ve.state()["init_pid"] != old["init_pid"]
                     and _status(ve).endswith("running"))
    new = ve.state()
    assert new["monitor_pid"] != old["monitor_pid"]
    assert not _alive(int(old["init_pid"]))
    assert ve.exec("hostname").stdout.strip() == "reboot-me"
    assert "rebooting" in (ve.node.root / "var/log/vzctl.log").read_text()


def test_halt_inside_stops_and_cleans_up(ve: VeHandle) -> None:
    state = ve.state()
    ve.exec("halt")
    assert _wait_for(lambda: _status(ve) == f"CTID {ve.ctid} exist unmounted down")
    assert _wait_for(lambda: not _alive(int(state["monitor_pid"])))
    assert not _alive(int(state["init_pid"]))
    assert not any(d.exists() for d in ve.node.cgroup_dirs(ve.ctid))
    assert not (ve.node.root / f"run/pyvz/{ve.ctid}").exists()
    assert not os.path.ismount(ve.node.ve_root(ve.ctid))
    ve.vzctl("start", check=True)  # and it starts again
    assert _status(ve).endswith("running")


def test_poweroff_inside_stops(ve: VeHandle) -> None:
    ve.exec("poweroff")
    assert _wait_for(lambda: _status(ve).endswith("down"))


def test_monitor_killed_ve_keeps_running_and_is_adopted(ve: VeHandle) -> None:
    state = ve.state()
    monitor, init = int(state["monitor_pid"]), int(state["init_pid"])
    os.kill(monitor, signal.SIGKILL)
    assert _wait_for(lambda: not _alive(monitor))
    time.sleep(0.2)
    assert _alive(init)
    # still fully manageable; any command gives it a new monitor
    assert ve.exec("echo still-here").stdout.strip() == "still-here"
    assert _status(ve).endswith("running")
    assert _wait_for(lambda: int(ve.state()["monitor_pid"]) != monitor)
    adopted = int(ve.state()["monitor_pid"])
    assert _alive(adopted)
    assert Path(f"/proc/{adopted}/comm").read_text().startswith("pyvz-mon")
    # a halt inside is noticed by the new monitor and the VE is cleaned up
    ve.exec("halt")
    assert _wait_for(lambda: _status(ve) == f"CTID {ve.ctid} exist unmounted down")
    assert not any(d.exists() for d in ve.node.cgroup_dirs(ve.ctid))


def test_stop_works_without_monitor(ve: VeHandle) -> None:
    state = ve.state()
    os.kill(int(state["monitor_pid"]), signal.SIGKILL)
    r = ve.vzctl("stop", "--fast")
    assert r.returncode == 0, r
    assert _status(ve) == f"CTID {ve.ctid} exist unmounted down"
    assert not _alive(int(state["init_pid"]))


def test_console_log_keeps_boot_output(node: Node, ve: VeHandle) -> None:
    log = node.root / f"var/log/pyvz/console/{ve.ctid}.log"
    assert _wait_for(lambda: log.exists() and b"login" in log.read_bytes())
