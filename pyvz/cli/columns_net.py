"""vzlist's network columns: ``traffic_in`` / ``traffic_out`` (bytes to / from the VE, a
running total across restarts), ``pkts_in`` / ``pkts_out`` (the same in packets), and
``netif`` (the VE's veth interface names).

Counted at the VE's host ends (its nft table's counters): a VE that was never started with
an address or interface shows 0.
"""

from __future__ import annotations

from pyvz.cli.columns import Column
from pyvz.errors import VzError

__all__ = ["columns"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.ve.inventory import VeRow


def _traffic(row: VeRow) -> tuple[int, int, int, int]:
    """(bytes in, packets in, bytes out, packets out): earlier runs plus the current one."""
    import os

    from pyvz.net.accounting import Totals
    from pyvz.net.state import NetState

    ve = row.ve
    paths = ve.node.paths
    t = Totals.load(paths.vz_dir, ve.ctid, ve.conf.get("VE_PRIVATE") or "")
    total = [t.bytes_in, t.pkts_in, t.bytes_out, t.pkts_out]
    if os.path.exists(NetState.file(ve.run_dir)):
        st = NetState.load(ve.run_dir)
        if st is not None and st.table and st.gen != t.gen:
            from pyvz.net.nft import read_counters

            now = read_counters(st.table)
            if now is not None:
                total = [a + b for a, b in zip(total, now, strict=True)]
    return total[0], total[1], total[2], total[3]


def _netifs(row: VeRow) -> object:
    from pyvz.net.netif import parse_netifs

    try:
        return [n.ifname for n in parse_netifs(row.ve.conf.get("NETIF"))]
    except VzError:
        return []  # a hand-edited NETIF that does not parse: shown as none


def columns() -> list[Column]:
    return [
        Column("traffic_in", "TRAFFIC_IN", 12, "int", lambda r: _traffic(r)[0]),
        Column("traffic_out", "TRAFFIC_OUT", 12, "int", lambda r: _traffic(r)[2]),
        Column("pkts_in", "PKTS_IN", 10, "int", lambda r: _traffic(r)[1]),
        Column("pkts_out", "PKTS_OUT", 10, "int", lambda r: _traffic(r)[3]),
        Column("netif", "NETIF", -15, "list", _netifs),
    ]
