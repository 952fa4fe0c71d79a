"""The real pyvz-monitor binary, driven the way `vzctl start` drives it.

A harness (tests/helpers/monitor_harness.py) plays M: it forks a fake init on a fresh
pty and execs the monitor, so the monitor is that child's parent.  Everything is real:
processes, ptys, unix sockets, files.  Each test kills what it started through pidfds
(no pid-reuse races), even when it fails.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "csrc" / "pyvz-monitor.c"
BINARY = ROOT / "pyvz" / "libexec" / "pyvz-monitor"
HARNESS = Path(__file__).resolve().parent / "helpers" / "monitor_harness.py"
TIMEOUT = 10.0

# Writes what the handler saw, atomically, so the test never reads a half-written file.
HANDLER_SCRIPT = """\
import json, os, sys
out = sys.argv[1]
fds = []
for name in os.listdir("/proc/self/fd"):
    try:
        os.readlink("/proc/self/fd/" + name)  # the listdir fd itself is gone by now
        fds.append(int(name))
    except FileNotFoundError:
        pass
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines()
              if ":\\t" in line)
info = {"argv": sys.argv[1:], "fds": sorted(fds), "cwd": os.getcwd(),
        "sigblk": int(status["SigBlk"], 16), "sigign": int(status["SigIgn"], 16),
        "stderr": os.readlink("/proc/self/fd/2")}
with open(out + ".tmp", "w") as f:
    json.dump(info, f)
os.rename(out + ".tmp", out)
"""

# A console that echoes each line back; "quit" makes it exit with code 5.
ECHO_CHILD = ["/bin/sh", "-c",
              'echo READY; while read l; do [ "$l" = quit ] && exit 5; echo "got:$l"; done']


@pytest.fixture(scope="session")
def monitor_bin() -> Path:
    if not BINARY.exists() or BINARY.stat().st_mtime < SOURCE.stat().st_mtime:
        BINARY.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(BINARY),
                        str(SOURCE)], check=True, cwd=ROOT)
    return BINARY


def wait_for(cond: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def read_until(sock: socket.socket, marker: bytes, timeout: float = TIMEOUT) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{marker!r} not received; got {data!r}")
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"EOF before {marker!r}; got {data!r}")
        data += chunk
    return data


def read_to_eof(sock: socket.socket, timeout: float = TIMEOUT) -> bytes:
    data = b""
    sock.settimeout(timeout)
    while chunk := sock.recv(65536):
        data += chunk
    return data


def pidfd_alive(pidfd: int) -> bool:
    return not select.select([pidfd], [], [], 0)[0]  # readable once the process is dead


class Run:
    """One monitor (with its fake init) started by the harness."""

    def __init__(self, proc: subprocess.Popen[bytes], child_pid: int, child_pidfd: int | None,
                 tmp: Path) -> None:
        self.proc = proc
        self.child_pid = child_pid
        self.child_pidfd = child_pidfd
        self.sock = tmp / "console.sock"
        self.log = tmp / "console.log"
        self.out = tmp / "handler.json"
        self.err = tmp / "monitor.err"
        self.loadavg = tmp / "loadavg"

    def connect(self) -> socket.socket:
        wait_for(self.sock.exists, "the console socket")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(self.sock))
        return s

    def handler_result(self) -> dict[str, object]:
        """Wait for the monitor (by then the handler) to exit; return what the handler saw."""
        rc = self.proc.wait(timeout=TIMEOUT)
        assert rc == 0, f"rc={rc} stderr={self.err.read_text()!r}"
        result: dict[str, object] = json.loads(self.out.read_text())
        return result


class Starter:
    """Starts monitors and kills whatever is left of them at teardown."""

    def __init__(self, monitor_bin: Path, tmp: Path) -> None:
        self.bin = monitor_bin
        self.tmp = tmp
        self.handler = tmp / "handler.py"
        self.handler.write_text(HANDLER_SCRIPT)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.pidfds: list[int] = []

    def handler_argv(self) -> list[str]:
        return [sys.executable, "-I", str(self.handler), str(self.tmp / "handler.json"), "extra"]

    def popen(self, argv: list[str]) -> subprocess.Popen[bytes]:
        with open(self.tmp / "monitor.err", "wb") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
        self.procs.append(proc)
        return proc

    def track(self, pid: int) -> int | None:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return None  # already gone (and reaped by the monitor)
        self.pidfds.append(fd)
        return fd

    def start(self, child: list[str], *, log_max: int | None = None,
              wait_child: bool = False, log: Path | None = None, tasks: Path | None = None,
              extra: tuple[str, ...] = ()) -> Run:
        """``tasks``: the child's tids are appended to it before the monitor starts."""
        monitor = [str(self.bin), "--ctid", "101", "--init-pid", "{pid}",
                   "--console-fd", "{master}", "--console-peer-fd", "{slave}",
                   "--socket", str(self.tmp / "console.sock"),
                   "--log", str(log or self.tmp / "console.log")]
        if log_max is not None:
            monitor += ["--log-max", str(log_max)]
        monitor += [*extra, "--", *self.handler_argv()]
        spec = json.dumps({"child": child, "monitor": monitor, "wait_child": wait_child,
                           "tasks": str(tasks) if tasks else None})
        proc = self.popen([sys.executable, str(HARNESS), spec])
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "harness died before forking the child"
        pid = int(line)
        return Run(proc, pid, self.track(pid), self.tmp)

    def cleanup(self) -> None:
        for fd in self.pidfds:
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.close(fd)
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()


