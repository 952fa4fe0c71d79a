"""All VEs of the node, with the facts vzlist and the boot service ask about, gathered
lazily: a row computes its status, process count or uptime only if a column wants it,
and reads /proc/self/mountinfo and the cgroup layout once for the whole listing."""

from __future__ import annotations

import os
import time

from pyvz.kernel.mountinfo import MountEntry, read_mounts
from pyvz.node import Node
from pyvz.ve.model import VE, Status

__all__ = ["Listing", "VeRow", "all_ctids"]


def all_ctids(node: Node) -> list[int]:
    try:
        names = os.listdir(node.paths.conf_dir)
    except FileNotFoundError:
        return []
    ids = [int(n[:-5]) for n in names if n.endswith(".conf") and n[:-5].isdigit()]
    return sorted(i for i in ids if i > 0)


class Listing:
    """Shared, computed-once facts for a set of rows."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._mount_targets: set[str] | None = None
        self._hier: object | None = None

    def mount_targets(self) -> set[str]:
        if self._mount_targets is None:
            mounts: list[MountEntry] = read_mounts()
            self._mount_targets = {m.target for m in mounts}
        return self._mount_targets

    def hierarchies(self) -> object:
        if self._hier is None:
            from pyvz.cgroups.hierarchy import Hierarchies

            self._hier = Hierarchies.probe()
        return self._hier


class VeRow:
    __slots__ = ("_loadavg", "_status", "listing", "ve")

    def __init__(self, ve: VE, listing: Listing) -> None:
        self.ve = ve
        self.listing = listing
        self._status: Status | None = None
        self._loadavg: list[float] | None = None

    @property
    def ctid(self) -> int:
        return self.ve.ctid

    def status(self) -> Status:
        if self._status is None:
            ve = self.ve
            running = ve.runstate() is not None
            root = ve.conf.get("VE_ROOT") or ""
            mounted = root.rstrip("/") in self.listing.mount_targets()
            private = ve.conf.get("VE_PRIVATE") or ""
            exist = bool(private) and os.path.isdir(private)
            suspended = not running and os.path.exists(
                f"{ve.node.dump_dir}/Dump.{ve.ctid}")
            self._status = Status(exist, mounted, running, suspended)
        return self._status

    def cgroups(self) -> object:
        from pyvz.cgroups.hierarchy import Hierarchies
        from pyvz.cgroups.ve import VeCgroups

        hier = self.listing.hierarchies()
        assert isinstance(hier, Hierarchies)
        return VeCgroups(hier, self.ve.node.paths.node_name, self.ve.ctid)

    def numproc(self) -> int | None:
        if not self.status().running:
            return None
        from pyvz.cgroups.ve import VeCgroups

        cg = self.cgroups()
        assert isinstance(cg, VeCgroups)
        return cg.task_count()

    def numproc_counters(self) -> dict[str, int | None] | None:
        """held/maxheld/limit/failcnt of the VE's tasks (None when not running)."""
        if not self.status().running:
            return None
        from pyvz.cgroups.ve import VeCgroups

        cg = self.cgroups()
        assert isinstance(cg, VeCgroups)
        return cg.pids_counters()

    def uptime(self) -> float | None:
        st = self.ve.runstate()
        if st is None or not st.started:
            return None
        return max(0.0, time.time() - st.started)

    def loadavg(self) -> list[float] | None:
        """The VE's 1/5/15-minute load averages, kept by its monitor in the run dir."""
        if not self.status().running:
            return None
        if self._loadavg is None:
            try:
                with open(f"{self.ve.run_dir}/loadavg") as f:
                    self._loadavg = [float(x) for x in f.read().split()[:3]]
            except (OSError, ValueError):
                self._loadavg = [0.0, 0.0, 0.0]
        return self._loadavg
