"""What every command-line front-end shares: one exit path, one-line errors, and CTID/name
resolution."""

from __future__ import annotations

import os
import sys

from pyvz import log
from pyvz.errors import E, VzError

__all__ = ["require_root", "resolve_ctid", "run_main", "setup_logging"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyvz.node import Node


def run_main(func: Callable[[list[str]], int], argv: list[str] | None = None) -> int:
    """Run ``func`` and turn any failure into a message on stderr plus an exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        return func(args)
    except VzError as e:
        log.error(e.message)
        if e.hint and log.verbose_level() >= 0:
            sys.stderr.write(f"Hint: {e.hint}\n")
        return e.code
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted\n")
        return 130
    except BrokenPipeError:
        # the reader went away (vzlist | head): not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except OSError as e:
        log.error(f"Error: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
        return E.SYSTEM


def require_root() -> None:
    if os.geteuid() != 0:
        raise VzError(E.PERM, "This command needs root privileges")


def setup_logging(node: Node, *, prog: str, verbose: int = 0, quiet: bool = False,
                  verbose_given: bool = False) -> None:
    logging_on = (node.setting("LOGGING") or "yes").lower() != "no"
    level = node.setting("VERBOSE")
    if not verbose_given and level and level.lstrip("-").isdigit():
        verbose = int(level)
    file_level = node.setting("LOG_LEVEL") or "0"
    log.setup(prog=prog, verbose=verbose, quiet=quiet,
              logfile=(node.setting("LOGFILE") or node.paths.log_file) if logging_on else "",
              file_level=int(file_level) if file_level.lstrip("-").isdigit() else 0)


def resolve_ctid(node: Node, text: str) -> int:
    """A CTID from a number or a VE name (vzctl: "Bad CT ID", exit 21)."""
    from pyvz.validate import CTID_MAX, is_ctid_text

    if is_ctid_text(text):
        ctid = int(text)
        if ctid <= CTID_MAX:
            return ctid
    else:
        from pyvz.ve.names import resolve

        found = resolve(node, text)
        if found is not None:
            return found
    raise VzError(E.INVALID_PARAMETER_VALUE, f"Bad CT ID {text}")