@pytest.fixture
def starter(monitor_bin: Path, tmp_path: Path) -> Iterator[Starter]:
    s = Starter(monitor_bin, tmp_path)
    try:
        yield s
    finally:
        s.cleanup()


def check_clean_handler(info: dict[str, object], status: str, out: Path) -> None:
    assert info["argv"] == [str(out), "extra", status]
    assert info["fds"] == [0, 1, 2], "a monitor fd leaked into the handler"
    assert info["sigblk"] == 0, "the handler inherited blocked signals"
    assert not int(str(info["sigign"])) & (1 << (signal.SIGHUP - 1)), "SIGHUP left ignored"
    assert info["cwd"] == "/"


def test_console_output_reaches_log_and_client_and_input_reaches_init(starter: Starter) -> None:
    run = starter.start(ECHO_CHILD)
    with run.connect() as client:
        client.sendall(b"hello\n")
        read_until(client, b"got:hello")
        wait_for(lambda: b"got:hello" in run.log.read_bytes(), "the log")
        assert b"READY" in run.log.read_bytes()  # written before anyone was attached
        assert stat.S_IMODE(run.log.stat().st_mode) == 0o600
        assert stat.S_IMODE(run.sock.stat().st_mode) == 0o600
        client.sendall(b"quit\n")
        assert b"got:quit" not in read_to_eof(client)  # EOF: the monitor closed us
    info = run.handler_result()
    check_clean_handler(info, "1280", run.out)  # exit code 5
    assert not run.sock.exists()


def test_two_clients_see_the_same_console(starter: Starter) -> None:
    run = starter.start(ECHO_CHILD)
    with run.connect() as a, run.connect() as b:
        # Each client's own echo proves the monitor has accepted it.
        a.sendall(b"from-a\n")
        read_until(a, b"got:from-a")
        b.sendall(b"from-b\n")
        read_until(b, b"got:from-b")
        a.sendall(b"ping\n")
        read_until(a, b"got:ping")
        read_until(b, b"got:ping")
        b.sendall(b"pong\n")
        read_until(a, b"got:pong")
        read_until(b, b"got:pong")
        # A client leaving does not disturb the other.
        a.close()
        b.sendall(b"again\n")
        read_until(b, b"got:again")


def test_many_clients_at_once(starter: Starter) -> None:
    run = starter.start(ECHO_CHILD)
    clients = [run.connect() for _ in range(16)]
    try:
        for i, c in enumerate(clients):
            c.sendall(b"hi-%d\n" % i)
            read_until(c, b"got:hi-%d" % i)
        clients[0].sendall(b"all\n")
        for c in clients:
            read_until(c, b"got:all")
    finally:
        for c in clients:
            c.close()


def test_console_client_end_to_end(starter: Starter) -> None:
    from pyvz.ve.console import attach

    run = starter.start(ECHO_CHILD)
    wait_for(run.sock.exists, "the console socket")
    master, slave = os.openpty()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(
        attach(str(run.sock), stdin_fd=slave, stdout_fd=slave)), daemon=True)
    try:
        thread.start()
        wait_for(lambda: not termios.tcgetattr(slave)[3] & termios.ICANON, "raw mode")
        os.write(master, b"hello\r")  # Enter; the VE's console turns it into a newline
        seen = b""
        deadline = time.monotonic() + TIMEOUT
        while b"got:hello" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                seen += os.read(master, 4096)
        assert b"got:hello" in seen
        os.write(master, b"\x1b.")
        thread.join(TIMEOUT)
        assert result == [0]
    finally:
        os.close(master)
        os.close(slave)
    assert run.proc.poll() is None  # detaching leaves the VE and its monitor alone


