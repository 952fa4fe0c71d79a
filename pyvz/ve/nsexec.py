"""Running a program or a Python function inside a VE.

Code that runs in the child after it has entered the VE cannot import anything: the
node's Python library is not in the VE's root.  Everything it needs is imported first.

For a running VE a child process joins the VE's cgroups and then, through a pidfd of the
VE's init, all its namespaces at once, and becomes the VE's root with the VE's capability
set — the same process ``vzctl exec`` and ``enter`` use.  For a stopped (mounted) VE,
``call_in_root`` gives a child a user namespace with the VE's uid map and chroots it into
VE_ROOT, so files are edited as the VE's root sees them and no symlink in the VE can point
the node at one of its own files.
"""

from __future__ import annotations

import fcntl
import os
import termios

from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc
from pyvz.ve.caps import CAP_NUMBERS

__all__ = [
    "Target",
    "call",
    "call_in_root",
    "open_target",
    "spawn",
    "spawn_in_root",
    "wait_status",
]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyvz.ve.model import VE
    from pyvz.ve.runstate import RunState

_ENTER_NS = (sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWNET
             | sc.CLONE_NEWCGROUP)


class Target:
    """A running VE pinned by a pidfd of its init (so a reused PID cannot be joined)."""

    __slots__ = ("cgroup_dirs", "ctid", "pidfd", "state")

    def __init__(self, ctid: int, pidfd: int, state: RunState, cgroup_dirs: list[str]) -> None:
        self.ctid = ctid
        self.pidfd = pidfd
        self.state = state
        self.cgroup_dirs = cgroup_dirs

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


def open_target(ve: VE) -> Target:
    from pyvz.ve.runstate import proc_start_ticks

    st = ve.require_running()
    try:
        pidfd = os.pidfd_open(st.init_pid)
    except ProcessLookupError:
        raise VzError(E.VE_NOT_RUNNING, "Container is not running") from None
    if proc_start_ticks(st.init_pid) != st.init_start:  # the PID was reused meanwhile
        os.close(pidfd)
        raise VzError(E.VE_NOT_RUNNING, "Container is not running")
    return Target(ve.ctid, pidfd, st, ve.cgroups().dirs())


