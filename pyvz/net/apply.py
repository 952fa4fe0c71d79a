"""Bring a VE's network to its plan, from whatever was applied before (the state record):
at start (nothing applied yet) and for ``vzctl set`` on a running VE.  And take it all
down again (cleanup).

Order matters for isolation: a host end is brought up only after its nft rules exist, so
a VE never has a moment where it could send from a foreign address.  Each object is
written into the state record before it is made, so cleanup finds it after a crash.
"""

from __future__ import annotations

import os

from pyvz import log
from pyvz.errors import E, VzError
from pyvz.net import announce, names, nft, shaping
from pyvz.net.accounting import Totals
from pyvz.net.netif import Netif, parse_netifs
from pyvz.net.netlink import Rtnl
from pyvz.net.netplan import NetPlan
from pyvz.net.state import NetState

__all__ = ["NetnsLock", "check", "check_conflicts", "netns_of", "reconcile", "teardown"]

_VENET = "venet0"


def check_conflicts(rtnl: Rtnl, plan: NetPlan, ips: list[str]) -> None:
    """Exit 78 if an address is the node's own or routed to another VE (of any node)."""
    mine = plan.venet_host
    for ip in ips:
        if rtnl.is_local(ip):
            raise VzError(E.IP_INUSE, f"IP address {ip} is already in use (by the node)")
        dev = rtnl.route_dev(ip)
        if dev is None or dev == mine:
            continue
        owner = rtnl.owner_of(dev)
        who = f"container {owner[1]}" if owner else f"device {dev} of the node"
        raise VzError(E.IP_INUSE, f"IP address {ip} is already in use by {who}")


def _ifaces(plan: NetPlan) -> list[nft.Iface]:
    out = []
    if plan.ips:
        out.append(nft.Iface(plan.venet_host, _VENET, venet=True, rate_kbits=plan.rate))
    for n in plan.netifs:
        out.append(nft.Iface(n.host_ifname, n.ifname, venet=False, mac=n.mac,
                             filtered=n.filtered, rate_kbits=plan.rate))
    return out


class NetnsLock:
    """pyvz commands that change a network namespace's addresses take turns: the check
    for addresses in use and the routes that claim them are then one step, so two VEs
    starting with one address cannot both pass the check.  The lock is an flock on the
    namespace itself (its nsfs inode): exactly the scope of the conflict, one per
    namespace, no file to create or remove, released when the holder dies."""

    def __enter__(self) -> None:
        import fcntl

        self.fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # releases the lock


def reconcile(plan: NetPlan, netns_fd: int) -> None:
    """Make the VE's network match ``plan``.  Checks come first (addresses in use: 78;
    host names taken: 130), so a refused change leaves everything as it was."""
    with NetnsLock():
        _reconcile(plan, netns_fd)


def check(plan: NetPlan) -> None:
    """The checks of ``reconcile`` alone, for a caller that changes the VE itself first
    (``pyvz.net.live``: the VE's ifdown).  Not under the lock: the VE's own programs
    must not hold up the node's other network commands.  ``reconcile`` checks again."""
    st = NetState.load(plan.run_dir) or NetState.new(plan.run_dir, plan.table)
    with Rtnl() as rtnl:
        check_conflicts(rtnl, plan, [ip for ip in plan.ips if ip not in st.ips])
        _check_host_names(rtnl, plan, st)


