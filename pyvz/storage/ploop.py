"""``ploop`` layout (vzctl's name; an ext4 image, not OpenVZ's ploop format): the VE's
files live in ``VE_PRIVATE/root.hdd``, an ext4 filesystem in a sparse file, mounted at
VE_ROOT from a loop device.

The image's size is the hard DISKSPACE and its inode count the hard DISKINODES: a write
past either fails inside the VE with ENOSPC and touches nothing outside it.  ``vzctl set
--diskspace`` grows the image online (truncate, loop capacity, resize2fs); shrinking needs
the VE stopped.  Per-user/group quota (QUOTAUGIDLIMIT) is ext4's own quota feature in the
image, mounted with usrquota,grpquota.  Snapshots are copies of the image (reflinked where
the node's filesystem can, sparse otherwise), taken with the filesystem frozen.
"""

from __future__ import annotations

import os
import struct

from pyvz import log
from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc
from pyvz.kernel.proc import run
from pyvz.storage import loop
from pyvz.storage.base import DriverInfo, Limits, StorageDriver
from pyvz.storage.codes import C

__all__ = ["IMAGE", "PloopDriver", "superblock"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    pass

IMAGE = "root.hdd"
_RO_COMPAT_QUOTA = 0x100
_MIN_KB = 16 * 1024  # mkfs.ext4 with a journal needs some room
_FSFROZEN = ".fsfrozen"


def superblock(image: str) -> dict[str, int]:
    """The few ext4 superblock fields pyvz reads (counts are as of the last unmount or
    commit; a mounted filesystem is asked through statvfs instead)."""
    with open(image, "rb") as f:
        f.seek(1024)
        raw = f.read(1024)
    if len(raw) < 0x68 or struct.unpack_from("<H", raw, 0x38)[0] != 0xEF53:
        raise VzError(C.IMAGE_NOT_FOUND, f"{image} holds no ext4 filesystem")
    inodes, blocks_lo, _, free_lo, free_inodes = struct.unpack_from("<IIIII", raw, 0)
    log_bs = struct.unpack_from("<I", raw, 24)[0]
    ro_compat = struct.unpack_from("<I", raw, 0x64)[0]
    overhead = struct.unpack_from("<I", raw, 0x248)[0]  # journal, inode tables, bitmaps
    return {"inodes": inodes, "blocks": blocks_lo, "free_blocks": free_lo,
            "overhead": overhead,
            "free_inodes": free_inodes, "block_size": 1024 << log_bs,
            "quota": int(bool(ro_compat & _RO_COMPAT_QUOTA))}


class PloopDriver(StorageDriver):
    info = DriverInfo("ploop", disk_limits=True, inode_limits=True, online_resize=True,
                      needs_diskspace=True, snapshots=True, ugid_quota=True)

    def image(self, private: str) -> str:
        return os.path.join(private, IMAGE)

    def data_dir(self, private: str) -> str:
        return self.image(private)

    # -- limits -----------------------------------------------------------------------
    def check_limits(self, private: str, limits: Limits) -> None:
        if limits.space_hard is None:
            raise VzError(E.DISKSPACE_NOT_SET, "The ploop layout needs a disk size: give "
                          "--diskspace (its hard limit is the image size)")
        if limits.space_hard < _MIN_KB:
            raise VzError(E.INVALID_PARAMETER_VALUE,
                          f"--diskspace {limits.space_hard}K is too small for an image "
                          f"(at least {_MIN_KB}K)")
        super().check_limits(private, limits)

    # -- create / mount ---------------------------------------------------------------
    def create(self, private: str, cache_path: str, uid: int, gid: int,
               limits: Limits | None = None) -> None:
        from pyvz.templates.cache import unpack

        assert limits is not None and limits.space_hard is not None
        image = self.image(private)
        loop.release_unused(image, code=C.CREATE_IMAGE)  # of a killed create at this path
        make_image(image, limits.space_hard, limits.inodes_hard, quota=bool(limits.ugidlimit))

        def fill(mnt: str) -> None:
            # lost+found belongs to the node's root, which a VE sees as nobody; e2fsck
            # makes it again if it is ever needed
            os.rmdir(os.path.join(mnt, "lost+found"))
            unpack(cache_path, mnt, uid, gid)

        self.with_mounted(private, fill)

    def create_empty(self, private: str, uid: int, gid: int, limits: Limits) -> None:
        self.check_limits(private, limits)
        assert limits.space_hard is not None
        loop.release_unused(self.image(private), code=C.CREATE_IMAGE)
        make_image(self.image(private), limits.space_hard, limits.inodes_hard,
                   quota=bool(limits.ugidlimit))

        def prepare(mnt: str) -> None:
            os.rmdir(os.path.join(mnt, "lost+found"))
            os.chown(mnt, uid, gid)

        self.with_mounted(private, prepare)

    def destroy(self, private: str) -> None:
        import shutil

        loop.release_unused(self.image(private), code=E.FS_DEL_PRVT)
        shutil.rmtree(private)

    def scratch_mountpoint(self, private: str) -> str:
        # inside the private directory (which holds only the image): a command killed
        # meanwhile leaves no mount and, with autoclear, no loop device either
        return os.path.join(private, ".pyvz-mnt")

    def mount(self, private: str, root: str, *, read_only: bool = False) -> None:
        image = self.image(private)
        if not os.path.isfile(image):
            raise VzError(C.IMAGE_NOT_FOUND, f"Image {image} not found")
        loop.release_unused(image, code=C.MOUNT_IMAGE)
        mount_image(image, root, read_only=read_only)

    # -- resize -----------------------------------------------------------------------
    def set_limits(self, private: str, root: str | None, limits: Limits) -> None:
        self.check_limits(private, limits)
        image = self.image(private)
        sb = superblock(image) if root is None else None
        if limits.inodes_hard is not None:
            have = _inode_count(image, root)
            if abs(have - limits.inodes_hard) > max(have // 50, 8192):
                raise VzError(E.DQ_SET, f"The inode count of a ploop image is fixed when it "
                              f"is made ({have} now): DISKINODES cannot change")
        if limits.ugidlimit and not (sb or superblock(image))["quota"]:
            if root is not None:
                raise VzError(E.ERR_SET_USER_QUOTA, "Turning on per-user/group quota needs "
                              "the container stopped and unmounted")
            run(["tune2fs", "-O", "quota", "-Q", "usrquota,grpquota", image],
                code=E.ERR_SET_USER_QUOTA, what="tune2fs")
        assert limits.space_hard is not None
        new_kb = limits.space_hard
        cur_kb = os.stat(image).st_size // 1024
        if new_kb == cur_kb:
            return
        if root is not None:
            if new_kb < cur_kb:
                raise VzError(C.RESIZE_IMAGE, "A mounted ploop image can only grow: stop the "
                              f"container to shrink it ({cur_kb}K now, {new_kb}K asked)")
            grow_online(image, new_kb)
        else:
            resize_offline(image, new_kb, cur_kb)
        log.info(f"Image {image} resized to {new_kb}K")

    def usage(self, private: str, root: str | None) -> tuple[int | None, int | None]:
        if root is not None:
            st = os.statvfs(root)
            return ((st.f_blocks - st.f_bfree) * st.f_frsize // 1024,
                    st.f_files - st.f_ffree)
        try:
            sb = superblock(self.image(private))
        except (OSError, VzError):
            return None, None
        # what statvfs would say of the mounted image (overhead is not "used")
        used = max(0, sb["blocks"] - sb["free_blocks"] - sb["overhead"]) \
            * sb["block_size"] // 1024
        return used, sb["inodes"] - sb["free_inodes"]

    # -- snapshots --------------------------------------------------------------------
    def snapshot_take(self, private: str, root: str | None, dest: str) -> None:
        image = self.image(private)
        mark = os.path.join(private, _FSFROZEN)
        if root is not None:
            # a consistent image: dirty data and the journal go to the file, writers wait;
            # the mark lets the next command thaw it if this one is killed meanwhile
            with open(mark, "w") as f:
                f.write(root + "\n")
            run(["fsfreeze", "--freeze", root], code=C.CREATE_SNAPSHOT, what="fsfreeze")
        try:
            copy_image(image, os.path.join(dest, IMAGE), code=C.CREATE_SNAPSHOT)
        finally:
            if root is not None:
                run(["fsfreeze", "--unfreeze", root], code=C.CREATE_SNAPSHOT,
                    what="fsfreeze")
                os.unlink(mark)

    def snapshot_restore(self, private: str, src: str) -> None:
        image = self.image(private)
        tmp = image + ".switch"
        copy_image(os.path.join(src, IMAGE), tmp, code=C.SWITCH_SNAPSHOT)
        os.replace(tmp, image)

    def repair(self, private: str) -> None:
        leftover = self.image(private) + ".switch"
        if os.path.exists(leftover):
            os.unlink(leftover)
        mark = os.path.join(private, _FSFROZEN)
        try:
            with open(mark) as f:
                root = f.read().strip()
        except FileNotFoundError:
            return
        log.warn(f"Thawing {root}, left frozen by an interrupted command")
        run(["fsfreeze", "--unfreeze", root], code=C.CREATE_SNAPSHOT, check=False)
        os.unlink(mark)

    def snapshot_mount(self, src: str, target: str) -> None:
        mount_image(os.path.join(src, IMAGE), target, read_only=True)

    def compact(self, private: str, root: str | None) -> None:
        """Free blocks of the filesystem become holes in the image (loop passes discards
        on as hole punching)."""
        before = os.stat(self.image(private)).st_blocks // 2

        def trim(mnt: str) -> None:
            run(["fstrim", mnt], code=C.COMPACT_IMAGE, what="fstrim")

        if root is not None:
            trim(root)
        else:
            self.with_mounted(private, trim)
        after = os.stat(self.image(private)).st_blocks // 2
        log.info(f"Image compacted: {before}K -> {after}K on the node's disk")

    def clone_into(self, private: str, dest: str, root: str | None = None) -> None:
        self.snapshot_take(private, root, dest)


def make_image(image: str, size_kb: int, inodes: int | None, *, quota: bool) -> None:
    with open(image, "xb") as f:
        f.truncate(size_kb * 1024)
    argv = ["mkfs.ext4", "-q", "-F", "-b", "4096", "-m", "0",
            "-E", "lazy_itable_init=1,lazy_journal_init=1"]
    if inodes is not None:
        argv += ["-N", str(inodes)]
    if quota:
        argv += ["-O", "quota", "-E", "quotatype=usrquota:grpquota"]
    run([*argv, image], code=C.CREATE_IMAGE, what="mkfs.ext4")


def mount_image(image: str, target: str, *, read_only: bool = False) -> None:
    dev = loop.attach(image, code=C.MOUNT_IMAGE, read_only=read_only)
    try:
        opts = []
        if read_only:
            opts.append("noload")  # no journal replay into a snapshot
        elif superblock(image)["quota"]:
            opts += ["usrquota", "grpquota"]
        flags = sc.MS_RDONLY if read_only else 0
        try:
            sc.mount(dev, target, "ext4", flags, ",".join(opts) or None)
        except OSError as e:
            raise VzError(C.MOUNT_IMAGE, f"Unable to mount {image} at {target}: "
                          f"{e.strerror}") from e
    finally:
        loop.detach(dev, code=C.MOUNT_IMAGE)  # freed by the kernel once unmounted


def _inode_count(image: str, root: str | None) -> int:
    if root is not None:
        return os.statvfs(root).f_files
    return superblock(image)["inodes"]


def _has_cap(bit: int) -> bool:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False


_CAP_SYS_RESOURCE = 24


def grow_online(image: str, new_kb: int) -> None:
    """Grow a mounted image: the file, then the loop device, then ext4 (its resize ioctl
    wants CAP_SYS_RESOURCE).  On failure the file gets its old size back."""
    if not _has_cap(_CAP_SYS_RESOURCE):
        raise VzError(C.RESIZE_IMAGE, "Online resize of ext4 needs CAP_SYS_RESOURCE, which "
                      "this vzctl lacks: stop the container to resize its image")
    devs = loop.backing_devices(image)
    if not devs:
        raise VzError(C.RESIZE_IMAGE, f"No loop device holds {image}")
    old_size = os.stat(image).st_size
    with open(image, "r+b") as f:
        f.truncate(new_kb * 1024)
    try:
        for dev in devs:
            loop.refresh_capacity(dev, code=C.RESIZE_IMAGE)
        run(["resize2fs", devs[0]], code=C.RESIZE_IMAGE, what="resize2fs")
    except BaseException:
        with open(image, "r+b") as f:
            f.truncate(old_size)
        for dev in devs:
            loop.refresh_capacity(dev, code=C.RESIZE_IMAGE)
        raise


def resize_offline(image: str, new_kb: int, cur_kb: int) -> None:
    rc, _, err = run(["e2fsck", "-f", "-p", image], code=C.RESIZE_IMAGE, check=False)
    if rc not in (0, 1):  # 1: errors corrected
        raise VzError(C.RESIZE_IMAGE, f"e2fsck of {image} failed: "
                      f"{err.decode(errors='replace').strip()[-200:]}")
    if new_kb > cur_kb:
        with open(image, "r+b") as f:
            f.truncate(new_kb * 1024)
        run(["resize2fs", image], code=C.RESIZE_IMAGE, what="resize2fs")
        return
    rc, out, err = run(["resize2fs", image, f"{new_kb}K"], code=C.RESIZE_IMAGE, check=False)
    if rc != 0:
        text = (err or out).decode(errors="replace").strip().splitlines()
        raise VzError(C.RESIZE_IMAGE, f"Unable to shrink {image} to {new_kb}K: "
                      + (text[-1] if text else f"resize2fs exit status {rc}"))
    with open(image, "r+b") as f:
        f.truncate(new_kb * 1024)


def copy_image(src: str, dest: str, *, code: int) -> None:
    """A copy that shares blocks where the filesystem can, and keeps holes elsewhere."""
    from pyvz.storage.mountns import DIE_WITH_US

    run([*DIE_WITH_US, "cp", "--reflink=auto", "--sparse=always", src, dest], code=code,
        what="cp")
