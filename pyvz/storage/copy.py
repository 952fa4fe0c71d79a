"""Copying a VE's files (snapshots, clones): GNU cp, which keeps owners, modes, times,
hard links, xattrs (overlay's whiteouts and opaque marks, file capabilities) and holes,
and shares blocks where the filesystem can (reflink)."""

from __future__ import annotations

from pyvz.errors import E, VzError
from pyvz.kernel.proc import run

__all__ = ["copy_tree"]


def copy_tree(src: str, dest: str, *, into: bool = False, code: int = E.FS_NEW_VE_PRVT) -> None:
    """Copy directory ``src`` to the new path ``dest`` (or its contents into the existing
    directory ``dest`` when ``into``)."""
    from pyvz.storage.mountns import DIE_WITH_US

    argv = [*DIE_WITH_US, "cp", "-a", "--reflink=auto", "--sparse=always", "--no-target-directory",
            src + ("/." if into else ""), dest]
    rc, _, err = run(argv, code=code, check=False)
    if rc != 0:
        text = err.decode(errors="replace")
        if "No space left" in text or "Disk quota exceeded" in text:
            raise VzError(E.FS_NO_DISK_SPACE, f"Not enough disk space to copy {src}")
        lines = text.strip().splitlines()
        raise VzError(code, f"Copying {src} failed: " + (lines[-1] if lines else f"cp exit "
                                                        f"status {rc}"))
