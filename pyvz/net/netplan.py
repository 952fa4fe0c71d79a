"""What a VE's network should look like, from its stored settings: computed by the command
(P) before anything is forked, so the starter and the live handler read no config.
"""

from __future__ import annotations

from pyvz.net import names
from pyvz.net.netif import Netif, parse_netifs

__all__ = ["NetPlan", "rate_kbits"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from pyvz.ve.model import VE


class NetPlan:
    __slots__ = ("ctid", "ips", "neighbour", "netifs", "node_name", "private", "rate",
                 "run_dir", "table", "ve_configures", "venet_host", "venet_mac", "vz_dir")

    def __init__(self, ve: VE, values: Mapping[str, str | None]) -> None:
        paths = ve.node.paths
        self.ctid = ve.ctid
        self.node_name = paths.node_name
        self.run_dir = ve.run_dir
        self.vz_dir = paths.vz_dir
        self.private = ve.conf.get("VE_PRIVATE") or ""
        self.table = names.nft_table(self.node_name, ve.ctid)
        self.ips = [ip.split("/")[0] for ip in (values.get("IP_ADDRESS") or "").split()]
        self.netifs: list[Netif] = parse_netifs(values.get("NETIF"))
        self.rate = rate_kbits(values.get("RATE"))
        self.neighbour = ve.conf.get("NEIGHBOUR_DEVS") or "all"
        self.venet_host = names.venet_host_name(self.node_name, ve.ctid)
        self.venet_mac = _venet_mac(self.node_name, ve.ctid)
        # veth interfaces whose addresses the VE's own tools set from the files pyvz
        # wrote (its ifup, at boot or run by pyvz); the node sets the others' itself
        # (pyvz.net.guest)
        self.ve_configures: set[str] = set()
        for n in self.netifs:
            if not n.host_ifname:  # a hand-written NETIF without one
                n.host_ifname = names.default_veth_name(
                    self.node_name, ve.ctid, {m.host_ifname for m in self.netifs})

    @classmethod
    def from_conf(cls, ve: VE) -> NetPlan:
        conf = ve.conf
        return cls(ve, {k: conf.get(k) for k in ("IP_ADDRESS", "NETIF", "RATE")})

    @property
    def empty(self) -> bool:
        return not self.ips and not self.netifs


def rate_kbits(stored: str | None) -> int | None:
    """The smallest rate (kbit/s) of a stored RATE value; None when unset or 0."""
    best: int | None = None
    for item in (stored or "").split():
        text = item.rpartition(":")[2]
        if text.isdigit() and int(text) > 0:
            best = int(text) if best is None else min(best, int(text))
    return best


def _venet_mac(node_name: str, ctid: int) -> str:
    """Both ends of a venet pair share one MAC, and both are NOARP: each end addresses its
    frames to its own MAC, which is the peer's too, so no ARP/NDP ever runs on venet."""
    import zlib

    h = zlib.crc32(f"venet/{node_name}/{ctid}".encode())
    return "00:18:51" + "".join(f":{(h >> s) & 0xFF:02X}" for s in (16, 8, 0))
