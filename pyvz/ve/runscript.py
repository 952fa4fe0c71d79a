"""``vzctl runscript`` on a stopped VE: the script runs chrooted into the mounted root as the
VE's root, with no init and no /proc (vzctl's behaviour), then the root is unmounted again
if this command mounted it."""

from __future__ import annotations

import os

from pyvz.ve.model import VE

__all__ = ["run_stopped"]


def run_stopped(ve: VE, script: bytes) -> int:
    from pyvz.ve import mount as ve_mount
    from pyvz.ve import nsexec
    from pyvz.ve.execute import EXEC_ENV

    ve.require_private()
    mounted_here = not ve.is_mounted()
    if mounted_here:
        ve_mount.mount(ve)
    try:
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = nsexec.spawn_in_root(ve, ["/bin/sh", "-s"], EXEC_ENV, stdin=r)
        finally:
            os.close(r)
        try:
            os.write(w, script)
        except BrokenPipeError:
            pass
        os.close(w)
        return nsexec.wait_status(pid)
    finally:
        if mounted_here:
            ve_mount.umount(ve)
