"""The areas that take part in starting and cleaning up a VE (resources, network, …).

Each area is a module (listed in ``AREAS``; a module that does not exist yet is skipped)
with any of these functions, called in this order:

    prepare(ve, cgroups)       P (the command), after the VE's cgroups exist and before
                               its init does: e.g. limits, so init starts inside them
    plan(ve) -> object | None  P: everything ``attach`` will need (config reads happen here)
    binds(ve) -> [(src, dst)]  P: files or directories of the node to bind over paths inside
                               the VE once its /proc is mounted (e.g. lxcfs's /proc views);
                               I performs them, as the VE's root, before pivoting
    attach(plan, init_pid)     M (the starter), as node root in the node's namespaces,
                               after init exists (its namespaces too) and before it runs
    detach(ve)                 a running VE is being stopped, its init still alive (e.g.
                               read counters that die with its network namespace)
    cleanup(ve)                any command, once init is gone: undo what attach did on the
                               node; must be idempotent (it also runs after a crash)

An area module must import fast: whatever is heavy it imports inside the functions, and
only when the VE uses the area (a VE without network devices never loads netlink code).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["AREAS", "attach_all", "binds_all", "cleanup_all", "detach_all", "plan_all",
           "prepare_all"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.cgroups.ve import VeCgroups
    from pyvz.ve.model import VE

# pyvz.templates.lifecycle (templates issue): a cgroup tree for a VE whose init is systemd
AREAS = ("pyvz.res.lifecycle", "pyvz.net.lifecycle", "pyvz.templates.lifecycle")

_loaded: list[ModuleType] | None = None


def _modules() -> list[ModuleType]:
    global _loaded
    if _loaded is None:
        found = []
        for name in AREAS:
            try:
                found.append(importlib.import_module(name))
            except ModuleNotFoundError as e:
                if e.name not in (name, name.rpartition(".")[0]):
                    raise
        _loaded = found
    return _loaded


def prepare_all(ve: VE, cgroups: VeCgroups) -> None:
    for m in _modules():
        if hasattr(m, "prepare"):
            m.prepare(ve, cgroups)


def plan_all(ve: VE) -> list[tuple[ModuleType, object]]:
    plans = []
    for m in _modules():
        if hasattr(m, "plan") and hasattr(m, "attach"):
            p = m.plan(ve)
            if p is not None:
                plans.append((m, p))
    return plans


def binds_all(ve: VE) -> list[tuple[str, str]]:
    binds: list[tuple[str, str]] = []
    for m in _modules():
        if hasattr(m, "binds"):
            binds.extend(m.binds(ve))
    return binds


def attach_all(plans: list[tuple[ModuleType, object]], init_pid: int) -> None:
    for m, p in plans:
        m.attach(p, init_pid)


def detach_all(ve: VE) -> None:
    for m in _modules():
        if hasattr(m, "detach"):
            m.detach(ve)


def cleanup_all(ve: VE) -> None:
    for m in _modules():
        if hasattr(m, "cleanup"):
            m.cleanup(ve)
