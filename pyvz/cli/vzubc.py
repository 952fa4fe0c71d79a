"""``vzubc [options] [CTID|name ...]`` — the beancounters, readable (vzctl 4.x's vzubc).

    -c, --color          colour rows: red where failcnt rose, yellow near a limit
    -f, --file FILE      read this /proc/user_beancounters-format file ("-": stdin)
    -q, --quiet          only rows that failed or are near a limit
    -qh, --quiet-held R  "near" for held: R of the barrier (default 0.5)
    -qm, --quiet-maxheld R  "near" for maxheld: R of the barrier (default 0.8)
    -r, --relative       failcnt since the last -r run (kept under -rd DIR)
    -rd DIR              where -r keeps its counts (default /tmp/vzubc.store)
    -rc                  clear the -r store first
    -i, --incremental    show how held changed since the last -i run (-id DIR, -ic)
    -v, --verbose        also show parameters with neither barrier nor limit
    -w, --watch          repeat every 2 seconds (-wn SEC sets the interval; -wd, -wt
                         are accepted as in vzubc); stop with Ctrl-C

On a pyvz node it first refreshes the node's file (``pyvz ubc``) from the kernel's
counters.  Values in pages and bytes are shown in bytes with K/M/G; "-" stands for zero
or unlimited; Bar% and Lim% are held (and maxheld) in percent of barrier and limit.
"""

from __future__ import annotations

import os
import sys

from pyvz.cli.common import resolve_ctid, run_main
from pyvz.errors import E, VzError

