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
    from collections.abc import Callable

    from pyvz.node import Node

__all__ = ["LAYOUTS", "DriverInfo", "Limits", "StorageDriver", "get_driver", "layout_of",
           "umount_root"]

LAYOUTS = ("overlay", "simfs", "ploop", "btrfs")
_MODULES = {"overlay": ("pyvz.storage.overlay", "OverlayDriver"),
            "simfs": ("pyvz.storage.simfs", "SimfsDriver"),
            "ploop": ("pyvz.storage.ploop", "PloopDriver"),
            "btrfs": ("pyvz.storage.btrfs", "BtrfsDriver")}


class DriverInfo:
    """What a layout can do; callers test these flags, never the layout's name."""

    __slots__ = ("clone_cheap", "disk_limits", "inode_limits", "name", "needs_diskspace",
                 "online_resize", "project_quota", "shares_template", "snapshots",
                 "soft_limits", "ugid_quota")

    def __init__(self, name: str, *, shares_template: bool = False, disk_limits: bool = False,
                 inode_limits: bool = False, soft_limits: bool = False,
                 online_resize: bool = False, needs_diskspace: bool = False,
                 snapshots: bool = False, clone_cheap: bool = False,
                 ugid_quota: bool = False, project_quota: bool = False) -> None:
        self.name = name
        self.shares_template = shares_template  # unchanged template files are shared by VEs
        self.disk_limits = disk_limits          # enforces a hard DISKSPACE itself
        self.inode_limits = inode_limits        # enforces a hard DISKINODES itself
        self.soft_limits = soft_limits          # enforces soft limits with a grace time
        self.online_resize = online_resize      # limits change while the VE runs
        self.needs_diskspace = needs_diskspace  # cannot be made without a DISKSPACE
        self.snapshots = snapshots              # snapshot / switch to any / mount
        self.clone_cheap = clone_cheap          # a clone shares data (reflink, CoW)
        self.ugid_quota = ugid_quota            # its filesystem can hold per-user quota
        self.project_quota = project_quota      # limits via the fs's project quota, if on


class Limits:
    """First- and second-level quota of one VE: 1K blocks and inodes (None = no limit)."""

    __slots__ = ("inodes_hard", "inodes_soft", "quotatime", "space_hard", "space_soft",
                 "ugidlimit")

    def __init__(self, space: tuple[int, int] | None = None,
                 inodes: tuple[int, int] | None = None, quotatime: int = 0,
                 ugidlimit: int = 0) -> None:
        from pyvz.storage.units import UNLIMITED

        def lim(v: int | None) -> int | None:
            return None if v is None or v >= UNLIMITED else v

        self.space_soft = lim(space[0]) if space else None
        self.space_hard = lim(space[1]) if space else None
        self.inodes_soft = lim(inodes[0]) if inodes else None
        self.inodes_hard = lim(inodes[1]) if inodes else None
        self.quotatime = quotatime
        self.ugidlimit = ugidlimit

    @classmethod
    def from_values(cls, get: Callable[[str], str | None]) -> Limits:
        """From stored values (``get(KEY)``); DISK_QUOTA=no switches the first level off."""
        from pyvz.storage.units import parse_pair

        ugid = int(get("QUOTAUGIDLIMIT") or 0)
        if (get("DISK_QUOTA") or "").lower() == "no":
            return cls(ugidlimit=ugid)
        space = get("DISKSPACE")
        inodes = get("DISKINODES")
        return cls(parse_pair(space, blocks=True) if space else None,
                   parse_pair(inodes, blocks=False) if inodes else None,
                   int(get("QUOTATIME") or 0), ugid)

    @property
    def any_space(self) -> bool:
        return self.space_hard is not None

    @property
    def any_inodes(self) -> bool:
        return self.inodes_hard is not None

    def __repr__(self) -> str:
        return (f"Limits(space={self.space_soft}:{self.space_hard}, "
                f"inodes={self.inodes_soft}:{self.inodes_hard}, ugid={self.ugidlimit})")


