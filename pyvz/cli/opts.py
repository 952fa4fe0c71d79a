"""A small getopt_long-style parser: ``--name value``, ``--name=value``, flags, and short
options, with ``-`` and ``_`` interchangeable in long names (vzctl accepts both spellings
of several options).  argparse costs more to import than a whole ``vzctl exec``.
"""

from __future__ import annotations

from pyvz.errors import E, VzError

__all__ = ["canonical", "parse"]


def canonical(name: str) -> str:
    return name.replace("_", "-")


def parse(argv: list[str], options: dict[str, bool], *, command: str,
          positional: int | None = 0, stop_at_positional: bool = False,
          ) -> tuple[dict[str, list[str]], list[str]]:
    """Parse ``argv`` against ``options`` (canonical name → takes a value).

    Returns (name → list of values, or [""] per occurrence for flags; positional args).
    ``positional`` is how many positional arguments are allowed (None: any);
    ``stop_at_positional`` stops option parsing at the first positional argument (for
    commands whose tail is a command line to run inside the VE).
    """
    found: dict[str, list[str]] = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg.startswith("-") and len(arg) > 1:
            # long options take two dashes, one-letter ones one; ``-save`` is not ``--save``
            body = arg[2:] if arg.startswith("--") else arg[1:]
            name, eq, value = body.partition("=")
            key = canonical(name)
            if key not in options or body.startswith("-") or \
                    (not arg.startswith("--") and len(name) != 1):
                raise VzError(E.INVALID_PARAMETER_SYNTAX,
                              f"Invalid option {arg.split('=')[0]} for {command}")
            if options[key]:
                if not eq:
                    if i >= len(argv):
                        raise VzError(E.INVALID_PARAMETER_SYNTAX,
                                      f"Option --{name} requires an argument")
                    value = argv[i]
                    i += 1
                found.setdefault(key, []).append(value)
            else:
                if eq:
                    raise VzError(E.INVALID_PARAMETER_SYNTAX,
                                  f"Option --{name} does not take an argument")
                found.setdefault(key, []).append("")
        else:
            rest.append(arg)
            if stop_at_positional:
                rest.extend(argv[i:])
                break
    if positional is not None and len(rest) > positional:
        raise VzError(E.INVALID_PARAMETER_SYNTAX,
                      f"Invalid syntax: unexpected argument {rest[positional]!r} for {command}")
    return found, rest
