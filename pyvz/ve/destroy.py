"""``vzctl destroy``: remove a stopped VE's private area, root directory and config.

The config is renamed to ``CTID.conf.destroyed`` first (vzctl keeps it that way too), so a
destroy killed half-way leaves a VE that reads as "deleted", and running destroy again
finishes the job.
"""

from __future__ import annotations

import os

from pyvz import log
from pyvz.errors import E, VzError
from pyvz.ve import names
from pyvz.ve.create import PARTIAL_SUFFIX, remove_partial
from pyvz.ve.model import VE
from pyvz.ve.start import cleanup_stopped

__all__ = ["destroy"]


def destroy(ve: VE) -> None:
    """The caller holds the VE's lock."""
    if ve.is_running():
        raise VzError(E.VE_RUNNING, "Container is currently running. Stop it first.")
    conf_path = ve.conf_path
    destroyed = conf_path + ".destroyed"
    if not ve.conf.exists:
        if os.path.exists(destroyed):  # an earlier destroy was interrupted: finish it
            from pyvz.config.conffile import ConfFile
            from pyvz.config.layers import VeConfig

            ve.conf = VeConfig(ve.ctid, ve.node.global_values, ConfFile.load(destroyed))
        else:
            raise VzError(E.NOVECONFIG, "Container config file does not exist")
    private = ve.private
    root = ve.root
    if ve.is_mounted():
        from pyvz.ve import mount as ve_mount

        ve_mount.umount(ve)
    cleanup_stopped(ve, umount=False)
    if os.path.exists(conf_path):
        os.rename(conf_path, destroyed)
    # [disk area] the layout removes its own (btrfs subvolumes cannot just be rmtree'd),
    # and a trash left by a destroy killed while deleting is finished here too
    from pyvz.storage.base import get_driver, layout_of

    trash = f"{private}.destroying"
    if os.path.lexists(private):
        log.info(f"Destroying container private area: {private}")
        if os.path.lexists(trash):
            get_driver(layout_of(trash, ve.conf.get("VE_LAYOUT")), ve.node).destroy(trash)
        os.rename(private, trash)
    if os.path.lexists(trash):
        try:
            get_driver(layout_of(trash, ve.conf.get("VE_LAYOUT")), ve.node).destroy(trash)
        except OSError as e:
            raise VzError(E.FS_DEL_PRVT, f"Unable to remove {trash}: {e.strerror}") from e
    remove_partial(private + PARTIAL_SUFFIX)
    try:
        os.rmdir(root)
    except FileNotFoundError:
        pass
    except OSError as e:
        log.warn(f"Unable to remove {root}: {e.strerror}")
    names.unlink(ve.node, ve.conf.get("NAME"), ve.ctid)
    for path in (destroyed, f"{ve.node.paths.console_log(ve.ctid)}",
                 f"{ve.node.paths.console_log(ve.ctid)}.1"):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    log.info("Container private area was destroyed")
