"""The printed table, the targets of issue 6 checked against this run, and the PNG plot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

LXC_EQUIVALENT = {
    "overlay": "lxc-copy -s -B overlay (clone of a base)",
    "simfs": "lxc-create, dir (busybox: its template; Debian: untar of the cache)",
    "ploop": "lxc-create -B loop (ext4 image)",
    "btrfs": "lxc-create -B btrfs (subvolume)",
}
OVERVIEW_CLAIM = {768: 120, 2048: 320}

Results = dict[str, Any]


def ms(s: dict[str, float] | None) -> str:
    if not s:
        return "-"
    digits = 0 if s["median"] >= 1 else 1

    def f(x: float) -> str:
        return f"{x * 1000:.{digits}f}"

    return f"{f(s['median'])} ({f(s['min'])}-{f(s['max'])})"


def ratio(a: dict[str, float] | None, b: dict[str, float] | None) -> str:
    if not a or not b or not b["median"]:
        return "-"
    return f"{a['median'] / b['median']:.2f}"


def render(res: Results) -> str:
    out: list[str] = []
    p = out.append
    m = res["machine"]
    p(f"{res['date']}  {m['cores']} cores, {m['mem_gib']} GiB, kernel {m['kernel']}, "
      f"{m.get('cgroups', '')}; LXC {res['versions'].get('lxc', '-')}")
    p(f"command: {res['command']}")
    if m.get("inotify_max_user_instances"):
        p(f"fs.inotify.max_user_instances = {m['inotify_max_user_instances']} (host-wide, "
          "not changed by the bench: it caps how many systemd VEs can run at all)")
    if res.get("python_startup"):
        p(f"python -c pass: {ms(res['python_startup'])} ms "
          "(every cold pyvz command pays it once)")
    for template, by_system in res.get("lifecycle", {}).items():
        n = next(iter(next(iter(next(iter(by_system.values())).values())).values()))["n"]
        p("")
        p(f"Lifecycle, template {template} — ms, median (min-max) of {n} runs")
        p(f"{'operation':31} {'layout':8} {'pyvz':>24} {'LXC':>24} {'pyvz/LXC':>9}")
        pyvz = by_system.get("pyvz", {})
        lxc = by_system.get("LXC", {})
        for layout in pyvz or lxc:
            for op in (pyvz or lxc)[layout]:
                a = pyvz.get(layout, {}).get(op)
                b = lxc.get(layout, {}).get(op)
                p(f"{op:31} {layout:8} {ms(a):>24} {ms(b):>24} {ratio(a, b):>9}")
        p("  LXC per layout: " + "; ".join(f"{k}: {v}" for k, v in LXC_EQUIVALENT.items()))
    if "warm_path" in res:
        p("")
        p(f"Warm path (busybox, overlay): {res['warm_path']['note']}")
        for op, v in (res["warm_path"].get("pyvz") or {}).items():
            p(f"  {op:42} {ms(v):>24} ms")
    if res.get("cpu"):
        p("")
        p("CPU-bound job inside a VE vs on the node (median of pairs, pinned to one CPU)")
        for name, c in res["cpu"].items():
            wlo, whi = c["overhead_wall_pct_ci95"]
            cpu_pct = c.get("overhead_cpu_pct")
            cpu_s = "-" if cpu_pct is None else (
                f"{cpu_pct:+.2f}% (95% CI {c['overhead_cpu_pct_ci95'][0]:+.2f}.."
                f"{c['overhead_cpu_pct_ci95'][1]:+.2f})")
            p(f"  {name:5} wall {c['overhead_wall_pct']:+.2f}% (95% CI {wlo:+.2f}..{whi:+.2f}), "
              f"cpu time {cpu_s}; {len(c['pairs'])} pairs of "
              f"{c['pairs'][0]['host_wall']:.2f} s, node runs alone spread "
              f"{c['host_spread_pct']:.0f}%")
    if res.get("management_memory"):
        p("")
        p("Host memory per running VE of the manager itself (PSS / N)")
        for name, mm in res["management_memory"].items():
            p(f"  {name:5} {mm['pss_kib_per_ve']:7.0f} KiB  ({mm['ves']} VEs; per-VE "
              f"processes {mm['monitor_pss_kib_per_ve']:.0f} KiB, node-wide "
              f"{mm['shared_pss_kib']:.0f} KiB shared by all)")
    if res.get("shared_memory"):
        p("")
        n = next(iter(next(iter(res["shared_memory"].values())).values()))["ves"]
        p(f"Memory of {n} running Debian VEs of one template, per VE (KiB)")
        p(f"  {'system':5} {'layout':8} {'RSS':>8} {'PSS':>8} {'PSS file':>9} "
          f"{'PSS anon':>9} {'shared':>8} {'cgroup RAM':>11}")
        for name, by_layout in res["shared_memory"].items():
            for layout, s in by_layout.items():
                v = s["per_ve_kib"]
                p(f"  {name:5} {layout:8} {v['rss']:8.0f} {v['pss']:8.0f} {v['pss_file']:9.0f} "
                  f"{v['pss_anon']:9.0f} {s['shared_kib_per_ve']:8.0f} {v['cgroup_ram']:11.0f}")
    for key, title in (("density", "Density, busybox VEs with httpd (no cap)"),
                       ("overview", "The overview's experiment: Debian VEs (systemd, rsyslog, "
                                    "sshd, cron, nginx, exim4) under a memory cap")):
        if not res.get(key):
            continue
        p("")
        p(title)
        p(f"  {'system':6} {'cap':>6} {'N':>5} {'p50 ms':>8} {'p99 ms':>9} {'err':>4} "
          f"{'RAM/VE KiB':>11} {'swap/VE':>8} {'mgr/VE':>7} {'ready s':>8}")
        for sr in res[key]:
            cap = f"{sr['cap_mib']}M" if sr["cap_mib"] else "-"
            for r in sr["rows"]:
                rd = r["ready_s"]
                p(f"  {sr['system']:6} {cap:>6} {r['n']:5} {r['p50_s'] * 1000:8.1f} "
                  f"{r['p99_s'] * 1000:9.1f} {r['errors']:4} {r['ram_kib_per_ve']:11.0f} "
                  f"{r['swap_kib_per_ve']:8.0f} {r['manager_kib_per_ve']:7.0f} "
                  f"{'-' if rd is None else f'{rd:.2f}':>8}")
            p(f"  {sr['system']:6} {cap:>6} → N_max {_nmax(sr)} (stopped: {sr['stop']})")
            for what in sr.get("retried", []):
                p(f"  {sr['system']:6} {cap:>6}   a start failed once and was retried: {what}")
    p("")
    p("Targets (issue 6)")
    for line in targets(res):
        p("  " + line)
    for note in res.get("notes", []):
        p("note: " + note)
    for err in res.get("errors", []):
        p("ERROR: " + err)
    return "\n".join(out)


def _nmax(sr: dict[str, Any]) -> str:
    """N_max, or "≥N" when the series ended before finding the limit."""
    return f"{sr['n_max']}" if sr.get("limit_found") else f">={sr['n_max']}"


def _med(res: Results, *path: str) -> float | None:
    cur: Any = res
    for k in path:
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return float(cur["median"]) if isinstance(cur, dict) and "median" in cur else None


def targets(res: Results) -> list[str]:
    lines: list[str] = []

    def check(what: str, value: float | None, limit: float | None, ok: Callable[[float, float],
              bool], unit: str = "") -> None:
        if value is None or limit is None:
            lines.append(f"{what}: not measured")
            return
        verdict = "met" if ok(value, limit) else "MISSED"
        lines.append(f"{what}: {value:.3g}{unit} vs {limit:.3g}{unit} — {verdict}")

    le = res.get("lifecycle", {})
    for template in le:
        pv = _med(res, "lifecycle", template, "pyvz", "overlay", "create")
        lx_dir = _med(res, "lifecycle", template, "LXC", "simfs", "create")
        lx_clone = _med(res, "lifecycle", template, "LXC", "overlay", "create")
        check(f"[{template}] create overlay ≤ 1/20 of LXC create from the cache (s)", pv,
              lx_dir and lx_dir / 20, lambda a, b: a <= b)
        check(f"[{template}] create overlay ≤ 3x LXC overlay clone (s)", pv,
              lx_clone and lx_clone * 3, lambda a, b: a <= b)
    bb = "busybox"
    check("start until a command answers, cold CLI ≤ LXC (s)",
          _med(res, "lifecycle", bb, "pyvz", "overlay", "start until a command answers"),
          _med(res, "lifecycle", bb, "LXC", "overlay", "start until a command answers"),
          lambda a, b: a <= b)
    warm = res.get("warm_path", {}).get("pyvz") or {}
    lxc_start = _med(res, "lifecycle", bb, "LXC", "overlay", "start until a command answers")
    w_start = warm.get("start until a command answers (warm API)")
    check("start until a command answers, warm (pyvz.api) ≤ 1/2 LXC (s)",
          w_start and w_start["median"], lxc_start and lxc_start / 2, lambda a, b: a <= b)
    lxc_attach = _med(res, "lifecycle", bb, "LXC", "overlay", "exec true (cold CLI)")
    check("exec true, cold ≤ 4x lxc-attach (s)",
          _med(res, "lifecycle", bb, "pyvz", "overlay", "exec true (cold CLI)"),
          lxc_attach and lxc_attach * 4, lambda a, b: a <= b)
    w_exec = warm.get("exec true (warm API)")
    check("exec true, warm (pyvz.api) ≤ 1x lxc-attach (s)", w_exec and w_exec["median"],
          lxc_attach, lambda a, b: a <= b)
    cpu = res.get("cpu", {}).get("pyvz")
    check("CPU overhead inside a VE < 1% (wall)", cpu and cpu["overhead_wall_pct"], 1.0,
          lambda a, b: a < b, "%")
    check("CPU overhead inside a VE < 1% (CPU time of the VE's cgroup)",
          cpu and cpu.get("overhead_cpu_pct"), 1.0, lambda a, b: a < b, "%")
    mm = res.get("management_memory", {})
    check("pyvz host memory per VE ≤ LXC's (KiB)",
          mm.get("pyvz", {}).get("pss_kib_per_ve"), mm.get("LXC", {}).get("pss_kib_per_ve"),
          lambda a, b: a <= b)
    by_cap: dict[int, dict[str, dict[str, Any]]] = {}
    for sr in res.get("overview", []):
        by_cap.setdefault(sr["cap_mib"], {})[sr["system"]] = sr
    for cap, got in sorted(by_cap.items()):
        b_sr, p_sr, l_sr = got.get("bare"), got.get("pyvz"), got.get("LXC")
        if b_sr and b_sr["n_max"] and b_sr.get("limit_found") and p_sr:
            check(f"[{cap} MB] pyvz N_max ≥ 95% of N_bare", p_sr["n_max"], b_sr["n_max"] * 0.95,
                  lambda a, b: a >= b)
        else:
            lines.append(f"[{cap} MB] pyvz N_max ≥ 95% of N_bare: not measured (N_bare "
                         f"{_nmax(b_sr) if b_sr else '-'}: {b_sr['stop'] if b_sr else 'no run'})")
        if p_sr and l_sr:
            decided = p_sr.get("limit_found") or l_sr.get("limit_found")
            verdict = ("met" if p_sr["n_max"] > l_sr["n_max"] else "MISSED") if decided \
                else "undecided (neither series reached its limit)"
            lines.append(f"[{cap} MB] pyvz {_nmax(p_sr)} vs LXC {_nmax(l_sr)}: more than LXC — "
                         f"{verdict}")
        if cap in OVERVIEW_CLAIM:
            lines.append(f"[{cap} MB] the overview's figure: {OVERVIEW_CLAIM[cap]}; here pyvz "
                         f"{_nmax(p_sr) if p_sr else '-'}, LXC {_nmax(l_sr) if l_sr else '-'}, "
                         f"bare {_nmax(b_sr) if b_sr else '-'}")
    return lines


def plot(res: Results, path: Path) -> str | None:
    """Response time against N; returns an error line instead of raising."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no PNG: matplotlib is not installed (make bench installs the 'bench' extra)"
    panels = [(k, t) for k, t in (("overview", "Debian VEs under a memory cap"),
                                  ("density", "busybox VEs, no cap")) if res.get(k)]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 5), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels, strict=True):
        for sr in res[key]:
            xs = [r["n"] for r in sr["rows"]]
            label = sr["system"] + (f" {sr['cap_mib']} MB" if sr["cap_mib"] else "")
            line = ax.plot(xs, [r["p99_s"] for r in sr["rows"]], marker="o",
                           label=f"{label} p99")[0]
            ax.plot(xs, [r["p50_s"] for r in sr["rows"]], linestyle=":", marker=".",
                    color=line.get_color(), label=f"{label} p50")
        ax.axhline(1.0, color="grey", linewidth=0.8)
        if key == "overview":
            for cap, n in OVERVIEW_CLAIM.items():
                if any(sr["cap_mib"] == cap for sr in res[key]):
                    ax.axvline(n, color="grey", linestyle="--", linewidth=0.8)
                    ax.annotate(f"overview, {cap} MB", (n, 1.0), rotation=90, fontsize=7,
                                va="bottom")
        ax.set_yscale("log")
        ax.set_xlabel("N (running VEs)")
        ax.set_ylabel("HTTP response time (s)")
        ax.set_title(title)
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"pyvz vs LXC — {res['date']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
