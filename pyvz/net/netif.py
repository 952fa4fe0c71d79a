"""NETIF values: the VE's veth (bridged) interfaces, stored as vzctl stores them::

    NETIF="ifname=eth0,bridge=br0,mac=00:18:51:0A:0B:0C,host_ifname=veth101.0,host_mac=…;…"

Also the checks for interface names and MAC addresses, and ``NetifKind``: the settings-table
kind that turns ``--netif_add``, ``--netif_del`` and ``--ifname X --mac …`` into a new NETIF
value.  Start-path module: no imports beyond pyvz.errors (it is loaded with the settings).
"""

from __future__ import annotations

import os

from pyvz.config.kinds import Kind, bad_value
from pyvz.errors import E, VzError

__all__ = ["FIELDS", "Netif", "NetifKind", "check_ifname", "check_mac", "format_netifs",
           "new_mac", "parse_netifs"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.ve.model import VE

# The order vzctl writes them in; ``--netif_add`` takes the same minus mac_filter, in
# its own order (ifname,mac,host_ifname,host_mac,bridge).
FIELDS = ("ifname", "bridge", "mac", "host_ifname", "host_mac", "mac_filter")
_ADD_ORDER = ("ifname", "mac", "host_ifname", "host_mac", "bridge")
_IFNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_HEX = frozenset("0123456789abcdefABCDEF")
# SWsoft's OUI, which vzctl uses for the MACs it makes up (VE tools recognise it)
_OUI = "00:18:51"
# names the VE end must not take: venet0 is pyvz's own, lo is the VE's loopback
_RESERVED = frozenset(("lo", "venet0"))


def check_ifname(name: str, option: str = "ifname") -> str:
    """A network interface name the kernel accepts (IFNAMSIZ - 1 characters) and that is
    safe in config values and file names."""
    if not 0 < len(name) <= 15 or not set(name) <= _IFNAME_CHARS or name in (".", "..") \
            or name.startswith("-"):
        raise VzError(E.INVALID_PARAMETER_VALUE,
                      f"Bad parameter for --{option}: invalid interface name {name!r}")
    return name


def check_mac(mac: str, option: str = "mac") -> str:
    """``XX:XX:XX:XX:XX:XX`` (``-`` also accepted), unicast, not all zeros; upper case."""
    parts = mac.replace("-", ":").split(":")
    if len(parts) != 6 or any(len(p) != 2 or not set(p) <= _HEX for p in parts):
        raise VzError(E.INVALID_PARAMETER_VALUE, f"Bad parameter for --{option}: invalid MAC "
                      f"address {mac!r}")
    if int(parts[0], 16) & 1 or all(p == "00" for p in parts):
        raise VzError(E.INVALID_PARAMETER_VALUE, f"Bad parameter for --{option}: {mac!r} is "
                      "not a unicast MAC address")
    return ":".join(parts).upper()


def new_mac() -> str:
    return _OUI + "".join(f":{b:02X}" for b in os.urandom(3))


class Netif:
    __slots__ = FIELDS

    def __init__(self, ifname: str, bridge: str = "", mac: str = "", host_ifname: str = "",
                 host_mac: str = "", mac_filter: str = "") -> None:
        self.ifname = ifname
        self.bridge = bridge
        self.mac = mac
        self.host_ifname = host_ifname
        self.host_mac = host_mac
        self.mac_filter = mac_filter

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Netif) and self.text() == other.text()

    def __hash__(self) -> int:
        return hash(self.text())

    def __repr__(self) -> str:
        return f"Netif({self.text()!r})"

    @property
    def filtered(self) -> bool:
        """MAC filtering (vzctl's mac_filter, on unless switched off): the VE may send only
        from its MAC and receives only frames for it (plus broadcast and multicast)."""
        return self.mac_filter != "off"

    def text(self) -> str:
        return ",".join(f"{f}={getattr(self, f)}" for f in FIELDS if getattr(self, f))

    def set_field(self, field: str, value: str, option: str) -> None:
        if field in ("ifname", "host_ifname", "bridge"):
            value = check_ifname(value, option) if value else ""
            if field == "ifname" and value in _RESERVED:
                raise bad_value(option, value)
        elif field in ("mac", "host_mac"):
            value = check_mac(value, option) if value else ""
        elif field == "mac_filter":
            if value not in ("on", "off"):
                raise bad_value(option, value)
        setattr(self, field, value)


