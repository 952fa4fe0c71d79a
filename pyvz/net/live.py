"""``vzctl set`` on a running VE: IP_ADDRESS, NETIF and RATE changes applied at once
(the live handler named in the settings table).

The new values are checked against the node before anything changes (address in use:
78; host device name taken: 130), so a refused ``set`` leaves the VE, the node and the
config file as they were (setparams saves only after this returns).
"""

from __future__ import annotations

import os

from pyvz import log

__all__ = ["apply"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.ve.model import VE


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
    from pyvz.net.apply import netns_of, reconcile
    from pyvz.ve.runstate import proc_start_ticks

    st = ve.require_running()
    fd = netns_of(st.init_pid)
    try:
        if proc_start_ticks(st.init_pid) != st.init_start:  # the PID was reused meanwhile
            raise VzError(E.VE_NOT_RUNNING, "Container is not running")
        if added:
            log.info(f"Adding IP address(es): {' '.join(added)}")
        if gone:
            log.info(f"Deleting IP address(es): {' '.join(gone)}")
        reconcile(plan, fd)
    finally:
        os.close(fd)
    if keys & {"IP_ADDRESS", "NETIF"}:
        from pyvz.net.guest import write_config

        write_config(ve, plan, running=True)
