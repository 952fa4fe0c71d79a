"""Client side of ``vzctl console CTID``: join a terminal to the VE's console.

The VE's monitor (csrc/pyvz-monitor.c) holds the console pty and serves it on a unix
socket as raw bytes both ways: what the VE prints arrives on the socket, what we send is
typed on the VE's console.  This module only relays and watches for the detach keys.

Detach is ``Esc`` then ``.``, as in vzctl.  An Esc is held back until the next byte shows
whether it starts the detach sequence, so the VE never sees the Esc of a detach (it would
otherwise combine with the first key typed after the next attach).  End of input on
stdin also detaches: there is nothing left to send, and the console never ends by itself.

Imports are lazy: ``vzctl`` loads this module on every run.
"""

from __future__ import annotations

# Not from typing: importing typing alone costs ~20 ms; mypy honours a local constant.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from _socket import socket
    from typing import Any

__all__ = ["attach", "filter_input"]

_DOT = 0x2E
_BUF = 16384


def attach(socket_path: str, *, escape: bytes = b"\x1b", stdin_fd: int = 0,
           stdout_fd: int = 1) -> int:
    """Relay ``stdin_fd``/``stdout_fd`` to the console at ``socket_path`` until detach.

    Returns 0 on detach and when the VE stops (the monitor closes the socket).  Raises
    ``VzError(E.VE_NOT_RUNNING)`` when there is no monitor to connect to.  ``escape`` is
    the one-byte detach prefix; ``b""`` disables detaching by keys.
    """
    import _socket
    import sys

    from pyvz.errors import E, VzError

    if len(escape) > 1:
        raise ValueError("escape must be a single byte")
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            sock.connect(socket_path)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            # No socket, or a stale one left by a monitor that was killed.
            raise VzError(E.VE_NOT_RUNNING, "Container is not running") from exc
        sys.stderr.write("Attached to CT console. Press Esc . to detach\n")
        sys.stderr.flush()
        saved = _raw_mode(stdin_fd)
        try:
            detached = _relay(sock, escape[0] if escape else -1, stdin_fd, stdout_fd)
        finally:
            if saved is not None:
                import termios

                termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)
    finally:
        sock.close()
    # "\r\n": the VE may have left the cursor mid-line.
    sys.stderr.write("\r\nDetached from CT console\n" if detached else "\r\nConnection closed\n")
    sys.stderr.flush()
    return 0


def filter_input(data: bytes, escape: int, held: bool) -> tuple[bytes, bool, bool]:
    """Find the detach sequence in typed bytes.

    ``held`` says an Esc ended the previous chunk and was not sent yet.  Returns the
    bytes to send, whether an Esc is now held, and whether to detach.  ``escape`` < 0
    disables detection.
    """
    if escape < 0 or (not held and escape not in data):
        return data, False, False
    out = bytearray()
    for byte in data:
        if held:
            if byte == _DOT:
                return bytes(out), False, True
            out.append(escape)  # not a detach after all: the Esc was meant for the VE
            held = False
        if byte == escape:
            held = True
        else:
            out.append(byte)
    return bytes(out), held, False


def _raw_mode(fd: int) -> list[Any] | None:
    """Put a tty into raw mode (keys such as ^C go to the VE); return the old settings."""
    import os

    if not os.isatty(fd):
        return None
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSADRAIN)
    return saved


def _relay(sock: socket, escape: int, stdin_fd: int, stdout_fd: int) -> bool:
    """Copy both ways; True when the user detached, False when the VE side closed."""
    import os
    import select

    sock_fd = sock.fileno()
    poller = select.poll()
    poller.register(stdin_fd, select.POLLIN)
    poller.register(sock_fd, select.POLLIN)
    held = False
    while True:
        for fd, _events in poller.poll():
            if fd == sock_fd:
                data = sock.recv(_BUF)
                if not data:
                    return False
                _write_all(stdout_fd, data)
                continue
            try:
                data = os.read(stdin_fd, _BUF)
            except OSError:
                data = b""  # EIO: our terminal was hung up
            if not data:
                return True
            data, held, detach = filter_input(data, escape, held)
            if data:
                sock.sendall(data)
            if detach:
                return True


def _write_all(fd: int, data: bytes) -> None:
    import os

    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
