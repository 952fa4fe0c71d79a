"""The only module that uses pyroute2: devices, addresses, routes and proxy neighbours.

``Rtnl`` holds two netlink sockets: one in the node's network namespace (the caller's) and,
when asked, one in a VE's.  A netlink socket stays bound to the namespace it was made in,
so the VE's is made after a ``setns`` into the VE's namespace and the caller goes straight
back: nothing else runs in the VE's namespace and no process is spawned for it.

Every host end carries its alias (``pyvz.net.names``); functions that delete check it, so
a device pyvz did not make is never removed.
"""

from __future__ import annotations

import os

from pyroute2 import IPRoute  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc
from pyvz.net.names import parse_alias

__all__ = ["IFF_NOARP", "NetlinkError", "Rtnl"]

IFF_NOARP = 0x80
NTF_PROXY = 0x08
_EEXIST, _ENOENT, _ESRCH, _ENODEV, _EADDRNOTAVAIL = 17, 2, 3, 19, 99
_SCOPE_LINK = 253
_RTNH_F_ONLINK = 0x04
_ADDR_GEN_MODE_NONE = 1  # IN6_ADDR_GEN_MODE_NONE: no automatic link-local address
# rtm_protocol of pyvz's host routes ("static" would be the admin's): lets an admin, and
# cleanup, tell them apart (``ip route show proto 0xb0``)
PROTO_PYVZ = 0xB0


def _fail(what: str, e: Exception) -> VzError:
    return VzError(E.VETH_ERROR, f"Unable to {what}: {e}")


