"""Network settings: veth interfaces (NETIF), traffic shaping (RATE) and, in vz.conf, the
node devices that answer ARP/NDP for VE addresses (NEIGHBOUR_DEVS).

IP_ADDRESS, HOSTNAME, NAMESERVER and SEARCHDOMAIN are in the core table
(``pyvz.config.schema``); IP_ADDRESS's live handler is ``pyvz.net.live:apply`` too.
Loaded with the settings on every command: nothing heavy is imported here.
"""

from __future__ import annotations

from pyvz.config import kinds as k
from pyvz.config.schema import BOTH, GLOBAL, LIVE, Setting
from pyvz.net.netif import NetifKind, check_ifname

__all__ = ["LIVE_HANDLER", "SETTINGS", "NeighbourDevs", "Rate"]

LIVE_HANDLER = "pyvz.net.live:apply"


class Rate(k.Kind):
    """``KBITS`` or vzctl's ``dev:class:KBITS`` (the device may be ``*``); stored as
    ``dev:class:KBITS``.  The VE's traffic each way is held to the rate; 0 removes it."""

    def parse(self, text: str, option: str) -> str:
        items = []
        for item in text.replace(",", " ").split():
            parts = item.split(":")
            if len(parts) == 1:
                parts = ["*", "1", parts[0]]
            if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit() \
                    or int(parts[2]) > 100_000_000:
                raise k.bad_value(option, text)
            if parts[0] != "*":
                check_ifname(parts[0], option)
            items.append(f"{parts[0]}:{int(parts[1])}:{int(parts[2])}")
        if not items:
            raise k.bad_value(option, text)
        return " ".join(items)


class NeighbourDevs(k.Kind):
    """``all``, ``detect``, or node device names (``list:eth0 eth1`` or ``eth0 eth1``)."""

    def parse(self, text: str, option: str) -> str:
        if text in ("all", "detect", "none"):
            return text
        names = text.removeprefix("list:").split()
        if not names:
            raise k.bad_value(option, text)
        return " ".join(check_ifname(n, option) for n in names)


# --ipadd/--ipdel address the interface too when --ifname or --netif_add is given
# (pyvz.net.netif.claimed_options), as in VZ7's vzctl
_NETIF_OPS = (("netif_add", "netif_add"), ("netif_del", "netif_del"), ("ifname", "ifname"),
              ("mac", "mac"), ("host_ifname", "host_ifname"), ("host_mac", "host_mac"),
              ("bridge", "bridge"), ("mac_filter", "mac_filter"), ("gw", "gw"),
              ("gw6", "gw6"), ("dhcp", "dhcp"), ("dhcp6", "dhcp6"),
              ("configure", "configure"))

SETTINGS: tuple[Setting, ...] = (
    Setting("NETIF", NetifKind(), options=_NETIF_OPS, apply=LIVE, live=LIVE_HANDLER,
            help="veth (bridged) interfaces: ifname=..,bridge=..,mac=..,host_ifname=..,"
                 "host_mac=..,mac_filter=on|off[,gw=..,gw6=..,configure=none,dhcp=yes|"
                 "ip=A/MASK:…,dhcp6=yes|ip6=A/LEN,…];…"),
    Setting("RATE", Rate(), options=(("rate", "set"),), scope=BOTH, apply=LIVE,
            live=LIVE_HANDLER, column="rate", width=-15,
            help="bandwidth limit each way, kbit/s ([dev:class:]KBITS)"),
    Setting("NEIGHBOUR_DEVS", NeighbourDevs(), scope=GLOBAL,
            help="node devices that answer ARP/NDP for venet addresses: all, detect, "
                 "none, or a list of devices"),
)
