"""``vzcalc [-v] CTID|name`` — how much of the node one VE uses, is promised and may use.

Rows (``-v`` adds all but the first): Memory; Low Mem (kmemsize + socket buffers against
the node's low memory); Total RAM (physpages against RAM); Mem+Swap (RAM + swap held,
oomguarpages promised, physpages + swappages limits, against RAM + swap); Alloc. Mem
(privvmpages held and limit, vmguarpages promised); Num. Proc (numproc against the node's
threads-max).  Columns: Current (held; 0 when the VE is stopped), Promised (barriers /
guarantees), Max (limits), in percent of the node; above 100 the node is overcommitted;
"-" is unlimited.  Exit 0, or 1 on errors.
"""

from __future__ import annotations

import sys

from pyvz.cli.common import run_main
from pyvz.errors import E, VzError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


def _main(argv: list[str]) -> int:
    verbose = False
    rest = []
    for a in argv:
        if a in ("-v", "--verbose"):
            verbose = True
        elif a in ("-h", "--help"):
            sys.stdout.write(__doc__ or "")
            return 0
        elif a.startswith("-"):
            raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Invalid option {a}")
        else:
            rest.append(a)
    if len(rest) != 1:
        raise VzError(E.SETUBC, "Usage: vzcalc [-v] <ctid>")
    from pyvz.cli.common import require_root, resolve_ctid
    from pyvz.node import Node
    from pyvz.res.capacity import UNL, HostFacts, VeUsage, pct
    from pyvz.ve.model import VE

    require_root()
    node = Node()
    try:
        ve = VE(node, resolve_ctid(node, rest[0]))
    except VzError as e:
        raise VzError(E.SETUBC, e.message) from None
    if not ve.conf.exists:
        raise VzError(E.SETUBC, f"Container {rest[0]} does not exist")
    host = HostFacts()
    v = VeUsage.of(ve)
    memswap = host.ram + host.swap

    def add(*vals: int) -> int:
        return UNL if any(x >= UNL for x in vals) else sum(vals)

    held_ms = add(v.get("physpages", 0), v.get("swappages", 0))
    max_ms = add(v.get("physpages", 3), v.get("swappages", 3))
    priv_max = v.get("privvmpages", 3)
    memory_max = max_ms if max_ms < UNL else priv_max
    promised = v.get("vmguarpages", 2)
    if promised >= UNL:
        promised = v.get("oomguarpages", 2)
    rows = [("Memory", held_ms, promised, memory_max, memswap)]
    if verbose:
        rows += [
            ("Low Mem", v.lowmem(0), v.lowmem(2), v.lowmem(3), host.lowmem),
            ("Total RAM", v.get("physpages", 0), 0, v.get("physpages", 3), host.ram),
            ("Mem+Swap", held_ms, v.get("oomguarpages", 2), max_ms, memswap),
            ("Alloc. Mem", v.get("privvmpages", 0), v.get("vmguarpages", 2), priv_max,
             memswap),
            ("Num. Proc", v.get("numproc", 0), v.get("avnumproc", 2)
             if "avnumproc" in v.rows else 0, v.get("numproc", 3), host.threads_max),
        ]

    def cell(value: int, total: int) -> str:
        p = pct(value, total)
        return f"{'-':>12}" if p is None else f"{p:12.2f}"

    out = [f"{'Resource':<12}{'Current(%)':>12}{'Promised(%)':>12}{'Max(%)':>12}"]
    for name, cur, prom, mx, total in rows:
        out.append(f"{name:<12}{cell(cur, total)}{cell(prom, total)}{cell(mx, total)}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
