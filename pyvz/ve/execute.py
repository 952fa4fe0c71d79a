"""``vzctl exec``/``exec2``/``exec3``/``runscript``/``enter``: programs inside a running VE.

A VE process must never hold one of the node's terminals: with the legacy TIOCSTI ioctl
(still enabled on many kernels) it could type commands into the admin's shell.  So when our
stdin/stdout/stderr is a terminal, the VE gets pipes (exec) or a pty of its own devpts
(enter) and this process relays; plain files and pipes are handed over as they are.
"""

from __future__ import annotations

import os

from pyvz.errors import E, VzError
from pyvz.ve import nsexec
from pyvz.ve.model import VE

__all__ = ["EXEC_ENV", "enter", "run"]

EXEC_ENV = {"HOME": "/", "HISTFILE": "/dev/null", "TERM": "linux",
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
_TIOCSPTLCK = 0x40045431  # unlock a pty master (termios does not export it)
_TIOCGPTPEER = 0x5441     # open the slave of a pty master without a path lookup


def run(ve: VE, argv: list[str], *, stdin_data: bytes | None = None,
        env: dict[str, str] | None = None) -> int:
    """Run ``argv`` in the VE with our stdio; returns its exit status (128+N if killed)."""
    target = nsexec.open_target(ve)
    try:
        ttys = [os.isatty(fd) for fd in (0, 1, 2)]
        env = env or EXEC_ENV
        if stdin_data is None and not any(ttys):
            pid = nsexec.spawn(target, argv, env)
            return _wait_forwarding(pid)
        return _run_relayed(target, argv, env, ttys, stdin_data)
    finally:
        target.close()


def _wait_forwarding(pid: int) -> int:
    """Wait for ``pid``; SIGINT/SIGTERM/SIGHUP sent to us are passed on to it."""
    from pyvz.kernel import sig

    def forward(signum: int, frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in (sig.SIGINT, sig.SIGTERM, sig.SIGHUP, sig.SIGQUIT):
        sig.set_handler(signum, forward)
    return nsexec.wait_status(pid)


def _run_relayed(target: nsexec.Target, argv: list[str], env: dict[str, str],
                 ttys: list[bool], stdin_data: bytes | None) -> int:
    child_fds = [0, 1, 2]
    ours: list[tuple[int, int]] = []  # (our end, our fd) pairs to relay
    feed = -1
    if ttys[0] or stdin_data is not None:
        r, w = os.pipe2(os.O_CLOEXEC)
        child_fds[0] = r
        feed = w
    for n in (1, 2):
        if ttys[n]:
            r, w = os.pipe2(os.O_CLOEXEC)
            child_fds[n] = w
            ours.append((r, n))
    try:
        pid = nsexec.spawn(target, argv, env, stdin=child_fds[0], stdout=child_fds[1],
                           stderr=child_fds[2])
    finally:
        for fd in child_fds:
            if fd > 2:
                os.close(fd)
    if stdin_data is not None:
        _write_all(feed, stdin_data)
        os.close(feed)
        feed = -1
    _relay(feed if ttys[0] else -1, ours)
    if feed >= 0:
        os.close(feed)
    return _wait_forwarding(pid)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BrokenPipeError:
            return
        view = view[n:]


def _relay(feed: int, outputs: list[tuple[int, int]]) -> None:
    """Copy our stdin to ``feed`` and each pipe to our fd, until every output pipe ends."""
    import select

    poller = select.poll()
    if feed >= 0:
        poller.register(0, select.POLLIN)
    for r, _ in outputs:
        poller.register(r, select.POLLIN)
    targets = dict(outputs)
    while targets:
        for fd, _event in poller.poll():
            if fd == 0:
                data = os.read(0, 65536)
                if not data:
                    poller.unregister(0)
                    os.close(feed)
                    feed = -1
                else:
                    _write_all(feed, data)
                continue
            data = os.read(fd, 65536)
            if not data:
                poller.unregister(fd)
                os.close(fd)
                del targets[fd]
            else:
                _write_all(targets[fd], data)


def enter(ve: VE, argv: list[str] | None = None) -> int:
    """An interactive root shell (or ``argv``) on a new pty of the VE's own devpts."""
    import fcntl
    import termios

    target = nsexec.open_target(ve)
    try:
        from pyvz.kernel import syscalls as sc

        root_fd = os.open(f"/proc/{target.state.init_pid}/root",
                          os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            master = sc.openat2(root_fd, "/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY)
        finally:
            os.close(root_fd)
        fcntl.ioctl(master, _TIOCSPTLCK, b"\0\0\0\0")
        slave = fcntl.ioctl(master, _TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        os.fchown(slave, target.state.local_uid, target.state.local_gid + 5)
        if os.isatty(0):
            fcntl.ioctl(slave, termios.TIOCSWINSZ, fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
        env = dict(EXEC_ENV, HOME="/root", TERM=os.environ.get("TERM", "xterm"))
        env.pop("HISTFILE")
        shell = argv or ["/bin/sh", "-c",
                         "exec $(command -v bash || echo /bin/sh) -l 2>/dev/null || exec sh"]
        pid = nsexec.spawn(target, shell, env, stdin=slave, stdout=slave, stderr=slave,
                           ctty=slave)
        os.close(slave)
    finally:
        target.close()
    from pyvz.ve.termrelay import relay_terminal

    try:
        relay_terminal(master)
    finally:
        os.close(master)
    return nsexec.wait_status(pid)


def check_exec_allowed(ve: VE) -> None:
    if not ve.conf.exists:
        raise VzError(E.NOVECONFIG, "Container config file does not exist")
