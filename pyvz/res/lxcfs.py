"""One lxcfs per node, giving each VE its own /proc/meminfo, cpuinfo, stat, uptime,
loadavg, diskstats, swaps and /sys/devices/system/cpu/online.

lxcfs (the LXC project's FUSE filesystem, Debian package ``lxcfs``) answers each read
from the cgroups of the process that reads: a VE's ``free`` shows its memory limit and
usage, ``top`` its CPU count (with ``--enable-cfs``, from its CPU cap) and ``uptime`` the
VE's own.  It is mounted under the node's run dir (``RUN/lxcfs``), started by the first
VE start that needs it and kept for the next one (a node service, as lxcfs.service is on
LXC hosts); ``pyvz cleanup`` and ``pyvz shutdown`` stop it when no VE runs.  Its files are
bound over the VE's /proc entries by I before it pivots (``pyvz.ve.areas`` ``binds``).

Without lxcfs installed, VEs see the node's /proc (a warning says so once per start).
If lxcfs dies, running VEs' bound files fail with ENOTCONN until they restart; the next
start remounts it.
"""

from __future__ import annotations

import os

from pyvz import log
from pyvz.kernel.mountinfo import read_mounts

__all__ = ["PROC_FILES", "SYS_FILES", "binds", "ensure", "lxcfs_dir", "stop_unused"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.node import Node

PROC_FILES = ("meminfo", "cpuinfo", "stat", "uptime", "loadavg", "diskstats", "swaps")
SYS_FILES = ("devices/system/cpu/online",)


def lxcfs_dir(node: Node) -> str:
    return f"{node.paths.run_dir}/lxcfs"


def _mounted(target: str) -> bool:
    return any(m.target == target and m.fstype.startswith("fuse") for m in read_mounts())


def _healthy(target: str) -> bool:
    try:
        os.stat(f"{target}/proc/meminfo")
        return True
    except OSError:
        return False


def ensure(node: Node) -> str | None:
    """The node's lxcfs mount point, mounting it first if needed; None without lxcfs."""
    import fcntl

    os.makedirs(node.paths.run_dir, mode=0o755, exist_ok=True)
    # two VEs starting at once must not both mount an lxcfs
    fd = os.open(f"{node.paths.run_dir}/lxcfs.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _hold_user_lock(node)
        return _ensure_locked(node)
    finally:
        os.close(fd)


_user_fd: int | None = None


def _hold_user_lock(node: Node) -> None:
    """A shared lock on RUN/lxcfs.users, held until this command exits: ``stop_unused``
    leaves lxcfs alone while a start that binds its files is under way."""
    global _user_fd
    if _user_fd is None:
        import fcntl

        fd = os.open(f"{node.paths.run_dir}/lxcfs.users",
                     os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)
        _user_fd = fd


def release_user_lock() -> None:
    """End of a command in a process that lives on (``pyvz.api``): drop the lock that a
    CLI command simply takes with it when it exits."""
    global _user_fd
    if _user_fd is not None:
        os.close(_user_fd)
        _user_fd = None


def stop_unused(node: Node, ctid: int = 0) -> None:
    """Stop the node's lxcfs if no VE (but ``ctid``) runs and no start is binding it."""
    import fcntl

    run_dir = node.paths.run_dir
    target = lxcfs_dir(node)
    if not os.path.exists(f"{run_dir}/lxcfs.pid") and not _mounted(target):
        return
    try:
        users = os.open(f"{run_dir}/lxcfs.users", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                        0o600)
    except OSError:
        return
    try:
        try:
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # a start is using it
        from pyvz.ve.runstate import RunState

        for name in os.listdir(run_dir):
            if name.isdigit() and int(name) != ctid:
                st = RunState.load(f"{run_dir}/{name}")
                if st is not None and st.init_alive():
                    return
        _stop(node)
    finally:
        os.close(users)


def _ensure_locked(node: Node) -> str | None:
    target = lxcfs_dir(node)
    if _mounted(target):
        if _healthy(target):
            return target
        _detach(target)  # its daemon died: "transport endpoint is not connected"
    binary = _which("lxcfs")
    if binary is None:
        log.warn("lxcfs is not installed: the container sees the node's /proc/meminfo, "
                 "cpuinfo, stat and uptime")
        return None
    os.makedirs(target, mode=0o755, exist_ok=True)
    _spawn([_which("setsid") or "/usr/bin/setsid", "-f", binary, "--enable-cfs", "-l",
            "-p", f"{node.paths.run_dir}/lxcfs.pid", target])
    import time

    # lxcfs runs in the foreground: wait (up to 5 s) for its FUSE mount to answer
    deadline = time.monotonic() + 5
    while not (_mounted(target) and _healthy(target)):
        if time.monotonic() > deadline:
            log.warn(f"lxcfs did not come up at {target}; the container sees the node's "
                     "/proc")
            return None
        time.sleep(0.02)
    return target


def _spawn(argv: list[str]) -> None:
    """Start a daemon in a session of its own (``setsid -f``), its stdio on /dev/null:
    it must hold neither our caller's terminal nor the pipes a caller reads us through
    (a caller waiting for EOF would wait for the daemon's whole life)."""
    import sys

    from pyvz.kernel.proc import run

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open("/dev/null", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        run(argv, code=3, what="lxcfs", capture=False)
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _which(name: str) -> str | None:
    # not shutil.which: shutil is too heavy an import for the start path
    dirs = (os.environ.get("PATH") or "/usr/sbin:/usr/bin:/sbin:/bin").split(":")
    for d in [*dirs, "/usr/bin", "/usr/sbin"]:
        path = f"{d}/{name}"
        if d and os.access(path, os.X_OK):
            return path
    return None


def _detach(target: str) -> None:
    from pyvz.kernel import syscalls as sc

    try:
        sc.umount(target, sc.MNT_DETACH)
    except OSError:
        pass


def _stop(node: Node) -> None:
    """Unmount the node's lxcfs and end its daemon (by the PID it wrote, checked against
    its command line, so a reused PID is never hit)."""
    target = lxcfs_dir(node)
    if _mounted(target):
        _detach(target)
    pidfile = f"{node.paths.run_dir}/lxcfs.pid"
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        pid = 0
    if pid > 0:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            if b"lxcfs" in cmdline and target.encode() in cmdline:
                os.kill(pid, 9)
        except OSError:
            pass
    try:
        os.unlink(pidfile)
    except OSError:
        pass


def binds(node: Node) -> list[tuple[str, str]]:
    """(lxcfs file, path inside the VE) pairs for the files this lxcfs provides."""
    base = ensure(node)
    if base is None:
        return []
    out = []
    for name in PROC_FILES:
        if os.path.exists(f"{base}/proc/{name}"):
            out.append((f"{base}/proc/{name}", f"/proc/{name}"))
    for name in SYS_FILES:
        if os.path.exists(f"{base}/sys/{name}"):
            out.append((f"{base}/sys/{name}", f"/sys/{name}"))
    return out
