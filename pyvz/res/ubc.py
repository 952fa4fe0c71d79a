"""Beancounters of running VEs, from the kernel's own counters, and the
/proc/user_beancounters text format.

Where each number comes from:

* physpages: memory usage/peak (pages), failcnt = times the RAM cap was hit
  (v1 memory.failcnt, v2 memory.events ``max``);
* swappages: swap usage (v1 memsw - mem, v2 memory.swap.current), failcnt from memsw /
  memory.swap.events;
* oomguarpages: RAM + swap held, failcnt = OOM kills inside the VE;
* privvmpages / vmguarpages: anonymous memory + swap (what the VE allocated privately);
* kmemsize, tcpsndbuf (all TCP buffer memory; tcprcvbuf shows 0): kernel memory and socket
  counters of the memory controller;
* lockedpages, shmpages: memory.stat ``unevictable`` and ``shmem``;
* numproc: the pids controller (held, peak, failcnt = forks refused);
* numfile, numtcpsock, numothersock, numpty, numflock: counted from /proc for the VE's
  processes (no kernel limit exists; maxheld is the highest count pyvz has seen).

Other parameters show 0 held: the stock kernel keeps no such count per cgroup.
"""

from __future__ import annotations

import os

from pyvz.res import units as u
from pyvz.res.params import UBC

__all__ = ["Row", "collect", "format_file", "parse_file", "refresh_node_file"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.cgroups.ve import VeCgroups
    from pyvz.node import Node
    from pyvz.ve.model import VE

Row = tuple[str, int, int, int, int, int]  # resource, held, maxheld, barrier, limit, failcnt

_PEAKS = "ubc-peaks"
UBC_FILE = "user_beancounters"


def _pages(v: int | None) -> int:
    return 0 if v is None else max(0, v) // u.PAGE


PROC_COUNTED = frozenset(("numfile", "numtcpsock", "numothersock", "numpty", "numflock"))


def collect(ve: VE, cg: VeCgroups | None = None, *, proc: bool = True) -> list[Row]:
    """Every beancounter line of ``ve`` (zeros for held/maxheld/failcnt if not running);
    ``proc`` false skips the counts taken from /proc (``PROC_COUNTED``: costlier)."""
    from pyvz.res.model import Resources

    res = Resources(ve.conf)
    st = ve.runstate()
    held: dict[str, tuple[int, int, int]] = {}
    if st is not None:
        cg = cg or ve.cgroups()
        held = _kernel_counts(cg, res)
        if proc:
            held.update(_proc_counts(ve, cg, st.init_pid))
    rows = []
    for ubc in UBC:
        bar, lim = res.ubc[ubc.name]
        h, m, f = held.get(ubc.name, (0, 0, 0))
        rows.append((ubc.name, h, max(h, m), bar, lim, f))
    return rows


def _kernel_counts(cg: VeCgroups, res: object) -> dict[str, tuple[int, int, int]]:
    from pyvz.cgroups.limits import CgroupLimits
    from pyvz.res.model import Resources

    assert isinstance(res, Resources)
    lim = CgroupLimits(cg)
    m = lim.memory_counters() if cg.dir_for("memory") else {}
    out: dict[str, tuple[int, int, int]] = {}
    if m:
        usage, peak = _pages(m.get("usage")), _pages(m.get("peak"))
        swap, swap_peak = _pages(m.get("swap")), _pages(m.get("swap_peak"))
        # v1 charges RAM+swap first (with no swap left, hitting the RAM cap counts in
        # memsw's failcnt only), and v1 on kernels >= 6.x may count neither: an OOM kill
        # is a refused charge too, so failcnt is at least the OOM kills
        failcnt = max(m.get("failcnt") or 0, m.get("swap_failcnt") or 0,
                      m.get("oom_kill") or 0)
        out["physpages"] = (usage, peak, failcnt)
        out["swappages"] = (swap, swap_peak, m.get("swap_failcnt") or 0)
        out["oomguarpages"] = (usage + swap, peak + swap_peak, m.get("oom_kill") or 0)
        priv = _pages(m.get("anon")) + swap
        # in classic configs privvmpages is what the kernel enforces (see model.py)
        out["privvmpages"] = (priv, priv, 0 if res.vswap else failcnt)
        out["vmguarpages"] = (priv, priv, 0)
        out["lockedpages"] = (_pages(m.get("unevictable")), 0, 0)
        out["shmpages"] = (_pages(m.get("shmem")), 0, 0)
        out["kmemsize"] = (m.get("kmem") or 0, m.get("kmem_peak") or 0,
                           m.get("kmem_failcnt") or 0)
        out["tcpsndbuf"] = (m.get("tcp") or 0, m.get("tcp_peak") or 0,
                            m.get("tcp_failcnt") or 0)
    p = cg.pids_counters()
    out["numproc"] = (p["held"] or 0, p["maxheld"] or 0, p["failcnt"] or 0)
    return out


def _proc_counts(ve: VE, cg: VeCgroups, init_pid: int) -> dict[str, tuple[int, int, int]]:
    """Open files, sockets, ptys and locks of the VE's processes, counted from /proc."""
    files = sockets = 0
    pids = cg.procs()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        files += len(fds)
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    sockets += 1
            except OSError:
                pass
    tcp = 0
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{init_pid}/net/{name}") as f:
                tcp += max(0, sum(1 for _ in f) - 1)
        except OSError:
            pass
    ptys = 0
    try:
        ptys = sum(1 for n in os.listdir(f"/proc/{init_pid}/root/dev/pts") if n.isdigit())
    except OSError:
        pass
    locks = 0
    wanted = {str(p) for p in pids}
    try:
        with open("/proc/locks") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 4 and parts[4] in wanted:
                    locks += 1
    except OSError:
        pass
    counts = {"numfile": files, "numtcpsock": tcp, "numothersock": max(0, sockets - tcp),
              "numpty": ptys, "numflock": locks}
    peaks = _update_peaks(ve.run_dir, counts)
    return {k: (v, peaks.get(k, v), 0) for k, v in counts.items()}


def _update_peaks(run_dir: str, counts: dict[str, int]) -> dict[str, int]:
    """Highest counts seen so far, kept in the VE's run dir (gone when it stops)."""
    path = f"{run_dir}/{_PEAKS}"
    peaks: dict[str, int] = {}
    try:
        with open(path) as f:
            for line in f:
                word, _, num = line.partition(" ")
                if num.strip().isdigit():
                    peaks[word] = int(num)
    except OSError:
        pass
    changed = False
    for k, v in counts.items():
        if v > peaks.get(k, -1):
            peaks[k] = v
            changed = True
    if changed and os.path.isdir(run_dir):
        tmp = f"{path}.tmp"
        try:
            with open(tmp, "w") as f:
                f.write("".join(f"{k} {v}\n" for k, v in sorted(peaks.items())))
            os.rename(tmp, path)
        except OSError:
            pass
    return peaks


# -- the /proc/user_beancounters format ------------------------------------------------

def format_file(blocks: list[tuple[int, list[Row]]]) -> str:
    """OpenVZ's layout: a version line, a header, then each VE's lines with its id on the
    first one only."""
    out = ["Version: 2.5",
           f"{'uid':>10}  {'resource':<12}{'held':>21}{'maxheld':>21}{'barrier':>21}"
           f"{'limit':>21}{'failcnt':>21}"]
    for ctid, rows in blocks:
        for i, (name, held, maxheld, bar, lim, fail) in enumerate(rows):
            head = f"{ctid}:" if i == 0 else ""
            out.append(f"{head:>10}  {name:<12}{held:>20} {maxheld:>20} {bar:>20} "
                       f"{lim:>20} {fail:>20}")
    return "\n".join(out) + "\n"


def parse_file(text: str) -> list[tuple[int, list[Row]]]:
    """The inverse of ``format_file`` (also reads OpenVZ kernels' files); ``dummy`` rows
    are skipped, as vzubc does."""
    blocks: list[tuple[int, list[Row]]] = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] in ("Version:", "uid"):
            continue
        if words[0].endswith(":") and words[0][:-1].isdigit():
            blocks.append((int(words[0][:-1]), []))
            words = words[1:]
        if len(words) != 6 or not blocks or words[0] == "dummy":
            continue
        try:
            nums = [int(w) for w in words[1:]]
        except ValueError:
            continue
        blocks[-1][1].append((words[0], nums[0], nums[1], nums[2], nums[3], nums[4]))
    return blocks


