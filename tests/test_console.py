"""pyvz.ve.console.attach against a real unix socket, with a pty as the user's terminal."""

from __future__ import annotations

import os
import socket
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyvz.errors import E, VzError
from pyvz.ve.console import attach, filter_input

TIMEOUT = 10.0


def wait_for(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class FakeMonitor:
    """The monitor's side of the socket: records what the client sends."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.conn: socket.socket | None = None
        self.received = bytearray()
        self.eof = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.conn, _ = self.listener.accept()
            while data := self.conn.recv(4096):
                self.received += data
        except OSError:
            pass  # closed under us at teardown
        self.eof.set()

    def send(self, data: bytes) -> None:
        wait_for(lambda: self.conn is not None, "the client to connect")
        assert self.conn is not None
        self.conn.sendall(data)

    def hang_up(self) -> None:
        """What the monitor does when the VE stops."""
        wait_for(lambda: self.conn is not None, "the client to connect")
        assert self.conn is not None
        self.conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()
        self.thread.join(TIMEOUT)


class Attach(threading.Thread):
    """attach() running as `vzctl console` would, while the test types on the terminal."""

    def __init__(self, path: str, stdin_fd: int, stdout_fd: int) -> None:
        super().__init__(daemon=True)
        self.args = (path, stdin_fd, stdout_fd)
        self.result: int | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        path, stdin_fd, stdout_fd = self.args
        try:
            self.result = attach(path, stdin_fd=stdin_fd, stdout_fd=stdout_fd)
        except BaseException as exc:
            self.error = exc

    def finish(self) -> int | None:
        self.join(TIMEOUT)
        assert not self.is_alive(), "attach() did not return"
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[FakeMonitor]:
    m = FakeMonitor(tmp_path / "console.sock")
    try:
        yield m
    finally:
        m.close()


@pytest.fixture
def terminal() -> Iterator[tuple[int, int]]:
    """(master, slave) of a pty: the test types on master; attach() uses slave."""
    master, slave = os.openpty()
    try:
        yield master, slave
    finally:
        os.close(master)
        os.close(slave)


def is_raw(fd: int) -> bool:
    return not termios.tcgetattr(fd)[3] & (termios.ICANON | termios.ECHO | termios.ISIG)


def read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += os.read(fd, size - len(data))
    return data


def test_relays_both_ways_and_detaches_on_esc_dot(
        monitor: FakeMonitor, terminal: tuple[int, int],
        capsys: pytest.CaptureFixture[str]) -> None:
    master, slave = terminal
    before = termios.tcgetattr(slave)
    assert not is_raw(slave)
    run = Attach(monitor.path, slave, slave)
    wait_for(lambda: is_raw(slave), "raw mode")

    os.write(master, b"ls -l\r")
    wait_for(lambda: monitor.received == b"ls -l\r", "typed keys at the monitor")
    monitor.send(b"total 0\r\n# ")
    assert read_exactly(master, 11) == b"total 0\r\n# "  # raw: no output translation

    os.write(master, b"\x1b.")
    assert run.finish() == 0
    assert monitor.eof.wait(TIMEOUT)
    assert monitor.received == b"ls -l\r"  # neither the Esc nor the dot reached the VE
    assert termios.tcgetattr(slave) == before
    err = capsys.readouterr().err
    assert "Attached to CT console. Press Esc . to detach" in err


def test_escape_split_across_reads_and_lone_escapes(
        monitor: FakeMonitor, terminal: tuple[int, int]) -> None:
    master, slave = terminal
    run = Attach(monitor.path, slave, slave)
    wait_for(lambda: is_raw(slave), "raw mode")
    os.write(master, b"\x1bx")      # Alt-x: goes through
    os.write(master, b"\x1b[A")     # an arrow key: goes through
    wait_for(lambda: monitor.received == b"\x1bx\x1b[A", "escape sequences at the monitor")
    os.write(master, b"\x1b")
    time.sleep(0.2)                 # the held Esc is not sent on its own...
    assert monitor.received == b"\x1bx\x1b[A"
    os.write(master, b".")          # ...and with the dot it detaches
    assert run.finish() == 0
    assert monitor.received == b"\x1bx\x1b[A"


def test_returns_0_when_the_ve_stops(
        monitor: FakeMonitor, terminal: tuple[int, int],
        capsys: pytest.CaptureFixture[str]) -> None:
    master, slave = terminal
    before = termios.tcgetattr(slave)
    run = Attach(monitor.path, slave, slave)
    wait_for(lambda: is_raw(slave), "raw mode")
    monitor.send(b"Power down.\r\n")
    assert read_exactly(master, 13) == b"Power down.\r\n"
    monitor.hang_up()
    assert run.finish() == 0
    assert termios.tcgetattr(slave) == before
    assert "Connection closed" in capsys.readouterr().err


def test_terminal_restored_when_relay_fails(
        monitor: FakeMonitor, terminal: tuple[int, int]) -> None:
    _master, slave = terminal
    before = termios.tcgetattr(slave)
    read_end, write_end = os.pipe()
    os.close(read_end)  # so writing the VE's output fails with EPIPE
    try:
        run = Attach(monitor.path, slave, write_end)
        wait_for(lambda: is_raw(slave), "raw mode")
        monitor.send(b"boom")
        with pytest.raises(BrokenPipeError):
            run.finish()
    finally:
        os.close(write_end)
    assert termios.tcgetattr(slave) == before


def test_piped_stdin_is_sent_and_eof_detaches(monitor: FakeMonitor) -> None:
    read_end, write_end = os.pipe()
    out_r, out_w = os.pipe()
    try:
        run = Attach(monitor.path, read_end, out_w)
        os.write(write_end, b"reboot\n")
        os.close(write_end)
        write_end = -1
        assert run.finish() == 0
        wait_for(lambda: monitor.received == b"reboot\n", "piped input at the monitor")
    finally:
        for fd in (read_end, write_end, out_r, out_w):
            if fd >= 0:
                os.close(fd)


def test_missing_socket_means_not_running(tmp_path: Path) -> None:
    with pytest.raises(VzError) as info:
        attach(str(tmp_path / "nope.sock"))
    assert info.value.code == E.VE_NOT_RUNNING == 31
    assert str(info.value) == "Container is not running"


def test_stale_socket_means_not_running(tmp_path: Path) -> None:
    path = str(tmp_path / "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # what a SIGKILLed monitor leaves behind
    with pytest.raises(VzError) as info:
        attach(path)
    assert info.value.code == E.VE_NOT_RUNNING


@pytest.mark.parametrize(("data", "held", "expected"), [
    (b"plain", False, (b"plain", False, False)),
    (b"\x1b.", False, (b"", False, True)),
    (b"ab\x1b.cd", False, (b"ab", False, True)),
    (b".", True, (b"", False, True)),
    (b"x", True, (b"\x1bx", False, False)),
    (b"ab\x1b", False, (b"ab", True, False)),
    (b"\x1b\x1b.", False, (b"\x1b", False, True)),
    (b".", False, (b".", False, False)),
])
def test_filter_input(data: bytes, held: bool, expected: tuple[bytes, bool, bool]) -> None:
    assert filter_input(data, 0x1B, held) == expected


def test_filter_input_disabled() -> None:
    assert filter_input(b"\x1b.", -1, False) == (b"\x1b.", False, False)
