"""``--rate``: traffic to the VE is shaped with tc on each host end (an HTB class, so
bursts queue instead of being dropped); traffic from the VE is policed in its nft table
(``pyvz.net.nft``: this kernel has no tc police/mirred actions, and shaping the VE's own
device inside its namespace would be undone by the VE's root).

The qdisc lives on pyvz's own device and goes away with it.
"""

from __future__ import annotations

from pyvz.errors import E
from pyvz.kernel.proc import run

__all__ = ["set_rate"]


def set_rate(dev: str, kbits: int | None) -> None:
    """Shape egress of host end ``dev`` to ``kbits`` kbit/s; None removes the shaping."""
    run(["tc", "qdisc", "del", "dev", dev, "root"], code=E.VETH_ERROR, check=False)
    if not kbits:
        return
    rate = f"{kbits}kbit"
    # one default class; burst ~ 10 ms at the rate, but at least a few full frames
    burst = f"{max(kbits * 1000 // 8 // 100, 16 * 1024)}b"
    run(["tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1"],
        code=E.VETH_ERROR, what="tc (shaping)")
    run(["tc", "class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb",
         "rate", rate, "ceil", rate, "burst", burst, "cburst", burst],
        code=E.VETH_ERROR, what="tc (shaping)")