def _become_ve_root(target: Target) -> None:
    """Child side: cgroups, namespaces, credentials, capabilities — in that order, since
    each step needs the node privileges the next one gives up."""
    for d in target.cgroup_dirs:
        fd = os.open(f"{d}/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
    userns = target.state.local_uid != 0
    sc.setns(target.pidfd, _ENTER_NS | (sc.CLONE_NEWUSER if userns else 0))
    if userns:
        os.setresgid(0, 0, 0)
        os.setgroups([])
        os.setresuid(0, 0, 0)
    if target.state.caps:
        sc.capset_keep(target.state.caps)
    os.chdir("/")


def _execvpe(argv: list[str], env: dict[str, str]) -> None:
    """execvpe() without ``os.execvpe``, whose PATH search imports ``warnings``: inside a
    VE nothing can be imported."""
    if "/" in argv[0]:
        os.execve(argv[0], argv, env)
    error: OSError = FileNotFoundError(2, "No such file or directory", argv[0])
    for directory in env.get("PATH", "/usr/bin:/bin").split(":"):
        try:
            os.execve(f"{directory or '.'}/{argv[0]}", argv, env)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as e:
            error = e  # e.g. EACCES: keep looking, but report it if nothing else runs
    raise error


def _fork_into_pidns(target: Target) -> int:
    """fork() with the child in the VE's pid namespace; ours is restored right after, so
    later forks of this process (tar, …) stay on the node."""
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.setns(target.pidfd, sc.CLONE_NEWPID)
        pid = -1
        try:
            pid = os.fork()
        finally:
            if pid != 0:
                sc.setns(own, sc.CLONE_NEWPID)
        return pid
    finally:
        os.close(own)


def spawn(target: Target, argv: list[str], env: dict[str, str], *, stdin: int = 0,
          stdout: int = 1, stderr: int = 2, ctty: int = -1,
          before_exec: Callable[[], None] | None = None) -> int:
    """Start ``argv`` inside the VE and return its (node) PID.  With ``ctty`` the program
    gets a new session with that terminal as its controlling tty.  ``before_exec`` runs in
    the child once it is the VE's root (templates issue: vzpkg's mounts); it must not
    import anything."""
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = _fork_into_pidns(target)
    if pid == 0:
        err_fd = err_w
        try:
            os.close(err_r)
            _become_ve_root(target)
            if before_exec is not None:
                before_exec()
            if ctty >= 0:
                os.setsid()
                fcntl.ioctl(ctty, termios.TIOCSCTTY, 0)
            for fd, want in ((stdin, 0), (stdout, 1), (stderr, 2)):
                if fd != want:
                    os.dup2(fd, want)
            os.dup2(err_w, 3)
            os.set_inheritable(3, False)
            err_fd = 3
            sc.close_range(4)
            _execvpe(argv, env)
        except BaseException as e:
            try:
                os.write(err_fd, (e.strerror or str(e)).encode() if isinstance(e, OSError)
                         else str(e).encode())
            except OSError:
                pass
            os._exit(127)
    os.close(err_w)
    msg = os.read(err_r, 4096)
    os.close(err_r)
    if msg:
        os.waitpid(pid, 0)
        raise VzError(E.EXEC, f"Unable to execute {argv[0]} in CT {target.ctid}: "
                      f"{msg.decode(errors='replace')}")
    return pid


def wait_status(pid: int) -> int:
    """Wait for ``pid``; its exit code, or 128+signal like a shell reports it."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _child_report(func: Callable[..., object], args: tuple[object, ...], err_w: int) -> None:
    try:
        func(*args)
    except VzError as e:
        os.write(err_w, f"{e.code} {e.message}".encode())
        os._exit(1)
    except BaseException as e:
        os.write(err_w, f"{E.SYSTEM} {type(e).__name__}: {e}".encode())
        os._exit(1)
    os._exit(0)


def _collect(pid: int, err_r: int) -> None:
    msg = b""
    while chunk := os.read(err_r, 4096):
        msg += chunk
    os.close(err_r)
    status = wait_status(pid)
    if msg:
        code, _, text = msg.decode(errors="replace").partition(" ")
        raise VzError(int(code) if code.isdigit() else E.SYSTEM, text)
    if status != 0:
        raise VzError(E.SYSTEM, f"helper process inside the container failed ({status})")


def call(target: Target, func: Callable[..., object], *args: object) -> None:
    """Run ``func(*args)`` in a child inside the running VE, as its root."""
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = _fork_into_pidns(target)
    if pid == 0:
        os.close(err_r)
        try:
            _become_ve_root(target)
        except BaseException as e:
            os.write(err_w, f"{E.SYSTEM} cannot enter the container: {e}".encode())
            os._exit(1)
        _child_report(func, args, err_w)
    os.close(err_w)
    _collect(pid, err_r)


def call_in_running(ve: VE, func: Callable[..., object], *args: object) -> None:
    """``call`` for one job in a running VE: open its target, run, close."""
    target = open_target(ve)
    try:
        call(target, func, *args)
    finally:
        target.close()


def _fork_in_root(ve: VE, err_w: int) -> int:
    """fork(); the child returns 0 chrooted into the stopped VE's root as its root user
    (a failure there is reported on ``err_w`` and the child exits)."""
    root = ve.root
    uid, gid = ve.uid, ve.gid
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        try:
            sc.unshare(sc.CLONE_NEWNS | (sc.CLONE_NEWUSER if uid else 0))
            os.write(ready_w, b"u")
            if uid and os.read(go_r, 1) != b"g":  # the parent writes our uid map first
                os._exit(1)
            os.close(ready_w)
            os.close(go_r)
            sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
            # chroot while the path is still looked up with the node root's uid
            os.chroot(root)
            os.chdir("/")
            if uid:
                os.setresgid(0, 0, 0)
                os.setgroups([])
                os.setresuid(0, 0, 0)
            if not uid:
                sc.capset_keep(sum(1 << CAP_NUMBERS[c] for c in
                                   ("chown", "dac_override", "fowner", "fsetid")))
        except BaseException as e:
            os.write(err_w, f"{E.SYSTEM} cannot enter the container root: {e}".encode())
            os._exit(1)
        return 0
    os.close(ready_w)
    os.close(go_r)
    try:
        if os.read(ready_r, 1) == b"u" and uid:
            for name, base in (("uid_map", uid), ("gid_map", gid)):
                fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
                try:
                    os.write(fd, f"0 {base} 65536\n".encode())
                finally:
                    os.close(fd)
            os.write(go_w, b"g")
    except OSError:
        pass  # the child sees EOF on go and gives up; its report says why
    finally:
        os.close(go_w)
        os.close(ready_r)
    return pid


def call_in_root(ve: VE, func: Callable[..., object], *args: object) -> None:
    """Run ``func(*args)`` chrooted into the mounted root of a stopped VE, as its root."""
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = _fork_in_root(ve, err_w)
    if pid == 0:
        os.close(err_r)
        _child_report(func, args, err_w)
    os.close(err_w)
    _collect(pid, err_r)


def spawn_in_root(ve: VE, argv: list[str], env: dict[str, str], *, stdin: int = 0) -> int:
    """Start ``argv`` chrooted into a stopped VE's root (no init, no /proc: vzctl's
    runscript on a stopped VE); returns its PID."""
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = _fork_in_root(ve, err_w)
    if pid == 0:
        try:
            os.close(err_r)
            if stdin != 0:
                os.dup2(stdin, 0)
            os.dup2(err_w, 3)
            os.set_inheritable(3, False)
            sc.close_range(4)
            _execvpe(argv, env)
        except BaseException as e:
            os.write(3, str(e).encode())
            os._exit(127)
    os.close(err_w)
    msg = os.read(err_r, 4096)
    os.close(err_r)
    if msg:
        os.waitpid(pid, 0)
        raise VzError(E.EXEC, f"Unable to run {argv[0]} in CT {ve.ctid}: "
                      f"{msg.decode(errors='replace')}")
    return pid
