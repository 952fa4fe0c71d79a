"""OS template caches (``TEMPLATE/cache/NAME.tar.{gz,xz,bz2,zst}``) and unpacking them with
ownership shifted into a VE's uid range.

A VE in a user namespace sees uid 0 where the node stores LOCAL_UID, so its files must be
owned by LOCAL_UID + uid on disk.  The cache is unpacked as-is by tar (keeping xattrs and
hard links) and then shifted in one pass; file capabilities are rewritten as v3 xattrs
whose root is LOCAL_UID, or the VE's kernel would ignore them.
"""

from __future__ import annotations

import os
import stat

from pyvz.errors import E, VzError

__all__ = ["CACHE_SUFFIXES", "ensure_cache", "find_cache", "shift_tree", "unpack"]

CACHE_SUFFIXES = (".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2", ".tgz", ".tar")
_BUILTIN = "busybox"


def find_cache(cache_dir: str, ostemplate: str) -> str | None:
    for suffix in CACHE_SUFFIXES:
        path = f"{cache_dir}/{ostemplate}{suffix}"
        if os.path.isfile(path):
            return path
    return None


def check_template_name(ostemplate: str) -> str:
    if not ostemplate or "/" in ostemplate or ostemplate.startswith(".") or \
            not ostemplate.isprintable() or " " in ostemplate or '"' in ostemplate:
        raise VzError(E.INVALID_PARAMETER_VALUE, f"Bad parameter for --ostemplate: {ostemplate}")
    return ostemplate


def ensure_cache(cache_dir: str, ostemplate: str) -> str:
    """The cache tarball for ``ostemplate``; the built-in one is built on first use."""
    check_template_name(ostemplate)
    path = find_cache(cache_dir, ostemplate)
    if path is not None:
        return path
    if ostemplate == _BUILTIN:
        from pyvz.templates import busybox

        os.makedirs(cache_dir, exist_ok=True)
        return busybox.ensure(cache_dir)
    raise VzError(E.OSTEMPLATE_NOT_FOUND,
                  f"Cached OS template {cache_dir}/{ostemplate}.tar.gz not found",
                  hint="build it with 'vzpkg cache NAME' or put a tarball there")


def unpack(cache_path: str, dest: str, uid: int, gid: int) -> None:
    """Unpack ``cache_path`` into the existing empty directory ``dest``, shifted by uid/gid."""
    from pyvz.kernel.proc import run

    argv = ["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls",
            "-x", "-p", "-f", cache_path, "-C", dest]
    if cache_path.endswith(".tar.zst"):
        argv[1:1] = ["--zstd"]
    code, _, err = run(argv, code=E.FS_NEW_VE_PRVT, check=False)
    if code != 0:
        text = err.decode(errors="replace")
        lines = [ln for ln in text.splitlines() if "Exiting with failure" not in ln]
        if "No space left on device" in text or "Disk quota exceeded" in text:
            raise VzError(E.FS_NO_DISK_SPACE, f"Not enough disk space in {dest}: "
                          "No space left on device")
        raise VzError(E.FS_NEW_VE_PRVT, f"Unpacking {os.path.basename(cache_path)} failed: "
                      + (lines[0] if lines else f"tar exit status {code}"))
    if uid or gid:
        shift_tree(dest, uid, gid)


_CAPS_XATTR = "security.capability"
_VFS_CAP_REVISION_2 = 0x02000000
_VFS_CAP_REVISION_3 = 0x03000000


def _caps_for_root(raw: bytes, uid: int) -> bytes | None:
    """The file-capability xattr ``raw`` rewritten (v3) to apply when root is ``uid``."""
    if len(raw) < 20:
        return None
    magic = int.from_bytes(raw[:4], "little")
    if magic & 0xFF000000 not in (_VFS_CAP_REVISION_2, _VFS_CAP_REVISION_3):
        return None
    flags = magic & 0x00FFFFFF
    return (_VFS_CAP_REVISION_3 | flags).to_bytes(4, "little") + raw[4:20] + \
        uid.to_bytes(4, "little")


def shift_tree(top: str, uid: int, gid: int) -> None:
    """Add uid/gid to the owner of everything under ``top`` (each inode once).

    chown clears setuid/setgid bits and file capabilities, so both are put back."""
    seen: set[tuple[int, int]] = set()

    def shift(path: str, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        if key in seen:
            return
        seen.add(key)
        caps: bytes | None = None
        if stat.S_ISREG(st.st_mode):
            try:
                caps = os.getxattr(path, _CAPS_XATTR, follow_symlinks=False)
            except OSError:
                pass
        os.lchown(path, st.st_uid + uid, st.st_gid + gid)
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
            os.chmod(path, stat.S_IMODE(st.st_mode))
        if caps is not None:
            shifted = _caps_for_root(caps, uid)
            if shifted is not None:
                os.setxattr(path, _CAPS_XATTR, shifted, follow_symlinks=False)

    shift(top, os.lstat(top))
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            shift(path, os.lstat(path))
