"""``vzctl mount`` / ``umount``: the private area at VE_ROOT, with the action scripts."""

from __future__ import annotations

import os

from pyvz import log
from pyvz.errors import E, VzError
from pyvz.storage.base import get_driver
from pyvz.ve import hooks
from pyvz.ve.model import VE

__all__ = ["mount", "umount"]


def mount(ve: VE) -> None:
    ve.require_config()
    ve.require_private()
    if ve.is_mounted():
        raise VzError(E.FS_MOUNTED, "Container is already mounted")
    hooks.run_host_hooks(ve, "premount")
    root = ve.root
    try:
        os.makedirs(root, mode=0o755, exist_ok=True)
    except OSError as e:
        raise VzError(E.FS_NEW_VE_ROOT, f"Unable to create {root}: {e.strerror}") from e
    driver = get_driver(ve.layout, ve.node)
    driver.mount(ve.private, root)
    try:
        hooks.run_host_hooks(ve, "mount")
    except VzError:
        driver.umount(root)
        raise
    log.info("Container is mounted")


def umount(ve: VE) -> None:
    if ve.is_running():
        raise VzError(E.VE_RUNNING, "Container is running -- stop it first")
    if not ve.is_mounted():
        raise VzError(E.FS_NOT_MOUNTED, "Container is not mounted")
    hooks.run_host_hooks(ve, "umount")
    get_driver(ve.layout, ve.node).umount(ve.root)
    hooks.run_host_hooks(ve, "postumount")
    log.info("Container is unmounted")
