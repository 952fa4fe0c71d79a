"""``vzctl set`` on a running VE: IP_ADDRESS, NETIF and RATE changes applied at once
(the live handler named in the settings table).

The new values are checked against the node before anything changes (address in use:
78; host device name taken: 130), so a refused ``set`` leaves the VE, the node and the
config file as they were (setparams saves only after this returns).

A veth interface's static addresses and gateways are set by the node, in the VE's network
namespace; the VE's files are rewritten to match, so its next boot sets the same.  DHCP
is the VE's own client's job: an interface whose DHCP setting changes is taken down with
the VE's ``ifdown`` (old files), and brought up with its ``ifup`` (new files).
"""

from __future__ import annotations

import os

from pyvz import log

__all__ = ["apply"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.net.netif import Netif
    from pyvz.ve.model import VE


def _dhcp(n: Netif | None) -> tuple[bool, bool]:
    if n is None or n.configure == "none":
        return (False, False)
    return (n.uses_dhcp(False), n.uses_dhcp(True))


def apply(ve: VE, keys: set[str], values: dict[str, str]) -> None:
    from pyvz.net.netplan import NetPlan
    from pyvz.net.state import NetState

    plan = NetPlan(ve, values)
    before = NetState.load(ve.run_dir)
    if before is None and plan.empty:
        return  # nothing applied, nothing wanted: no netlink needed
    old_ips = before.ips if before else []
    added = [ip for ip in plan.ips if ip not in old_ips]
    gone = [ip for ip in old_ips if ip not in plan.ips]
    from pyvz.errors import E, VzError
    from pyvz.net import guest
    from pyvz.net.apply import check, netns_of, reconcile
    from pyvz.net.netif import parse_netifs
    from pyvz.ve.runstate import proc_start_ticks

    old = {n.ifname: n for t in (before.netifs if before else []) for n in parse_netifs(t)}
    toggled = [n.ifname for n in plan.netifs if _dhcp(old.get(n.ifname)) != _dhcp(n)]
    # interfaces going away whose DHCP client runs: it stops before its device goes
    wanted = {n.ifname for n in plan.netifs}
    removed = [name for name, n in old.items() if name not in wanted and any(_dhcp(n))]
    if (toggled or removed) and not guest.has_network_files(ve):
        for n in plan.netifs:
            if n.ifname in toggled and any(_dhcp(n)):
                log.warn(f"DHCP on {n.ifname}: pyvz has no network setup for the "
                         "container's distribution; a DHCP client of its own must run")
        toggled, removed = [], []  # static addresses: the node sets them as usual
    downs = [name for name in toggled if name in old] + removed
    st = ve.require_running()
    fd = netns_of(st.init_pid)
    try:
        if proc_start_ticks(st.init_pid) != st.init_start:  # the PID was reused meanwhile
            raise VzError(E.VE_NOT_RUNNING, "Container is not running")
        if added:
            log.info(f"Adding IP address(es): {' '.join(added)}")
        if gone:
            log.info(f"Deleting IP address(es): {' '.join(gone)}")
        plan.ve_configures = set(toggled)
        if downs:
            check(plan)  # a refused change must leave the VE's DHCP clients running
        for name in downs:  # the client (if any) stops, old static addresses go
            log.debug(guest.run_ifupdown(ve, "ifdown", name))
        reconcile(plan, fd)
    finally:
        os.close(fd)
    if keys & {"IP_ADDRESS", "NETIF"}:
        guest.write_config(ve, plan, running=True)
        for name in toggled:
            log.info(f"Configuring {name} with the container's ifup")
            complaint = guest.run_ifupdown(ve, "ifup", name)
            if complaint:
                log.warn(complaint)
