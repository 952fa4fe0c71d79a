"""A user namespace mapped like a VE's (its root = LOCAL_UID/LOCAL_GID, 65536 ids), for
running node tools "as the VE's root": owners then read and write as the VE sees them,
and the kernel translates file capabilities.  A forked child holds the namespace while
the caller runs programs in it with ``nsenter --user=<path>``; the child is ours and is
ended by its PID (it exits when we close its pipe)."""

from __future__ import annotations

import contextlib
import os

from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc

__all__ = ["IDS", "nsenter_argv", "ve_userns"]

IDS = 65536

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def ve_userns(uid: int, gid: int) -> Iterator[str]:
    """Yields the path of a user namespace whose root is node uid/gid ``uid``/``gid``."""
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the holder child
        try:
            os.close(ready_r)
            os.close(go_w)
            sc.unshare(sc.CLONE_NEWUSER)
            os.write(ready_w, b"u")
            os.read(go_r, 1)  # EOF when the parent is done
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(go_r)
    try:
        if os.read(ready_r, 1) != b"u":
            raise VzError(E.SYSTEM, "Unable to make a user namespace")
        for name, base in (("uid_map", uid), ("gid_map", gid)):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(f"0 {base} {IDS}\n")
        yield f"/proc/{pid}/ns/user"
    finally:
        os.close(go_w)
        os.close(ready_r)
        os.waitpid(pid, 0)


def nsenter_argv(ns: str, argv: list[str]) -> list[str]:
    return ["nsenter", f"--user={ns}", "--setuid=0", "--setgid=0", "--", *argv]
