"""Resource limits and counters of one VE, as semantic calls over the ``CgroupFiles`` seam.

Each call finds the controller where the host put it (``VeCgroups.dir_for``) and speaks
that version's files:

=================  ====================================  ==================================
what               cgroup v1                             cgroup v2
=================  ====================================  ==================================
RAM cap            memory.limit_in_bytes                 memory.max
RAM+swap cap       memory.memsw.limit_in_bytes           memory.max + memory.swap.max
guarantee          memory.soft_limit_in_bytes            memory.low
TCP buffers        memory.kmem.tcp.limit_in_bytes        (accounted in memory.stat ``sock``)
tasks              pids.max                              pids.max
CPU weight         cpu.shares (1024 = 1000 units)        cpu.weight (100 = 1000 units)
CPU cap            cpu.cfs_quota_us / cpu.cfs_period_us  cpu.max
CPU/memory nodes   cpuset.cpus / cpuset.mems             cpuset.cpus / cpuset.mems
I/O weight         blkio.bfq.weight                      io.bfq.weight or io.weight
I/O caps           blkio.throttle.{read,write}_*_device  io.max
=================  ====================================  ==================================

Every setter raises ``OSError`` when the kernel refuses (the caller maps it to vzctl's exit
code) and ``LimitUnsupported`` when this host has no file for it.
"""

from __future__ import annotations

import errno

from pyvz.cgroups.ve import VeCgroups

__all__ = ["CFS_PERIOD_US", "CgroupLimits", "LimitUnsupported", "shares_for", "weight_for"]

CFS_PERIOD_US = 100_000
_V1_UNLIMITED = "-1"


class LimitUnsupported(Exception):
    """The host has no cgroup file for this limit (controller absent or file missing)."""


