"""``vzlist``: list VEs in vzctl's column formats or JSON.

    vzlist [-a|-S] [-n] [-H] [-t] [-j] [-o f[,f…] | -1] [-s [-]f]
           [-h pat] [-N pat] [-d pat] [CTID|NAME …]
    vzlist -L|--list
"""

from __future__ import annotations

import sys

from pyvz.cli.common import resolve_ctid, run_main
from pyvz.errors import E, VzError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.cli.columns import Column
    from pyvz.ve.inventory import VeRow

__all__ = ["main"]

_LONG = {"all": "a", "stopped": "S", "name": "n", "no-header": "H", "no-trim": "t",
         "json": "j", "output": "o", "sort": "s", "hostname": "h", "name_filter": "N",
         "description": "d", "list": "L", "help": "help"}
_TAKES_VALUE = {"o", "s", "h", "N", "d"}


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


def _parse(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    flags: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            key = _LONG.get(name)
            if key is None:
                raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Invalid option {arg}")
            if key in _TAKES_VALUE and not eq:
                if i >= len(argv):
                    raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Option {arg} needs a value")
                value = argv[i]
                i += 1
            flags[key] = value
        elif arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                key = arg[j]
                if key not in "aSnHtjoshNdL1":
                    raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Invalid option -{key}")
                if key in _TAKES_VALUE:
                    value = arg[j + 1:]
                    if not value:
                        if i >= len(argv):
                            raise VzError(E.INVALID_PARAMETER_SYNTAX,
                                          f"Option -{key} needs a value")
                        value = argv[i]
                        i += 1
                    flags[key] = value
                    break
                flags[key] = ""
                j += 1
        else:
            rest.append(arg)
    return flags, rest


def _main(argv: list[str]) -> int:
    from pyvz.cli import columns as C

    flags, rest = _parse(argv)
    if "help" in flags:
        sys.stdout.write(__doc__ or "")
        return 0
    if "L" in flags:
        names = sorted([*C.COLUMNS, *C.ALIASES])
        for name in names:
            col = C.find(name)
            assert col is not None
            sys.stdout.write(f"{name:<15} {col.header}\n")
        return 0
    if "1" in flags:
        flags["H"] = ""
        flags.setdefault("o", "ctid")
    fields = flags["o"].split(",") if "o" in flags else list(C.DEFAULT_FIELDS)
    if "n" in flags and fields and fields[0] in ("ctid", "veid", "vpsid"):
        fields[0] = "smart_name"
    columns: list[tuple[str, Column]] = []
    for f in fields:
        col = C.find(f)
        if col is None:
            raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Unknown field: {f}")
        columns.append((f, col))
    sort_col: Column | None = None
    reverse = False
    if "s" in flags:
        spec = flags["s"]
        reverse = spec.startswith("-")
        sort_col = C.find(spec[1:] if reverse else spec)
        if sort_col is None:
            raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Invalid sort field name: {spec}")

    from pyvz.node import Node
    from pyvz.ve.inventory import Listing, VeRow, all_ctids
    from pyvz.ve.model import VE

    node = Node()
    if rest:
        ctids = sorted({resolve_ctid(node, a) for a in rest})
    else:
        ctids = all_ctids(node)
    listing = Listing(node)
    rows: list[VeRow] = []
    candidates = 0
    for ctid in ctids:
        ve = VE(node, ctid)
        if not ve.conf.exists:
            if rest:
                raise VzError(E.INVALID_PARAMETER_VALUE, f"Container(s) not found: {ctid}")
            continue
        row = VeRow(ve, listing)
        running = row.status().running
        if "a" not in flags and "S" not in flags and not running and not rest:
            continue
        candidates += 1
        if "S" in flags and running:
            continue
        if not _matches(row, flags):
            continue
        rows.append(row)

    if sort_col is not None:
        col = sort_col
        rows.sort(key=lambda r: col.sort_key(col.get(r)))
        if reverse:
            rows.reverse()

    if "j" in flags:
        return _print_json(rows, columns if "o" in flags else None)
    if not candidates:
        # vzctl: nothing to list is not an error, and there is no header either
        sys.stderr.write("Container(s) not found\n")
        return 0
    _print_table(rows, [c for _, c in columns], header="H" not in flags,
                 trim="t" not in flags)
    return 0


def _matches(row: VeRow, flags: dict[str, str]) -> bool:
    """Shell-pattern filters; a VE without the key never matches (vzctl)."""
    from fnmatch import fnmatchcase

    for flag, key in (("h", "HOSTNAME"), ("N", "NAME"), ("d", "DESCRIPTION")):
        if flag in flags:
            value = row.ve.conf.get(key)
            if not value or not fnmatchcase(value, flags[flag]):
                return False
    return True


def _print_table(rows: list[VeRow], cols: list[Column], *, header: bool,
                 trim: bool) -> None:
    """vzctl's printf layout: each cell ``%Ns`` or ``%-Ns``, one space between cells,
    trailing blanks cut.  Unless ``trim`` is off, strings and lists in all but the last
    column are cut to the column width (headers never are)."""
    out = []

    def pad(col: Column, text: str) -> str:
        return text.rjust(col.width) if col.width > 0 else text.ljust(-col.width)

    if header:
        out.append(" ".join(pad(c, c.header) for c in cols).rstrip())
    for row in rows:
        parts = []
        for i, c in enumerate(cols):
            last = i == len(cols) - 1
            text = c.text(c.get(row), full=last or not trim)
            if trim and not last and c.trimmed:
                text = text[:abs(c.width)]
            parts.append(pad(c, text))
        out.append(" ".join(parts).rstrip())
    if out:
        sys.stdout.write("\n".join(out) + "\n")


def _print_json(rows: list[VeRow], columns: list[tuple[str, Column]] | None) -> int:
    import json

    from pyvz.cli.columns import COLUMNS

    # without -o: every field without a suffix (vzctl; "physpages.m" etc. are views of
    # the "physpages" object) — resources issue
    cols = columns if columns is not None else [(n, COLUMNS[n]) for n in sorted(COLUMNS)
                                                if "." not in n]
    data = [{name: c.to_json(c.get(r)) for name, c in cols} for r in rows]
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
