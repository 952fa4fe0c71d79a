"""``vzcfgvalidate [-r|-i] [-v yes|no] FILE`` — check a config's beancounter rules.

    -r         repair: fix what has an obvious fix and save the file (in place)
    -i         interactive repair: ask before each fix
    -v yes|no  check as a VSwap config (only physpages/swappages) or a classic one;
               default: VSwap when PHYSPAGES has a limit

FILE is a path, or a CTID whose CTID.conf is checked.  Findings are Errors (validation
fails), Warnings and Recommendations.  Exit 0 when valid (or fully repaired), 2 when
errors remain, 1 when the file cannot be read or written.
"""

from __future__ import annotations

import sys

from pyvz.cli.common import run_main
from pyvz.errors import VzError

__all__ = ["main"]

_USAGE = "Usage: vzcfgvalidate [-r|-i] [-v yes|no] <config_file>"


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


def _main(argv: list[str]) -> int:
    repair = interactive = False
    vswap: bool | None = None
    files = []
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "-r":
            repair = True
        elif a == "-i":
            repair = interactive = True
        elif a == "-v":
            if i >= len(argv) or argv[i] not in ("yes", "no"):
                raise VzError(1, _USAGE)
            vswap = argv[i] == "yes"
            i += 1
        elif a in ("-h", "--help"):
            sys.stdout.write(__doc__ or "")
            return 0
        elif a.startswith("-"):
            raise VzError(1, f"Invalid option {a}; {_USAGE}")
        else:
            files.append(a)
    if len(files) != 1:
        raise VzError(1, _USAGE)
    from pyvz.config.conffile import ConfFile
    from pyvz.res.capacity import HostFacts
    from pyvz.res.validate import ERROR, check

    path = files[0]
    if path.isdigit():
        from pyvz.node import Node

        path = Node().paths.ve_conf(int(path))
    try:
        conf = ConfFile.load(path)
    except OSError as e:
        raise VzError(1, f"Unable to read {path}: {e.strerror}") from e
    host = HostFacts()
    findings = check(conf.values(), vswap=vswap, host_ram=host.ram, host_swap=host.swap)
    fixed = 0
    remaining_errors = 0
    for f in findings:
        sys.stdout.write(f"{f}\n")
        if repair and f.key is not None and f.fix is not None:
            from pyvz.res import units as u

            new = u.fmt_pair(*f.fix)
            if interactive:
                sys.stdout.write(f"  set {f.key.upper()}=\"{new}\"? [y/N] ")
                sys.stdout.flush()
                if sys.stdin.readline().strip().lower() not in ("y", "yes"):
                    remaining_errors += f.severity == ERROR
                    continue
            conf.set(f.key.upper(), new)
            sys.stdout.write(f"  repaired: {f.key.upper()}=\"{new}\"\n")
            fixed += 1
        elif f.severity == ERROR:
            remaining_errors += 1
    if fixed:
        try:
            conf.save()
        except OSError as e:
            raise VzError(1, f"Unable to save {path}: {e.strerror}") from e
        # a fix may uncover another rule (e.g. a larger numfile needs more dcache)
        again = check(conf.values(), vswap=vswap, host_ram=host.ram, host_swap=host.swap)
        for _ in range(4 if not interactive else 0):
            todo = [f for f in again if f.key is not None and f.fix is not None]
            if not todo:
                break
            from pyvz.res import units as u

            for f in todo:
                assert f.key is not None and f.fix is not None
                conf.set(f.key.upper(), u.fmt_pair(*f.fix))
                sys.stdout.write(f"  repaired: {f.key.upper()}=\"{u.fmt_pair(*f.fix)}\"\n")
            conf.save()
            again = check(conf.values(), vswap=vswap, host_ram=host.ram,
                          host_swap=host.swap)
        remaining_errors = sum(1 for f in again if f.severity == ERROR)
        for f in again:
            if f.severity == ERROR:
                sys.stdout.write(f"{f} (after repair)\n")
    if remaining_errors:
        sys.stdout.write("Validation completed: failed\n")
        return 2
    sys.stdout.write("Validation completed: success\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
