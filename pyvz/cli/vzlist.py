"""``vzlist``: list VEs in vzctl's column formats or JSON.

    vzlist [-a|-S] [-n] [-H] [-t] [-j] [-o f[,f…] | -1] [-s [-]f]
           [-h pat] [-N pat] [-d pat] [CTID|NAME …]
    vzlist -L|--list
"""

from __future__ import annotations

import sys

from pyvz.cli.common import resolve_ctid, run_main
from pyvz.errors import E, VzError

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
        for name in sorted(C.COLUMNS):
            sys.stdout.write(f"{name:<15} {C.COLUMNS[name].header}\n")
        return 0
    if "1" in flags:
        flags["H"] = ""
        flags.setdefault("o", "ctid")
    fields = flags["o"].split(",") if "o" in flags else list(C.DEFAULT_FIELDS)
    if "n" in flags and fields and fields[0] in ("ctid", "veid", "vpsid"):
        fields[0] = "smart_name"
    columns = []
    for f in fields:
        col = C.find(f)
        if col is None:
            raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Unknown field: {f}")
        columns.append(col)

    from pyvz.node import Node
    from pyvz.ve.inventory import Listing, VeRow, all_ctids
    from pyvz.ve.model import VE

    node = Node()
    if rest:
        ctids = [resolve_ctid(node, a) for a in rest]
    else:
        ctids = all_ctids(node)
    listing = Listing(node)
    rows = []
    for ctid in ctids:
        ve = VE(node, ctid)
        if not ve.conf.exists:
            if rest:
                raise VzError(E.INVALID_PARAMETER_VALUE, f"Container(s) not found: {ctid}")
            continue
        row = VeRow(ve, listing)
        running = row.status().running
        if "S" in flags and running:
            continue
        if "a" not in flags and "S" not in flags and not running and not rest:
            continue
        if not _matches(row, flags):
            continue
        rows.append(row)

    if "s" in flags:
        spec = flags["s"]
        reverse = spec.startswith("-")
        col = C.find(spec.lstrip("-"))
        if col is None:
            raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Invalid sort field: {spec}")
        rows.sort(key=lambda r: col.sort_key(col.get(r)), reverse=reverse)

    if "j" in flags:
        return _print_json(rows, columns if "o" in flags else None)
    _print_table(rows, columns, header="H" not in flags, trim="t" not in flags)
    return 0


def _matches(row: object, flags: dict[str, str]) -> bool:
    from fnmatch import fnmatchcase

    from pyvz.ve.inventory import VeRow

    assert isinstance(row, VeRow)
    for flag, key in (("h", "HOSTNAME"), ("N", "NAME"), ("d", "DESCRIPTION")):
        if flag in flags and not fnmatchcase(row.ve.conf.get(key) or "", flags[flag]):
            return False
    return True


def _print_table(rows: list[object], columns: list[object], *, header: bool,
                 trim: bool) -> None:
    from pyvz.cli.columns import Column

    cols = [c for c in columns if isinstance(c, Column)]
    out = []

    def cell(col: Column, text: str, last: bool) -> str:
        width = abs(col.width)
        if trim and not last and len(text) > width and col.width < 0:
            text = text[:width]
        return text.rjust(width) if col.width > 0 else text.ljust(width)

    if header:
        out.append(" ".join(cell(c, c.header, i == len(cols) - 1)
                            for i, c in enumerate(cols)).rstrip())
    for row in rows:
        parts = []
        for i, c in enumerate(cols):
            last = i == len(cols) - 1
            parts.append(cell(c, c.text(c.get(row), full=last or not trim), last))  # type: ignore[arg-type]
        out.append(" ".join(parts).rstrip())
    if out:
        sys.stdout.write("\n".join(out) + "\n")


def _print_json(rows: list[object], columns: list[object] | None) -> int:
    import json

    from pyvz.cli.columns import COLUMNS, Column

    cols = [c for c in (columns if columns is not None else
                        [COLUMNS[n] for n in sorted(COLUMNS)]) if isinstance(c, Column)]
    data = [{c.name: c.to_json(c.get(r)) for c in cols} for r in rows]  # type: ignore[arg-type]
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