def _reconcile(plan: NetPlan, netns_fd: int) -> None:
    st = NetState.load(plan.run_dir) or NetState.new(plan.run_dir, plan.table)
    with Rtnl() as rtnl:
        added = [ip for ip in plan.ips if ip not in st.ips]
        check_conflicts(rtnl, plan, added)
        _check_host_names(rtnl, plan, st)
        st.save()
        ve = rtnl.enter_ve(netns_fd)
        fresh: list[str] = []  # host ends made now: up once the rules exist
        # --- veth interfaces that went away or changed as devices -----------------------
        wanted = {n.device_text(): n for n in plan.netifs}
        applied = {n.device_text(): n for n in _applied_netifs(st)}
        for key, old in applied.items():
            if key not in wanted:
                rtnl.delete_link(old.host_ifname, node_name=plan.node_name)
                nft.drop_iface(plan.table, old.ifname)
                st.netifs = [t for t in st.netifs if t != old.text()]
                if old.host_ifname in st.links:
                    st.links.remove(old.host_ifname)
                st.save()
        # --- venet ----------------------------------------------------------------------
        if plan.ips and rtnl.index(plan.venet_host) is None:
            _make_venet(rtnl, plan, st, netns_fd)
            fresh.append(plan.venet_host)
        host_idx = rtnl.index(plan.venet_host)
        ve_idx = rtnl.index(_VENET, ve=True)
        for ip in [ip for ip in st.ips if ip not in plan.ips]:
            _drop_ip(rtnl, plan, st, ip, host_idx, ve_idx)
        neighbours: dict[str, list[str]] = {}  # address -> node devices proxying it
        for ip in added:
            assert host_idx is not None and ve_idx is not None
            st.ips.append(ip)
            devs = neighbours[ip] = rtnl.neighbour_devices(plan.neighbour, ip)
            st.proxies.extend((ip, d) for d in devs if (ip, d) not in st.proxies)
            st.save()
            rtnl.ve_addr("add", ve_idx, ip)
            for d in devs:
                if not rtnl.proxy("add", ip, d):  # the admin's own entry: not ours to drop
                    st.proxies.remove((ip, d))
            st.save()
        if not plan.ips and plan.venet_host in st.links:
            rtnl.delete_link(plan.venet_host, node_name=plan.node_name)
            nft.drop_iface(plan.table, _VENET)
            st.links.remove(plan.venet_host)
            st.save()
        # --- new veth interfaces --------------------------------------------------------
        for key, n in wanted.items():
            if key not in applied:
                _make_veth(rtnl, plan, st, n, netns_fd)
                fresh.append(n.host_ifname)
        # --- rules, shaping, then up ----------------------------------------------------
        ifaces = _ifaces(plan)
        nft.setup(plan.table, ifaces, plan.ips)
        for iface in ifaces:
            if iface.host in fresh or st.rate != (plan.rate or 0):
                shaping.set_rate(iface.host, plan.rate)
        st.rate = plan.rate or 0
        st.save()
        for host in fresh:
            idx = rtnl.index(host)
            assert idx is not None
            rtnl.up(idx)
        if host_idx is not None:
            for ip in added:  # a route needs its device up
                rtnl.host_route("add", host_idx, ip)
            if neighbours and announce.wanted(plan.neighbour):
                _announce(rtnl, neighbours)
        # --- addresses and gateways of veth interfaces, then venet's default routes ------
        for key, n in wanted.items():
            prev = applied.get(key)
            idx = rtnl.index(n.ifname, ve=True)
            assert idx is not None
            # an interface the VE's ifup configures: the node only takes back what it set
            _address(rtnl, idx, prev, None if n.ifname in plan.ve_configures else n)
            if prev is not None and prev.text() != n.text():
                st.netifs = [n.text() if t == prev.text() else t for t in st.netifs]
                st.save()
        if plan.ips and ve_idx is not None:
            for v6 in (False, True):
                # a gateway (or DHCP) on a veth interface has the default route instead
                if any((":" in ip) == v6 for ip in plan.ips) and \
                        not any(n.claims_default(v6) for n in plan.netifs):
                    rtnl.ve_default_route(ve_idx, v6)
        del ve


def _announce(rtnl: Rtnl, neighbours: dict[str, list[str]]) -> None:
    """Tell each segment that the new addresses are here now (``pyvz.net.announce``);
    a failure costs only the neighbours' time to notice, so it is a warning."""
    for ip, devs in neighbours.items():
        for dev in devs:
            found = rtnl.link_mac(dev)
            if found is None:
                continue
            try:
                announce.announce(dev, found[0], found[1], ip)
            except OSError as e:
                log.warn(f"Unable to announce {ip} on {dev}: {e.strerror or e}")


def _applied_netifs(st: NetState) -> list[Netif]:
    return [parse_netifs(text)[0] for text in st.netifs]


def _address(rtnl: Rtnl, idx: int, old: Netif | None, new: Netif | None) -> None:
    """Bring a veth interface's addresses and gateways inside the VE from what ``old``
    set to what ``new`` wants (None: nothing).  Only what pyvz set is removed: addresses
    the VE's root added itself stay.  ``configure=none`` leaves the interface alone."""
    if new is not None and new.configure == "none":
        return
    before = old.static_ips() if old is not None else []
    after = new.static_ips() if new is not None else []
    for ip in before:
        if ip not in after:
            rtnl.ve_ifaddr("del", idx, ip)
    for ip in after:  # all of them: removing a primary IPv4 address takes its secondaries
        rtnl.ve_ifaddr("add", idx, ip)
    for v6 in (False, True):
        gone = old.gateway(v6) if old is not None else ""
        gw = new.gateway(v6) if new is not None else ""
        if gone and gone != gw:
            rtnl.ve_gateway("del", idx, gone)
        if gw:  # also after an address change, which may have taken the route along
            try:
                rtnl.ve_gateway("replace", idx, gw)
            except VzError as e:  # e.g. the VE's root took the interface down
                log.warn(e.message)