class StorageDriver:
    info: DriverInfo

    def __init__(self, node: Node) -> None:
        self.node = node

    def check_limits(self, private: str, limits: Limits) -> None:
        """Refuse (VzError) limits this layout cannot enforce for ``private`` (which need
        not exist yet): called at create and at set, before anything changes."""
        from pyvz.storage.limits import refuse_unenforced

        refuse_unenforced(self.info, limits, fs_quota=self._fs_quota(private, limits))

    def _fs_quota(self, private: str, limits: Limits) -> bool:
        """Whether the filesystem's project quota enforces this layout's limits."""
        if not self.info.project_quota or not (limits.any_space or limits.any_inodes):
            return False
        from pyvz.storage.projquota import mountpoint_for

        return mountpoint_for(private) is not None

    def apply_project_quota(self, private: str, limits: Limits) -> None:
        """Limits (or none) for the VE's files through project quota, where it is on."""
        from pyvz.storage import projquota

        dirs = self.project_dirs(private)
        if not self._fs_quota(private, limits):
            if self.info.project_quota and projquota.mountpoint_for(private) and \
                    projquota.project_of(dirs[0]):
                projquota.apply(dirs, (None, None), (None, None), 0)  # limits lifted
            return
        projquota.apply(dirs, (limits.space_soft, limits.space_hard),
                        (limits.inodes_soft, limits.inodes_hard), limits.quotatime)

    def project_dirs(self, private: str) -> list[str]:
        """The directories the VE's writes land in (its files' first)."""
        return [self.data_dir(private)]

    def create(self, private: str, cache_path: str, uid: int, gid: int,
               limits: Limits | None = None) -> None:
        """Fill the (new, empty) directory ``private`` from the template cache."""
        raise NotImplementedError

    def create_empty(self, private: str, uid: int, gid: int, limits: Limits) -> None:
        """Make ``private`` hold an empty root (owned by the VE's root) to fill, e.g.
        from a backup; layouts that need a template layer cannot."""
        raise VzError(E.INVALID_PARAMETER_VALUE,
                      f"The {self.info.name} layout cannot be filled from a backup")

    def set_limits(self, private: str, root: str | None, limits: Limits) -> None:
        """Apply new limits; ``root`` is VE_ROOT when the VE is mounted."""
        self.check_limits(private, limits)
        if self.info.project_quota:
            self.apply_project_quota(private, limits)

    def usage(self, private: str, root: str | None) -> tuple[int | None, int | None]:
        """(1K blocks, inodes) the VE uses; None where unknown."""
        from pyvz.storage.limits import tree_usage

        if self.info.project_quota:
            from pyvz.storage import projquota

            used = projquota.usage(self.data_dir(private))
            if used != (None, None):
                return used
        return tree_usage(self.data_dir(private))

    def data_dir(self, private: str) -> str:
        """Where the VE's own files are (its whole root, or its upper layer)."""
        return private

    def with_mounted(self, private: str, func: Callable[[str], object]) -> None:
        """``func(mountpoint)`` with the VE's files mounted in a private mount namespace
        (a killed command leaves no mount behind)."""
        from pyvz.storage.mountns import in_private_mounts

        mnt = self.scratch_mountpoint(private)
        os.makedirs(mnt, 0o700, exist_ok=True)

        def work() -> None:
            self.mount(private, mnt)
            try:
                func(mnt)
            finally:
                umount_root(mnt)

        try:
            in_private_mounts(work)
        finally:
            os.rmdir(mnt)

    def scratch_mountpoint(self, private: str) -> str:
        """Where ``with_mounted`` mounts the VE's files (beside the private area)."""
        return os.path.join(os.path.dirname(private.rstrip("/")),
                            f".{os.path.basename(private.rstrip('/'))}.pyvz-mnt")

    def repair(self, private: str) -> None:
        """Finish or undo what a killed snapshot switch left in ``private``."""

    # Snapshots (info.snapshots): each is a full, independent copy of the VE's data in
    # its own directory ``dest``, so any one can be switched to or deleted.
    def snapshot_take(self, private: str, root: str | None, dest: str) -> None:
        """Copy the VE's data into ``dest``; ``root`` is VE_ROOT when mounted."""
        raise NotImplementedError

    def snapshot_restore(self, private: str, src: str) -> None:
        """Replace the (unmounted) VE's data by the snapshot's."""
        raise NotImplementedError

    def snapshot_mount(self, src: str, target: str) -> None:
        """Mount the snapshot's files read-only at ``target``."""
        raise NotImplementedError

    def snapshot_drop(self, src: str) -> None:
        """Release what a snapshot holds besides its files (subvolumes, qgroups)."""

    def compact(self, private: str, root: str | None) -> None:
        """Give unused space of the VE's image back to the node."""
        raise VzError(166, f"The {self.info.name} layout has no image to compact")

    def clone_into(self, private: str, dest: str, root: str | None = None) -> None:
        """Fill the new, empty private area ``dest`` with a copy of the VE's data
        (the VE is stopped, or frozen by the caller)."""
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
    entry = _MODULES.get(name.partition(":")[0])  # vzctl's ploop:expanded etc.
    if entry is None:
        raise VzError(E.INVALID_PARAMETER_VALUE,
                      f"Unknown layout {name!r}; choose one of: {', '.join(LAYOUTS)}")
    import importlib

    cls: type[StorageDriver] = getattr(importlib.import_module(entry[0]), entry[1])
    return cls(node)


def layout_of(private: str, configured: str | None) -> str:
    """The layout a private area actually has (its files tell; the config is a fallback)."""
    if os.path.isfile(f"{private}/layer"):
        return "overlay"
    if os.path.isfile(f"{private}/root.hdd"):
        return "ploop"
    if os.path.isdir(f"{private}/root.subvol"):
        return "btrfs"
    return (configured or "overlay").partition(":")[0]
