"""CPU overhead: the same CPU-bound job on the node and inside a VE.

The job is a busybox shell loop (the same static binary on both sides: the node's
busybox-static and the VE's own busybox), pinned with ``taskset`` to one CPU on both
sides.  Node and VE runs alternate (ABBA), each pair gives one ratio, and the result
is the median ratio.  Two measures:

* wall: seconds from the outside, minus the median of ``exec true`` (the command's own
  start-up), against the node's run of the job;
* cpu: CPU time the VE's cgroup used for the job (cpuacct / cpu.stat delta, minus that of
  ``exec true``) against the node job's own rusage — insensitive to other processes
  competing for the CPU, which the wall measure is not.

On a virtual machine the same job's speed varies by ±20% from run to run (its vCPUs
share physical cores with other guests), so many short pairs are taken and the median's
95% bootstrap confidence interval is reported with it: it says how small an overhead
this machine can resolve at all.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from benchkit.proc import median_ci
from benchkit.systems import VeSystem

LOOP = "i=0; while [ $i -lt {n} ]; do i=$((i+1)); done"


def cpu_usage_ns(memory_cg: Path) -> int | None:
    """CPU time of a VE's cgroup, found beside its memory cgroup (v1 cpuacct or v2)."""
    parts = memory_cg.parts
    rel = Path(*parts[parts.index("memory") + 1:]) if "memory" in parts else None
    if rel is not None:
        f = Path("/sys/fs/cgroup/cpuacct") / rel / "cpuacct.usage"
        if f.exists():
            return int(f.read_text())
    stat = memory_cg / "cpu.stat"
    if stat.exists():
        for line in stat.read_text().splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) * 1000
    return None


def _host_job(job: str, cpu: int) -> tuple[float, float]:
    busybox = shutil.which("busybox") or "/bin/busybox"
    t = time.perf_counter()
    proc = subprocess.Popen(["taskset", "-c", str(cpu), busybox, "sh", "-c", job],
                            stdin=subprocess.DEVNULL, start_new_session=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"host job failed: {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def cpu_overhead(system: VeSystem, ident: int, memory_root: Path, repeat: int,
                 iterations: int) -> dict[str, object]:
    cpu = (os.cpu_count() or 1) - 1
    job = LOOP.format(n=iterations)
    inside = f"busybox taskset -c {cpu} busybox sh -c '{job}'"
    system.create(ident)
    try:
        system.start_until_answer(ident)
        cg = system.ve_cgroup(memory_root, ident)

        def ve_run(command: str) -> tuple[float, float | None]:
            before = cpu_usage_ns(cg)
            wall = system.run_in(ident, command)
            after = cpu_usage_ns(cg)
            used = (after - before) / 1e9 if before is not None and after is not None else None
            return wall, used

        empty = [ve_run("true") for _ in range(max(5, repeat))]
        empty_wall = statistics.median(w for w, _ in empty)
        empty_cpu = statistics.median(c or 0.0 for _, c in empty)
        wall_pct: list[float] = []
        cpu_pct: list[float] = []
        pairs = []
        host_walls: list[float] = []
        for k in range(repeat):
            # alternate which side goes first (ABBA), so a drift in the machine's load
            # does not always favour the same side
            if k % 2:
                ve_wall, ve_cpu = ve_run(inside)
                host_wall, host_cpu = _host_job(job, cpu)
            else:
                host_wall, host_cpu = _host_job(job, cpu)
                ve_wall, ve_cpu = ve_run(inside)
            host_walls.append(host_wall)
            wall_pct.append(((ve_wall - empty_wall) / host_wall - 1) * 100)
            if ve_cpu is not None:
                cpu_pct.append(((ve_cpu - empty_cpu) / host_cpu - 1) * 100)
            pairs.append({"host_wall": host_wall, "host_cpu": host_cpu, "ve_wall": ve_wall,
                          "ve_cpu": ve_cpu})
        return {"iterations": iterations, "pinned_cpu": cpu, "pairs": pairs,
                "exec_true_wall": empty_wall, "exec_true_cpu": empty_cpu,
                "overhead_wall_pct": statistics.median(wall_pct),
                "overhead_wall_pct_ci95": list(median_ci(wall_pct)),
                "overhead_cpu_pct": statistics.median(cpu_pct) if cpu_pct else None,
                "overhead_cpu_pct_ci95": list(median_ci(cpu_pct)) if cpu_pct else None,
                "host_spread_pct": (max(host_walls) / min(host_walls) - 1) * 100}
    finally:
        system.remove(ident)
