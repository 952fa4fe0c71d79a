"""Memory rows.

* ``management_memory``: what the container manager itself costs per running VE — the
  proportional set size (PSS) of its processes (pyvz: each VE's ``pyvz-monitor`` plus the
  node's lxcfs shared by all VEs; LXC: each container's ``[lxc monitor]``), over N.
* ``shared_memory`` (issue 5): N Debian VEs of one template, per layout.  Two views:
  - the sum over every process of every VE of RSS and PSS (``smaps_rollup``): RSS counts a
    page shared by k VEs k times, PSS once in total, so RSS-PSS is what sharing saves;
  - the RAM charged to the VEs' memory cgroups (summed), after the files the VEs will read
    were dropped from the page cache (``evict_page_cache``), so each page is charged to
    the first VE that reads it — the memory a cap above the VEs would see.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from benchkit.env import evict_page_cache, memory_usage
from benchkit.systems import VeSystem

FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem")


def smaps(pid: int) -> dict[str, int]:
    """KiB of each of FIELDS for one process (zeros if it is gone)."""
    out = dict.fromkeys(FIELDS, 0)
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key = line.split(":", 1)[0]
        if key in out:
            out[key] = int(line.split()[1])
    return out


def cgroup_pids(cg: Path) -> list[int]:
    pids: list[int] = []
    for procs in [cg / "cgroup.procs", *cg.rglob("*/cgroup.procs")]:
        try:
            pids += [int(p) for p in procs.read_text().split()]
        except OSError:
            pass
    return pids


def management_memory(system: VeSystem, count: int, ids: Iterator[int]) -> dict[str, object]:
    idents = [next(ids) for _ in range(count)]
    made: list[int] = []
    try:
        for ident in idents:
            system.create(ident)
            made.append(ident)
            system.start_until_answer(ident)
        time.sleep(0.5)
        per_ve, shared = system.manager_pids(idents)
        per_ve_kib = sum(smaps(p)["Pss"] for p in per_ve)
        shared_kib = sum(smaps(p)["Pss"] for p in shared)
        return {"ves": count, "per_ve_processes": len(per_ve), "shared_processes": len(shared),
                "pss_kib_per_ve": (per_ve_kib + shared_kib) / count,
                "monitor_pss_kib_per_ve": per_ve_kib / count,
                "shared_pss_kib": shared_kib}
    finally:
        for ident in made:
            system.remove(ident)


def wait_stable(cgs: list[Path], timeout: float, window: float = 5.0) -> float:
    """Wait until the RAM charged to ``cgs`` changes by < 1% over ``window`` seconds."""
    start = time.monotonic()
    last = sum(memory_usage(c)["ram"] for c in cgs)
    while time.monotonic() - start < timeout:
        time.sleep(window)
        now = sum(memory_usage(c)["ram"] for c in cgs)
        if abs(now - last) <= 0.01 * max(last, 1):
            break
        last = now
    return time.monotonic() - start


def shared_memory(system: VeSystem, template: str, layout: str, count: int,
                  ids: Iterator[int], memory_root: Path) -> dict[str, object]:
    idents: list[int] = []
    try:
        for _ in range(count):
            ident = next(ids)
            system.create(ident, template, layout)
            idents.append(ident)
        files = evict_page_cache(*system.template_trees(), *(system.private(i) for i in idents))
        for ident in idents:
            system.start_until_answer(ident)
        cgs = [system.ve_cgroup(memory_root, i) for i in idents]
        settled = wait_stable(cgs, timeout=120)
        totals = dict.fromkeys(FIELDS, 0)
        procs = 0
        for cg in cgs:
            for pid in cgroup_pids(cg):
                procs += 1
                for k, v in smaps(pid).items():
                    totals[k] += v
        ram = sum(memory_usage(c)["ram"] for c in cgs) // 1024
        return {"ves": count, "layout": layout, "processes": procs, "settle_s": settled,
                "evicted_files": files,
                "per_ve_kib": {**{k.lower(): v / count for k, v in totals.items()},
                               "cgroup_ram": ram / count},
                "shared_kib_per_ve": (totals["Rss"] - totals["Pss"]) / count}
    finally:
        for ident in idents:
            system.remove(ident)
