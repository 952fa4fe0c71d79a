"""The VE: one container as the node knows it — config, private area, root, run state.

Status follows vzctl: *exist* (config and private area present), *mounted* (VE_ROOT is a
mount point), *running* (its init is alive, checked by PID and start time).  Operations
(create, start, stop, …) live in their own modules and take a ``VE``.
"""

from __future__ import annotations

import os

from pyvz.config.layers import VeConfig
from pyvz.errors import E, VzError
from pyvz.kernel.mountinfo import is_mountpoint
from pyvz.node import Node
from pyvz.ve.runstate import RunState

__all__ = ["VE", "Status"]


class Status:
    __slots__ = ("exist", "mounted", "running", "suspended")

    def __init__(self, exist: bool, mounted: bool, running: bool, suspended: bool) -> None:
        self.exist = exist
        self.mounted = mounted
        self.running = running
        self.suspended = suspended

    @property
    def word(self) -> str:
        """vzlist's STATUS column."""
        if self.running:
            return "running"
        if self.suspended:
            return "suspended"
        if self.mounted:
            return "mounted"
        return "stopped"


class VE:
    __slots__ = ("_runstate", "conf", "ctid", "node")

    def __init__(self, node: Node, ctid: int, conf: VeConfig | None = None) -> None:
        self.node = node
        self.ctid = ctid
        self.conf = conf if conf is not None else node.ve_config(ctid)
        self._runstate: RunState | bool | None = False  # False: not looked at yet

    # -- where things are -------------------------------------------------------------
    def _path(self, key: str, code: int) -> str:
        value = self.conf.get(key)
        if not value:
            raise VzError(code, f"{key} is not set")
        return value

    @property
    def root(self) -> str:
        return self._path("VE_ROOT", E.VE_ROOT_NOTSET)

    @property
    def private(self) -> str:
        return self._path("VE_PRIVATE", E.VE_PRIVATE_NOTSET)

    @property
    def run_dir(self) -> str:
        return self.node.paths.ve_run(self.ctid)

    @property
    def conf_path(self) -> str:
        return self.node.paths.ve_conf(self.ctid)

    @property
    def uid(self) -> int:
        return self.conf.get_int("LOCAL_UID", 100000)

    @property
    def gid(self) -> int:
        return self.conf.get_int("LOCAL_GID", self.uid)

    @property
    def layout(self) -> str:
        from pyvz.storage.base import layout_of

        return layout_of(self.private, self.conf.get("VE_LAYOUT"))

    # -- state ------------------------------------------------------------------------
    def runstate(self) -> RunState | None:
        """The run state if the VE's init is alive (cached for this object)."""
        if self._runstate is False:
            st = RunState.load(self.run_dir)
            self._runstate = st if st is not None and st.init_alive() else None
        return self._runstate if isinstance(self._runstate, RunState) else None

    def forget_runstate(self) -> None:
        self._runstate = False

    def stale_runstate(self) -> RunState | None:
        """A run state whose init is gone (crash, killed command, node reboot)."""
        st = RunState.load(self.run_dir)
        return st if st is not None and not st.init_alive() else None

    def is_running(self) -> bool:
        return self.runstate() is not None

    def is_mounted(self) -> bool:
        root = self.conf.get("VE_ROOT")
        return bool(root) and is_mountpoint(root or "")

    def exists(self) -> bool:
        private = self.conf.get("VE_PRIVATE")
        return self.conf.exists and bool(private) and os.path.isdir(private or "")

    def status(self) -> Status:
        exist = self.exists()
        running = self.is_running()
        suspended = False
        if exist and not running:
            suspended = os.path.exists(f"{self.node.dump_dir}/Dump.{self.ctid}")
        return Status(exist, self.is_mounted(), running, suspended)

    def require_config(self) -> None:
        if not self.conf.exists:
            raise VzError(E.NOVECONFIG, "Container config file does not exist")

    def require_running(self) -> RunState:
        st = self.runstate()
        if st is None:
            raise VzError(E.VE_NOT_RUNNING, "Container is not running")
        return st

    def require_private(self) -> None:
        if not os.path.isdir(self.private):
            raise VzError(E.FS_NOPRVT, f"Container private area {self.private} does not exist")

    def cgroups(self) -> VeCgroupsT:
        from pyvz.cgroups.hierarchy import Hierarchies
        from pyvz.cgroups.ve import VeCgroups

        return VeCgroups(Hierarchies.probe(), self.node.paths.node_name, self.ctid)

    def lock(self, what: str = "", wait: float = 0.0) -> VeLockT:
        from pyvz.ve.lock import VeLock

        return VeLock(self.node.lock_dir, self.ctid).acquire(wait, what)


TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.cgroups.ve import VeCgroups as VeCgroupsT
    from pyvz.ve.lock import VeLock as VeLockT