def test_slow_client_is_dropped_without_stalling_the_others(starter: Starter) -> None:
    bursts = 24  # 1.5 MiB: far more than a unix socket buffers for a client that never reads
    script = (f"read go; i=0; while [ $i -lt {bursts} ]; do head -c 65536 /dev/zero | tr '\\0' x; "
              "sleep 0.02; i=$((i+1)); done; echo; echo DONE; exec sleep 1000")
    run = starter.start(["/bin/sh", "-c", script])
    with run.connect() as stuck, run.connect() as reader:
        time.sleep(0.2)  # let the monitor accept both before the flood starts
        reader.sendall(b"go\n")
        data = read_until(reader, b"DONE", timeout=30)
        assert data.count(b"x") == bursts * 65536
        stuck_data = read_to_eof(stuck)  # dropped: what was queued, then EOF
        assert len(stuck_data) < bursts * 65536
    assert run.proc.poll() is None


def test_input_flood_to_a_console_nobody_reads_does_not_block(starter: Starter) -> None:
    run = starter.start(["/bin/sh", "-c", "while :; do echo tick; sleep 0.05; done"])
    with run.connect() as flooder:
        flooder.settimeout(TIMEOUT)
        try:
            flooder.sendall(b"y" * (1 << 20))  # far beyond the pty's input buffer
        except (BrokenPipeError, ConnectionResetError):
            pass  # the tty echoes the flood back; unread, that gets the flooder dropped
        # A watcher that falls behind on that echo (a busy host) is dropped too: the monitor
        # is fine as long as a new one soon sees the VE's output.
        deadline = time.monotonic() + TIMEOUT
        while True:
            with run.connect() as watcher:
                try:
                    read_until(watcher, b"tick", timeout=max(deadline - time.monotonic(), 0.1))
                    break
                except AssertionError:
                    if time.monotonic() > deadline:
                        raise


def test_monitor_holds_no_stray_fds(starter: Starter) -> None:
    run = starter.start(ECHO_CHILD)
    with run.connect() as client:
        client.sendall(b"x\n")
        read_until(client, b"got:x")
        fd_dir = Path(f"/proc/{run.proc.pid}/fd")
        targets = sorted(os.readlink(fd_dir / name) for name in os.listdir(fd_dir))
    # stdout is our pipe; the harness's stray pipe must be gone.
    assert sum(t.startswith("pipe:") for t in targets) == 1, targets
    # 0-2, pty master and slave, signalfd, pidfd, listener, our client, log
    assert len(targets) == 10, targets


def test_log_rotation(starter: Starter) -> None:
    lines = 300
    script = (f'i=0; while [ $i -lt {lines} ]; do echo "line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxx"; '
              'i=$((i+1)); done')
    run = starter.start(["/bin/sh", "-c", script], log_max=2048)
    info = run.handler_result()
    assert info["argv"] == [str(run.out), "extra", "0"]
    full = b"".join(b"line-%d-xxxxxxxxxxxxxxxxxxxxxxxxxx\r\n" % i for i in range(lines))
    old = Path(str(run.log) + ".1").read_bytes()
    new = run.log.read_bytes()
    assert 0 < len(old) <= 2048 and 0 < len(new) <= 2048
    assert full.endswith(old + new)  # nothing lost or reordered at the rotation point
    # The rotation happened because the next write would not fit: more than one cap kept.
    assert len(old) + len(new) > 2048


@pytest.mark.parametrize(("script", "status"), [
    ("exit 0", "0"),
    ("echo last-words; exit 3", "768"),  # output still in the pty when init is gone
    ("kill -KILL $$", "9"),
    ("kill -HUP $$", "1"),    # what a pid-ns init gets when the VE runs `reboot`
    ("kill -INT $$", "2"),    # ... and `halt`/`poweroff`
    ("echo bye; sleep 0.3; exit 3", "768"),  # exits while the monitor is in its loop
])
def test_handler_gets_wait_status(starter: Starter, script: str, status: str) -> None:
    run = starter.start(["/bin/sh", "-c", script])
    info = run.handler_result()
    check_clean_handler(info, status, run.out)
    assert not run.sock.exists()
    for word in (b"bye", b"last-words"):
        if word in script.encode():
            assert word in run.log.read_bytes()  # drained before the handler ran


