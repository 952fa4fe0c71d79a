"""``overlay`` layout: a shared read-only template layer plus the VE's own upper directory.

The cache is unpacked once per (template, uid base) into ``TEMPLATE/layers/NAME`` with
ownership already shifted, so every VE with the same LOCAL_UID shares those files on disk
and in the page cache, and creating a VE is two mkdirs.  The private area holds ``upper/``,
``work/`` and ``layer`` (the layer's name).  A rebuilt cache gets a new layer name, so
existing VEs keep the layer they were made from.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import zlib

from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc
from pyvz.storage.base import DriverInfo, Limits, StorageDriver
from pyvz.storage.codes import C

__all__ = ["OverlayDriver", "layer_name"]

_COMPLETE = ".pyvz-complete"


def layer_name(cache_path: str, uid: int, gid: int) -> str:
    st = os.stat(cache_path)
    base = os.path.basename(cache_path).split(".tar")[0].split(".tgz")[0]
    ident = zlib.crc32(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}".encode())
    ids = f"u{uid}" if uid == gid else f"u{uid}g{gid}"
    return f"{base}-{ident:08x}-{ids}"


class OverlayDriver(StorageDriver):
    info = DriverInfo("overlay", shares_template=True, snapshots=True, clone_cheap=True,
                      project_quota=True)

    def data_dir(self, private: str) -> str:
        return os.path.join(private, "upper")

    def project_dirs(self, private: str) -> list[str]:
        return [os.path.join(private, "upper"), os.path.join(private, "work")]

    @property
    def layers_dir(self) -> str:
        return os.path.join(self.node.template_dir, "layers")

    def ensure_layer(self, cache_path: str, uid: int, gid: int) -> str:
        """The layer directory for this cache and uid base, unpacking it the first time."""
        name = layer_name(cache_path, uid, gid)
        layer = os.path.join(self.layers_dir, name)
        if os.path.exists(os.path.join(layer, _COMPLETE)):
            return layer
        os.makedirs(self.layers_dir, exist_ok=True)
        lock_fd = os.open(os.path.join(self.layers_dir, f".{name}.lock"),
                          os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)  # another create may be unpacking it now
            if os.path.exists(os.path.join(layer, _COMPLETE)):
                return layer
            from pyvz import log
            from pyvz.templates.cache import unpack

            log.info(f"Unpacking template layer {name}")
            tmp = f"{layer}.partial"
            if os.path.exists(tmp):
                shutil.rmtree(tmp)
            try:
                os.mkdir(tmp, 0o755)
                rootfs = os.path.join(tmp, "rootfs")
                os.mkdir(rootfs, 0o755)
                unpack(cache_path, rootfs, uid, gid)
                open(os.path.join(tmp, _COMPLETE), "w").close()
                os.rename(tmp, layer)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            return layer
        finally:
            os.close(lock_fd)

    def create(self, private: str, cache_path: str, uid: int, gid: int,
               limits: Limits | None = None) -> None:
        layer = self.ensure_layer(cache_path, uid, gid)
        lower_root = os.stat(os.path.join(layer, "rootfs"))
        upper = os.path.join(private, "upper")
        os.mkdir(upper)
        # the VE's "/" shows the upper directory's owner and mode, so mirror the layer's
        os.chown(upper, lower_root.st_uid, lower_root.st_gid)
        os.chmod(upper, lower_root.st_mode & 0o7777)
        os.mkdir(os.path.join(private, "work"), 0o700)
        with open(os.path.join(private, "layer"), "w") as f:
            f.write(os.path.basename(layer) + "\n")
        if limits is not None:
            self.apply_project_quota(private, limits)  # before the VE writes anything

    def lower_dir(self, private: str) -> str:
        try:
            with open(os.path.join(private, "layer")) as f:
                name = f.read().strip()
        except OSError as e:
            raise VzError(E.FS_BAD_TMPL, f"Broken private area {private}: no template layer "
                          f"({e.strerror})") from e
        if not name or "/" in name or name.startswith("."):
            raise VzError(E.FS_BAD_TMPL, f"Broken private area {private}: bad layer name")
        lower = os.path.join(self.layers_dir, name, "rootfs")
        if not os.path.isdir(lower):
            raise VzError(E.FS_BAD_TMPL, f"Template layer {name} of {private} is missing")
        return lower

    def mount(self, private: str, root: str) -> None:
        lower = self.lower_dir(private)
        options = (f"lowerdir={lower},upperdir={private}/upper,workdir={private}/work,"
                   "xino=auto")
        try:
            sc.mount("overlay", root, "overlay", 0, options)
        except OSError as e:
            raise VzError(E.FS_MOUNT, f"Unable to mount {root}: {e.strerror}") from e

    # -- snapshots and clones: copies of the upper layer (the template layer is shared) --
    def snapshot_take(self, private: str, root: str | None, dest: str) -> None:
        from pyvz.storage.copy import copy_tree

        copy_tree(os.path.join(private, "upper"), os.path.join(dest, "upper"))
        shutil.copy2(os.path.join(private, "layer"), os.path.join(dest, "layer"))

    def snapshot_restore(self, private: str, src: str) -> None:
        from pyvz.storage.copy import copy_tree

        upper = os.path.join(private, "upper")
        self.repair(private)
        copy_tree(os.path.join(src, "upper"), upper + ".switch")
        shutil.copy2(os.path.join(src, "layer"), os.path.join(private, "layer.switch"))
        # the only window: between these renames ``repair`` puts the old upper back
        os.rename(upper, upper + ".old")
        os.rename(upper + ".switch", upper)
        os.replace(os.path.join(private, "layer.switch"), os.path.join(private, "layer"))
        shutil.rmtree(upper + ".old")
        work = os.path.join(private, "work")
        shutil.rmtree(work, ignore_errors=True)
        os.mkdir(work, 0o700)

    def repair(self, private: str) -> None:
        upper = os.path.join(private, "upper")
        if not os.path.isdir(upper) and os.path.isdir(upper + ".old"):
            os.rename(upper + ".old", upper)
        for leftover in (upper + ".switch", upper + ".old"):
            if os.path.lexists(leftover):
                shutil.rmtree(leftover)

    def snapshot_mount(self, src: str, target: str) -> None:
        lower = self.lower_dir(src)
        options = f"lowerdir={src}/upper:{lower},xino=auto"
        try:
            sc.mount("overlay", target, "overlay", sc.MS_RDONLY, options)
        except OSError as e:
            raise VzError(C.MOUNT_SNAPSHOT,
                          f"Unable to mount snapshot at {target}: {e.strerror}") from e

    def clone_into(self, private: str, dest: str, root: str | None = None) -> None:
        from pyvz.storage.copy import copy_tree

        copy_tree(os.path.join(private, "upper"), os.path.join(dest, "upper"))
        os.mkdir(os.path.join(dest, "work"), 0o700)
        shutil.copy2(os.path.join(private, "layer"), os.path.join(dest, "layer"))
