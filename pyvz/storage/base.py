"""Storage layouts: how a VE's private area is made from a template cache and how it is
mounted at VE_ROOT.

Each layout is a driver with capability flags (``DriverInfo``); callers ask the flags
("does it share the template?"), never the name.  Drivers are looked up by the VE_LAYOUT
name and imported lazily.
"""

from __future__ import annotations

import os

from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.node import Node

__all__ = ["LAYOUTS", "DriverInfo", "StorageDriver", "get_driver", "umount_root"]

LAYOUTS = ("overlay", "simfs")


class DriverInfo:
    __slots__ = ("disk_limits", "name", "shares_template", "snapshots")

    def __init__(self, name: str, *, shares_template: bool = False, disk_limits: bool = False,
                 snapshots: bool = False) -> None:
        self.name = name
        self.shares_template = shares_template  # unchanged template files are shared by VEs
        self.disk_limits = disk_limits          # enforces DISKSPACE/DISKINODES itself
        self.snapshots = snapshots


class StorageDriver:
    info: DriverInfo

    def __init__(self, node: Node) -> None:
        self.node = node

    def create(self, private: str, cache_path: str, uid: int, gid: int) -> None:
        """Fill the (new, empty) directory ``private`` from the template cache."""
        raise NotImplementedError

    def mount(self, private: str, root: str) -> None:
        """Mount the VE's files at ``root`` (an existing empty directory)."""
        raise NotImplementedError

    def umount(self, root: str) -> None:
        umount_root(root)

    def destroy(self, private: str) -> None:
        import shutil

        shutil.rmtree(private)


def umount_root(root: str) -> None:
    """Unmount VE_ROOT; a busy one (a shell cd'ed into it) is detached rather than kept."""
    try:
        sc.umount(root)
    except OSError as e:
        if e.errno == 16:  # EBUSY
            from pyvz import log

            log.warn(f"{root} is busy; detaching it")
            sc.umount(root, sc.MNT_DETACH)
        elif e.errno != 22:  # EINVAL: not mounted
            raise VzError(E.FS_UMOUNT, f"Unable to unmount {root}: {e.strerror}") from e


def get_driver(name: str, node: Node) -> StorageDriver:
    if name == "overlay":
        from pyvz.storage.overlay import OverlayDriver

        return OverlayDriver(node)
    if name == "simfs":
        from pyvz.storage.simfs import SimfsDriver

        return SimfsDriver(node)
    raise VzError(E.INVALID_PARAMETER_VALUE,
                  f"Unknown layout {name!r}; choose one of: {', '.join(LAYOUTS)}")


def layout_of(private: str, configured: str | None) -> str:
    """The layout a private area actually has (its files tell; the config is a fallback)."""
    if os.path.isfile(f"{private}/layer"):
        return "overlay"
    return configured or "overlay"