def test_init_dead_before_the_monitor_started(starter: Starter) -> None:
    run = starter.start(["/bin/sh", "-c", "echo last-words; exit 3"], wait_child=True)
    check_clean_handler(run.handler_result(), "768", run.out)
    assert b"last-words" in run.log.read_bytes()  # drained before the handler ran
    assert not run.sock.exists()


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGKILL, "9"), (signal.SIGHUP, "1")])
def test_handler_gets_status_of_init_killed_while_attached(
        starter: Starter, sig: signal.Signals, status: str) -> None:
    run = starter.start(ECHO_CHILD)
    with run.connect() as client:
        client.sendall(b"x\n")
        read_until(client, b"got:x")
        assert run.child_pidfd is not None
        signal.pidfd_send_signal(run.child_pidfd, sig)
        read_to_eof(client)
    check_clean_handler(run.handler_result(), status, run.out)
    assert not run.sock.exists()


def test_sigterm_leaves_init_running_and_runs_no_handler(starter: Starter) -> None:
    # `exec sleep`: a shell reading the console would see EOF once the master is gone.
    run = starter.start(["/bin/sh", "-c", "echo READY; exec sleep 1000"])
    wait_for(run.sock.exists, "the console socket")
    wait_for(lambda: run.log.exists() and b"READY" in run.log.read_bytes(), "the log")
    run.proc.send_signal(signal.SIGTERM)
    assert run.proc.wait(timeout=TIMEOUT) == 0
    assert not run.sock.exists()
    assert not run.out.exists()
    assert run.child_pidfd is not None
    time.sleep(0.2)
    assert pidfd_alive(run.child_pidfd), "the monitor's exit took init with it"
    signal.pidfd_send_signal(run.child_pidfd, signal.SIGKILL)


def test_sighup_and_sigpipe_do_not_kill_the_monitor(starter: Starter) -> None:
    run = starter.start(ECHO_CHILD)
    with run.connect() as client:
        client.sendall(b"a\n")
        read_until(client, b"got:a")
        run.proc.send_signal(signal.SIGHUP)
        run.proc.send_signal(signal.SIGPIPE)
        client.sendall(b"b\n")
        read_until(client, b"got:b")
    assert run.proc.poll() is None


def start_time(pid: int) -> int:
    stat_line = Path(f"/proc/{pid}/stat").read_text()
    return int(stat_line.rsplit(")", 1)[1].split()[19])  # field 22


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "1000"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def adopt_argv(starter: Starter, pid: int, start: int, extra: tuple[str, ...] = ()) -> list[str]:
    return [str(starter.bin), "--adopt", "--ctid", "101", "--init-pid", str(pid),
            "--init-start", str(start), "--socket", str(starter.tmp / "console.sock"),
            "--log", str(starter.tmp / "console.log"), *extra, "--", *starter.handler_argv()]


def test_adopt_reports_unknown_status(starter: Starter,
                                      sleeper: subprocess.Popen[bytes]) -> None:
    proc = starter.popen(adopt_argv(starter, sleeper.pid, start_time(sleeper.pid)))
    run = Run(proc, sleeper.pid, None, starter.tmp)
    with run.connect() as client:
        assert b"no console" in read_to_eof(client)
    assert proc.poll() is None
    sleeper.kill()  # stays a zombie (we are its parent): the pidfd still fires
    check_clean_handler(run.handler_result(), "unknown", run.out)
    assert not run.sock.exists()


def test_adopt_refuses_wrong_start_time(starter: Starter,
                                        sleeper: subprocess.Popen[bytes]) -> None:
    proc = starter.popen(adopt_argv(starter, sleeper.pid, start_time(sleeper.pid) + 1))
    assert proc.wait(timeout=TIMEOUT) == 3
    assert not (starter.tmp / "handler.json").exists()
    assert not (starter.tmp / "console.sock").exists()
    assert sleeper.poll() is None


