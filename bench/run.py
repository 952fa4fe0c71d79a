#!/usr/bin/env python3
"""pyvz lifecycle benchmark, side by side with LXC on the same machine in the same run.

    bench/run.py [--quick] [--repeat N] [--density N] [--no-lxc] [--json PATH]

Prints a table of medians (with min and max) and writes the raw numbers as JSON.  Every
timing is a whole command as a user runs it (cold CLI: interpreter start-up included).
Everything lives under a fresh directory in /var/tmp and is removed at the end, also on
Ctrl-C; containers get no network device (LXC: ``lxc.net.0.type = empty``), so no packet
leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"


def timed(argv: list[str], env: dict[str, str] | None = None, check: bool = True) -> float:
    t = time.perf_counter()
    r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.decode()}")
    return dt


def stats(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "n": len(samples)}


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Pyvz:
    name = "pyvz"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = dict(os.environ, VZ_ROOT=str(root))

    def vz(self, *args: str, check: bool = True) -> float:
        return timed([str(VENV_BIN / "vzctl"), *args], self.env, check)

    def prepare(self) -> None:
        self.vz("create", "100", "--ostemplate", "busybox")  # builds template + layer
        self.vz("destroy", "100")

    def create(self, ctid: int, layout: str = "overlay") -> float:
        return self.vz("create", str(ctid), "--ostemplate", "busybox", "--layout", layout)

    def start_until_answer(self, ctid: int) -> float:
        t = time.perf_counter()
        self.vz("start", str(ctid))
        self.vz("exec", str(ctid), "true")
        return time.perf_counter() - t

    def exec_true(self, ctid: int) -> float:
        return self.vz("exec", str(ctid), "true")

    def stop(self, ctid: int) -> float:
        return self.vz("stop", str(ctid))

    def stop_fast(self, ctid: int) -> float:
        return self.vz("stop", str(ctid), "--fast")

    def destroy(self, ctid: int) -> float:
        return self.vz("destroy", str(ctid))

    def manager_pids(self, ctid: int) -> list[int]:
        state = self.root / f"run/pyvz/{ctid}/state"
        values = dict(line.split("=", 1) for line in state.read_text().splitlines())
        return [int(values["monitor_pid"])]

    def cleanup(self) -> None:
        conf = self.root / "etc/vz/conf"
        for c in conf.glob("*.conf") if conf.exists() else []:
            self.vz("stop", c.stem, "--fast", check=False)
            self.vz("destroy", c.stem, check=False)
        timed([str(VENV_BIN / "pyvz"), "cleanup"], self.env, check=False)


class Lxc:
    name = "LXC"

    def __init__(self, root: Path) -> None:
        self.path = root / "lxc"
        self.path.mkdir()
        self.conf = root / "lxc.conf"
        self.conf.write_text("lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n")

    def lxc(self, tool: str, *args: str, check: bool = True) -> float:
        return timed([tool, "-P", str(self.path), *args], check=check)

    def prepare(self) -> None:
        self.lxc("lxc-create", "-n", "base", "-t", "busybox", "-f", str(self.conf))

    def create(self, ctid: int, layout: str = "overlay") -> float:
        # overlay: LXC's nearest is a snapshot clone on overlay; a full copy: its busybox
        # template (pyvz: the simfs layout, which untars the cache)
        if layout == "overlay":
            return self.lxc("lxc-copy", "-n", "base", "-N", f"c{ctid}", "-s", "-B", "overlay")
        return self.lxc("lxc-create", "-n", f"c{ctid}", "-t", "busybox", "-f", str(self.conf))

    def start_until_answer(self, ctid: int) -> float:
        t = time.perf_counter()
        self.lxc("lxc-start", "-n", f"c{ctid}")
        while self.lxc("lxc-attach", "-n", f"c{ctid}", "--", "true", check=False) > 60:
            pass
        return time.perf_counter() - t

    def exec_true(self, ctid: int) -> float:
        return self.lxc("lxc-attach", "-n", f"c{ctid}", "--", "true")

    def stop(self, ctid: int) -> float:
        return self.lxc("lxc-stop", "-n", f"c{ctid}")

    def stop_fast(self, ctid: int) -> float:
        return self.lxc("lxc-stop", "-k", "-n", f"c{ctid}")

    def destroy(self, ctid: int) -> float:
        return self.lxc("lxc-destroy", "-n", f"c{ctid}")

    def manager_pids(self, ctid: int) -> list[int]:
        out = subprocess.run(["pgrep", "-f", f"lxc monitor.*{self.path} c{ctid}"],
                             capture_output=True, text=True).stdout.split()
        return [int(p) for p in out]

    def cleanup(self) -> None:
        for d in self.path.iterdir() if self.path.exists() else []:
            self.lxc("lxc-stop", "-k", "-n", d.name, check=False)
            self.lxc("lxc-destroy", "-n", d.name, check=False)


def lifecycle(sys_: Pyvz | Lxc, repeat: int, base: int) -> dict[str, dict[str, float]]:
    samples: dict[str, list[float]] = {k: [] for k in (
        "create (overlay)", "create (full copy)", "start until a command answers",
        "exec true (cold CLI)", "stop (graceful)", "stop --fast", "destroy")}
    for i in range(repeat):
        a, b = base + 2 * i, base + 2 * i + 1
        samples["create (overlay)"].append(sys_.create(a))
        samples["create (full copy)"].append(sys_.create(b, "simfs"))
        samples["start until a command answers"].append(sys_.start_until_answer(a))
        samples["exec true (cold CLI)"].append(statistics.median(
            [sys_.exec_true(a) for _ in range(3)]))
        samples["stop (graceful)"].append(sys_.stop(a))
        sys_.start_until_answer(b)
        samples["stop --fast"].append(sys_.stop_fast(b))
        samples["destroy"].append(sys_.destroy(a))
        sys_.destroy(b)
    return {k: stats(v) for k, v in samples.items()}


def memory_per_ve(sys_: Pyvz | Lxc, count: int, base: int) -> dict[str, float]:
    ids = [base + i for i in range(count)]
    try:
        for c in ids:
            sys_.create(c)
            sys_.start_until_answer(c)
        time.sleep(0.5)
        pids = [p for c in ids for p in sys_.manager_pids(c)]
        total = sum(pss_kib(p) for p in pids)
        return {"ves": count, "manager_processes": len(pids),
                "pss_kib_per_ve": total / count}
    finally:
        for c in ids:
            try:
                sys_.stop_fast(c)
            except RuntimeError:
                pass
            try:
                sys_.destroy(c)
            except RuntimeError:
                pass


CPU_JOB = "i=0; while [ $i -lt {n} ]; do i=$((i+1)); done"


def cpu_overhead(sys_: Pyvz | Lxc, repeat: int, iterations: int, ctid: int) -> dict[str, float]:
    """The same CPU-bound job (a busybox shell loop) on the node and inside a VE: the
    VE's extra time in percent, its command's own start-up subtracted."""
    job = CPU_JOB.format(n=iterations)
    busybox = shutil.which("busybox") or "/bin/busybox"
    sys_.create(ctid)
    try:
        sys_.start_until_answer(ctid)
        host = statistics.median(
            [timed([busybox, "sh", "-c", job]) for _ in range(repeat)])
        empty = statistics.median([sys_.exec_true(ctid) for _ in range(repeat)])
        inside = statistics.median([run_in(sys_, ctid, job) for _ in range(repeat)]) - empty
        return {"host_s": host, "ve_s": inside, "overhead_pct": (inside / host - 1) * 100}
    finally:
        sys_.stop_fast(ctid)
        sys_.destroy(ctid)


def run_in(sys_: Pyvz | Lxc, ctid: int, job: str) -> float:
    if isinstance(sys_, Pyvz):
        return sys_.vz("exec", str(ctid), job)
    return sys_.lxc("lxc-attach", "-n", f"c{ctid}", "--", "/bin/sh", "-c", job)


def python_startup(repeat: int) -> dict[str, float]:
    py = str(VENV_BIN / "python")
    return stats([timed([py, "-c", "pass"]) for _ in range(max(repeat, 10))])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 repetitions (default 15)")
    ap.add_argument("--repeat", type=int)
    ap.add_argument("--density", type=int, default=10, help="VEs for the memory row")
    ap.add_argument("--no-lxc", action="store_true")
    ap.add_argument("--json", default=str(REPO / "bench/results/latest.json"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench needs root", file=sys.stderr)
        return 1
    repeat = args.repeat or (5 if args.quick else 15)
    work = Path(tempfile.mkdtemp(prefix="pyvz-bench-", dir="/var/tmp"))
    systems: list[Pyvz | Lxc] = [Pyvz(work / "node")]
    if not args.no_lxc and shutil.which("lxc-start"):
        systems.append(Lxc(work))

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    results: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "repeat": repeat,
        "machine": {"cores": os.cpu_count(), "kernel": os.uname().release,
                    "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                     / 2**30, 1)},
        "python_startup": python_startup(repeat)}
    try:
        for s in systems:
            s.prepare()
            results[s.name] = {"lifecycle": lifecycle(s, repeat, 1000),
                               "memory": memory_per_ve(s, args.density, 2000),
                               "cpu": cpu_overhead(s, 3 if args.quick else 5,
                                                   600_000 if args.quick else 2_000_000,
                                                   3000)}
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        for s in systems:
            s.cleanup()
        subprocess.run(["umount", "-R", "-l", str(work)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    report(results, [s.name for s in systems])
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nraw numbers: {args.json}")
    return 0


def report(results: dict[str, object], names: list[str]) -> None:
    def ms(x: float) -> str:
        return f"{x * 1000:8.1f}"

    py = results["python_startup"]
    assert isinstance(py, dict)
    print(f"\n{results['date']}  cores={results['machine']['cores']}  "  # type: ignore[index]
          f"kernel={results['machine']['kernel']}  repeat={results['repeat']}")  # type: ignore[index]
    print(f"python -c pass: median {py['median'] * 1000:.1f} ms\n")
    head = f"{'operation (ms)':34}" + "".join(f"{n + ' median':>14}{'min-max':>17}" for n in names)
    if len(names) == 2:
        head += f"{'pyvz/LXC':>10}"
    print(head)
    first = results[names[0]]
    assert isinstance(first, dict)
    for op in first["lifecycle"]:
        row = f"{op:34}"
        meds = []
        for n in names:
            r = results[n]
            assert isinstance(r, dict)
            st = r["lifecycle"][op]
            meds.append(st["median"])
            row += f"{ms(st['median']):>14}{ms(st['min']) + ' -' + ms(st['max']):>17}"
        if len(names) == 2:
            row += f"{meds[0] / meds[1]:>10.2f}"
        print(row)
    row = f"{'host memory per running VE (KiB)':34}"
    for n in names:
        r = results[n]
        assert isinstance(r, dict)
        row += f"{r['memory']['pss_kib_per_ve']:>14.0f}{'':>17}"
    print(row + "  (PSS of the management processes / VEs)")
    row = f"{'CPU-bound job inside vs node (%)':34}"
    for n in names:
        r = results[n]
        assert isinstance(r, dict)
        row += f"{r['cpu']['overhead_pct']:>+14.2f}{'':>17}"
    print(row + "  (busybox shell loop; median)")


if __name__ == "__main__":
    sys.exit(main())