def shares_for(cpuunits: int) -> int:
    """v1 cpu.shares for vzctl cpuunits: the default 1000 units is the default 1024."""
    return max(2, min(262144, cpuunits * 1024 // 1000))


def weight_for(cpuunits: int) -> int:
    """v2 cpu.weight for cpuunits: the default 1000 units is the default weight 100."""
    return max(1, min(10000, cpuunits // 10))


def _num(text: str) -> int | None:
    t = text.strip()
    if t in ("max", ""):
        return None
    try:
        return int(t)
    except ValueError:
        return None


class CgroupLimits:
    __slots__ = ("cg", "io")

    def __init__(self, cg: VeCgroups) -> None:
        self.cg = cg
        self.io = cg.io

    # -- helpers ------------------------------------------------------------------------
    def version(self, controller: str) -> int:
        return self.cg.hier.version(controller)

    def _dir(self, controller: str, name: str) -> str:
        d = self.cg.dir_for(controller)
        if d is None or not self.io.exists(d, name):
            raise LimitUnsupported(f"{controller}: no {name} on this host")
        return d

    def has(self, controller: str, name: str) -> bool:
        d = self.cg.dir_for(controller)
        return d is not None and self.io.exists(d, name)

    def _read(self, controller: str, name: str) -> str | None:
        d = self.cg.dir_for(controller)
        if d is None:
            return None
        try:
            return self.io.read(d, name)
        except OSError:
            return None

    def _read_int(self, controller: str, name: str) -> int | None:
        text = self._read(controller, name)
        return None if text is None else _num(text)

    def _keyed(self, controller: str, name: str) -> dict[str, int]:
        """``key value`` lines (memory.stat, memory.events, pids.events, cpu.stat …)."""
        out: dict[str, int] = {}
        for line in (self._read(controller, name) or "").splitlines():
            key, _, value = line.partition(" ")
            try:
                out[key] = int(value)
            except ValueError:
                continue
        return out

    # -- memory ---------------------------------------------------------------------------
    def set_memory(self, limit: int | None, memsw: int | None, low: int | None) -> None:
        """RAM cap, RAM+swap cap and reclaim protection, in bytes (None = no limit).

        ``memsw`` (RAM plus swap) is what OpenVZ's VSwap promises; without swap
        accounting on a v1 host only the RAM cap applies (the caller is told by
        ``has("memory", "memory.memsw.limit_in_bytes")``)."""
        if self.version("memory") == 2:
            d = self._dir("memory", "memory.max")
            self.io.write(d, "memory.max", "max" if limit is None else str(limit))
            if self.io.exists(d, "memory.swap.max"):
                swap = None if memsw is None or limit is None else max(0, memsw - limit)
                self.io.write(d, "memory.swap.max", "max" if swap is None else str(swap))
            if self.io.exists(d, "memory.low"):
                self.io.write(d, "memory.low", "0" if low is None else str(low))
            return
        d = self._dir("memory", "memory.limit_in_bytes")
        lim = _V1_UNLIMITED if limit is None else str(limit)
        has_memsw = self.io.exists(d, "memory.memsw.limit_in_bytes")
        sw = _V1_UNLIMITED if memsw is None else str(memsw)
        if has_memsw:
            # the kernel keeps limit <= memsw at every step: raise memsw first when it
            # grows, lower the RAM cap first when memsw shrinks
            try:
                self.io.write(d, "memory.limit_in_bytes", lim)
                self.io.write(d, "memory.memsw.limit_in_bytes", sw)
            except OSError as e:
                if e.errno != errno.EINVAL:
                    raise
                self.io.write(d, "memory.memsw.limit_in_bytes", sw)
                self.io.write(d, "memory.limit_in_bytes", lim)
        else:
            self.io.write(d, "memory.limit_in_bytes", lim)
        self.io.write(d, "memory.soft_limit_in_bytes", _V1_UNLIMITED if low is None
                      else str(low))

    def set_tcp(self, limit: int | None) -> None:
        """TCP buffer memory cap (v1 only; v2 has no such knob)."""
        d = self._dir("memory", "memory.kmem.tcp.limit_in_bytes")
        self.io.write(d, "memory.kmem.tcp.limit_in_bytes",
                      _V1_UNLIMITED if limit is None else str(limit))

    def memory_counters(self) -> dict[str, int | None]:
        """Bytes and event counts: usage/peak/failcnt of RAM and swap, OOM kills, kernel
        and socket memory, and memory.stat's anon/shmem/unevictable."""
        out: dict[str, int | None] = {}
        if self.version("memory") == 2:
            cur = self._read_int("memory", "memory.current")
            out["usage"] = cur
            out["peak"] = self._read_int("memory", "memory.peak")
            out["limit"] = self._read_int("memory", "memory.max")
            ev = self._keyed("memory", "memory.events")
            out["failcnt"] = ev.get("max", 0)
            out["oom_kill"] = ev.get("oom_kill", 0)
            out["swap"] = self._read_int("memory", "memory.swap.current")
            out["swap_peak"] = self._read_int("memory", "memory.swap.peak")
            out["swap_failcnt"] = self._keyed("memory", "memory.swap.events").get("max", 0)
            st = self._keyed("memory", "memory.stat")
            out["kmem"] = st.get("kernel", st.get("slab"))
            out["kmem_peak"] = None
            out["kmem_failcnt"] = 0
            out["tcp"] = st.get("sock")
            out["tcp_peak"] = None
            out["tcp_failcnt"] = 0
            out["anon"] = st.get("anon")
            out["shmem"] = st.get("shmem")
            out["unevictable"] = st.get("unevictable")
            return out
        usage = self._read_int("memory", "memory.usage_in_bytes")
        out["usage"] = usage
        out["peak"] = self._read_int("memory", "memory.max_usage_in_bytes")
        limit = self._read_int("memory", "memory.limit_in_bytes")
        out["limit"] = None if limit is None or limit >= 2**62 else limit
        out["failcnt"] = self._read_int("memory", "memory.failcnt")
        out["oom_kill"] = self._keyed("memory", "memory.oom_control").get("oom_kill", 0)
        memsw = self._read_int("memory", "memory.memsw.usage_in_bytes")
        memsw_peak = self._read_int("memory", "memory.memsw.max_usage_in_bytes")
        out["swap"] = None if memsw is None or usage is None else max(0, memsw - usage)
        out["swap_peak"] = None if memsw_peak is None or out["peak"] is None \
            else max(0, memsw_peak - (out["peak"] or 0))
        out["swap_failcnt"] = self._read_int("memory", "memory.memsw.failcnt")
        out["kmem"] = self._read_int("memory", "memory.kmem.usage_in_bytes")
        out["kmem_peak"] = self._read_int("memory", "memory.kmem.max_usage_in_bytes")
        out["kmem_failcnt"] = self._read_int("memory", "memory.kmem.failcnt")
        out["tcp"] = self._read_int("memory", "memory.kmem.tcp.usage_in_bytes")
        out["tcp_peak"] = self._read_int("memory", "memory.kmem.tcp.max_usage_in_bytes")
        out["tcp_failcnt"] = self._read_int("memory", "memory.kmem.tcp.failcnt")
        st = self._keyed("memory", "memory.stat")
        out["anon"] = st.get("rss")
        out["shmem"] = st.get("shmem")
        out["unevictable"] = st.get("unevictable")
        return out

    # -- tasks ----------------------------------------------------------------------------
    def set_pids(self, limit: int | None) -> None:
        d = self._dir("pids", "pids.max")
        self.io.write(d, "pids.max", "max" if limit is None else str(limit))

    # -- CPU ------------------------------------------------------------------------------
    def set_cpu_weight(self, cpuunits: int) -> None:
        if self.version("cpu") == 2:
            d = self._dir("cpu", "cpu.weight")
            self.io.write(d, "cpu.weight", str(weight_for(cpuunits)))
        else:
            d = self._dir("cpu", "cpu.shares")
            self.io.write(d, "cpu.shares", str(shares_for(cpuunits)))

    def set_cpu_limit(self, percent: int | None) -> None:
        """Cap in percent of one CPU (200 = two CPUs); None or 0 = no cap."""
        quota = None if not percent else max(1000, percent * CFS_PERIOD_US // 100)
        if self.version("cpu") == 2:
            d = self._dir("cpu", "cpu.max")
            self.io.write(d, "cpu.max", f"{'max' if quota is None else quota} "
                          f"{CFS_PERIOD_US}")
            return
        d = self._dir("cpu", "cpu.cfs_quota_us")
        self.io.write(d, "cpu.cfs_period_us", str(CFS_PERIOD_US))
        self.io.write(d, "cpu.cfs_quota_us", "-1" if quota is None else str(quota))

    def set_cpuset(self, cpus: str | None, mems: str | None) -> None:
        """CPU and memory-node lists (None = everything the parent has)."""
        d = self._dir("cpuset", "cpuset.cpus")
        parent = d.rsplit("/", 1)[0]
        for name, value in (("cpuset.cpus", cpus), ("cpuset.mems", mems)):
            if value is None:
                eff = "cpuset.cpus.effective" if name == "cpuset.cpus" and \
                    self.version("cpuset") == 2 else name
                if self.version("cpuset") == 2:
                    value = ""  # empty = inherit the parent's on v2
                else:
                    value = self.io.read(parent, eff).strip()
            self.io.write(d, name, value if value else "\n")

    def cpu_usage_ns(self) -> int | None:
        """CPU time the VE used so far (ns)."""
        if self.version("cpu") == 2:
            usec = self._keyed("cpu", "cpu.stat").get("usage_usec")
            return None if usec is None else usec * 1000
        return self._read_int("cpuacct", "cpuacct.usage")

    def cpu_throttled(self) -> int:
        """How often the CPU cap stopped the VE (cpu.stat nr_throttled)."""
        return self._keyed("cpu", "cpu.stat").get("nr_throttled", 0)

    # -- disk I/O -------------------------------------------------------------------------
    def set_io_weight(self, weight: int) -> str:
        """Proportional I/O weight (10..1000 on BFQ); the file used is returned."""
        ctrl = "io" if self.version("io") == 2 else "blkio"
        for name in (("io.bfq.weight", "io.weight") if ctrl == "io"
                     else ("blkio.bfq.weight", "blkio.weight")):
            if self.has(ctrl, name):
                d = self._dir(ctrl, name)
                value = str(weight) if name.endswith("bfq.weight") or ctrl == "blkio" \
                    else f"default {weight}"
                self.io.write(d, name, value)
                return name
        raise LimitUnsupported("no I/O weight control on this host")

    def set_io_caps(self, dev: str, bps: int | None, iops: int | None) -> None:
        """Bandwidth (bytes/s) and IOPS caps on block device ``dev`` ("major:minor")."""
        if self.version("io") == 2:
            d = self._dir("io", "io.max")
            b = "max" if not bps else str(bps)
            o = "max" if not iops else str(iops)
            self.io.write(d, "io.max", f"{dev} rbps={b} wbps={b} riops={o} wiops={o}")
            return
        d = self._dir("blkio", "blkio.throttle.read_bps_device")
        for name, value in (("read_bps_device", bps), ("write_bps_device", bps),
                            ("read_iops_device", iops), ("write_iops_device", iops)):
            self.io.write(d, f"blkio.throttle.{name}", f"{dev} {value or 0}")
