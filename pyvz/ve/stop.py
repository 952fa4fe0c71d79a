"""Stopping a VE: a graceful halt inside, then SIGKILL after STOP_TIMEOUT; then cleanup.

The command waits for init's exit through a pidfd (it is the monitor's child, not ours),
then removes processes, cgroups, run state and the mount itself, under the VE's lock.
The monitor's exit handler, which also wakes up, sees the command's "stopping" mark (or no
run state any more) and leaves without taking the lock, so the user's next command finds
it free.
"""

from __future__ import annotations

import os
import select
import time

from pyvz import log
from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc
from pyvz.ve.model import VE
from pyvz.ve.start import cleanup_stopped

__all__ = ["stop"]

_SIGKILL = 9


def _wait_exit(pidfd: int, timeout: float) -> bool:
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(max(0, int(timeout * 1000))))


def stop(ve: VE, *, fast: bool = False, skip_umount: bool = False) -> None:
    """Stop the VE (the caller holds its lock).  Not running: say so and succeed."""
    ve.require_config()
    st = ve.runstate()
    if st is None:
        log.info("Unable to stop: container is not running")
        cleanup_stopped(ve, umount=not skip_umount)
        return
    from pyvz.ve import nsexec

    target = nsexec.open_target(ve)
    try:
        _mark_stopping(ve)
        log.info("Stopping container ...")
        from pyvz.ve import areas

        areas.detach_all(ve)
        stopped = False
        if not fast:
            timeout = float(ve.conf.get_int("STOP_TIMEOUT", 120) or 120)
            _run_stop_script(ve, target)
            _request_halt(ve, target)
            stopped = _wait_exit(target.pidfd, timeout)
            if not stopped:
                log.info(f"Container did not halt in {int(timeout)} s; killing it")
        if not stopped:
            sc.pidfd_send_signal(target.pidfd, _SIGKILL)
            if not _wait_exit(target.pidfd, 30):
                raise VzError(E.STOP, "Unable to stop container: init does not exit")
    except BaseException:
        _unmark_stopping(ve)  # the exit handler must clean up whenever init does go
        raise
    finally:
        target.close()
    cleanup_stopped(ve, umount=False)
    ve.forget_runstate()
    log.info("Container was stopped")
    if not skip_umount and ve.is_mounted():
        from pyvz.ve import mount as ve_mount

        ve_mount.umount(ve)


def _mark_stopping(ve: VE) -> None:
    from pyvz.ve.runstate import STOPPING_FILE

    path = f"{ve.run_dir}/{STOPPING_FILE}"
    with open(path + ".tmp", "w") as f:
        f.write(f"{os.getpid()}\n")
    os.rename(path + ".tmp", path)


def _unmark_stopping(ve: VE) -> None:
    from pyvz.ve.runstate import STOPPING_FILE

    try:
        os.unlink(f"{ve.run_dir}/{STOPPING_FILE}")
    except FileNotFoundError:
        pass


def _run_stop_script(ve: VE, target: object) -> None:
    from pyvz.ve import hooks, nsexec

    script = hooks.in_ve_script(ve, "stop")
    if script is None:
        return
    assert isinstance(target, nsexec.Target)
    r, w = os.pipe()
    try:
        pid = nsexec.spawn(target, ["/bin/sh", "-s"], _ve_env(), stdin=r)
    finally:
        os.close(r)
    os.write(w, script.encode())
    os.close(w)
    if nsexec.wait_status(pid) != 0:
        log.warn(f"{ve.ctid}.stop script failed")


def _request_halt(ve: VE, target: object) -> None:
    """Ask the VE's init to halt the way its distribution does it (``halt`` inside)."""
    from pyvz.dists import for_template
    from pyvz.ve import nsexec

    assert isinstance(target, nsexec.Target)
    argv = for_template(ve.conf.get("OSTEMPLATE")).halt_argv
    devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    try:
        pid = nsexec.spawn(target, list(argv), _ve_env(), stdin=devnull, stdout=devnull,
                           stderr=devnull)
    except VzError:
        # no halt program: SIGKILL after the timeout is still coming
        return
    finally:
        os.close(devnull)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.02)


def _ve_env() -> dict[str, str]:
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root", "TERM": "linux"}
