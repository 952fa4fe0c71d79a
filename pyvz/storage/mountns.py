"""Running a step in a private copy of the node's mount namespace: mounts it makes (a bind
for a backup's tar) vanish with it, even if the command is killed (the child is bound to
die with us).  A VzError in the child comes back as the same VzError."""

from __future__ import annotations

import os
import signal

from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc

__all__ = ["DIE_WITH_US", "in_private_mounts"]

# argv prefix: the program gets SIGKILL when the command that started it dies (a killed
# vzctl must not leave a cp or tar writing behind the next command's back)
DIE_WITH_US = ["setpriv", "--pdeathsig", "KILL", "--"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def in_private_mounts(func: Callable[[], object]) -> None:
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 0
        try:
            os.close(err_r)
            sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
            sc.unshare(sc.CLONE_NEWNS)
            sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
            func()
        except VzError as e:
            os.write(err_w, f"{e.code} {e.message}".encode())
            status = 1
        except BaseException as e:
            os.write(err_w, f"{E.SYSTEM} {e}".encode())
            status = 1
        finally:
            os._exit(status)
    os.close(err_w)
    chunks = []
    while chunk := os.read(err_r, 4096):
        chunks.append(chunk)
    os.close(err_r)
    _, status = os.waitpid(pid, 0)
    if chunks:
        code, _, text = b"".join(chunks).decode(errors="replace").partition(" ")
        raise VzError(int(code) if code.isdigit() else E.SYSTEM, text)
    if status != 0:
        raise VzError(E.SYSTEM, f"helper process failed (wait status {status})")
