"""The VE's own nft table on the node: anti-spoofing, MAC filtering, traffic counters and
the policing half of ``--rate``.

One table per VE, ``netdev <node>-<CTID>`` (``pyvz.net.names.nft_table``), so pyvz never
edits a table it does not own and removing a VE's rules is deleting its table.  For every
host end it holds two base chains on that device:

* ``<ifname>-from`` (hook ingress: what the VE sends): a venet VE may send only IPv4/IPv6
  from its own addresses (sets ``v4``, ``v6``); a MAC-filtered veth only from its MAC;
  then the ``--rate`` policer and the ``out`` counter;
* ``<ifname>-to`` (hook egress: what reaches the VE): a MAC-filtered veth gets only frames
  for its MAC, broadcast and multicast (no flooded unicast of other hosts on the bridge);
  then the ``in`` counter.

Named counters outlive the devices (the VE's network namespace takes them away when it
dies), so cleanup reads the last numbers even after a crash.  Rules are given to ``nft``
as JSON: values are data, never text spliced into a command.
"""

from __future__ import annotations

from pyvz.errors import E, VzError
from pyvz.kernel.proc import run

__all__ = ["Iface", "delete_table", "drop_iface", "read_counters", "setup", "sync_addresses",
           "sync_iface"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

_FAMILY = "netdev"


class Iface:
    """What the rules of one host end depend on."""

    __slots__ = ("filtered", "host", "ifname", "mac", "rate_kbits", "venet")

    def __init__(self, host: str, ifname: str, *, venet: bool, mac: str = "",
                 filtered: bool = False, rate_kbits: int | None = None) -> None:
        self.host = host
        self.ifname = ifname
        self.venet = venet
        self.mac = mac.lower()
        self.filtered = filtered
        self.rate_kbits = rate_kbits


def _nft(cmds: list[dict[str, object]], what: str) -> None:
    import json

    run(["nft", "-j", "-f", "-"], code=E.VETH_ERROR, what=f"nft ({what})",
        input=json.dumps({"nftables": cmds}).encode())


def _match(left: object, right: object, op: str = "==") -> dict[str, object]:
    return {"match": {"op": op, "left": left, "right": right}}


def _payload(proto: str, field: str) -> dict[str, object]:
    return {"payload": {"protocol": proto, "field": field}}


_DROP: dict[str, object] = {"drop": None}
_PROTO: dict[str, object] = {"meta": {"key": "protocol"}}


def _from_rules(iface: Iface) -> list[list[dict[str, object]]]:
    rules: list[list[dict[str, object]]] = []
    if iface.venet:
        rules.append([_match(_PROTO, "ip"), _match(_payload("ip", "saddr"), "@v4", "!="),
                      _DROP])
        rules.append([_match(_PROTO, "ip6"), _match(_payload("ip6", "saddr"), "@v6", "!="),
                      _DROP])
        rules.append([_match(_PROTO, {"set": ["ip", "ip6"]}, "!="), _DROP])
    elif iface.filtered and iface.mac:
        rules.append([_match(_payload("ether", "saddr"), iface.mac, "!="), _DROP])
    if iface.rate_kbits:
        rate = iface.rate_kbits * 1000 // 8  # bytes/s
        # enough burst for a few full TCP windows at low rates, ~50 ms at high ones
        burst = max(rate // 20, 32 * 1024)
        rules.append([{"limit": {"rate": rate, "per": "second", "rate_unit": "bytes",
                                 "burst": burst, "burst_unit": "bytes", "inv": True}},
                      _DROP])
    rules.append([{"counter": "out"}])
    return rules


def _to_rules(iface: Iface) -> list[list[dict[str, object]]]:
    rules: list[list[dict[str, object]]] = []
    if not iface.venet and iface.filtered and iface.mac:
        daddr = _payload("ether", "daddr")
        rules.append([_match(daddr, iface.mac, "!="),
                      _match({"&": [daddr, "01:00:00:00:00:00"]}, "00:00:00:00:00:00"),
                      _DROP])
    rules.append([{"counter": "in"}])
    return rules


def _chain(table: str, name: str, hook: str | None = None, dev: str = ""
           ) -> dict[str, object]:
    chain: dict[str, object] = {"family": _FAMILY, "table": table, "name": name}
    if hook:
        chain.update({"type": "filter", "hook": hook, "dev": dev, "prio": 0,
                      "policy": "accept"})
    return chain


def _iface_cmds(table: str, iface: Iface) -> list[dict[str, object]]:
    cmds: list[dict[str, object]] = []
    for suffix, hook, rules in (("from", "ingress", _from_rules(iface)),
                                ("to", "egress", _to_rules(iface))):
        name = f"{iface.ifname}-{suffix}"
        cmds.append({"add": {"chain": _chain(table, name, hook, iface.host)}})
        cmds.append({"flush": {"chain": _chain(table, name)}})
        for expr in rules:
            cmds.append({"add": {"rule": {"family": _FAMILY, "table": table, "chain": name,
                                          "expr": expr}}})
    return cmds


def _set_cmds(table: str, ips: Iterable[str]) -> list[dict[str, object]]:
    cmds: list[dict[str, object]] = []
    ips = list(ips)
    for name, v6 in (("v4", False), ("v6", True)):
        members = [ip for ip in ips if (":" in ip) == v6]
        ref = {"family": _FAMILY, "table": table, "name": name}
        cmds.append({"flush": {"set": ref}})
        if members:
            cmds.append({"add": {"element": {**ref, "elem": members}}})
    return cmds


def setup(table: str, ifaces: list[Iface], ips: list[str]) -> None:
    """Create (or bring up to date) the VE's table: counters, address sets, chains."""
    cmds: list[dict[str, object]] = [{"add": {"table": {"family": _FAMILY, "name": table}}}]
    for name in ("in", "out"):
        cmds.append({"add": {"counter": {"family": _FAMILY, "table": table, "name": name}}})
    for name, type_ in (("v4", "ipv4_addr"), ("v6", "ipv6_addr")):
        cmds.append({"add": {"set": {"family": _FAMILY, "table": table, "name": name,
                                     "type": type_}}})
    cmds.extend(_set_cmds(table, ips))
    for iface in ifaces:
        cmds.extend(_iface_cmds(table, iface))
    _nft(cmds, "set up the container's rules")


def sync_addresses(table: str, ips: list[str]) -> None:
    """Make the address sets (what a venet VE may send from) exactly ``ips``."""
    _nft(_set_cmds(table, ips), "update the container's addresses")


def sync_iface(table: str, iface: Iface) -> None:
    _nft(_iface_cmds(table, iface), f"update the rules of {iface.ifname}")


def drop_iface(table: str, ifname: str) -> None:
    cmds: list[dict[str, object]] = [
        {"delete": {"chain": _chain(table, f"{ifname}-{suffix}")}} for suffix in ("from", "to")]
    try:
        _nft(cmds, f"remove the rules of {ifname}")
    except VzError:
        pass  # already gone


def read_counters(table: str) -> tuple[int, int, int, int] | None:
    """(bytes in, packets in, bytes out, packets out) of the table; None if it is gone."""
    import json

    rc, out, _ = run(["nft", "-j", "list", "table", _FAMILY, table], code=E.VETH_ERROR,
                     check=False)
    if rc != 0:
        return None
    values = {"in": (0, 0), "out": (0, 0)}
    for item in json.loads(out or b"{}").get("nftables", []):
        counter = item.get("counter")
        if counter and counter.get("name") in values:
            values[counter["name"]] = (int(counter.get("bytes", 0)),
                                       int(counter.get("packets", 0)))
    return (*values["in"], *values["out"])


def delete_table(table: str) -> None:
    rc, _, err = run(["nft", "delete", "table", _FAMILY, table], code=E.VETH_ERROR,
                     check=False)
    if rc != 0 and b"No such file" not in err:
        raise VzError(E.VETH_ERROR, f"Unable to remove nft table {table}: "
                      f"{err.decode(errors='replace').strip()}")
