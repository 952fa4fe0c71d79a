"""NETIF values: the VE's veth (bridged) interfaces, stored as vzctl stores them::

    NETIF="ifname=eth0,bridge=br0,mac=00:18:51:0A:0B:0C,host_ifname=veth101.0,host_mac=…;…"

with VZ7's per-interface addressing after the device fields::

    …,gw=10.0.0.1,gw6=fd00::1,configure=none,dhcp=yes,ip=10.0.0.5/255.255.255.0:10.0.0.6/…,
    dhcp6=yes,ip6=fd00::5/64,fd00::6/64

(IPv4 addresses ``:``-separated with dotted masks, IPv6 ones ``,``-separated and last,
exactly as libvzctl's ``veth2str`` writes them, so a VZ7 config reads back unchanged).

Also the checks for interface names and MAC addresses, and ``NetifKind``: the settings-table
kind that turns ``--netif_add``, ``--netif_del`` and ``--ifname X --mac/--ipadd/--gw …``
into a new NETIF value.  Start-path module: no imports beyond pyvz.errors and the kinds
(it is loaded with the settings); address checks import ``ipaddress`` when they run.
"""

from __future__ import annotations

import os

from pyvz.config.kinds import Kind, bad_value
from pyvz.errors import E, VzError

__all__ = ["FIELDS", "Netif", "NetifKind", "check_ifname", "check_mac", "claimed_options",
           "format_netifs", "new_mac", "parse_netifs"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from pyvz.ve.model import VE

# The device's fields, in the order vzctl writes them; ``--netif_add`` takes the same
# minus mac_filter, in its own order (ifname,mac,host_ifname,host_mac,bridge).
FIELDS = ("ifname", "bridge", "mac", "host_ifname", "host_mac", "mac_filter")
# addressing inside the VE (VZ7's per-ifname --gw/--gw6/--configure/--dhcp/--dhcp6)
_ADDR_FIELDS = ("gw", "gw6", "configure", "dhcp", "dhcp6")
_ADD_ORDER = ("ifname", "mac", "host_ifname", "host_mac", "bridge")
_IFNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_HEX = frozenset("0123456789abcdefABCDEF")
# SWsoft's OUI, which vzctl uses for the MACs it makes up (VE tools recognise it)
_OUI = "00:18:51"
# names the VE end must not take: venet0 is pyvz's own, lo is the VE's loopback
_RESERVED = frozenset(("lo", "venet0"))
# the prefix an address without one gets (VZ7's dist scripts: 255.255.255.0 and /64)
_DEFAULT_PREFIX = {False: 24, True: 64}


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


def _check_addr(text: str, v6: bool | None, option: str) -> str:
    """An interface address, ``A/prefix`` (the family's default prefix if none given);
    a dotted IPv4 mask is accepted.  Bad address: exit 71."""
    from pyvz.validate import check_ip

    addr = check_ip(text.partition("/")[0], allow_mask=False)  # also: no multicast, no ::
    is6 = ":" in addr
    if v6 is not None and is6 != v6:
        raise VzError(E.BADIP, f"Bad parameter for --{option}: {text} is not an "
                      f"IPv{6 if v6 else 4} address")
    if "/" not in text:
        return f"{addr}/{_DEFAULT_PREFIX[is6]}"
    return check_ip(text)


def _check_gw(text: str, v6: bool, option: str) -> str:
    if not text:
        return ""  # --gw "": no gateway
    from pyvz.validate import check_ip

    gw = check_ip(text, allow_mask=False)
    if (":" in gw) != v6:
        raise VzError(E.BADIP, f"Bad parameter for --{option}: {text} is not an "
                      f"IPv{6 if v6 else 4} address")
    return gw


def _dotted(prefix: int) -> str:
    mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    return ".".join(str((mask >> s) & 0xFF) for s in (24, 16, 8, 0))


class Netif:
    __slots__ = (*FIELDS, *_ADDR_FIELDS, "ips")

    def __init__(self, ifname: str, bridge: str = "", mac: str = "", host_ifname: str = "",
                 host_mac: str = "", mac_filter: str = "") -> None:
        self.ifname = ifname
        self.bridge = bridge
        self.mac = mac
        self.host_ifname = host_ifname
        self.host_mac = host_mac
        self.mac_filter = mac_filter
        self.gw = ""
        self.gw6 = ""
        self.configure = ""  # "none": pyvz leaves the VE's addressing of it alone
        self.dhcp = ""  # "yes" or unset
        self.dhcp6 = ""
        self.ips: list[str] = []  # "address/prefix", IPv4 and IPv6

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

    # --- addressing inside the VE ----------------------------------------------------

    @property
    def configured(self) -> bool:
        """pyvz sets this interface's addresses up inside the VE (its files, and live)."""
        return self.configure != "none" and bool(
            self.ips or self.gw or self.gw6 or self.dhcp or self.dhcp6)

    def uses_dhcp(self, v6: bool) -> bool:
        return (self.dhcp6 if v6 else self.dhcp) == "yes"

    def static_ips(self, v6: bool | None = None) -> list[str]:
        """The addresses pyvz sets (a family with DHCP gets its addresses from DHCP)."""
        if self.configure == "none":
            return []
        return [ip for ip in self.ips if (v6 is None or (":" in ip) == v6)
                and not self.uses_dhcp(":" in ip)]

    def gateway(self, v6: bool) -> str:
        """The default gateway pyvz sets: only with a static address of its family."""
        gw = self.gw6 if v6 else self.gw
        return gw if gw and self.static_ips(v6) else ""

    def claims_default(self, v6: bool) -> bool:
        """This interface brings the VE's default route of the family (its gateway, or
        DHCP's router): venet0 must not put its own there."""
        return self.configure != "none" and (bool(self.gateway(v6)) or self.uses_dhcp(v6))

    # --- text ------------------------------------------------------------------------

    def device_text(self) -> str:
        """The device's identity: a change here means a new device pair."""
        return ",".join(f"{f}={getattr(self, f)}" for f in FIELDS if getattr(self, f))

    def text(self) -> str:
        parts = [self.device_text()]
        parts += [f"{f}={getattr(self, f)}" for f in ("gw", "gw6", "configure")
                  if getattr(self, f)]
        v4 = [ip for ip in self.ips if ":" not in ip]
        v6 = [ip for ip in self.ips if ":" in ip]
        if self.dhcp:
            parts.append(f"dhcp={self.dhcp}")
        elif v4:
            parts.append("ip=" + ":".join(f"{a}/{_dotted(int(p))}"
                                          for a, _, p in (ip.partition("/") for ip in v4)))
        if self.dhcp6:
            parts.append(f"dhcp6={self.dhcp6}")
        elif v6:
            parts.append("ip6=" + ",".join(v6))  # last: its list is ","-separated (VZ7)
        return ",".join(parts)

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
        elif field in ("gw", "gw6"):
            value = _check_gw(value, field == "gw6", option)
        elif field in ("dhcp", "dhcp6"):
            low = value.lower()
            if low not in ("yes", "no", ""):
                raise bad_value(option, value)
            value = "yes" if low == "yes" else ""
        elif field == "configure":
            low = value.lower()
            if low not in ("none", "no", "all", "yes", ""):
                raise bad_value(option, value)
            value = "none" if low in ("none", "no") else ""
        elif field == "ip":
            self.ips = [ip for ip in self.ips if ":" in ip]
            self.ips += [_check_addr(a, False, option) for a in value.split(":") if a]
            return
        elif field == "ip6":
            self.ips = [ip for ip in self.ips if ":" not in ip]
            self.ips += [_check_addr(a, True, option) for a in value.split(",") if a]
            return
        setattr(self, field, value)

    def add_ip(self, text: str, option: str) -> None:
        ip = _check_addr(text, None, option)
        if self.uses_dhcp(":" in ip):
            raise VzError(E.INVALID_PARAMETER_VALUE,
                          f"Network interface {self.ifname} gets its "
                          f"IPv{6 if ':' in ip else 4} addresses by DHCP: no static "
                          f"address can be added (use --dhcp{'6' if ':' in ip else ''} no)")
        addr = ip.partition("/")[0]
        self.ips = [i for i in self.ips if i.partition("/")[0] != addr] + [ip]

    def del_ip(self, text: str, option: str) -> None:
        if text == "all":
            self.ips = []
            return
        from pyvz.validate import check_ip

        addr = check_ip(text.partition("/")[0], allow_mask=False)
        self.ips = [i for i in self.ips if i.partition("/")[0] != addr]


def _entry_items(chunk: str) -> list[tuple[str, str]]:
    """key=value items of one NETIF entry; ``ip6=`` takes the rest of it (VZ7)."""
    at = 0 if chunk.startswith("ip6=") else chunk.find(",ip6=") + 1
    tail = None
    if chunk.startswith("ip6=") or at > 0:
        chunk, tail = chunk[:max(at - 1, 0)], chunk[at + 4:]
    items = []
    for item in chunk.split(","):
        item = item.strip()
        if not item:
            continue  # VZ7 writes "ip=," for an interface with IPv6 addresses only
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(item)
        items.append((key, value))
    if tail is not None:
        items.append(("ip6", tail))
    return items


def parse_netifs(stored: str | None, option: str = "netif") -> list[Netif]:
    """NETIF's stored text → interfaces (checked: the file may have been edited by hand)."""
    out: list[Netif] = []
    known = (*FIELDS, *_ADDR_FIELDS, "ip", "ip6")
    for chunk in (stored or "").split(";"):
        chunk = chunk.strip()
        if not chunk:
            continue
        try:
            fields = dict(_entry_items(chunk))
        except ValueError:
            fields = {"": ""}
        if not set(fields) <= set(known):
            raise VzError(E.INVALID_PARAMETER_VALUE, f"Invalid NETIF entry: {chunk!r}")
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


def claimed_options(found: Mapping[str, list[str]]) -> dict[str, str]:
    """Options of other settings that address a veth interface instead: as in VZ7's
    vzctl, with ``--ifname`` or ``--netif_add`` in the command, ``--ipadd``/``--ip`` and
    ``--ipdel`` set that interface's addresses (NETIF), not venet's (IP_ADDRESS)."""
    if "ifname" in found or "netif_add" in found:
        return {"ipadd": "ipadd", "ip": "ipadd", "ipdel": "ipdel"}
    return {}


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
        """Apply ``(option, op, value)`` entries to the stored value: interfaces added and
        removed first (in order), then the per-interface options, which all address the
        one interface named by ``--ifname`` (or by ``--netif_add``), wherever it stands
        on the command line (as vzctl does)."""
        netifs = parse_netifs(current)
        added = ""
        for option, op, value in entries:
            if op == "netif_add":
                netifs.append(_new_netif(ve, netifs, value, option))
                added = netifs[-1].ifname
            elif op == "netif_del":
                if value == "all":
                    netifs = []
                    continue
                name = check_ifname(value, option)
                if not any(n.ifname == name for n in netifs):
                    raise VzError(E.INVALID_PARAMETER_VALUE,
                                  f"Network interface {name} does not exist")
                netifs = [n for n in netifs if n.ifname != name]
        names = {check_ifname(v, o) for o, op, v in entries if op == "ifname"}
        if len(names) > 1:
            raise VzError(E.INVALID_PARAMETER_SYNTAX,
                          "Multiple use of --ifname option not allowed")
        ops = [e for e in entries if e[1] not in ("netif_add", "netif_del", "ifname")]
        if ops:
            name = next(iter(names), added)
            if not name:
                raise VzError(E.INVALID_PARAMETER_SYNTAX,
                              f"--{ops[0][0]} needs --ifname to name the interface")
            target = next((n for n in netifs if n.ifname == name), None)
            if target is None:
                raise VzError(E.INVALID_PARAMETER_VALUE,
                              f"Network interface {name} does not exist; add it with "
                              "--netif_add")
            # --dhcp first: an --ipadd beside --dhcp no is then a static address
            for option, op, value in sorted(ops, key=lambda e: e[1] not in ("dhcp", "dhcp6")):
                if op == "ipadd":
                    target.add_ip(value, option)
                elif op == "ipdel":
                    target.del_ip(value, option)
                else:
                    target.set_field(op, value, option)
                    if op in ("dhcp", "dhcp6") and target.uses_dhcp(op == "dhcp6"):
                        # DHCP brings the addresses of that family (VZ7 drops them too)
                        target.ips = [i for i in target.ips if (":" in i) == (op == "dhcp")]
        elif names:
            name = next(iter(names))
            if not any(n.ifname == name for n in netifs):
                raise VzError(E.INVALID_PARAMETER_VALUE,
                              f"Network interface {name} does not exist; add it with "
                              "--netif_add")
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
