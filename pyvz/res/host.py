"""CT0: the node's own CPU weight against its VEs (``vzctl set 0 --cpuunits N``).

Processes of the node outside any VE compete with the node's VE tree as a whole (the
per-node base cgroup holding every VE).  A stock kernel cannot weigh the root cgroup, so
pyvz weighs the base cgroup instead: with VE0CPUUNITS = U, the VEs together count as
1000/U of one nice-0 node task group (U = 1000, the default, leaves the kernel default).
"""

from __future__ import annotations

from pyvz import log
from pyvz.errors import E, VzError

__all__ = ["apply_node_weight", "set_host_cpuunits"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.node import Node


def _base_weight_units(host_units: int) -> int:
    """cpuunits to give the VE tree so that it weighs 1000/host_units of the node."""
    return max(8, min(500000, 1000 * 1000 // max(1, host_units)))


def apply_node_weight(node: Node, host_units: int) -> None:
    from pyvz.cgroups.files import CgroupFiles
    from pyvz.cgroups.hierarchy import Hierarchies
    from pyvz.cgroups.limits import shares_for, weight_for

    hier = Hierarchies.probe()
    io = CgroupFiles()
    units = _base_weight_units(host_units)
    version = hier.version("cpu")
    if version == 1:
        base = f"{hier.v1_mount('cpu')}/{node.paths.node_name}"
        name, value = "cpu.shares", str(shares_for(units))
    elif version == 2:
        base = f"{hier.v2}/{node.paths.node_name}"
        name, value = "cpu.weight", str(weight_for(units))
    else:
        raise VzError(E.SETFSHD, "Unable to set cpuunits for CT0: no cpu controller")
    io.mkdir(base)
    try:
        io.write(base, name, value)
    except OSError as e:
        raise VzError(E.SETFSHD, f"Unable to set cpuunits for CT0: {e.strerror}") from e


def set_host_cpuunits(node: Node, text: str, save: bool) -> None:
    from pyvz.config.schema import BY_KEY

    units = int(BY_KEY["VE0CPUUNITS"].kind.parse(text, "cpuunits"))
    apply_node_weight(node, units)
    log.info(f"CT0 cpuunits set to {units}")
    if save:
        from pyvz.config.conffile import ConfFile

        conf = ConfFile.load(node.paths.vz_conf)
        conf.set("VE0CPUUNITS", str(units))
        if conf.save():
            log.info(f"Saved VE0CPUUNITS in {node.paths.vz_conf}")
