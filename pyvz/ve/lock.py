"""Per-VE lock: one command at a time per VE, any number of VEs in parallel.

The lock is an flock(2) on ``LOCKDIR/CTID.lck``.  The kernel drops it when its holder dies,
however it dies, so a stale lock is taken over without guessing; the file also holds the
holder's PID and command for the "locked by" message (vzctl writes the PID too).
"""

from __future__ import annotations

import fcntl
import os
import time

from pyvz.errors import E, LockedError, VzError

__all__ = ["VeLock", "claim_held_locks"]

_held: list[VeLock] = []


def claim_held_locks(what: str) -> None:
    """In a forked child that inherited locks (and outlives its parent), name the child
    as the holder, so "locked by PID" points at a live process."""
    for lock in _held:
        if lock.fd >= 0:
            os.ftruncate(lock.fd, 0)
            os.pwrite(lock.fd, f"{os.getpid()} {what}\n".encode(), 0)


class VeLock:
    __slots__ = ("fd", "path")

    def __init__(self, lock_dir: str, ctid: int) -> None:
        self.path = f"{lock_dir}/{ctid}.lck"
        self.fd = -1

    def acquire(self, wait: float = 0.0, what: str = "") -> VeLock:
        """Take the lock, waiting up to ``wait`` seconds; LockedError (exit 9) otherwise."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise VzError(E.SYSTEM, f"Unable to open lock file {self.path}: {e.strerror}") \
                from e
        deadline = time.monotonic() + wait
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._holder(fd)
                    os.close(fd)
                    raise LockedError("Container already locked"
                                      + (f" by {holder}" if holder else "")) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        if not self._still_linked(fd):
            # the holder we waited for removed the file (destroy): lock the new one instead
            os.close(fd)
            return self.acquire(max(0.0, deadline - time.monotonic()), what)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {what}\n".encode(), 0)
        self.fd = fd
        _held.append(self)
        return self

    def _still_linked(self, fd: int) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        own = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            text = os.pread(fd, 256, 0).decode(errors="replace").strip()
        except OSError:
            return ""
        pid, _, what = text.partition(" ")
        return f"PID {pid}" + (f" ({what})" if what else "") if pid.isdigit() else ""

    def release(self, remove: bool = False) -> None:
        """Drop the lock; ``remove`` also deletes the file (the VE is gone)."""
        if self.fd >= 0:
            try:
                if remove:
                    os.unlink(self.path)
                else:
                    os.ftruncate(self.fd, 0)
            except OSError:
                pass
            os.close(self.fd)  # closing drops the flock
            self.fd = -1
            if self in _held:
                _held.remove(self)

    def __enter__(self) -> VeLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
