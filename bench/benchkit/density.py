"""Density: N VEs each serving HTTP, N raised step by step; at each step the HTTP
response times from the node (the bench's network namespace) and the memory per VE.

A series stops at the first of: a VE that fails to start or to answer within the ready
timeout; p99 above ``threshold`` (the overview's one second); the time budget.  With a
``cap``, the memory cgroup above all of the system's VEs (pyvz: the node's base
directory; LXC: the containers' parent; bare: the copies' cgroup) is limited to it, and
the files the VEs read are first dropped from the page cache so that they are charged
under the cap when read.

``ready_s`` of a step: seconds from the end of its adds until every new VE answered.

Load per step: ``rounds`` rounds, each asking every VE for ``/`` once in a shuffled
order, ``concurrency`` requests in flight; a request that gets no 200 within
``timeout`` counts as an error and as a response time of ``timeout`` in the percentiles.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from benchkit.env import evict_page_cache, memory_usage, set_memory_cap
from benchkit.memory import smaps
from benchkit.proc import REPO, in_netns, percentile, run
from benchkit.systems import WebSystem

CLIENT = REPO / "bench" / "benchkit" / "httpload.py"


class _OverBudget(Exception):
    """A step's adds ran far past the series' time budget."""


def steps_doubling(top: int | None = None) -> Iterator[int]:
    """10, 50, 100, 200, 400, … (the issue's schedule), up to ``top``."""
    for n in (10, 50, 100):
        if top is not None and n > top:
            return
        yield n
    n = 100
    while top is None or n * 2 <= top:
        n *= 2
        yield n


def steps_linear(first: int, top: int | None = None) -> Iterator[int]:
    """first, then +10% (at least +first): 10, 20, …, 100, 110, …, 200, 220, …"""
    n = first
    while top is None or n <= top:
        yield n
        n += max(first, math.ceil(n * 0.1 / first) * first)


def inotify_instances() -> int:
    """inotify instances open on the whole machine: systemd in every Debian VE holds
    several, and root's share of them (VEs' user namespaces count against root too) is
    capped by fs.inotify.max_user_instances — a host-wide limit the bench reports but
    does not change."""
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify":
                    count += 1
            except OSError:
                pass
    return count


def http(netns: str, request: dict[str, object], python: str, timeout: float) -> object:
    proc = run(in_netns(netns, [python, str(CLIENT)]), input=json.dumps(request),
               timeout=timeout)
    return json.loads(proc.stdout)


def series(system: WebSystem, *, template: str, steps: Iterator[int], netns: str,
           address: Callable[[int], str], python: str, memory_root: Path,
           first_id: int = 20000, cap: int | None = None, threshold: float | None = 1.0,
           budget: float = 600, ready_timeout: float = 120, settle: float = 2.0, rounds: int = 3,
           concurrency: int = 4, timeout: float = 10.0, log: Callable[[str], None] = print
           ) -> dict[str, object]:
    cap_cg = system.cap_cgroup(memory_root)
    cap_cg.mkdir(parents=True, exist_ok=True)  # pyvz/LXC would make it; the cap goes first
    set_memory_cap(cap_cg, cap)
    if cap:
        evict_page_cache(*system.template_trees())
    rows: list[dict[str, object]] = []
    stop_reason = "steps exhausted"
    idents: list[int] = []
    retried: list[str] = []
    begin = time.monotonic()
    try:
        for n in steps:
            if time.monotonic() - begin > budget:
                stop_reason = f"time budget ({budget:.0f} s) used"
                break
            t_add = time.monotonic()
            new: list[int] = []
            try:
                for i in range(len(idents), n):
                    if time.monotonic() - begin > budget * 1.5:
                        # a step slowed down by swapping must not eat the next series' time
                        raise _OverBudget
                    idents.append(first_id + i)
                    new.append(i)
                    try:
                        system.add_web(first_id + i, template, address(i))
                    except Exception as e:
                        # one retry: a single flaky start must not end a series that is
                        # about capacity; it is counted, and a second failure ends it
                        retried.append(f"VE {i + 1}: {str(e)[:200]}")
                        log(f"    {system.name}: VE {i + 1} failed, retrying once: "
                            f"{str(e)[:200]}")
                        system.remove(first_id + i, net=True)
                        system.add_web(first_id + i, template, address(i))
            except _OverBudget:
                stop_reason = (f"time budget ({budget:.0f} s) used up while adding VEs "
                               f"{len(idents) - len(new) + 1}..{n}")
                log(f"    {system.name}: {stop_reason}")
                break
            except Exception as e:
                stop_reason = f"VE {len(idents)} failed to start: {str(e)[:300]}"
                log(f"    {system.name}: {stop_reason}")
                break
            added_s = time.monotonic() - t_add
            ready = http(netns, {"mode": "ready", "targets": [address(i) for i in new],
                                 "timeout": ready_timeout, "concurrency": 16}, python,
                         ready_timeout + 60)
            assert isinstance(ready, list)
            not_ready = sum(1 for r in ready if r is None)
            time.sleep(settle)
            load = http(netns, {"mode": "load", "targets": [address(i) for i in range(n)],
                                "rounds": rounds, "concurrency": concurrency,
                                "timeout": timeout, "limit": 300, "seed": n}, python, 900)
            assert isinstance(load, dict)
            lat = [float(x) for x in load["latencies"]] + [timeout] * int(load["errors"])
            p50, p99 = percentile(lat, 50), percentile(lat, 99)
            mem = memory_usage(cap_cg)
            per_ve, shared = system.manager_pids(idents)
            manager_kib = sum(smaps(p)["Pss"] for p in [*per_ve, *shared])
            row: dict[str, object] = {
                "n": n, "add_s": added_s,
                "ready_s": max((r for r in ready if r is not None), default=None),
                "not_ready": not_ready,
                "requests": len(lat), "errors": load["errors"], "unsent": load["unsent"],
                "p50_s": p50, "p99_s": p99, "passed": bool(
                    not not_ready and (threshold is None or p99 <= threshold)),
                "ram_mib": mem["ram"] / 2**20, "swap_mib": mem["swap"] / 2**20,
                "ram_kib_per_ve": mem["ram"] / 1024 / n,
                "swap_kib_per_ve": mem["swap"] / 1024 / n,
                "manager_kib_per_ve": manager_kib / n,
                "inotify_instances": inotify_instances(),
                "elapsed_s": time.monotonic() - begin}
            rows.append(row)
            log(f"    {system.name} N={n}: p50 {p50 * 1000:.1f} ms, "
                f"p99 {p99 * 1000:.1f} ms, errors {load['errors']}, "
                f"RAM {row['ram_mib']:.0f} MiB + swap {row['swap_mib']:.0f} MiB, "
                f"not ready {not_ready}, inotify {row['inotify_instances']}, "
                f"{row['elapsed_s']:.0f} s")
            if not_ready:
                stop_reason = f"{not_ready} of the new VEs did not answer in {ready_timeout} s"
                break
            if threshold is not None and p99 > threshold:
                stop_reason = f"p99 above {threshold} s"
                break
    finally:
        t = time.monotonic()
        if hasattr(system, "remove_all"):
            system.remove_all()
        else:
            for i in reversed(idents):
                system.remove(i, net=True)
        set_memory_cap(cap_cg, None)
        log(f"    {system.name}: removed {len(idents)} in {time.monotonic() - t:.0f} s")
    passed = [int(str(r["n"])) for r in rows if r["passed"]]
    # a series cut short by its steps or its time budget gives only a lower bound
    bounded = not stop_reason.startswith(("steps", "time budget"))
    return {"system": system.name, "template": template, "cap_mib": cap and cap >> 20,
            "threshold_s": threshold, "rows": rows, "stop": stop_reason,
            "n_max": max(passed) if passed else 0, "limit_found": bounded,
            "retried": retried}
