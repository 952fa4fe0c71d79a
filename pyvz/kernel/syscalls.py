"""Raw Linux system calls that Python's ``os`` module lacks (on 3.11), through ctypes.

The only module that calls into libc directly.  Every wrapper raises a plain ``OSError``
carrying errno and the object it acted on.  It imports nothing heavy: it runs on every
``vzctl`` start and exec.  Numbers are x86_64 syscall numbers (the only architecture
pyvz is built for so far); ``ARCH_CHECK`` guards that.
"""

from __future__ import annotations

import ctypes
import os

__all__ = [
    "ALL_VE_NAMESPACES",
    "CLONE_NEWCGROUP",
    "CLONE_NEWIPC",
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "CLONE_NEWPID",
    "CLONE_NEWTIME",
    "CLONE_NEWUSER",
    "CLONE_NEWUTS",
    "MNT_DETACH",
    "MS_BIND",
    "MS_NOATIME",
    "MS_NODEV",
    "MS_NOEXEC",
    "MS_NOSUID",
    "MS_PRIVATE",
    "MS_RDONLY",
    "MS_REC",
    "MS_RELATIME",
    "MS_REMOUNT",
    "MS_SLAVE",
    "PR_CAPBSET_DROP",
    "PR_SET_CHILD_SUBREAPER",
    "PR_SET_NAME",
    "PR_SET_NO_NEW_PRIVS",
    "PR_SET_PDEATHSIG",
    "RESOLVE_IN_ROOT",
    "RESOLVE_NO_MAGICLINKS",
    "capset_keep",
    "clone",
    "close_range",
    "mount",
    "move_mount",
    "open_tree",
    "openat2",
    "pidfd_send_signal",
    "pivot_root",
    "prctl",
    "sethostname",
    "setns",
    "umount",
    "unshare",
]

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
ALL_VE_NAMESPACES = (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC
                     | CLONE_NEWNET | CLONE_NEWCGROUP)

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_RELATIME = 1 << 21
MNT_DETACH = 2

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_IN_ROOT = 0x10

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
_PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36

_SYS_CLONE = 56
_SYS_PIVOT_ROOT = 155
_SYS_SETNS = 308
_SYS_PIDFD_SEND_SIGNAL = 424
_SYS_CLOSE_RANGE = 436
_SYS_OPENAT2 = 437
_EAGAIN = 11
_OPENAT2_TRIES = 64
# (templates issue) the mount API: a detached copy of a node directory, attached inside a VE
_SYS_OPEN_TREE = 428
_SYS_MOVE_MOUNT = 429
_OPEN_TREE_CLONE = 1
_AT_FDCWD = -100
_MOVE_MOUNT_F_EMPTY_PATH = 0x04
_SYS_CAPGET = 125
_SYS_CAPSET = 126

_SIGCHLD = 17

_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        if os.uname().machine != "x86_64":
            raise OSError(38, "pyvz's system-call table is for x86_64 only")
        lib = ctypes.CDLL(None, use_errno=True)
        lib.syscall.restype = ctypes.c_long
        lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                              ctypes.c_ulong, ctypes.c_char_p]
        lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        lib.unshare.argtypes = [ctypes.c_int]
        lib.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                              ctypes.c_ulong]
        _libc = lib
    return _libc


def _check(result: int, what: str, path: str | None = None) -> int:
    if result < 0:
        err = ctypes.get_errno()
        if path is None:
            raise OSError(err, f"{what}: {os.strerror(err)}")
        raise OSError(err, f"{what}: {os.strerror(err)}", path)
    return result


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    _check(_lib().mount(_b(source), _b(target), _b(fstype), flags, _b(data)),
           f"mount {fstype or 'bind'}", target)


def umount(target: str, flags: int = 0) -> None:
    _check(_lib().umount2(_b(target), flags), "umount", target)


