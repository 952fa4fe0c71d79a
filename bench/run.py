#!/usr/bin/env python3
"""pyvz benchmarks, side by side with LXC on the same machine in the same run.

    bench/run.py [--quick] [--sections LIST] [--repeat N] [--no-lxc] [--budget MIN]
                 [--caps MIB,MIB] [--swap-mib N] [--json PATH] [--png PATH]

Prints a table (medians with min-max), checks issue 6's targets, writes the numbers as
JSON, the table as text and response time against N as a PNG.  See bench/README.md.

Everything it makes — VEs, containers, cgroups, a network namespace with no route out,
a swap file, a btrfs image and its mount — is recorded before it is made and removed at
the end, also on Ctrl-C/SIGTERM, and by the next run if this one was killed outright.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shlex
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchkit import cleanup, cpu, density, lifecycle, memory, report, templates, warm
from benchkit.bare_sys import BareSystem
from benchkit.env import Workspace, address
from benchkit.lxc_sys import LxcSystem
from benchkit.proc import REPO, VENV_BIN, run, summary, timed
from benchkit.pyvz_sys import BUSYBOX, PyvzSystem

SECTIONS = ("lifecycle", "warm", "lifecycle-debian", "cpu", "memory", "shared", "density",
            "overview")
LAYOUTS = ("overlay", "simfs", "ploop", "btrfs")


def log(msg: str) -> None:
    print(msg, flush=True)


def settings(args: argparse.Namespace) -> dict[str, Any]:
    q = args.quick
    return {
        "repeat": args.repeat or (3 if q else 15),
        # Debian VEs boot systemd: a third of the busybox repetitions
        "repeat_debian": max(1, args.repeat // 3) if args.repeat else (1 if q else 5),
        "cpu_pairs": 15 if q else 101,
        "cpu_iterations": 200_000,
        "memory_ves": 5 if q else 20,
        "shared_ves": 3 if q else 20,
        "density_top": 50 if q else None,
        "density_budget_s": (args.budget or (3 if q else 12)) * 60,
        "overview_caps_mib": [int(c) for c in args.caps.split(",")] if args.caps
        else ([768] if q else [768, 2048]),
        "overview_steps": "3,6" if q else "10 then +10%",
        "overview_budget_s": (args.overview_budget or (3 if q else 40)) * 60,
        "swap_mib": args.swap_mib if args.swap_mib is not None else (2048 if q else 4096),
        "http": {"rounds": 3, "concurrency": 4, "timeout_s": 10},
    }


def machine() -> dict[str, Any]:
    from pyvz.cgroups.hierarchy import Hierarchies

    model = next((ln.split(":", 1)[1].strip() for ln in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), "?")
    hier = Hierarchies.probe()
    return {"cores": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
                             1),
            "cgroups": f"memory cgroup v{hier.version('memory')}"
                       + (", hybrid" if hier.v1 and hier.v2 else ""),
            "os": _os_release(),
            "inotify_max_user_instances": int(
                Path("/proc/sys/fs/inotify/max_user_instances").read_text())}


def _os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "?"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    if shutil.which("lxc-start"):
        out["lxc"] = run(["lxc-start", "--version"], check=False).stdout.strip()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short run (a few minutes)")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--repeat", type=int, help="lifecycle repetitions (default 15, quick 3)")
    ap.add_argument("--no-lxc", action="store_true", help="pyvz only")
    ap.add_argument("--budget", type=float, help="minutes per density series")
    ap.add_argument("--overview-budget", type=float,
                    help="minutes per series of the overview's experiment (default 40, "
                    "quick 3)")
    ap.add_argument("--caps", help="memory caps in MiB for the overview's experiment")
    ap.add_argument("--swap-mib", type=int, help="size of the bench's swap file (0: none)")
    ap.add_argument("--inotify-instances", type=int, metavar="N",
                    help="raise fs.inotify.max_user_instances to N during the overview's "
                    "experiment (restored at the end); systemd in every Debian VE takes ~6, "
                    "Debian's default 128 stops pyvz and LXC alike at ~20 VEs")
    ap.add_argument("--overview-systems", type=lambda v: v.lower().split(","), default=None,
                    metavar="LIST", help="the overview's series to run (pyvz,lxc,bare; "
                    "default all)")
    ap.add_argument("--template-dir", default=str(templates.DEFAULT_TEMPLATE_DIR))
    # a quick run must not overwrite the last full run's results (bench/README.md cites them)
    ap.add_argument("--json", help="default bench/results/latest.json (quick: quick.json)")
    ap.add_argument("--png", help="default bench/results/latest.png (quick: quick.png)")
    ap.add_argument("--render", metavar="JSON",
                    help="print the table and draw the plot of an earlier run's JSON, run "
                    "nothing")
    args = ap.parse_args()
    stem = REPO / "bench/results" / ("quick" if args.quick else "latest")
    args.json = args.json or str(stem.with_suffix(".json"))
    args.png = args.png or str(stem.with_suffix(".png"))
    if args.render:
        old = json.loads(Path(args.render).read_text())
        print(report.render(old))
        print(report.plot(old, Path(args.png)) or f"plot: {args.png}")
        return 0
    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if os.geteuid() != 0:
        print("bench needs root", file=sys.stderr)
        return 1
    for work in cleanup.sweep_stale():
        log(f"removed the leftovers of a killed bench run: {work}")

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    ws = Workspace()
    log(f"work directory {ws.work}")
    res: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "command": shlex.join([".venv/bin/python", "bench/run.py", *sys.argv[1:]]),
        "machine": machine(), "versions": versions(), "settings": settings(args),
        "notes": [], "errors": []}
    interrupted = False
    try:
        run_all(ws, args, sections, res)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted; cleaning up")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)   # a second Ctrl-C must not stop the cleanup
        t = time.monotonic()
        failed = cleanup.undo(ws.work)
        log(f"cleanup took {time.monotonic() - t:.0f} s" +
            ("" if not failed else "; FAILED: " + "; ".join(failed)))
    if interrupted:
        return 130
    # the raw numbers first: a bug in the report must not lose a long run
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=str) + "\n")
    text = report.render(res)
    print("\n" + text)
    out.with_suffix(".txt").write_text(text + "\n")
    err = report.plot(res, Path(args.png))
    log(f"\nraw numbers: {out}; table: {out.with_suffix('.txt')}; " +
        (err or f"plot: {args.png}"))
    return 0 if not res["errors"] else 1


def section(res: dict[str, Any], name: str, func: Callable[[], Any]) -> Any:
    """Run one section; a failure is recorded and the run goes on (KeyboardInterrupt
    still ends it)."""
    log(f"== {name}")
    t = time.monotonic()
    try:
        return func()
    except Exception as e:
        res["errors"].append(f"{name}: {e}")
        log(f"   {name} failed: {e}")
        traceback.print_exc()
        return None
    finally:
        log(f"   ({time.monotonic() - t:.0f} s)")


def run_all(ws: Workspace, args: argparse.Namespace, sections: list[str],
            res: dict[str, Any]) -> None:
    st = res["settings"]
    template_dir = Path(args.template_dir)
    netns = ws.make_netns()
    btrfs = ws.make_btrfs() if {"lifecycle", "lifecycle-debian"} & set(sections) else None
    pyvz_root = ws.work / "node"
    ws.manifest.add("pyvz-node", str(pyvz_root), netns)
    pv = PyvzSystem(pyvz_root, template_dir, netns, btrfs)
    lxc: LxcSystem | None = None
    if not args.no_lxc:
        if shutil.which("lxc-start"):
            lxc = LxcSystem(ws.work / "lxc", ws.tag, netns, template_dir / "cache", btrfs)
            mem_root, _ = ws.memory_cgroup_root()
            for top in lxc.cgroup_tops():
                for hier in _all_hierarchies():
                    ws.manifest.add("cgroup", str(Path(hier) / top))
            ws.manifest.add("lxc-path", str(ws.work / "lxc"), netns)
        else:
            res["notes"].append("LXC is not installed (make bench installs it): pyvz only")
    systems: list[Any] = [pv, *([lxc] if lxc else [])]
    mem_root, _ = ws.memory_cgroup_root()
    ids = itertools.count(1000)

    res["python_startup"] = summary([timed([str(VENV_BIN / "python"), "-c", "pass"])
                                     for _ in range(10)])
    # templates: busybox is built on first use; the Debian set by vzpkg (cached)
    section(res, "templates", lambda: _prepare(pv, lxc, template_dir, res))
    debian = res.get("debian_template")
    res["warm_path"] = {"pyvz": None, "note": "not measured in this run (section warm)"}

    # a section that failed leaves its key out (the report shows the error instead)
    if "lifecycle" in sections and (got := section(
            res, "lifecycle (busybox)", lambda: lifecycle.lifecycle(
                systems, BUSYBOX, LAYOUTS, st["repeat"], ids, log, res["errors"]))):
        res.setdefault("lifecycle", {})[BUSYBOX] = got
    if "warm" in sections and (got := section(
            res, "warm path (pyvz.api)", lambda: warm.measure(pv, next(ids), st["repeat"]))):
        res["warm_path"] = {"pyvz": got, "note": "pyvz.api in one long-lived process "
                            "(Python start-up and imports paid once); LXC has no warm path "
                            "of its own, so its cold commands are the reference"}
    if "lifecycle-debian" in sections and debian and (got := section(
            res, f"lifecycle ({debian})", lambda: lifecycle.lifecycle(
                systems, debian, LAYOUTS, st["repeat_debian"], ids, log, res["errors"]))):
        res.setdefault("lifecycle", {})[debian] = got
    if "cpu" in sections:
        res["cpu"] = section(res, "CPU overhead", lambda: {
            s.name: cpu.cpu_overhead(s, next(ids), mem_root, st["cpu_pairs"],
                                     st["cpu_iterations"]) for s in systems})
    if "memory" in sections:
        res["management_memory"] = section(res, "host memory per VE", lambda: {
            s.name: memory.management_memory(s, st["memory_ves"], ids) for s in systems})
    if "shared" in sections and debian:
        res["shared_memory"] = section(res, "shared memory (overlay vs simfs)", lambda: {
            s.name: {lay: memory.shared_memory(s, debian, lay, st["shared_ves"], ids, mem_root)
                     for lay in ("overlay", "simfs")} for s in systems})
    python = str(VENV_BIN / "python")

    def run_series(s: Any, template: str, steps: Any, cap: int | None, first_id: int,
                   budget: float, settle: float) -> Any:
        def go() -> dict[str, Any]:
            return density.series(
                s, template=template, steps=steps, netns=netns,
                address=lambda i: address(_net(s), i), python=python, memory_root=mem_root,
                first_id=first_id, cap=cap, threshold=1.0, budget=budget, settle=settle,
                log=log)
        what = f"{template}, {f'{cap >> 20} MB' if cap else 'no cap'}"
        return section(res, f"density: {what} ({s.name})", go)

    if "density" in sections:
        res["density"] = [got for s in systems if (got := run_series(
            s, BUSYBOX, density.steps_doubling(st["density_top"]), None, 20000,
            st["density_budget_s"], 1.0))]
    if "overview" in sections and debian:
        if args.inotify_instances:
            old = ws.raise_inotify_instances(args.inotify_instances)
            res["notes"].append(f"fs.inotify.max_user_instances raised from {old} to "
                                f"{max(old, args.inotify_instances)} for the run "
                                "(restored at the end)")
        if st["swap_mib"]:
            ws.add_swap(st["swap_mib"])
            res["swap"] = {"kind": "swap file", "path": str(ws.swap_file),
                           "mib": st["swap_mib"]}
        bare_cap = ws.make_cgroup(f"pvb{ws.tag}-bare")
        bare = BareSystem(ws.work / "bare", templates.cache_file(template_dir, debian), netns,
                          bare_cap)
        section(res, "bare copies: unpack", bare.prepare)
        res["overview"] = []
        for cap in st["overview_caps_mib"]:
            for s in [*systems, bare]:
                if args.overview_systems and s.name.lower() not in args.overview_systems:
                    continue
                steps = iter((3, 6)) if args.quick else density.steps_linear(10)
                got = run_series(s, debian, steps, cap << 20, 30000, st["overview_budget_s"],
                                 5.0)
                if got:
                    res["overview"].append(got)


def _net(system: Any) -> str:
    return {"pyvz": "pyvz", "LXC": "lxc", "bare": "bare"}[system.name]


def _all_hierarchies() -> list[str]:
    from pyvz.cgroups.hierarchy import Hierarchies

    hier = Hierarchies.probe()
    return [*hier.v1, *([hier.v2] if hier.v2 else [])]


def _prepare(pv: PyvzSystem, lxc: LxcSystem | None, template_dir: Path,
             res: dict[str, Any]) -> None:
    # busybox: built into pyvz; the first create also unpacks its shared layer
    pv.create(999)
    pv.destroy(999)
    name, line = templates.ensure_debian(template_dir, pv.env)
    log(f"   Debian template: {line}")
    res["debian_template"] = name
    if name is None:
        res["notes"].append(f"Debian sections skipped: {line}")
        return
    pv.create(999, name)
    pv.destroy(999)
    if lxc:
        lxc.prepare_base(BUSYBOX)
        lxc.prepare_base(name)


if __name__ == "__main__":
    sys.exit(main())