def test_monitor_is_small(starter: Starter) -> None:
    # Every optional feature on, and a few load average samples taken.
    run = starter.start(ECHO_CHILD, tasks=starter.tmp / "tasks",
                        extra=(*loadavg_args(starter.tmp), "--errlog", str(starter.tmp / "errlog")))
    with run.connect() as client:
        client.sendall(b"x\n")
        read_until(client, b"got:x")
        time.sleep(3 * PERIOD_MS / 1000)
        assert read_loadavg(run.loadavg) is not None
        fields = {}
        for line in Path(f"/proc/{run.proc.pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, value = line.split(":", 1)
            fields[key] = int(value.split()[0])
        private_kb = fields["Private_Clean"] + fields["Private_Dirty"]
        print(f"pyvz-monitor private memory: {private_kb} kB")
        assert private_kb < 1024
        comm = Path(f"/proc/{run.proc.pid}/comm").read_text().strip()
        assert comm == "pyvz-mon:101"


def test_not_my_child_is_an_error(starter: Starter,
                                  sleeper: subprocess.Popen[bytes]) -> None:
    argv = [str(starter.bin), "--ctid", "101", "--init-pid", str(sleeper.pid),
            "--console-fd", "{master}", "--console-peer-fd", "{slave}",
            "--socket", str(starter.tmp / "console.sock"), "--log", str(starter.tmp / "log"),
            "--", "true"]
    spec = json.dumps({"child": ["true"], "monitor": argv})
    proc = starter.popen([sys.executable, str(HARNESS), spec])
    assert proc.wait(timeout=TIMEOUT) == 1
    assert "not a child" in (starter.tmp / "monitor.err").read_text()


# ---- The VE's load average (--loadavg, --tasks) ----

PERIOD_MS = 200  # --loadavg-period-ms: the 5 s arithmetic, 25 times as fast
LOADAVG_LINE = re.compile(rb"(\d+\.\d\d) (\d+\.\d\d) (\d+\.\d\d) (\d+)/(\d+) (\d+)\n")


def loadavg_args(tmp: Path, period_ms: int | None = PERIOD_MS) -> tuple[str, ...]:
    period = ("--loadavg-period-ms", str(period_ms)) if period_ms else ()
    return ("--loadavg", str(tmp / "loadavg"), "--tasks", str(tmp / "tasks"), *period)


def read_loadavg(path: Path) -> re.Match[bytes] | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    match = LOADAVG_LINE.fullmatch(data)
    assert match, f"not in /proc/loadavg's format: {data!r}"
    return match


def kernel_loadavgs(active: int, periods: int) -> list[bytes]:
    """The first three fields of /proc/loadavg after 0, 1, ... ``periods`` periods with
    ``active`` tasks, by kernel/sched/loadavg.c's calc_load() and its formatting."""
    fixed_1 = 1 << 11
    loads = [0, 0, 0]
    shown = []
    for _ in range(periods + 1):
        shown.append(b" ".join(b"%d.%02d" % ((x + fixed_1 // 200) >> 11,
                                             (((x + fixed_1 // 200) & (fixed_1 - 1)) * 100) >> 11)
                               for x in loads))
        for i, exp in enumerate((1884, 2014, 2037)):
            new = loads[i] * exp + active * fixed_1 * (fixed_1 - exp)
            if active * fixed_1 >= loads[i]:
                new += fixed_1 - 1
            loads[i] = new // fixed_1
    return shown


def dead_tids(nbytes: int) -> str:
    """Exactly ``nbytes`` (>= 63) of tids above any pid_max (2**22): no such threads."""
    nine = nbytes % 8  # 9-byte lines; the rest are 8 bytes long
    return ("".join(f"{5_000_000 + i}\n" for i in range((nbytes - 9 * nine) // 8))
            + "".join(f"{50_000_000 + i}\n" for i in range(nine)))


def test_kernel_reference_matches_proc_loadavg_format() -> None:
    assert LOADAVG_LINE.fullmatch(Path("/proc/loadavg").read_bytes())
    assert kernel_loadavgs(1, 2) == [b"0.00 0.00 0.00", b"0.08 0.02 0.01", b"0.15 0.03 0.01"]
    assert kernel_loadavgs(1, 1000)[-1] == b"1.00 1.00 1.00"


def test_loadavg_written_at_start_and_removed_when_init_exits(starter: Starter) -> None:
    # The real 5 s period: what the test sees is the line written at start.
    run = starter.start(ECHO_CHILD, tasks=starter.tmp / "tasks",
                        extra=loadavg_args(starter.tmp, period_ms=None))
    wait_for(run.loadavg.exists, "the loadavg file")
    match = read_loadavg(run.loadavg)
    assert match is not None
    # Zero averages; init (the shell) may not have reached its `read` yet.
    assert match.group(1, 2, 3, 5, 6) == (b"0.00", b"0.00", b"0.00", b"1", b"0")
    assert match[4] in (b"0", b"1")
    assert stat.S_IMODE(run.loadavg.stat().st_mode) & 0o022 == 0
    with run.connect() as client:
        client.sendall(b"quit\n")
        read_to_eof(client)
    check_clean_handler(run.handler_result(), "1280", run.out)
    assert sorted(p.name for p in starter.tmp.iterdir() if "loadavg" in p.name) == []


def test_loadavg_follows_a_busy_task_with_the_kernels_arithmetic(starter: Starter) -> None:
    tasks = starter.tmp / "tasks"
    # The monitor reads 16 KiB at a time: put the real tid across the third boundary,
    # behind thousands of tids that count for nothing.
    tasks.write_text(dead_tids(3 * 16384 - 1))
    run = starter.start(["/bin/sh", "-c", "while :; do :; done"], tasks=tasks,
                        extra=loadavg_args(starter.tmp))
    expected = kernel_loadavgs(active=1, periods=300)
    wait_for(lambda: (m := read_loadavg(run.loadavg)) is not None and m[1] >= b"0.15",
             "two periods' worth of load")
    match = read_loadavg(run.loadavg)
    assert match is not None
    assert b" ".join(match.group(1, 2, 3)) in expected[2:]
    assert match.group(4, 5) == (b"1", b"1")  # the spinner is runnable; dead tids are no tasks
    assert run.child_pidfd is not None
    signal.pidfd_send_signal(run.child_pidfd, signal.SIGKILL)
    check_clean_handler(run.handler_result(), "9", run.out)
    assert not run.loadavg.exists()


def test_loadavg_without_a_tasks_file_counts_nobody(starter: Starter) -> None:
    tasks = starter.tmp / "tasks"  # not there: the cgroup is gone (or not made yet)
    run = starter.start(ECHO_CHILD, extra=loadavg_args(starter.tmp))
    wait_for(run.loadavg.exists, "the loadavg file")
    time.sleep(3 * PERIOD_MS / 1000)
    assert run.loadavg.read_bytes() == b"0.00 0.00 0.00 0/0 0\n"
    tasks.write_text("")
    time.sleep(2 * PERIOD_MS / 1000)
    assert run.loadavg.read_bytes() == b"0.00 0.00 0.00 0/0 0\n"
    tasks.write_text(f"{run.child_pid}\n")
    wait_for(lambda: run.loadavg.read_bytes() == b"0.00 0.00 0.00 0/1 0\n", "the listed task")
    assert run.proc.poll() is None
    assert run.err.read_bytes() == b""  # a missing file is expected, not worth a warning


def test_loadavg_in_adopt_mode_removed_on_sigterm(starter: Starter,
                                                  sleeper: subprocess.Popen[bytes]) -> None:
    (starter.tmp / "tasks").write_text(f"{sleeper.pid}\n")
    proc = starter.popen(adopt_argv(starter, sleeper.pid, start_time(sleeper.pid),
                                    extra=loadavg_args(starter.tmp)))
    path = starter.tmp / "loadavg"
    wait_for(path.exists, "the loadavg file")
    time.sleep(2 * PERIOD_MS / 1000)
    assert path.read_bytes() == b"0.00 0.00 0.00 0/1 0\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=TIMEOUT) == 0
    assert not path.exists()
    assert sleeper.poll() is None


# ---- --errlog ----

STAMP = r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z pyvz-monitor\[(\d+|\?)\]: "


def check_stamp(text: str) -> None:
    when = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    assert abs(when - datetime.now(UTC)) < timedelta(minutes=1)


def test_errlog_gets_timestamped_warnings_and_the_handlers_stderr(starter: Starter) -> None:
    errlog = starter.tmp / "errlog"
    errlog.write_text("earlier\n")
    # An unopenable console log: the monitor warns and carries on.
    run = starter.start(["/bin/sh", "-c", "exit 0"], log=starter.tmp / "no-dir" / "console.log",
                        extra=("--errlog", str(errlog)))
    info = run.handler_result()
    check_clean_handler(info, "0", run.out)
    assert info["stderr"] == str(errlog)  # the handler's stderr lands there too
    earlier, line = errlog.read_text().split("\n", 1)
    assert earlier == "earlier"  # appended to
    match = re.fullmatch(STAMP + r"cannot open log \S+/no-dir/console\.log: "
                                 r"No such file or directory\n", line)
    assert match, line
    check_stamp(match[1])
    assert match[2] == "101"
    assert run.err.read_bytes() == b""


GOOD = ["--ctid", "101", "--init-pid", "1", "--socket", "/tmp/x.sock", "--log", "/tmp/x.log"]


@pytest.mark.parametrize("argv", [
    [*GOOD, "--errlog", "{errlog}", "--bogus", "1", "--", "true"],
    ["--bogus", "1", *GOOD, "--errlog", "{errlog}", "--", "true"],  # named after the mistake
    [*GOOD, "--errlog", "{errlog}", "--log-max", "x", "--", "true"],
    [*GOOD, "--errlog", "{errlog}", "--init-pid"],
])
def test_errlog_gets_usage_errors(monitor_bin: Path, tmp_path: Path, argv: list[str]) -> None:
    errlog = tmp_path / "errlog"
    argv = [str(errlog) if a == "{errlog}" else a for a in argv]
    res = subprocess.run([str(monitor_bin), *argv], capture_output=True, timeout=TIMEOUT)
    assert (res.returncode, res.stdout, res.stderr) == (2, b"", b"")
    assert stat.S_IMODE(errlog.stat().st_mode) == 0o600
    match = re.fullmatch(STAMP + r"bad usage: .*\n", errlog.read_text())
    assert match, errlog.read_text()
    check_stamp(match[1])
    assert match[2] == "101"


@pytest.mark.parametrize("argv", [
    [],
    [*GOOD, "--console-fd", "3", "--console-peer-fd", "4"],              # no -- HANDLER
    [*GOOD, "--console-fd", "3", "--console-peer-fd", "4", "--"],        # empty HANDLER
    ["--ctid", "101", "--init-pid", "12a", "--", "true"],
    ["--ctid", "abc", "--init-pid", "1", "--", "true"],
    [*GOOD, "--log-max", "-5", "--", "true"],
    [*GOOD, "--log-max", "0", "--", "true"],
    [*GOOD, "--bogus", "1", "--", "true"],
    [*GOOD, "--ctid", "102", "--", "true"],                              # repeated
    [*GOOD, "--console-fd", "1", "--console-peer-fd", "2", "--", "true"],
    [*GOOD, "--console-fd", "700", "--console-peer-fd", "701", "--", "true"],  # not open
    [*GOOD, "--adopt", "--", "true"],                                    # no --init-start
    [*GOOD, "--init-start", "5", "--console-fd", "3", "--console-peer-fd", "4", "--", "true"],
    ["--ctid", "101", "--init-pid", "1", "--socket", "rel.sock", "--log", "/tmp/x.log",
     "--adopt", "--init-start", "5", "--", "true"],
    ["--ctid", "101", "--init-pid", "1", "--socket", "/" + "s" * 120, "--log", "/tmp/x.log",
     "--adopt", "--init-start", "5", "--", "true"],
    [*GOOD, "--init-pid"],
    [*GOOD, "--loadavg", "/tmp/x.la", "--", "true"],                     # no --tasks
    [*GOOD, "--tasks", "/tmp/x.tasks", "--", "true"],                    # no --loadavg
    [*GOOD, "--loadavg", "x.la", "--tasks", "/tmp/x.tasks", "--", "true"],
    [*GOOD, "--loadavg", "/tmp/x.la", "--tasks", "x.tasks", "--", "true"],
    [*GOOD, "--loadavg", "/tmp/x.la", "--tasks", "/tmp/x.tasks", "--loadavg-period-ms", "0",
     "--", "true"],
    [*GOOD, "--loadavg-period-ms", "200", "--", "true"],                 # without --loadavg
    [*GOOD, "--errlog", "x.err", "--", "true"],
    ["--ctid", "1" * 600, "--init-pid", "1", "--", "true"],  # once overflowed warn()'s buffer
])
def test_bad_usage_exits_2(monitor_bin: Path, argv: list[str]) -> None:
    res = subprocess.run([str(monitor_bin), *argv], capture_output=True, timeout=TIMEOUT)
    assert res.returncode == 2
    assert res.stdout == b""
    assert res.stderr.count(b"\n") == 1 and b"bad usage" in res.stderr
