"""What a running VE leaves in the run directory: its init's identity and its monitor.

A PID alone can be reused after a crash or a host reboot, so a VE counts as running only
while ``init_pid`` still has the start time recorded at start (field 22 of /proc/PID/stat).
The file is written atomically by the start and removed by stop or by the exit handler.
"""

from __future__ import annotations

import os

__all__ = ["STATE_FILE", "STOPPING_FILE", "RunState", "proc_start_ticks"]

STATE_FILE = "state"
# Written by ``vzctl stop`` (its PID) before init is told to go: the monitor's exit handler
# then leaves the cleanup to that command instead of queueing for the VE's lock, which the
# user's next command (``vzctl start`` right after the stop) would find taken.
STOPPING_FILE = "stopping"


def proc_start_ticks(pid: int, *, living: bool = False) -> int | None:
    """The process's start time in clock ticks since boot; None if it does not exist (or,
    with ``living``, has exited and waits as a zombie to be reaped by someone else)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the command name is in parentheses and may itself contain ") "
    fields = data[data.rfind(b")") + 2:].split()
    if living and fields[:1] in ([b"Z"], [b"X"]):
        return None
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


class RunState:
    __slots__ = (
        "caps",
        "hostname",
        "init_pid",
        "init_start",
        "local_gid",
        "local_uid",
        "monitor_pid",
        "started",
    )

    def __init__(self, init_pid: int = 0, init_start: int = 0, monitor_pid: int = 0,
                 started: float = 0.0, local_uid: int = 0, local_gid: int = 0,
                 hostname: str = "", caps: int = 0) -> None:
        self.init_pid = init_pid
        self.init_start = init_start
        self.monitor_pid = monitor_pid
        self.started = started
        self.local_uid = local_uid
        self.local_gid = local_gid
        self.hostname = hostname
        self.caps = caps  # capability mask of the VE's processes (exec applies it too)

    @classmethod
    def load(cls, run_dir: str) -> RunState | None:
        try:
            with open(f"{run_dir}/{STATE_FILE}") as f:
                text = f.read()
        except FileNotFoundError:
            return None
        st = cls()
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key == "started":
                st.started = float(value)
            elif key == "hostname":
                st.hostname = value
            elif key in cls.__slots__ and value.isdigit():
                setattr(st, key, int(value))
        return st if st.init_pid > 0 else None

    def save(self, run_dir: str) -> None:
        os.makedirs(run_dir, mode=0o700, exist_ok=True)
        text = "".join(f"{k}={getattr(self, k)}\n" for k in self.__slots__)
        tmp = f"{run_dir}/{STATE_FILE}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, f"{run_dir}/{STATE_FILE}")

    def init_alive(self) -> bool:
        return self.init_pid > 0 and \
            proc_start_ticks(self.init_pid, living=True) == self.init_start

    def monitor_alive(self) -> bool:
        """The recorded monitor still runs (a killed one may linger as a zombie, if the
        node's init is slow to reap it: that counts as dead)."""
        if self.monitor_pid <= 0:
            return False
        try:
            with open(f"/proc/{self.monitor_pid}/stat", "rb") as f:
                data = f.read()
        except OSError:
            return False
        name = data[data.find(b"(") + 1:data.rfind(b")")]
        state = data[data.rfind(b")") + 2:][:1]
        return name.startswith(b"pyvz-mon") and state not in (b"Z", b"X")

    @staticmethod
    def remove(run_dir: str) -> None:
        # STOPPING_FILE goes last: the exit handler looks at it before the state file
        for name in (STATE_FILE, f"{STATE_FILE}.tmp", "console.sock", "console.sock.new",
                     "loadavg", "loadavg.new", f"{STOPPING_FILE}.tmp", STOPPING_FILE):
            try:
                os.unlink(f"{run_dir}/{name}")
            except FileNotFoundError:
                pass
        try:
            os.rmdir(run_dir)
        except OSError:
            pass
