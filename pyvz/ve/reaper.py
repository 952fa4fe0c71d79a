"""What runs when a VE's init exits: the monitor execs ``python -m pyvz.ve.reaper CTID
STATUS`` (STATUS = init's wait status, or ``unknown`` for an adopted VE).

A pid-namespace init killed because something inside called reboot(2) exits by SIGHUP;
halt and poweroff give SIGINT.  On reboot the VE is cleaned up and started again with the
same config; otherwise it is cleaned up and stays stopped.  If ``vzctl stop`` is busy with
this VE, its lock makes us wait, and then there is nothing left to do.
"""

from __future__ import annotations

import os
import sys

__all__ = ["is_reboot", "main"]

_SIGHUP = 1


def is_reboot(status: str) -> bool:
    if not status.isdigit():
        return False
    st = int(status)
    return os.WIFSIGNALED(st) and os.WTERMSIG(st) == _SIGHUP


def main(argv: list[str]) -> int:
    from pyvz import log
    from pyvz.errors import VzError
    from pyvz.node import Node
    from pyvz.ve.model import VE
    from pyvz.ve.runstate import RunState

    root = None
    if len(argv) == 4 and argv[0] == "--root":
        root, argv = argv[1], argv[2:]
    if len(argv) != 2 or not argv[0].isdigit():
        sys.stderr.write("usage: python -m pyvz.ve.reaper [--root VZ_ROOT] CTID STATUS\n")
        return 2
    ctid, status = int(argv[0]), argv[1]
    if root is not None:
        # what the reaper starts (a restart after reboot, hooks) must see the same node
        os.environ["VZ_ROOT"] = root
    node = Node()
    logfile = node.setting("LOGFILE") if node.setting("LOGGING") != "no" else ""
    log.setup(prog="vzctl", quiet=True, logfile=logfile or "")
    log.set_ctid(ctid)
    ve = VE(node, ctid)
    if _stop_in_progress(ve.run_dir):
        return 0  # that command cleans up; taking the lock would only get in its way
    if RunState.load(ve.run_dir) is None:
        return 0  # cleaned up already
    try:
        lock = ve.lock("exit handler", wait=3600.0)
    except VzError as e:
        log.error(f"Init exited but the container cannot be cleaned up: {e}")
        return 1
    with lock:
        st = RunState.load(ve.run_dir)
        if st is None or st.init_alive():
            return 0  # stopped by a command, or already started again
        from pyvz.ve.start import cleanup_stopped, start

        reboot = is_reboot(status)
        log.info("Container is rebooting" if reboot else f"Container init exited ({status})")
        try:
            cleanup_stopped(ve, umount=not reboot)
            if reboot and ve.conf.exists:
                ve.forget_runstate()
                start(ve)
        except VzError as e:
            log.error(str(e))
            return e.code
    return 0


def _stop_in_progress(run_dir: str) -> bool:
    """A ``vzctl stop`` that is still alive marked this VE (see runstate.STOPPING_FILE)."""
    from pyvz.ve.runstate import STOPPING_FILE

    try:
        with open(f"{run_dir}/{STOPPING_FILE}") as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False  # the stop was killed half-way: clean up after it
    except PermissionError:
        pass
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
