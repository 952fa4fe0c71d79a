"""The VE's own network configuration files (per distribution, ``Dist.set_network``),
written as the VE's root from inside it: chrooted into the mounted root of a VE that is
starting, or in the namespaces of a running one.
"""

from __future__ import annotations

from pyvz import log
from pyvz.errors import VzError

__all__ = ["write_config"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.net.netplan import NetPlan
    from pyvz.ve.model import VE


def write_config(ve: VE, plan: NetPlan, *, running: bool) -> None:
    from pyvz.dists import preload
    from pyvz.dists.base import Dist

    ostemplate = ve.conf.get("OSTEMPLATE")
    dist = preload(ostemplate, addresses=False)
    if type(dist).set_network is Dist.set_network:
        return  # no file for this distribution: no need to enter the VE at all
    ips = list(plan.ips)
    ifnames = [n.ifname for n in plan.netifs]

    def work() -> None:
        dist.set_network("/", ips, ifnames)

    from pyvz.ve import nsexec

    try:
        if running:
            target = nsexec.open_target(ve)
            try:
                nsexec.call(target, work)
            finally:
                target.close()
        else:
            nsexec.call_in_root(ve, work)
    except VzError as e:
        # the devices work without the file; a VE whose /etc is odd still starts
        log.warn(f"Unable to write the container's network configuration: {e.message}")
