"""``btrfs`` layout: for a VE_PRIVATE on btrfs (the node's own, or a pool image the admin
mounted there).  The VE's files are the subvolume ``VE_PRIVATE/root.subvol``, bind-mounted
at VE_ROOT.

* DISKSPACE: a qgroup limit on the subvolume (referenced bytes; a write past it fails with
  EDQUOT inside the VE).  Quota is switched on for the filesystem the first time a VE on it
  gets a limit.  btrfs counts no inodes, so DISKINODES is refused.
* Snapshots: read-only snapshot subvolumes in ``snapshots/<uuid>/root.subvol``, instant and
  sharing every unchanged block; switching makes a writable snapshot of one (any one) and
  swaps it in.  Clones are writable snapshots too.

All of it goes through ``btrfs`` (btrfs-progs).
"""

from __future__ import annotations

import os

from pyvz import log
from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc
from pyvz.kernel.proc import run
from pyvz.storage.base import DriverInfo, Limits, StorageDriver
from pyvz.storage.codes import C

__all__ = ["SUBVOL", "BtrfsDriver", "fs_type"]

SUBVOL = "root.subvol"


def fs_type(path: str) -> str:
    """The filesystem type of ``path`` or of its nearest existing ancestor."""
    while not os.path.exists(path):
        path = os.path.dirname(path) or "/"
    _, out, _ = run(["stat", "-f", "--format=%T", path], code=E.SYSTEM, what="stat")
    return out.decode().strip()


def _btrfs(args: list[str], code: int) -> bytes:
    _, out, _ = run(["btrfs", *args], code=code, what="btrfs " + args[0])
    return out


def _quota_enabled(path: str) -> bool:
    rc, _, _ = run(["btrfs", "qgroup", "show", path], code=E.DQ_SET, check=False)
    return rc == 0


def _is_subvolume(path: str) -> bool:
    try:
        return os.lstat(path).st_ino == 256  # every subvolume's root directory
    except OSError:
        return False


