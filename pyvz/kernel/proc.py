"""The one place pyvz runs external programs (tar, debootstrap, …).

Arguments are always lists; there is no shell.  A failure becomes a ``VzError`` whose
message names the program and its exit status, and ``--verbose`` logs the command in a
form that can be pasted into a shell.
"""

from __future__ import annotations

import os

from pyvz import log
from pyvz.errors import VzError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["exit_description", "quote_argv", "run", "run_lines"]


def quote_argv(argv: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def exit_description(status: int) -> str:
    """A waitstatus-derived returncode (negative for signals) in words."""
    if status == 127:
        return "exit status 127 (command not found?)"
    if status < 0:
        return f"killed by signal {-status}"
    return f"exit status {status}"


def run(argv: list[str], *, code: int, what: str | None = None, input: bytes | None = None,
        env: dict[str, str] | None = None, cwd: str | None = None,
        capture: bool = True, check: bool = True) -> tuple[int, bytes, bytes]:
    """Run ``argv``; on failure raise ``VzError(code, …)`` unless ``check`` is false.

    Returns (returncode, stdout, stderr); with ``capture`` false, output goes to ours.
    """
    import subprocess

    log.debug("Running: " + quote_argv(argv))
    try:
        proc = subprocess.run(argv, input=input, env=env, cwd=cwd, close_fds=True,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              stdout=subprocess.PIPE if capture else None,
                              stderr=subprocess.PIPE if capture else None)
    except OSError as e:
        raise VzError(code, f"Unable to run {argv[0]}: {e.strerror}") from e
    out = proc.stdout or b""
    err = proc.stderr or b""
    if check and proc.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()
        last = detail[-1] if detail else exit_description(proc.returncode)
        raise VzError(code, f"{what or os.path.basename(argv[0])} failed: {last}")
    return proc.returncode, out, err


def run_lines(argv: list[str], *, code: int, on_line: Callable[[str], None],
              env: dict[str, str] | None = None, cwd: str | None = None) -> int:
    """(templates issue) Run ``argv`` with stdout and stderr merged, handing each line of
    output to ``on_line`` as it comes (for progress displays); returns the exit status.

    Raises ``VzError(code, …)`` only if the program cannot be started."""
    import subprocess

    log.debug("Running: " + quote_argv(argv))
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, close_fds=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
    except OSError as e:
        raise VzError(code, f"Unable to run {argv[0]}: {e.strerror}") from e
    assert proc.stdout is not None
    try:
        for raw in proc.stdout:
            on_line(raw.decode(errors="replace").rstrip("\r\n"))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc.wait()
