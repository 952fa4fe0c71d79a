"""Start-time support for a VE's own init (an area in ``pyvz.ve.areas``).

systemd as PID 1 must own a cgroup tree: it moves itself into ``init.scope`` and puts every
service into a group of its own.  pyvz gives it one the way the kernel's delegation rules
describe (Documentation/admin-guide/cgroup-v2.rst, "Delegation"): the VE's directory in the
node's cgroup v2 tree, plus its ``cgroup.procs``, ``cgroup.threads`` and
``cgroup.subtree_control``, are handed to the VE's root, and that directory is bound at the
VE's ``/sys/fs/cgroup``.  Seeing a cgroup2 filesystem there, systemd runs in unified mode
and does not try to mount the node's v1 hierarchies (which, on a hybrid host, it could not).

Only the v2 directory is delegated.  Every limit lives in files that stay the node's (the
v1 controllers' directories are not touched at all, and of the v2 directory only the three
files above change owner), so root in the VE can organise its processes into sub-groups
but cannot raise what the node allowed it.

A VE whose init is not systemd, or a host without a cgroup v2 tree, gets nothing here:
such a VE boots its init without a cgroup tree of its own (see docs/templates.md).

Start-path module: imports ``os`` only; called for every VE start.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.cgroups.ve import VeCgroups
    from pyvz.ve.model import VE

__all__ = ["DELEGATED_FILES", "binds", "init_is_systemd", "prepare"]

DELEGATED_FILES = ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control")
_CGROUP_MOUNT = "sys/fs/cgroup"


def init_is_systemd(root: str, init: str = "sbin/init") -> bool:
    """Whether the VE's init (symlinks resolved inside the VE's root) is systemd."""
    from pyvz.dists.base import resolve

    path = resolve(root, init)
    return path is not None and os.path.basename(path).startswith("systemd") and \
        os.path.isfile(path)


def _delegated_dir(ve: VE, cgroups: VeCgroups) -> str | None:
    unified = cgroups.unified
    if unified is None or not init_is_systemd(ve.root):
        return None
    return unified


def prepare(ve: VE, cgroups: VeCgroups) -> None:
    """Hand the VE's v2 directory to the VE's root (it was created for this start)."""
    d = _delegated_dir(ve, cgroups)
    if d is None:
        return
    uid, gid = ve.uid, ve.gid
    os.chown(d, uid, gid)
    for name in DELEGATED_FILES:
        try:
            os.chown(f"{d}/{name}", uid, gid)
        except FileNotFoundError:
            pass  # cgroup.threads needs a kernel with threaded cgroups


def binds(ve: VE) -> list[tuple[str, str]]:
    """The delegated directory at the VE's /sys/fs/cgroup (done by I before pivoting)."""
    d = _delegated_dir(ve, ve.cgroups())
    if d is None:
        return []
    return [(d, "/" + _CGROUP_MOUNT)]
