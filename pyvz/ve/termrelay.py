"""Relaying the user's terminal to a pty master inside a VE (``vzctl enter``): raw mode,
window-size changes, and the terminal always restored."""

from __future__ import annotations

import os

__all__ = ["relay_terminal"]


def relay_terminal(master: int, stdin_fd: int = 0, stdout_fd: int = 1) -> None:
    """Copy stdin → master and master → stdout until the VE side hangs up."""
    import fcntl
    import select
    import termios

    saved = None
    if os.isatty(stdin_fd):
        saved = termios.tcgetattr(stdin_fd)
        import tty

        tty.setraw(stdin_fd, termios.TCSANOW)
    resized = [False]
    if os.isatty(stdin_fd):
        from pyvz.kernel import sig

        def on_winch(signum: int, frame: object) -> None:
            resized[0] = True

        sig.set_handler(sig.SIGWINCH, on_winch)
    try:
        poller = select.poll()
        poller.register(master, select.POLLIN)
        poller.register(stdin_fd, select.POLLIN)
        stdin_open = True
        while True:
            if resized[0]:
                resized[0] = False
                size = fcntl.ioctl(stdin_fd, termios.TIOCGWINSZ, b"\0" * 8)
                fcntl.ioctl(master, termios.TIOCSWINSZ, size)
            try:
                events = poller.poll()
            except InterruptedError:
                continue
            for fd, ev in events:
                if fd == master:
                    try:
                        data = os.read(master, 65536)
                    except OSError:  # EIO: the last process inside closed the pty
                        data = b""
                    if not data:
                        return
                    _write_all(stdout_fd, data)
                elif stdin_open:
                    data = os.read(stdin_fd, 65536) if ev & select.POLLIN else b""
                    if not data:
                        stdin_open = False
                        poller.unregister(stdin_fd)
                        _write_all(master, b"\x04")  # EOF for the program inside
                    else:
                        _write_all(master, data)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            import select

            select.select([], [fd], [])
            continue
        except OSError:
            return
        view = view[n:]
