"""Disk limits across layouts: refuse what a layout cannot enforce, apply ``vzctl set``
changes through the VE's driver, measure usage, and detect the kernel's quota support.

Nothing here is on a hot path: it is imported only by create, set and vzlist's disk
columns.
"""

from __future__ import annotations

import os

from pyvz import log
from pyvz.errors import E, VzError
from pyvz.storage.base import DriverInfo, Limits, get_driver

__all__ = ["apply_set", "kernel_quota_formats", "refuse_unenforced", "tree_usage",
           "ve_limits"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.ve.model import VE


def refuse_unenforced(info: DriverInfo, limits: Limits, *, fs_quota: bool = False) -> None:
    """A limit the layout cannot enforce is an error, never a silent no-op.  With
    ``fs_quota`` the filesystem's project quota enforces space, inodes and grace."""
    if fs_quota:
        if limits.ugidlimit:
            check_ugid(info)
        return
    hint = "use --layout ploop or btrfs, or --diskquota no to keep the values unenforced"
    if limits.any_space and not info.disk_limits:
        raise VzError(E.DQ_SET, f"The {info.name} layout cannot enforce DISKSPACE here: the "
                      "filesystem of VE_PRIVATE has no project quota", hint=hint)
    if limits.any_inodes and not info.inode_limits:
        raise VzError(E.DQ_SET, f"The {info.name} layout cannot enforce DISKINODES"
                      + ("" if info.disk_limits else
                         ": the filesystem of VE_PRIVATE has no project quota"),
                      hint="leave DISKINODES unset for this layout, or use --layout ploop")
    soft = [what for what, s, h in (("DISKSPACE", limits.space_soft, limits.space_hard),
                                    ("DISKINODES", limits.inodes_soft, limits.inodes_hard))
            if s is not None and h is not None and s < h]
    if soft and not info.soft_limits:
        log.warn(f"The {info.name} layout enforces only the hard limit of "
                 f"{' and '.join(soft)}; the soft limit is shown but has no grace period")
    elif limits.quotatime and not info.soft_limits and (limits.any_space or
                                                        limits.any_inodes):
        log.warn(f"QUOTATIME has no effect: the {info.name} layout has no soft limits")
    if limits.ugidlimit:
        check_ugid(info)


def check_ugid(info: DriverInfo) -> None:
    if not info.ugid_quota:
        raise VzError(E.ERR_SET_USER_QUOTA,
                      f"The {info.name} layout has no per-user/group quota "
                      "(--quotaugidlimit needs --layout ploop)")
    if not kernel_quota_formats():
        raise VzError(E.ERR_SET_USER_QUOTA,
                      "Unable to turn on per-user/group quota: this kernel has no quota "
                      "format (CONFIG_QFMT_V2 neither built in nor loadable)")


def kernel_quota_formats() -> bool:
    """Whether ext4's quota files can be used: the quota_v2 format is in the kernel, as a
    loaded module, built in, or loadable (then it is loaded, as a mount would)."""
    if os.path.isdir("/sys/module/quota_v2"):
        return True
    release = os.uname().release
    for base in ("/lib/modules", "/usr/lib/modules"):
        try:
            with open(f"{base}/{release}/modules.builtin") as f:
                if any(line.rstrip().endswith("/quota_v2.ko") for line in f):
                    return True
        except OSError:
            pass
        try:
            with open(f"{base}/{release}/modules.dep") as f:
                loadable = any("/quota_v2.ko" in line.split(":", 1)[0] for line in f)
        except OSError:
            continue
        if loadable:
            from pyvz.kernel.proc import run

            rc, _, _ = run(["modprobe", "-q", "quota_v2"], code=E.ERR_SET_USER_QUOTA,
                           check=False)
            return rc == 0 and os.path.isdir("/sys/module/quota_v2")
    return False


def ve_limits(ve: VE, values: dict[str, str] | None = None) -> Limits:
    """The VE's limits from its (or the given new) stored values, vz.conf as fallback."""
    if values is None:
        return Limits.from_values(ve.conf.get)
    glob = ve.node.global_values
    return Limits.from_values(lambda key: values.get(key) or glob.get(key))


def apply_set(ve: VE, keys: set[str], values: dict[str, str]) -> None:
    """``vzctl set --diskspace/--diskinodes/--quotatime/--quotaugidlimit``: the layout
    applies the new limits now (grows a running VE's image, changes a qgroup) or refuses."""
    limits = ve_limits(ve, values)
    ve.require_private()
    driver = get_driver(ve.layout, ve.node)
    root = ve.root if ve.is_mounted() else None
    driver.set_limits(ve.private, root, limits)


apply_set.stopped_too = True  # type: ignore[attr-defined]


def tree_usage(top: str) -> tuple[int | None, int | None]:
    """(1K blocks, inodes) under ``top``, each inode counted once; stays on one fs."""
    try:
        dev = os.lstat(top).st_dev
    except OSError:
        return None, None
    seen: set[int] = set()
    blocks = 0
    stack = [top]
    while stack:
        path = stack.pop()
        try:
            it = os.scandir(path)
        except OSError:
            continue
        with it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_dev != dev or st.st_ino in seen:
                    continue
                seen.add(st.st_ino)
                blocks += st.st_blocks
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return blocks // 2, len(seen) + 1
