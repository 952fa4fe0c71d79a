"""Where each cgroup controller lives on this host: v1, v2, or nowhere — probed at run time.

Hosts differ: pure v2 (most today), hybrid (v1 controllers plus a v2 tree with few or no
controllers, like this project's CI machine), or pure v1.  The choice is made per
controller from /proc/self/mountinfo, never from the distribution's name.
"""

from __future__ import annotations

from pyvz.kernel.mountinfo import MountEntry, read_mounts

__all__ = ["Hierarchies"]


class Hierarchies:
    """Mounted cgroup hierarchies: v1 mount points with their controllers, and v2."""

    __slots__ = ("v1", "v2", "v2_controllers")

    def __init__(self, v1: dict[str, frozenset[str]], v2: str | None,
                 v2_controllers: frozenset[str]) -> None:
        self.v1 = v1                    # mount point → controllers (``name=systemd`` too)
        self.v2 = v2                    # unified mount point, if any
        self.v2_controllers = v2_controllers

    @classmethod
    def probe(cls, mounts: list[MountEntry] | None = None) -> Hierarchies:
        v1: dict[str, frozenset[str]] = {}
        v2: str | None = None
        for m in mounts if mounts is not None else read_mounts():
            if m.fstype == "cgroup":
                ctrls = frozenset(o for o in m.super_options.split(",")
                                  if o not in ("rw", "ro") and not o.startswith(
                                      ("release_agent", "clone_children", "noprefix",
                                       "xattr", "cpuset_v2_mode")))
                if ctrls and m.root == "/":
                    v1.setdefault(m.target, ctrls)
            elif m.fstype == "cgroup2" and v2 is None and m.root == "/":
                v2 = m.target
        v2_controllers: frozenset[str] = frozenset()
        if v2 is not None:
            try:
                with open(f"{v2}/cgroup.controllers") as f:
                    v2_controllers = frozenset(f.read().split())
            except OSError:
                pass
        return cls(v1, v2, v2_controllers)

    def version(self, controller: str) -> int:
        """1 or 2 where ``controller`` is usable, 0 where the host has it nowhere.

        A controller bound to a v1 hierarchy is unavailable in v2 even if the kernel has
        it, so v1 wins."""
        for ctrls in self.v1.values():
            if controller in ctrls:
                return 1
        if controller in self.v2_controllers:
            return 2
        return 0

    def v1_mount(self, controller: str) -> str | None:
        for mount, ctrls in self.v1.items():
            if controller in ctrls:
                return mount
        return None

    def describe(self) -> str:
        parts = [f"v1:{','.join(sorted(c))}@{m}" for m, c in sorted(self.v1.items())]
        if self.v2:
            parts.append(f"v2:{','.join(sorted(self.v2_controllers)) or '-'}@{self.v2}")
        return " ".join(parts)