def node_file(node: Node) -> str:
    return f"{node.paths.run_dir}/{UBC_FILE}"


def refresh_node_file(node: Node, ctids: list[int] | None = None
                      ) -> list[tuple[int, list[Row]]]:
    """Collect every running VE of ``node`` (or ``ctids``), write the node's file and each
    VE's own copy (``RUN/CTID/user_beancounters``), and return the blocks."""
    from pyvz.cgroups.hierarchy import Hierarchies
    from pyvz.cgroups.ve import VeCgroups
    from pyvz.config.conffile import write_atomic
    from pyvz.ve.inventory import all_ctids
    from pyvz.ve.model import VE

    hier = Hierarchies.probe()
    blocks = []
    for ctid in all_ctids(node):
        ve = VE(node, ctid)
        if ve.runstate() is None:
            continue
        rows = collect(ve, VeCgroups(hier, node.paths.node_name, ctid))
        blocks.append((ctid, rows))
        try:
            write_atomic(f"{ve.run_dir}/{UBC_FILE}", format_file([(ctid, rows)]))
        except OSError:
            pass
    os.makedirs(node.paths.run_dir, mode=0o755, exist_ok=True)
    write_atomic(node_file(node), format_file(blocks))
    if ctids is not None:
        blocks = [b for b in blocks if b[0] in ctids]
    return blocks
