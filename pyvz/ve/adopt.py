"""Giving a running VE a monitor again after its monitor was killed.

The VE keeps running without one (its init was re-parented to the node's init), but then
nobody notices when it halts.  A new monitor in ``--adopt`` mode watches init through a
pidfd; not being init's parent it cannot read the wait status, so the exit handler is told
``unknown`` and treats it as a halt.  The console of such a VE is gone for good (its pty
master died with the old monitor) until the VE restarts.
"""

from __future__ import annotations

import os

from pyvz.ve.model import VE
from pyvz.ve.runstate import RunState

__all__ = ["ensure_monitor"]


def ensure_monitor(ve: VE) -> bool:
    """Start an adopting monitor if the running VE has none; True if one was started."""
    st = ve.runstate()
    if st is None or st.monitor_alive():
        return False
    from pyvz import log
    from pyvz.ve.start import monitor_binary, monitor_common_args, reaper_command

    monitor = monitor_binary()
    run_dir = ve.run_dir
    argv = [monitor, "--adopt", "--ctid", str(ve.ctid), "--init-pid", str(st.init_pid),
            "--init-start", str(st.init_start), "--socket", f"{run_dir}/console.sock",
            "--log", ve.node.paths.console_log(ve.ctid),
            *monitor_common_args(run_dir, ve.cgroups().tasks_file(),
                                 ve.node.paths.console_log(ve.ctid)),
            "--", *reaper_command(ve)]
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    middle = os.fork()
    if middle == 0:
        try:
            os.setsid()
            pid = os.fork()
            if pid == 0:
                devnull = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.execv(monitor, argv)
            os.write(ready_w, str(pid).encode())
        finally:
            os._exit(0)
    os.close(ready_w)
    pid_text = os.read(ready_r, 32)
    os.close(ready_r)
    os.waitpid(middle, 0)
    if not pid_text.isdigit():
        return False
    RunState(init_pid=st.init_pid, init_start=st.init_start, monitor_pid=int(pid_text),
             started=st.started, local_uid=st.local_uid, local_gid=st.local_gid,
             hostname=st.hostname, caps=st.caps).save(run_dir)
    ve.forget_runstate()
    log.debug(f"Adopted running container {ve.ctid} with a new monitor")
    return True