class Rtnl:
    def __init__(self) -> None:
        self.node = IPRoute()
        self.ve: IPRoute | None = None

    def close(self) -> None:
        self.node.close()
        if self.ve is not None:
            self.ve.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the VE's namespace ---------------------------------------------------------

    def enter_ve(self, netns_fd: int) -> IPRoute:
        """A netlink socket in the VE's network namespace (``netns_fd`` is open on it)."""
        if self.ve is None:
            here = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                sc.setns(netns_fd, sc.CLONE_NEWNET)
                try:
                    self.ve = IPRoute()
                finally:
                    sc.setns(here, sc.CLONE_NEWNET)
            finally:
                os.close(here)
        return self.ve

    # --- links ----------------------------------------------------------------------

    def index(self, name: str, *, ve: bool = False) -> int | None:
        ipr = self.ve if ve else self.node
        assert ipr is not None
        found = ipr.link_lookup(ifname=name)
        return found[0] if found else None

    def owned_links(self, node_name: str, ctid: int | None = None) -> list[tuple[str, str]]:
        """(host end name, VE-side name) of every device with this node's alias
        (and this CTID, if given)."""
        out = []
        for link in self.node.get_links():
            owner = parse_alias(link.get("ifalias"))
            if owner and owner[0] == node_name and (ctid is None or owner[1] == ctid):
                out.append((link.get("ifname"), owner[2]))
        return out

    def link_mac(self, name: str) -> tuple[int, str] | None:
        """(index, MAC) of a node device."""
        idx = self.index(name)
        if idx is None:
            return None
        links = self.node.get_links(idx)
        mac = links[0].get("address") if links else None
        return (idx, str(mac)) if mac else None

    def owner_of(self, name: str) -> tuple[str, int, str] | None:
        idx = self.index(name)
        if idx is None:
            return None
        links = self.node.get_links(idx)
        return parse_alias(links[0].get("ifalias")) if links else None

    def make_pair(self, host: str, host_mac: str, ve_name: str, ve_mac: str,
                  netns_fd: int, alias: str, *, noarp: bool) -> int:
        """A veth pair: ``host`` here, ``ve_name`` already inside the VE's namespace."""
        try:
            self.node.link("add", ifname=host, kind="veth", address=host_mac,
                           peer={"ifname": ve_name, "address": ve_mac,
                                 "net_ns_fd": netns_fd})
        except NetlinkError as e:
            if e.code == _EEXIST:
                raise VzError(E.VETH_ERROR, f"Unable to create {host}: a device with that "
                              "name exists on the node") from None
            raise _fail(f"create the device pair {host}", e) from None
        idx = self.index(host)
        assert idx is not None
        try:
            self.node.link("set", index=idx, ifalias=alias)
            if noarp:
                self.node.link("set", index=idx, flags=IFF_NOARP, change=IFF_NOARP)
                self.no_linklocal(idx)
        except NetlinkError as e:
            self.delete_link(host)
            raise _fail(f"set up {host}", e) from None
        return idx

    def no_linklocal(self, idx: int, *, ve: bool = False) -> None:
        """No IPv6 link-local address on a venet end (OpenVZ's venet0 had none).  Both
        ends share one MAC, so both would get the same fe80:: address: a node without a
        global IPv6 address then talked to the VE from the VE's own link-local address,
        and the VE answered itself.  Must be set before the device is up."""
        ipr = self.ve if ve else self.node
        assert ipr is not None
        ipr.link("set", index=idx, IFLA_AF_SPEC={"attrs": [
            ("AF_INET6", {"attrs": [("IFLA_INET6_ADDR_GEN_MODE", _ADDR_GEN_MODE_NONE)]})]})

    def up(self, idx: int, *, ve: bool = False, noarp: bool = False) -> None:
        ipr = self.ve if ve else self.node
        assert ipr is not None
        if noarp:
            ipr.link("set", index=idx, flags=IFF_NOARP, change=IFF_NOARP)
        ipr.link("set", index=idx, state="up")

    def enslave(self, idx: int, bridge: str) -> None:
        master = self.index(bridge)
        if master is None:
            raise VzError(E.VETH_ERROR, f"Bridge {bridge} does not exist on the node")
        try:
            self.node.link("set", index=idx, master=master)
        except NetlinkError as e:
            raise _fail(f"add the interface to bridge {bridge}", e) from None

    def delete_link(self, name: str, *, node_name: str | None = None) -> bool:
        """Delete host end ``name`` (only if its alias names ``node_name``, when given)."""
        idx = self.index(name)
        if idx is None:
            return False
        if node_name is not None:
            owner = self.owner_of(name)
            if owner is None or owner[0] != node_name:
                return False
        try:
            self.node.link("del", index=idx)
        except NetlinkError as e:
            if e.code in (_ENODEV, _ENOENT):
                return False
            raise _fail(f"remove {name}", e) from None
        return True

    # --- addresses and routes -------------------------------------------------------

    def ve_addr(self, op: str, idx: int, ip: str) -> None:
        assert self.ve is not None
        v6 = ":" in ip
        kw: dict[str, object] = {"flags": 0x02} if v6 else {}  # IFA_F_NODAD: no ND here
        try:
            self.ve.addr(op, index=idx, address=ip, prefixlen=128 if v6 else 32, **kw)
        except NetlinkError as e:
            if (op == "add" and e.code == _EEXIST) or \
                    (op == "del" and e.code in (_EADDRNOTAVAIL, _ENODEV)):
                return
            raise _fail(f"{op} address {ip} in the container", e) from None

    def ve_ifaddr(self, op: str, idx: int, ip: str) -> None:
        """Add/delete ``address/prefix`` on a veth interface inside the VE (duplicate
        address detection runs: the interface is on a shared segment)."""
        assert self.ve is not None
        addr, _, prefix = ip.partition("/")
        try:
            self.ve.addr(op, index=idx, address=addr, prefixlen=int(prefix))
        except NetlinkError as e:
            if (op == "add" and e.code == _EEXIST) or \
                    (op == "del" and e.code in (_EADDRNOTAVAIL, _ENODEV)):
                return
            raise _fail(f"{op} address {ip} in the container", e) from None

    def ve_gateway(self, op: str, idx: int, gw: str) -> None:
        """Set (``replace``) or remove the VE's default route via ``gw`` on ``idx``.
        IPv4 gateways are ``onlink``, as Debian's ifupdown sets them: a gateway outside
        the interface's subnet is reached on the link all the same."""
        assert self.ve is not None
        v6 = ":" in gw
        kw: dict[str, object] = {} if v6 or op == "del" else {"flags": _RTNH_F_ONLINK}
        try:
            self.ve.route(op, dst="::/0" if v6 else "0.0.0.0/0", gateway=gw, oif=idx,
                          **kw)
        except NetlinkError as e:
            if op == "del" and e.code in (_ESRCH, _ENOENT, _ENODEV):
                return
            raise _fail(f"{'remove' if op == 'del' else 'set'} the container's default "
                        f"gateway {gw}", e) from None

    def ve_default_route(self, idx: int, v6: bool) -> None:
        assert self.ve is not None
        try:
            if v6:
                self.ve.route("replace", dst="::/0", oif=idx)
            else:
                self.ve.route("replace", dst="0.0.0.0/0", oif=idx, scope=_SCOPE_LINK)
        except NetlinkError as e:
            raise _fail("set the container's default route", e) from None

    def host_route(self, op: str, idx: int, ip: str) -> None:
        v6 = ":" in ip
        dst = f"{ip}/{128 if v6 else 32}"
        try:
            if v6:
                self.node.route(op, dst=dst, oif=idx, proto=PROTO_PYVZ)
            else:
                self.node.route(op, dst=dst, oif=idx, scope=_SCOPE_LINK, proto=PROTO_PYVZ)
        except NetlinkError as e:
            if op == "add" and e.code == _EEXIST:
                links = self.node.get_links(idx)
                mine = str(links[0].get("ifname")) if links else ""
                if self.route_dev(ip) in (mine, None):
                    return
                # someone else's route appeared since the check (not pyvz's: pyvz
                # commands take turns, pyvz.net.apply.netns_lock)
                raise VzError(E.IP_INUSE, f"IP address {ip} is already in use (the node "
                              "routes it elsewhere)") from None
            if op == "del" and e.code in (_ESRCH, _ENOENT, _ENODEV):
                return
            raise _fail(f"{op} the node's route to {ip}", e) from None

    def route_dev(self, ip: str) -> str | None:
        """The device of an existing host route to exactly ``ip`` (main table), if any."""
        v6 = ":" in ip
        try:
            # a dump, not a lookup: a lookup would answer with the covering subnet route
            routes = self.node.get_routes(family=10 if v6 else 2, table=254)
        except NetlinkError:
            return None
        for r in routes:
            if r.get("dst") == ip and r["dst_len"] == (128 if v6 else 32):
                oif = r.get("oif")
                if oif:
                    links = self.node.get_links(oif)
                    return str(links[0].get("ifname")) if links else None
        return None

    def is_local(self, ip: str) -> bool:
        """``ip`` is an address of the node itself."""
        return any(a.get("address") == ip for a in self.node.get_addr())

    # --- proxy neighbours (ARP/NDP answered for VE addresses) -----------------------

    def neighbour_devices(self, mode: str, ip: str) -> list[str]:
        """The node devices to answer for ``ip`` on: NEIGHBOUR_DEVS ``all`` = every device
        that is up, does ARP and is neither a loopback, a bridge port nor pyvz's own;
        ``detect`` = those with an address whose network holds ``ip``."""
        import ipaddress

        if mode == "none":
            return []
        if mode not in ("all", "detect"):
            return [d for d in mode.split() if self.index(d) is not None]
        candidates = {}
        for link in self.node.get_links():
            flags = link["flags"]
            if not flags & 1 or flags & (8 | IFF_NOARP) or link.get("master") \
                    or parse_alias(link.get("ifalias")) or link.get("ifname") == "lo":
                continue
            candidates[link["index"]] = link.get("ifname")
        if mode == "all":
            return sorted(candidates.values())
        addr = ipaddress.ip_address(ip)
        out = set()
        for a in self.node.get_addr():
            if a["index"] in candidates:
                net = ipaddress.ip_network(f"{a.get('address')}/{a['prefixlen']}",
                                           strict=False)
                if addr.version == net.version and addr in net:
                    out.add(candidates[a["index"]])
        return sorted(out)

    def proxy(self, op: str, ip: str, dev: str) -> bool:
        """Add/delete a proxy neighbour entry; False if it was there (add) or gone (del)."""
        idx = self.index(dev)
        if idx is None:
            return False
        try:
            self.node.neigh(op, dst=ip, ifindex=idx, flags=NTF_PROXY,
                            family=10 if ":" in ip else 2)
        except NetlinkError as e:
            if e.code in (_EEXIST, _ENOENT, _ENODEV, _ESRCH):
                return False
            raise _fail(f"{op} the proxy neighbour entry for {ip} on {dev}", e) from None
        return True

    def proxies(self) -> set[tuple[str, str]]:
        """(address, device) of every proxy neighbour entry."""
        out = set()
        names = {link["index"]: link.get("ifname") for link in self.node.get_links()}
        for family in (2, 10):
            for n in self.node.get_neighbours(family=family, flags=NTF_PROXY):
                out.add((str(n.get("dst")), str(names.get(n["ifindex"], ""))))
        return out

    # --- counters ---------------------------------------------------------------------

    def ve_stats(self, name: str) -> tuple[int, int] | None:
        """(rx bytes, tx bytes) of a device inside the VE."""
        assert self.ve is not None
        found = self.ve.link_lookup(ifname=name)
        if not found:
            return None
        stats = self.ve.get_links(found[0])[0].get("stats64")
        return (stats["rx_bytes"], stats["tx_bytes"]) if stats else None
