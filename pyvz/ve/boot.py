"""``vzctl start --wait``: wait until the VE has finished booting.

vzctl waits for the default runlevel.  pyvz asks the VE: with systemd,
``systemctl is-system-running --wait``; otherwise boot is over once init has started
the services of its runlevel (it has children) and no process inside still runs the
sysinit script (``/etc/init.d/rcS`` or ``rc``): init starts them only after sysinit.
A child of init that has not exec'd yet (it still looks like init) means init is just
starting something, and the answer must hold on two looks 50 ms apart: init runs its
scripts one after another, with an instant between them when none runs.
"""

from __future__ import annotations

import os
import time

from pyvz.errors import E, VzError
from pyvz.ve.model import VE
from pyvz.ve.runstate import RunState

__all__ = ["BOOT_TIMEOUT", "wait_booted"]

BOOT_TIMEOUT = 300.0
_SYSINIT_MARKERS = (b"/etc/init.d/rcS", b"/etc/rc.d/rc.sysinit", b"/etc/init.d/rc ")


def _booted(pids: list[int], init_pid: int) -> bool:
    init_has_children = False
    try:
        with open(f"/proc/{init_pid}/cmdline", "rb") as f:
            init_cmdline = f.read().replace(b"\0", b" ")
    except OSError:
        return False
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ")
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if any(m in cmdline for m in _SYSINIT_MARKERS):
            return False
        ppid = stat[stat.rfind(b")") + 2:].split()[1]
        if int(ppid) == init_pid:
            if cmdline == init_cmdline:
                return False  # forked by init, not yet exec'd: something is starting
            init_has_children = True
    return init_has_children


def _init_is_systemd(st: RunState) -> bool:
    try:
        return os.path.basename(os.readlink(f"/proc/{st.init_pid}/exe")).startswith("systemd")
    except OSError:
        return False


def wait_booted(ve: VE, st: RunState, timeout: float = BOOT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    if _init_is_systemd(st):
        from pyvz.ve import nsexec

        # (templates issue) systemctl answers "offline" at once until systemd has opened
        # its private socket, which happens a moment after init starts
        while not os.path.exists(f"/proc/{st.init_pid}/root/run/systemd/private"):
            if not st.init_alive():
                raise VzError(E.WAIT_FAILED, "Container stopped while booting")
            if time.monotonic() >= deadline:
                raise VzError(E.WAIT_FAILED,
                              f"Container did not finish booting in {int(timeout)} s")
            time.sleep(0.02)
        target = nsexec.open_target(ve)
        try:
            devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
            pid = nsexec.spawn(target, ["systemctl", "is-system-running", "--wait"],
                               {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                               stdin=devnull, stdout=devnull, stderr=devnull)
            os.close(devnull)
            nsexec.wait_status(pid)  # "degraded" still means booted
        finally:
            target.close()
        return
    cg = ve.cgroups()
    looked_booted = False
    while time.monotonic() < deadline:
        if not st.init_alive():
            raise VzError(E.WAIT_FAILED, "Container stopped while booting")
        if _booted(cg.procs(), st.init_pid):
            if looked_booted:
                return
            looked_booted = True
            time.sleep(0.05)
            continue
        looked_booted = False
        time.sleep(0.01)
    raise VzError(E.WAIT_FAILED, f"Container did not finish booting in {int(timeout)} s")
