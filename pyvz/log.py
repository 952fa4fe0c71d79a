"""Console messages and the vzctl log file, without the cost of importing ``logging``.

Levels follow vzctl: -1 errors, 0 normal messages, 1+ verbose.  ``--quiet`` silences the
console (errors still go to stderr, as vzctl does); the log file (LOGFILE in vz.conf)
receives every message up to LOG_LEVEL, prefixed with time, program and CTID.
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["debug", "error", "info", "set_ctid", "setup", "verbose_level", "warn"]

class _State:
    verbose = 0
    quiet = False
    file = ""
    file_level = 0
    prog = "vzctl"
    ctid = ""


_state = _State()


def setup(*, prog: str | None = None, verbose: int | None = None, quiet: bool | None = None,
          logfile: str | None = None, file_level: int | None = None) -> None:
    if prog is not None:
        _state.prog = prog
    if verbose is not None:
        _state.verbose = verbose
    if quiet is not None:
        _state.quiet = quiet
    if logfile is not None:
        _state.file = logfile
    if file_level is not None:
        _state.file_level = file_level


def set_ctid(ctid: int | str) -> None:
    _state.ctid = str(ctid)


def verbose_level() -> int:
    return _state.verbose


def _to_file(level: int, msg: str) -> None:
    path = _state.file
    if not path or level > _state.file_level:
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    ctid = f"CT {_state.ctid} : " if _state.ctid else ""
    line = f"{stamp} {_state.prog} : {ctid}{msg}\n"
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, flags, 0o600)
        except OSError:
            return
    except OSError:
        return  # an unwritable log must never fail a command
    try:
        os.write(fd, line.encode(errors="replace"))
    finally:
        os.close(fd)


def _emit(level: int, msg: str, to_stderr: bool) -> None:
    _to_file(level, msg)
    if level < 0 or (not _state.quiet and level <= _state.verbose):
        out = sys.stderr if to_stderr else sys.stdout
        out.write(msg + "\n")
        out.flush()


def info(msg: str) -> None:
    _emit(0, msg, False)


def warn(msg: str) -> None:
    _emit(0, "Warning: " + msg, True)


def error(msg: str) -> None:
    _emit(-1, msg, True)


def debug(msg: str, level: int = 1) -> None:
    _emit(level, msg, False)