def parse_netifs(stored: str | None, option: str = "netif") -> list[Netif]:
    """NETIF's stored text → interfaces (checked: the file may have been edited by hand)."""
    out: list[Netif] = []
    for chunk in (stored or "").split(";"):
        chunk = chunk.strip()
        if not chunk:
            continue
        fields: dict[str, str] = {}
        for item in chunk.split(","):
            key, sep, value = item.strip().partition("=")
            if not sep or key not in FIELDS:
                raise VzError(E.INVALID_PARAMETER_VALUE, f"Invalid NETIF entry: {chunk!r}")
            fields[key] = value
        if not fields.get("ifname"):
            raise VzError(E.INVALID_PARAMETER_VALUE, f"Invalid NETIF entry (no ifname): "
                          f"{chunk!r}")
        netif = Netif(fields["ifname"])
        for key, value in fields.items():
            netif.set_field(key, value, option)
        out.append(netif)
    names = [n.ifname for n in out]
    if len(set(names)) != len(names):
        raise VzError(E.INVALID_PARAMETER_VALUE, "Invalid NETIF: an interface name repeats")
    return out


def format_netifs(netifs: list[Netif]) -> str | None:
    return ";".join(n.text() for n in netifs) or None


class NetifKind(Kind):
    """NETIF: changed by several options at once (``merge``), shown as the VE-side names."""

    json_type = "array"

    def parse(self, text: str, option: str) -> str:
        return format_netifs(parse_netifs(text, option)) or ""

    def value(self, stored: str) -> list[Netif]:
        return parse_netifs(stored)

    def to_json(self, stored: str | None) -> object:
        return [n.ifname for n in parse_netifs(stored)] if stored else []

    def show(self, stored: str | None) -> str:
        return " ".join(n.ifname for n in parse_netifs(stored)) if stored else "-"

    def merge(self, ve: VE, current: str | None, entries: list[tuple[str, str, str]]
              ) -> str | None:
        """Apply ``(option, op, value)`` entries to the stored value, in order."""
        netifs = parse_netifs(current)
        target: Netif | None = None
        for option, op, value in entries:
            if op == "netif_add":
                netifs.append(_new_netif(ve, netifs, value, option))
            elif op == "netif_del":
                if value == "all":
                    netifs = []
                    continue
                name = check_ifname(value, option)
                if not any(n.ifname == name for n in netifs):
                    raise VzError(E.INVALID_PARAMETER_VALUE,
                                  f"Network interface {name} does not exist")
                netifs = [n for n in netifs if n.ifname != name]
            elif op == "ifname":
                name = check_ifname(value, option)
                target = next((n for n in netifs if n.ifname == name), None)
                if target is None:
                    raise VzError(E.INVALID_PARAMETER_VALUE,
                                  f"Network interface {name} does not exist; add it with "
                                  "--netif_add")
            else:
                if target is None:
                    raise VzError(E.INVALID_PARAMETER_SYNTAX,
                                  f"--{option} needs --ifname to name the interface")
                target.set_field(op, value, option)
        _check_unique(netifs)
        return format_netifs(netifs)


def _new_netif(ve: VE, existing: list[Netif], value: str, option: str) -> Netif:
    parts = value.split(",")
    if len(parts) > len(_ADD_ORDER) or not parts[0]:
        raise bad_value(option, value)
    netif = Netif(parts[0])
    for field, text in zip(_ADD_ORDER, parts, strict=False):
        netif.set_field(field, text, option)
    if any(n.ifname == netif.ifname for n in existing):
        raise VzError(E.INVALID_PARAMETER_VALUE,
                      f"Network interface {netif.ifname} already exists")
    # made up once and stored, so they stay the same across restarts (vzctl does the same)
    netif.mac = netif.mac or new_mac()
    netif.host_mac = netif.host_mac or new_mac()
    if not netif.host_ifname:
        from pyvz.net.names import default_veth_name

        taken = {n.host_ifname for n in existing}
        netif.host_ifname = default_veth_name(ve.node.paths.node_name, ve.ctid, taken)
    return netif


def _check_unique(netifs: list[Netif]) -> None:
    hosts = [n.host_ifname for n in netifs if n.host_ifname]
    if len(set(hosts)) != len(hosts):
        raise VzError(E.INVALID_PARAMETER_VALUE, "Two interfaces have the same host_ifname")
