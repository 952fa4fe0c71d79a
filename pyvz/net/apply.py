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
from pyvz.net import names, nft, shaping
from pyvz.net.accounting import Totals
from pyvz.net.netif import Netif, parse_netifs
from pyvz.net.netlink import Rtnl
from pyvz.net.netplan import NetPlan
from pyvz.net.state import NetState

__all__ = ["check_conflicts", "netns_of", "reconcile", "teardown"]

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


def reconcile(plan: NetPlan, netns_fd: int) -> None:
    """Make the VE's network match ``plan``.  Checks come first (addresses in use: 78;
    host names taken: 130), so a refused change leaves everything as it was."""
    st = NetState.load(plan.run_dir) or NetState.new(plan.run_dir, plan.table)
    with Rtnl() as rtnl:
        added = [ip for ip in plan.ips if ip not in st.ips]
        check_conflicts(rtnl, plan, added)
        _check_host_names(rtnl, plan, st)
        st.save()
        ve = rtnl.enter_ve(netns_fd)
        fresh: list[str] = []  # host ends made now: up once the rules exist
        # --- veth interfaces that went away or changed ----------------------------------
        wanted = {n.text(): n for n in plan.netifs}
        for text in list(st.netifs):
            if text not in wanted:
                old = parse_netifs(text)[0]
                rtnl.delete_link(old.host_ifname, node_name=plan.node_name)
                nft.drop_iface(plan.table, old.ifname)
                st.netifs.remove(text)
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
        for ip in added:
            assert host_idx is not None and ve_idx is not None
            st.ips.append(ip)
            devs = rtnl.neighbour_devices(plan.neighbour, ip)
            st.proxies.extend((ip, d) for d in devs if (ip, d) not in st.proxies)
            st.save()
            rtnl.ve_addr("add", ve_idx, ip)
            for d in devs:
                if not rtnl.proxy("add", ip, d):  # the admin's own entry: not ours to drop
                    st.proxies.remove((ip, d))
            st.save()
        if plan.ips and ve_idx is not None:
            for v6 in (False, True):
                if any((":" in ip) == v6 for ip in plan.ips):
                    rtnl.ve_default_route(ve_idx, v6)
        if not plan.ips and plan.venet_host in st.links:
            rtnl.delete_link(plan.venet_host, node_name=plan.node_name)
            nft.drop_iface(plan.table, _VENET)
            st.links.remove(plan.venet_host)
            st.save()
        # --- new veth interfaces --------------------------------------------------------
        for text, n in wanted.items():
            if text not in st.netifs:
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
        del ve


def _check_host_names(rtnl: Rtnl, plan: NetPlan, st: NetState) -> None:
    """A host end name taken by a device that is not this VE's: exit 130, before anything
    is made."""
    wanted = [n.host_ifname for n in plan.netifs if n.text() not in st.netifs]
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
