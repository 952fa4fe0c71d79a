"""The VE's console, ``vzctl enter`` and ``--userpasswd``: a person logging in."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from conftest import VeHandle


def _read_until(fd: int, marker: bytes, timeout: float = 15.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{marker!r} not seen; got {data[-400:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


@contextmanager
def _on_pty(ve: VeHandle, *args: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``vzctl ARGS`` with a pty of ours as its terminal, as a person would run it; yields
    the process and the pty master, and kills the process if the test left it running."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(ve.node.argv("vzctl", *args), env=ve.node.env,
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        yield proc, master
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_console_login_with_password_set_by_vzctl(ve: VeHandle) -> None:
    ve.vzctl("set", "--userpasswd", "root:s3cret-pw", check=True)
    shadow = ve.exec("grep ^root: /etc/shadow").stdout
    assert shadow.startswith("root:$6$")
    with _on_pty(ve, "console", str(ve.ctid)) as (proc, master):
        _read_until(master, b"Attached to CT console")
        os.write(master, b"\n")
        _read_until(master, b"login:")
        os.write(master, b"root\n")
        _read_until(master, b"assword:")
        os.write(master, b"s3cret-pw\n")
        os.write(master, b"echo __$((6*7))__ $(id -u)\n")
        out = _read_until(master, b"__42__ 0")
        assert b"incorrect" not in out
        os.write(master, b"exit\n")
        _read_until(master, b"login:")
        os.write(master, b"\x1b.")  # Esc . detaches
        assert proc.wait(timeout=10) == 0
    # the console output is also in the log
    log = ve.node.root / f"var/log/pyvz/console/{ve.ctid}.log"
    assert b"__42__ 0" in log.read_bytes()


def test_wrong_password_is_refused(ve: VeHandle) -> None:
    ve.vzctl("set", "--userpasswd", "root:right-one", check=True)
    with _on_pty(ve, "console", str(ve.ctid)) as (_, master):
        _read_until(master, b"Attached")
        os.write(master, b"\n")
        _read_until(master, b"login:")
        os.write(master, b"root\n")
        _read_until(master, b"assword:")
        os.write(master, b"wrong-one\n")
        _read_until(master, b"incorrect")


def test_userpasswd_on_stopped_ve_creates_user(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    r = ve.vzctl("set", "--userpasswd", "alice:wonder-land")
    assert r.returncode == 0, r
    assert ve.vzctl("status").stdout.split()[3:] == ["unmounted", "down"]
    ve.vzctl("start", check=True)
    line = ve.exec("grep ^alice: /etc/shadow").stdout
    from pyvz.dists.crypt import crypt_password

    stored = line.split(":")[1]
    assert crypt_password("wonder-land", stored) == stored
    assert ve.exec("grep ^alice: /etc/passwd").stdout.split(":")[5] == "/home/alice"
    assert ve.exec("stat -c %U /home/alice").stdout.strip() == "alice"


def test_enter_gives_a_root_shell_on_a_pty(ve: VeHandle) -> None:
    with _on_pty(ve, "enter", str(ve.ctid)) as (proc, master):
        os.write(master, b"echo __$((7*6))__; tty; id -u; exit\n")
        out = _read_until(master, b"exited from CT")
        assert b"__42__" in out
        assert b"/dev/pts/" in out       # a pty of the VE's own devpts
        assert proc.wait(timeout=10) == 0


def test_enter_exec_runs_command_then_shell(ve: VeHandle) -> None:
    with _on_pty(ve, "enter", str(ve.ctid), "--exec", "echo", "hello-from-exec") as \
            (proc, master):
        _read_until(master, b"hello-from-exec")
        os.write(master, b"exit\n")
        assert proc.wait(timeout=10) == 0


def test_exec_from_a_terminal_never_hands_over_the_tty(ve: VeHandle) -> None:
    with _on_pty(ve, "exec", str(ve.ctid),
                 "ls -l /proc/self/fd/0 /proc/self/fd/1; echo done") as (proc, master):
        out = _read_until(master, b"done")
        assert b"pipe:" in out and b"/dev/pts" not in out
        assert proc.wait(timeout=10) == 0


def test_exec_exit_codes_and_stdin(ve: VeHandle) -> None:
    assert ve.vzctl("exec", "exit 3").returncode == 8
    assert ve.vzctl("exec2", "exit 3").returncode == 3
    assert ve.vzctl("exec", "true").returncode == 0
    assert ve.vzctl("exec3", "/bin/echo", "a b", "c").stdout == "a b c\n"
    # a bare name is looked up in PATH inside the VE (nothing imported there)
    r = ve.vzctl("exec3", "echo", "bare")
    assert (r.returncode, r.stdout) == (0, "bare\n"), r
    r = ve.node.vzctl("exec", str(ve.ctid), "-", input=b"echo from-stdin; id -u\n")
    assert r.stdout.split() == ["from-stdin", "0"]
    r = ve.node.vzctl("exec2", str(ve.ctid), "cat", input=b"piped data\n")
    assert r.stdout == "piped data\n"


def test_runscript_running_and_stopped(make_ve: object, tmp_path: object) -> None:
    from pathlib import Path

    assert callable(make_ve) and isinstance(tmp_path, Path)
    script = tmp_path / "s.sh"
    script.write_text("#!/bin/sh\necho ran-as-$(id -u)\n"
                      "test -e /proc/1/comm && echo has-proc\nexit 0\n")
    ve = make_ve(start=False)
    r = ve.vzctl("runscript", str(script))
    assert r.returncode == 0, r
    # stopped: mounted for the script only, with no /proc and no init
    assert [w for w in r.stdout.split() if w.startswith(("ran", "has"))] == ["ran-as-0"]
    assert ve.vzctl("status").stdout.split()[3] == "unmounted"
    ve.vzctl("start", check=True)
    assert ve.vzctl("runscript", str(script)).stdout.split() == ["ran-as-0", "has-proc"]