def _check_host_names(rtnl: Rtnl, plan: NetPlan, st: NetState) -> None:
    """A host end name taken by a device that is not this VE's: exit 130, before anything
    is made."""
    applied = {n.device_text() for n in _applied_netifs(st)}
    wanted = [n.host_ifname for n in plan.netifs if n.device_text() not in applied]
    if plan.ips and plan.venet_host not in st.links:
        wanted.append(plan.venet_host)
    for name in wanted:
        if rtnl.index(name) is None:
            continue
        owner = rtnl.owner_of(name)
        if owner is None or owner[:2] != (plan.node_name, plan.ctid):
            raise VzError(E.VETH_ERROR, f"Unable to create {name}: the node has a device "
                          "with that name")
        rtnl.delete_link(name, node_name=plan.node_name)  # a leftover of this VE's


def _make_venet(rtnl: Rtnl, plan: NetPlan, st: NetState, netns_fd: int) -> None:
    st.links.append(plan.venet_host)
    st.save()
    rtnl.make_pair(plan.venet_host, plan.venet_mac, _VENET, plan.venet_mac, netns_fd,
                   names.alias(plan.node_name, plan.ctid, _VENET), noarp=True)
    lo = rtnl.index("lo", ve=True)
    ve_idx = rtnl.index(_VENET, ve=True)
    assert lo is not None and ve_idx is not None
    rtnl.up(lo, ve=True)
    rtnl.no_linklocal(ve_idx, ve=True)
    rtnl.up(ve_idx, ve=True, noarp=True)


def _make_veth(rtnl: Rtnl, plan: NetPlan, st: NetState, n: Netif, netns_fd: int) -> None:
    if rtnl.index(n.ifname, ve=True) is not None:
        raise VzError(E.VETH_ERROR, f"Unable to create {n.ifname}: the container has a "
                      "device with that name")
    st.links.append(n.host_ifname)
    st.save()
    idx = rtnl.make_pair(n.host_ifname, n.host_mac, n.ifname, n.mac, netns_fd,
                         names.alias(plan.node_name, plan.ctid, n.ifname), noarp=False)
    if n.bridge:
        rtnl.enslave(idx, n.bridge)
    lo = rtnl.index("lo", ve=True)
    ve_idx = rtnl.index(n.ifname, ve=True)
    assert lo is not None and ve_idx is not None
    rtnl.up(lo, ve=True)
    rtnl.up(ve_idx, ve=True)
    st.netifs.append(n.text())
    st.save()


def _drop_ip(rtnl: Rtnl, plan: NetPlan, st: NetState, ip: str, host_idx: int | None,
             ve_idx: int | None) -> None:
    for pair in [p for p in st.proxies if p[0] == ip]:
        rtnl.proxy("del", *pair)
        st.proxies.remove(pair)
    if host_idx is not None:
        rtnl.host_route("del", host_idx, ip)
    if ve_idx is not None:
        rtnl.ve_addr("del", ve_idx, ip)
    st.ips.remove(ip)
    st.save()


def teardown(run_dir: str, node_name: str, ctid: int, vz_dir: str, private: str) -> None:
    """Remove everything the state record names (idempotent), taking the traffic counters
    into the running totals first."""
    st = NetState.load(run_dir)
    if st is None:
        return
    if st.table:
        counters = nft.read_counters(st.table)
        if counters is not None:
            Totals.load(vz_dir, ctid, private).add(st.gen, counters)
    with Rtnl() as rtnl:
        for ip, dev in st.proxies:
            rtnl.proxy("del", ip, dev)
        links = set(st.links) | {host for host, _ in rtnl.owned_links(node_name, ctid)}
        for name in links:
            # the VE's namespace is gone: its pair with it; routes go with the device
            rtnl.delete_link(name, node_name=node_name)
    if st.table:
        nft.delete_table(st.table)
    st.remove()
    log.debug(f"Network of container {ctid} removed")


def netns_of(init_pid: int) -> int:
    try:
        return os.open(f"/proc/{init_pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise VzError(E.VE_NOT_RUNNING, f"Unable to open the container's network "
                      f"namespace: {e.strerror}") from e
