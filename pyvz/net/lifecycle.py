"""The network area of a VE's start and cleanup (see ``pyvz.ve.areas``).

* ``plan`` (P): the VE's network from its config, and the VE's own network files written
  (``pyvz.net.guest``); None for a VE without addresses and veth interfaces, which then
  costs nothing more (no netlink code is even imported).  Addresses in use elsewhere fail
  here (exit 78), before anything is forked.
* ``attach`` (M, node root, init cloned but not yet running): device pairs, addresses,
  routes, proxy neighbours, the VE's nft table, shaping — see ``pyvz.net.apply``.
* ``cleanup`` (any command, init gone): counters into the running totals, then every
  object the state record names is removed; idempotent, also after a crash.
"""

from __future__ import annotations

import os

__all__ = ["attach", "cleanup", "plan"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.net.netplan import NetPlan
    from pyvz.ve.model import VE


def plan(ve: VE) -> NetPlan | None:
    from pyvz.net.netplan import NetPlan

    p = NetPlan.from_conf(ve)
    from pyvz.net.guest import has_stale_config, write_config

    if p.empty:
        if has_stale_config(ve):  # interfaces removed while the VE was stopped
            write_config(ve, p, running=False)
        return None
    from pyvz.net.apply import check_conflicts
    from pyvz.net.netlink import Rtnl

    with Rtnl() as rtnl:
        check_conflicts(rtnl, p, p.ips)
    if write_config(ve, p, running=False):  # the VE's boot brings the addresses up
        p.ve_configures = {n.ifname for n in p.netifs}
    else:
        for n in p.netifs:
            if n.configured and (n.uses_dhcp(False) or n.uses_dhcp(True)):
                from pyvz import log

                log.warn(f"DHCP on {n.ifname}: pyvz has no network setup for the "
                         "container's distribution; a DHCP client of its own must run")
    return p


def attach(p: NetPlan, init_pid: int) -> None:
    from pyvz.net.apply import netns_of, reconcile

    fd = netns_of(init_pid)
    try:
        reconcile(p, fd)
    finally:
        os.close(fd)


def cleanup(ve: VE) -> None:
    from pyvz.net.state import NetState

    if not os.path.exists(NetState.file(ve.run_dir)):
        return
    from pyvz.net.apply import teardown

    teardown(ve.run_dir, ve.node.paths.node_name, ve.ctid, ve.node.paths.vz_dir,
             ve.conf.get("VE_PRIVATE") or "")
