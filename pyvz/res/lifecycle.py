"""The resources area of a VE's start and cleanup (see ``pyvz.ve.areas``).

``prepare`` resolves the VE's resource settings, refuses impossible ones (vzctl's exit 28,
or 1/2 when the kernel refuses a limit) and writes every limit into the VE's cgroups before
its init exists, so nothing of the VE ever runs unlimited.  A failure here makes ``start``
roll back (cgroups removed, private area unmounted).
"""

from __future__ import annotations

import os

__all__ = ["binds", "cleanup", "prepare"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.cgroups.ve import VeCgroups
    from pyvz.ve.model import VE


def prepare(ve: VE, cgroups: VeCgroups) -> None:
    from pyvz.res.apply import apply
    from pyvz.res.model import Resources

    res = Resources(ve.conf)
    res.check_startable()
    apply(ve, cgroups, res)
    host = ve.node.global_values.get("VE0CPUUNITS")
    if host and host.isdigit() and host != "1000":
        from pyvz.res.host import apply_node_weight

        apply_node_weight(ve.node, int(host))


def binds(ve: VE) -> list[tuple[str, str]]:
    from pyvz.res import lxcfs

    return lxcfs.binds(ve.node)


def cleanup(ve: VE) -> None:
    """The VE's beancounter snapshot files go with its run state (idempotent).  The
    node's lxcfs stays up for the next start, like a node service; ``pyvz cleanup`` and
    ``pyvz shutdown`` stop it."""
    from pyvz.res.ubc import _PEAKS, UBC_FILE

    for name in (UBC_FILE, _PEAKS, f"{UBC_FILE}.tmp", f"{_PEAKS}.tmp"):
        try:
            os.unlink(f"{ve.run_dir}/{name}")
        except FileNotFoundError:
            pass
        except OSError:
            pass