__all__ = ["main", "pyvz_ubc"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.res.ubc import Row

_VALUE_OPTS = {"-f": "file", "--file": "file", "-qh": "qh", "--quiet-held": "qh",
               "-qm": "qm", "--quiet-maxheld": "qm", "-rd": "rd", "--relative-dir": "rd",
               "-id": "id", "--incremental-dir": "id", "-wn": "wn", "--watch-interval": "wn"}
_FLAGS = {"-c": "c", "--color": "c", "-q": "q", "--quiet": "q", "-r": "r",
          "--relative": "r", "-rc": "rc", "--relative-clear": "rc", "-i": "i",
          "--incremental": "i", "-ic": "ic", "--incremental-clear": "ic", "-v": "v",
          "--verbose": "v", "-w": "w", "--watch": "w", "-wd": "w", "-wt": "w",
          "-h": "help", "--help": "help"}
_UNL = 2**63 - 1


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


def _parse(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    flags: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a in _VALUE_OPTS:
            if i >= len(argv):
                raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Option {a} requires an argument")
            flags[_VALUE_OPTS[a]] = argv[i]
            i += 1
        elif a in _FLAGS:
            flags[_FLAGS[a]] = ""
        elif a.startswith("-") and a != "-":
            raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Invalid option {a}")
        else:
            rest.append(a)
    for key in ("qh", "qm", "wn"):
        if key in flags:
            try:
                if float(flags[key]) <= 0:
                    raise ValueError
            except ValueError:
                raise VzError(E.INVALID_PARAMETER_VALUE,
                              f"Bad value for -{key}: {flags[key]}") from None
    for key in ("rd", "id"):
        if key in flags and not flags[key].startswith("/"):
            raise VzError(E.INVALID_PARAMETER_VALUE, f"-{key} needs an absolute path")
    return flags, rest


def _main(argv: list[str]) -> int:
    flags, rest = _parse(argv)
    if "help" in flags:
        sys.stdout.write(__doc__ or "")
        return 0
    if "w" not in flags:
        sys.stdout.write(_render(flags, rest))
        return 0
    import time

    interval = float(flags.get("wn", "2"))
    while True:
        text = _render(flags, rest)
        sys.stdout.write("\x1b[H\x1b[2J" + text)
        sys.stdout.flush()
        time.sleep(interval)


def _blocks(flags: dict[str, str], rest: list[str]) -> list[tuple[int, list[Row]]]:
    from pyvz.res.ubc import parse_file

    if "file" in flags:
        try:
            if flags["file"] == "-":
                text = sys.stdin.read()
            else:
                with open(flags["file"]) as f:
                    text = f.read()
        except OSError as e:
            raise VzError(E.SYSTEM, f"Unable to read {flags['file']}: {e.strerror}") from e
        blocks = parse_file(text)
        if rest:
            wanted = {int(r) for r in rest if r.isdigit()}
            blocks = [b for b in blocks if b[0] in wanted]
        return blocks
    from pyvz.cli.common import require_root
    from pyvz.node import Node
    from pyvz.res.ubc import refresh_node_file

    require_root()
    node = Node()
    ctids = [resolve_ctid(node, r) for r in rest] if rest else None
    return refresh_node_file(node, ctids)


def _human(value: int, unit: str) -> str:
    if value == 0 or value >= _UNL:
        return "-"
    if unit == "pages":
        value *= 4096
    if unit == "items" and value < 100000:
        return str(value)
    for suffix, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if value >= size:
            n = value / size
            return f"{n:.3g}{suffix}" if n < 1000 else f"{int(n)}{suffix}"
    return str(value)


def _pct(value: int, of: int) -> str:
    if of == 0 or of >= _UNL or value == 0:
        return "-"
    return f"{100 * value // of}%"


def _store(flags: dict[str, str], kind: str) -> str:
    return flags.get(kind + "d", "/tmp/vzubc.store") + ("" if kind == "r" else "/held")


def _load_store(directory: str, ctid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"{directory}/ubc.{ctid}") as f:
            for line in f:
                k, _, v = line.partition(" ")
                if v.strip().lstrip("-").isdigit():
                    out[k] = int(v)
    except OSError:
        pass
    return out


def _save_store(directory: str, ctid: int, values: dict[str, int]) -> None:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = f"{directory}/ubc.{ctid}.tmp"
    with open(tmp, "w") as f:
        f.write("".join(f"{k} {v}\n" for k, v in values.items()))
    os.rename(tmp, f"{directory}/ubc.{ctid}")


def _clear_store(directory: str) -> None:
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for n in names:
        if n.startswith("ubc."):
            os.unlink(f"{directory}/{n}")


def _render(flags: dict[str, str], rest: list[str]) -> str:
    from pyvz.res.params import BY_NAME

    for kind in ("r", "i"):
        if kind + "c" in flags:
            _clear_store(_store(flags, kind))
    blocks = _blocks(flags, rest)
    qh = float(flags.get("qh", "0.5"))
    qm = float(flags.get("qm", "0.8"))
    color = "c" in flags
    out: list[str] = []
    sep = "-" * 78
    for ctid, rows in blocks:
        prev_fail = _load_store(_store(flags, "r"), ctid) if "r" in flags else {}
        prev_held = _load_store(_store(flags, "i"), ctid) if "i" in flags else {}
        lines = []
        for name, held, maxheld, bar, lim, fail in rows:
            unit = BY_NAME[name].unit if name in BY_NAME else "items"
            fails = fail - prev_fail.get(name, 0) if "r" in flags else fail
            ref = bar if 0 < bar < _UNL else lim
            near = 0 < ref < _UNL and (held >= qh * ref or maxheld >= qm * ref)
            if "q" in flags and fails <= 0 and not near:
                continue
            if "v" not in flags and "q" not in flags and bar >= _UNL and lim >= _UNL \
                    and fails <= 0 and held == 0:
                continue
            line = (f"{name:>13}|{_human(held, unit):>5} {_pct(held, bar):>4} "
                    f"{_pct(held, lim):>4}|{_human(maxheld, unit):>5} {_pct(maxheld, bar):>4} "
                    f"{_pct(maxheld, lim):>4}|{_human(bar, unit):>5}|{_human(lim, unit):>5}|"
                    f"{fails if fails > 0 else '-':>5}")
            if "i" in flags:
                delta = held - prev_held.get(name, held)
                line += f"|{('+' if delta > 0 else '') + str(delta) if delta else '-':>8}"
            if color and fails > 0:
                line = f"\x1b[31m{line}\x1b[0m"
            elif color and near:
                line = f"\x1b[33m{line}\x1b[0m"
            lines.append(line)
        if "r" in flags:
            _save_store(_store(flags, "r"), ctid, {r[0]: r[5] for r in rows})
        if "i" in flags:
            _save_store(_store(flags, "i"), ctid, {r[0]: r[1] for r in rows})
        if "q" in flags and not lines:
            continue
        out.append(sep)
        out.append(f"{'CT ' + str(ctid):<13}| HELD Bar% Lim%| MAXH Bar% Lim%|  BAR|  LIM| FAIL"
                   + ("|     INC" if "i" in flags else ""))
        out.append("-" * 13 + "+" + "-" * 15 + "+" + "-" * 15 + "+-----+-----+-----"
                   + ("+--------" if "i" in flags else ""))
        out.extend(lines)
    if out:
        out.append(sep)
    return "\n".join(out) + ("\n" if out else "")


def pyvz_ubc(argv: list[str]) -> int:
    """``pyvz ubc [CTID|name ...]``: refresh RUN/user_beancounters and print it (or the
    named VEs' blocks)."""
    return run_main(_pyvz_ubc, argv)


def _pyvz_ubc(argv: list[str]) -> int:
    from pyvz.cli.common import require_root
    from pyvz.node import Node
    from pyvz.res.ubc import format_file, refresh_node_file

    for a in argv:
        if a.startswith("-"):
            raise VzError(E.INVALID_PARAMETER_SYNTAX, f"pyvz ubc: invalid option {a}")
    require_root()
    node = Node()
    ctids = [resolve_ctid(node, a) for a in argv] if argv else None
    blocks = refresh_node_file(node, ctids)
    if ctids is not None:
        missing = sorted(set(ctids) - {b[0] for b in blocks})
        if missing:
            raise VzError(E.VE_NOT_RUNNING,
                          f"Container {missing[0]} is not running (no beancounters)")
    sys.stdout.write(format_file(blocks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
