"""``vzcpucheck [-v]`` — CPU units promised to running VEs against the node's power.

"Current CPU utilization" is the sum of the cpuunits of the running VEs and of the node
itself (VE0CPUUNITS, default 1000); "Power of the node" is the sum of the CPUs' bogomips
times 25, as vzctl 4.x computes it.  A sum above the power means the weights promise more
than the node has: "Warning: hardware node is overcommitted".  ``-v`` lists each VE's
units.  Exit 0, or 1 on errors.
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
    for a in argv:
        if a in ("-v", "--verbose"):
            verbose = True
        elif a in ("-h", "--help"):
            sys.stdout.write(__doc__ or "")
            return 0
        else:
            raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Invalid option {a}")
    from pyvz.cli.common import require_root
    from pyvz.node import Node
    from pyvz.res.capacity import HostFacts
    from pyvz.ve.inventory import all_ctids
    from pyvz.ve.model import VE

    require_root()
    node = Node()
    host_units = int(node.setting("VE0CPUUNITS") or 1000)
    units = [(0, host_units)]
    for ctid in all_ctids(node):
        ve = VE(node, ctid)
        if ve.runstate() is not None:
            units.append((ctid, ve.conf.get_int("CPUUNITS", 1000)))
    total = sum(u for _, u in units)
    power = HostFacts().cpu_power
    out = []
    if verbose:
        out.append("VEID      CPUUNITS")
        out.append("-------------------------")
        out += [f"{ctid:<9} {u}" for ctid, u in units]
    out.append(f"Current CPU utilization: {total}")
    out.append(f"Power of the node: {power}")
    if total > power:
        out.append("Warning: hardware node is overcommitted")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
