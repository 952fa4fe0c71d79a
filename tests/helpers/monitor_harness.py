"""Plays M for the monitor tests: fork a fake VE init on a fresh pty, then exec the monitor.

    monitor_harness.py JSON

JSON is ``{"child": [argv], "monitor": [argv], "wait_child": bool, "tasks": path}``.  In the
monitor argv the words ``{pid}``, ``{master}`` and ``{slave}`` become the child's pid and the
pty fds.  The child's pid is printed on stdout (one line) before the exec, so the monitor
really is the child's parent, as it is under ``vzctl start``.  A stray inheritable pipe is
left open on purpose: the monitor must not pass it on to the handler.  With ``tasks``, the
child's thread ids are appended to that file, one a line, as the VE's cgroup ``tasks`` file
lists them, before the monitor starts.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    spec = json.loads(sys.argv[1])
    master, slave = os.openpty()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()  # like a VE init: own session, and no controlling tty
            os.close(master)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.close(slave)
            os.execvp(spec["child"][0], spec["child"])
        finally:
            os._exit(127)
    if spec.get("wait_child"):
        # Let init die (unreaped) before the monitor exists: its output is still in the
        # pty and its SIGCHLD is lost, as when a VE's init fails at once.
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    if spec.get("tasks"):
        with open(spec["tasks"], "a") as f:
            f.writelines(f"{tid}\n" for tid in sorted(os.listdir(f"/proc/{pid}/task")))
    os.set_inheritable(master, True)
    os.set_inheritable(slave, True)
    _, stray = os.pipe()
    os.set_inheritable(stray, True)
    sys.stdout.write(f"{pid}\n")
    sys.stdout.flush()
    words = {"{pid}": str(pid), "{master}": str(master), "{slave}": str(slave)}
    argv = [words.get(a, a) for a in spec["monitor"]]
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
