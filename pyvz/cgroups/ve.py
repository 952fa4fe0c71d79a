"""One VE's cgroups: a directory ``<node>/<CTID>`` in every mounted hierarchy.

Every v1 hierarchy and the v2 tree get the VE's directory, so each controller is found
wherever the host put it, and the v2 tree (present even on hybrid hosts) gives
``cgroup.kill`` and ``cgroup.events`` for the whole VE.  ``node`` is the per-node name
from ``Paths.node_name``, so two nodes on one machine never share a cgroup.
"""

from __future__ import annotations

import errno
import os
import time

from pyvz.cgroups.files import CgroupFiles
from pyvz.cgroups.hierarchy import Hierarchies

__all__ = ["DEFAULT_DEVICE_RULES", "VeCgroups"]

# What a VE may open in /dev (v1 devices controller): the nodes pyvz puts there.
DEFAULT_DEVICE_RULES = (
    # null, zero, full, random, urandom
    "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm",                            # tty console ptmx
    "c 136:* rwm",                                                    # ptys
    "c 10:200 rwm",                                                   # tun
)


class VeCgroups:
    __slots__ = ("ctid", "hier", "io", "node")

    def __init__(self, hier: Hierarchies, node: str, ctid: int,
                 io: CgroupFiles | None = None) -> None:
        self.hier = hier
        self.node = node
        self.ctid = ctid
        self.io = io or CgroupFiles()

    def _bases(self) -> list[str]:
        bases = [f"{mount}/{self.node}" for mount in sorted(self.hier.v1)]
        if self.hier.v2:
            bases.append(f"{self.hier.v2}/{self.node}")
        return bases

    def dirs(self) -> list[str]:
        return [f"{base}/{self.ctid}" for base in self._bases()]

    def dir_for(self, controller: str) -> str | None:
        """The VE's directory in the hierarchy that holds ``controller`` (v1 or v2)."""
        version = self.hier.version(controller)
        if version == 1:
            return f"{self.hier.v1_mount(controller)}/{self.node}/{self.ctid}"
        if version == 2:
            return f"{self.hier.v2}/{self.node}/{self.ctid}"
        return None

    @property
    def unified(self) -> str | None:
        return f"{self.hier.v2}/{self.node}/{self.ctid}" if self.hier.v2 else None

    def _prepare_bases(self) -> None:
        # Checked on every start rather than only at mkdir, so a base left half-prepared by
        # a killed command is repaired by the next one.
        for base in self._bases():
            self.io.mkdir(base)
            if self.hier.v2 and base.startswith(f"{self.hier.v2}/"):
                self._delegate_v2(base)
            elif self.io.exists(base, "cpuset.cpus") and \
                    not self.io.read(base, "cpuset.mems").strip():
                # v1 cpuset refuses tasks until cpus/mems are set; let children inherit them
                parent = os.path.dirname(base)
                for name in ("cpuset.cpus", "cpuset.mems"):
                    self.io.write(base, name, self.io.read(parent, name).strip() or "\n")
                self.io.write(base, "cgroup.clone_children", "1")

    def _delegate_v2(self, base: str) -> None:
        """Enable for VE directories every controller the host lets our base have."""
        try:
            available = self.io.read(base, "cgroup.controllers").split()
            enabled = self.io.read(base, "cgroup.subtree_control").split()
        except OSError:
            return
        for ctrl in available:
            if ctrl in enabled:
                continue
            try:
                self.io.write(base, "cgroup.subtree_control", f"+{ctrl}")
            except OSError:
                pass  # e.g. a threaded-only controller; the VE simply lacks it

    def create(self) -> None:
        """Create (or reuse) the VE's directories; idempotent."""
        self._prepare_bases()
        for d in self.dirs():
            self.io.mkdir(d)

    def attach(self, pid: int) -> None:
        """Move ``pid`` (0 = the caller) into every VE directory."""
        for d in self.dirs():
            self.io.write(d, "cgroup.procs", str(pid))

    def tasks_file(self) -> str:
        """A file listing every thread of the VE (what the monitor samples for the load
        average): v1 ``tasks`` where pids lives on v1, else v2 ``cgroup.threads``."""
        d = self.dir_for("pids")
        if d is not None and self.hier.version("pids") == 1:
            return f"{d}/tasks"
        if self.unified:
            return f"{self.unified}/cgroup.threads"
        return f"{self.dirs()[0]}/tasks"

    def restrict_devices(self, rules: tuple[str, ...] = DEFAULT_DEVICE_RULES) -> bool:
        """Allow-list devices on v1; False where the host has no v1 devices controller."""
        d = self.dir_for("devices")
        if d is None or self.hier.version("devices") != 1:
            return False
        self.io.write(d, "devices.deny", "a")
        for rule in rules:
            self.io.write(d, "devices.allow", rule)
        return True

    def procs(self) -> list[int]:
        for d in ([self.unified] if self.unified else []) + self.dirs():
            if d is None:
                continue
            try:
                return [int(p) for p in self.io.read(d, "cgroup.procs").split()]
            except OSError:
                continue
        return []

    def task_count(self) -> int | None:
        """Tasks (threads) in the VE, as vzlist's NPROC counts them."""
        d = self.dir_for("pids")
        if d is not None:
            try:
                return int(self.io.read(d, "pids.current"))
            except (OSError, ValueError):
                pass
        for d in self.dirs():
            try:
                return len(self.io.read(d, "tasks").split())
            except OSError:
                continue
        return None

    def pids_counters(self) -> dict[str, int | None]:
        """numproc as a beancounter: held, maxheld, limit (None: unlimited) and failcnt,
        from the pids controller's own counters."""
        out: dict[str, int | None] = {"held": self.task_count(), "maxheld": None,
                                      "limit": None, "failcnt": 0}
        d = self.dir_for("pids")
        if d is None:
            return out
        for name, key in (("pids.peak", "maxheld"), ("pids.max", "limit")):
            try:
                text = self.io.read(d, name).strip()
                out[key] = None if text == "max" else int(text)
            except (OSError, ValueError):
                pass
        try:
            for line in self.io.read(d, "pids.events").splitlines():
                word, _, count = line.partition(" ")
                if word == "max":
                    out["failcnt"] = int(count)
        except (OSError, ValueError):
            pass
        return out

    def exists(self) -> bool:
        return any(self.io.exists(d) for d in self.dirs())

    def kill_all(self) -> None:
        """SIGKILL every process in the VE (used once its init is gone or must go)."""
        u = self.unified
        if u and self.io.exists(u, "cgroup.kill"):
            try:
                self.io.write(u, "cgroup.kill", "1")
                return
            except OSError:
                pass
        for _ in range(50):
            pids = self.procs()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def remove(self, timeout: float = 5.0) -> None:
        """Remove the VE's directories, waiting for dying tasks to leave; the per-node base
        directories stay (other VEs use them)."""
        deadline = time.monotonic() + timeout
        for top in self.dirs():
            # (templates issue) groups made inside a delegated tree (systemd's) go first,
            # deepest first: a directory with children cannot be removed
            for d in [*_subdirs_deepest_first(top), top]:
                while True:
                    try:
                        self.io.rmdir(d)
                        break
                    except FileNotFoundError:
                        break
                    except OSError as e:
                        if e.errno != errno.EBUSY or time.monotonic() > deadline:
                            raise
                        self.kill_all()
                        time.sleep(0.01)

    def remove_node_bases(self) -> None:
        """Remove the per-node base directories if no VE is left in them (tests, uninstall)."""
        for base in self._bases():
            try:
                self.io.rmdir(base)
            except OSError:
                pass


def _subdirs_deepest_first(top: str) -> list[str]:
    """(templates issue) Sub-directories of a cgroup directory, children before parents."""
    found: list[str] = []
    for dirpath, dirnames, _ in os.walk(top):
        found.extend(os.path.join(dirpath, n) for n in dirnames)
    return sorted(found, key=lambda p: p.count("/"), reverse=True)