class BtrfsDriver(StorageDriver):
    info = DriverInfo("btrfs", disk_limits=True, online_resize=True, snapshots=True,
                      clone_cheap=True)

    def subvol(self, private: str) -> str:
        return os.path.join(private, SUBVOL)

    def data_dir(self, private: str) -> str:
        return self.subvol(private)

    def check_limits(self, private: str, limits: Limits) -> None:
        kind = fs_type(private)
        if kind != "btrfs":
            raise VzError(E.FS_NEW_VE_PRVT, f"The btrfs layout needs VE_PRIVATE on btrfs "
                          f"({private} is on {kind})",
                          hint="mount a btrfs filesystem (or pool image) there, or pick "
                               "another --private")
        super().check_limits(private, limits)

    def create(self, private: str, cache_path: str, uid: int, gid: int,
               limits: Limits | None = None) -> None:
        from pyvz.templates.cache import unpack

        sub = self.subvol(private)
        _btrfs(["subvolume", "create", sub], C.CREATE_IMAGE)
        if limits is not None:
            self._limit(sub, limits)
        unpack(cache_path, sub, uid, gid)

    def create_empty(self, private: str, uid: int, gid: int, limits: Limits) -> None:
        self.check_limits(private, limits)
        sub = self.subvol(private)
        _btrfs(["subvolume", "create", sub], C.CREATE_IMAGE)
        os.chown(sub, uid, gid)
        self._limit(sub, limits)

    def mount(self, private: str, root: str) -> None:
        sub = self.subvol(private)
        if not _is_subvolume(sub):
            raise VzError(E.FS_BAD_TMPL, f"Broken private area {private}: no {SUBVOL}")
        try:
            sc.mount(sub, root, None, sc.MS_BIND)
        except OSError as e:
            raise VzError(E.FS_MOUNT, f"Unable to mount {root}: {e.strerror}") from e

    def _limit(self, sub: str, limits: Limits) -> None:
        if limits.space_hard is not None:
            if not _quota_enabled(sub):
                log.info(f"Turning on btrfs quota for the filesystem of {sub}")
                _btrfs(["quota", "enable", sub], E.DQ_SET)
            _btrfs(["qgroup", "limit", f"{limits.space_hard}K", sub], E.DQ_SET)
        elif _quota_enabled(sub):
            _btrfs(["qgroup", "limit", "none", sub], E.DQ_SET)

    def set_limits(self, private: str, root: str | None, limits: Limits) -> None:
        self.check_limits(private, limits)
        self._limit(self.subvol(private), limits)

    def usage(self, private: str, root: str | None) -> tuple[int | None, int | None]:
        sub = self.subvol(private)
        if _quota_enabled(sub):
            rc, out, _ = run(["btrfs", "qgroup", "show", "--raw", "-f", sub],
                             code=E.GET_QUOTA_USAGE, check=False)
            for line in out.decode().splitlines():
                fields = line.split()
                if rc == 0 and fields and fields[0].startswith("0/"):
                    return int(fields[1]) // 1024, None
        from pyvz.storage.limits import tree_usage

        return tree_usage(sub)

    # -- snapshots and clones: subvolume snapshots --------------------------------------
    def snapshot_take(self, private: str, root: str | None, dest: str) -> None:
        _btrfs(["subvolume", "snapshot", "-r", self.subvol(private), self.subvol(dest)],
               C.CREATE_SNAPSHOT)

    def snapshot_restore(self, private: str, src: str) -> None:
        sub = self.subvol(private)
        self.repair(private)
        _btrfs(["subvolume", "snapshot", self.subvol(src), sub + ".switch"],
               C.SWITCH_SNAPSHOT)
        # the only window: between these renames ``repair`` puts the old one back
        os.rename(sub, sub + ".old")
        os.rename(sub + ".switch", sub)
        _btrfs(["subvolume", "delete", sub + ".old"], C.SWITCH_SNAPSHOT)

    def repair(self, private: str) -> None:
        sub = self.subvol(private)
        if not os.path.lexists(sub) and _is_subvolume(sub + ".old"):
            os.rename(sub + ".old", sub)
        for leftover in (sub + ".switch", sub + ".old"):
            if _is_subvolume(leftover):
                _btrfs(["subvolume", "delete", leftover], C.SWITCH_SNAPSHOT)

    def snapshot_mount(self, src: str, target: str) -> None:
        try:
            sc.mount(self.subvol(src), target, None, sc.MS_BIND)
            sc.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)
        except OSError as e:
            raise VzError(C.MOUNT_SNAPSHOT, f"Unable to mount snapshot at {target}: "
                          f"{e.strerror}") from e

    def snapshot_drop(self, src: str) -> None:
        sub = self.subvol(src)
        if _is_subvolume(sub):
            _btrfs(["subvolume", "delete", sub], C.DELETE_SNAPSHOT)

    def clone_into(self, private: str, dest: str, root: str | None = None) -> None:
        _btrfs(["subvolume", "snapshot", self.subvol(private), self.subvol(dest)],
               E.FS_NEW_VE_PRVT)

    def destroy(self, private: str) -> None:
        """Subvolumes go with ``btrfs subvolume delete`` (read-only snapshots cannot be
        emptied file by file), then the rest of the directory."""
        import shutil

        snaps = os.path.join(private, "snapshots")
        if os.path.isdir(snaps):
            for name in os.listdir(snaps):
                self.snapshot_drop(os.path.join(snaps, name))
        self.snapshot_drop(private)
        for leftover in (SUBVOL + ".switch", SUBVOL + ".old"):
            path = os.path.join(private, leftover)
            if _is_subvolume(path):
                _btrfs(["subvolume", "delete", path], E.FS_DEL_PRVT)
        shutil.rmtree(private)
