"""``vzmemcheck [-v] [-A]`` — memory utilization and commitment of the node (vzctl 4.x).

    -v   also one line per running VE
    -A   absolute values (MB) instead of percent of the node

Columns: low memory (kmemsize + socket buffers) held and promised (barriers) against the
node's low memory; RAM held; RAM+swap held and promised (oomguarpages) against RAM+swap;
allocated memory (privvmpages) held, promised (vmguarpages) and allowed (limit).  An
unlimited parameter adds nothing to a sum (it promises nothing); "-" marks one VE's
unlimited value.  Exit 0, or 1 on errors.
"""

from __future__ import annotations

import sys

from pyvz.cli.common import run_main
from pyvz.errors import E, VzError

__all__ = ["main"]

_HEAD = (("LowMem", "util"), ("LowMem", "commit"), ("RAM", "util"), ("MemSwap", "util"),
         ("MemSwap", "commit"), ("Alloc", "util"), ("Alloc", "commit"), ("Alloc", "limit"))


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


def _main(argv: list[str]) -> int:
    verbose = absolute = False
    for a in argv:
        if a in ("-v", "--verbose"):
            verbose = True
        elif a in ("-A", "--absolute"):
            absolute = True
        elif a in ("-h", "--help"):
            sys.stdout.write(__doc__ or "")
            return 0
        else:
            raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Invalid option {a}")
    from pyvz.cli.common import require_root
    from pyvz.node import Node
    from pyvz.res.capacity import UNL, HostFacts, VeUsage, running_usages

    require_root()
    host = HostFacts()
    usages = running_usages(Node())
    memswap = host.ram + host.swap

    def values(us: list[VeUsage]) -> list[int]:
        cols = [0] * 8
        for v in us:
            parts = [v.lowmem(0), v.lowmem(2), v.get("physpages", 0),
                     v.get("physpages", 0) + v.get("swappages", 0),
                     v.get("oomguarpages", 2), v.get("privvmpages", 0),
                     v.get("vmguarpages", 2), v.get("privvmpages", 3)]
            for i, p in enumerate(parts):
                if p < UNL:
                    cols[i] += p
        return cols

    totals = (host.lowmem, host.lowmem, host.ram, memswap, memswap, memswap, memswap,
              memswap)

    def row(cols: list[int]) -> str:
        if absolute:
            return "".join(f"{c / 2**20:9.1f}" for c in cols)
        return "".join(f"{100 * c / t if t else 0:9.2f}" for c, t in zip(cols, totals,
                                                                            strict=True))

    out = ["Output values in " + ("Mbytes" if absolute else "%")]
    out.append(("veid  " if verbose else "") + "".join(f"{a:>9}" for a, _ in _HEAD))
    out.append(("      " if verbose else "") + "".join(f"{b:>9}" for _, b in _HEAD))
    if verbose:
        for v in usages:
            out.append(f"{v.ctid:<6}" + row(values([v])))
        out.append("-" * (6 + 72))
        out.append("Total " + row(values(usages)))
    else:
        out.append(row(values(usages)))
    if absolute:
        out.append(("Node  " if verbose else "") + "".join(f"{t / 2**20:9.1f}" for t in totals)
                   + "   (what the node has)")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