def unshare(flags: int) -> None:
    _check(_lib().unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    """Join namespaces; ``fd`` may be a namespace file or a pidfd (several types at once)."""
    _check(_lib().syscall(_SYS_SETNS, fd, nstype), "setns")


def clone(flags: int) -> int:
    """fork() with namespace flags: returns the child's pid, or 0 in the child.

    The child continues on a copy of the parent's stack, as after fork.  Only safe from a
    single-threaded process (the CLI is one), since CPython's after-fork hooks do not run.
    """
    return _check(_lib().syscall(_SYS_CLONE, flags | _SIGCHLD, 0, 0, 0, 0), "clone")


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_lib().syscall(_SYS_PIVOT_ROOT, _b(new_root), _b(put_old)), "pivot_root", new_root)


def sethostname(name: str) -> None:
    import _socket

    _socket.sethostname(name)


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    _check(_lib().syscall(_SYS_PIDFD_SEND_SIGNAL, pidfd, sig, None, 0), "pidfd_send_signal")


def close_range(first: int) -> None:
    """Close every descriptor from ``first`` on, so nothing of the host leaks into a VE."""
    if _lib().syscall(_SYS_CLOSE_RANGE, first, 0xFFFFFFFF, 0) < 0:
        os.closerange(first, 65536)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, mode: int = 0,
            resolve: int = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) -> int:
    """Open ``path`` with every symlink resolved inside ``dirfd`` (a VE's root).

    The host opens files inside a VE this way so that a symlink planted by the VE's
    root cannot point the host at one of its own files.
    """
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    # A scoped lookup that crosses ".." (a template's "../bin/busybox" link) fails with
    # EAGAIN when any rename or mount on the machine raced with it; the kernel expects
    # the caller to retry.  On a busy node (VEs starting, package managers at work) that
    # is frequent enough to make a start fail with "no /sbin/init".
    for _ in range(_OPENAT2_TRIES - 1):
        fd = _lib().syscall(_SYS_OPENAT2, dirfd, _b(path), ctypes.byref(how),
                            ctypes.sizeof(how))
        if fd >= 0 or ctypes.get_errno() != _EAGAIN:
            return _check(fd, "openat2", path)
    return _check(_lib().syscall(_SYS_OPENAT2, dirfd, _b(path), ctypes.byref(how),
                                 ctypes.sizeof(how)), "openat2", path)


def open_tree(path: str) -> int:
    """(templates issue) A detached bind mount of ``path`` as a descriptor (close-on-exec).

    It can be attached with ``move_mount`` after the caller has entered another mount
    namespace (a VE's), where ``path`` itself is out of reach."""
    return _check(_lib().syscall(_SYS_OPEN_TREE, _AT_FDCWD, _b(path),
                                 _OPEN_TREE_CLONE | os.O_CLOEXEC), "open_tree", path)


def move_mount(tree_fd: int, target: str) -> None:
    """(templates issue) Attach a tree from ``open_tree`` at ``target``."""
    _check(_lib().syscall(_SYS_MOVE_MOUNT, tree_fd, b"", _AT_FDCWD, _b(target),
                          _MOVE_MOUNT_F_EMPTY_PATH), "move_mount", target)


def prctl(option: int, arg2: int = 0) -> int:
    return _check(_lib().prctl(option, arg2, 0, 0, 0), "prctl")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def capset_keep(mask: int) -> None:
    """Limit the calling process to the capabilities in ``mask`` (bits by CAP_* number).

    Drops everything else from the bounding set too, so an exec'd program cannot regain
    it through file capabilities or setuid binaries.
    """
    lib = _lib()
    cap = 0
    # PR_CAPBSET_READ fails past the kernel's last capability; no /proc needed, so this
    # also works after the caller switched its root to a VE's
    while lib.prctl(_PR_CAPBSET_READ, cap, 0, 0, 0) >= 0:
        if not mask & (1 << cap):
            prctl(PR_CAPBSET_DROP, cap)
        cap += 1
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    # never ask for more than we hold (a node may itself run without some capabilities)
    _check(lib.syscall(_SYS_CAPGET, ctypes.byref(header), ctypes.byref(data)), "capget")
    held = data[0].permitted | (data[1].permitted << 32)
    mask &= held
    for i in range(2):
        word = (mask >> (32 * i)) & 0xFFFFFFFF
        data[i].effective = data[i].permitted = data[i].inheritable = word
    _check(_lib().syscall(_SYS_CAPSET, ctypes.byref(header), ctypes.byref(data)), "capset")
