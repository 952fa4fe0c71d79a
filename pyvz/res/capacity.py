"""What the node has (RAM, swap, low memory, task slots, CPU power, disk) and what its VEs
hold, promise and may use: the arithmetic behind vzmemcheck, vzcalc, vzcpucheck and
vzsplit."""

from __future__ import annotations

import os

from pyvz.res import units as u

__all__ = ["HostFacts", "VeUsage", "running_usages"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.node import Node
    from pyvz.ve.model import VE

UNL = u.UNLIMITED


class HostFacts:
    """The node's totals, in bytes (from /proc/meminfo and friends)."""

    __slots__ = ("bogomips", "cpus", "lowmem", "ram", "swap", "threads_max")

    def __init__(self, meminfo: str | None = None, cpuinfo: str | None = None,
                 threads_max: int | None = None) -> None:
        if meminfo is None:
            with open("/proc/meminfo") as f:
                meminfo = f.read()
        info: dict[str, int] = {}
        for line in meminfo.splitlines():
            key, _, rest = line.partition(":")
            words = rest.split()
            if words and words[0].isdigit():
                info[key] = int(words[0]) * 1024
        self.ram = info.get("MemTotal", 0)
        self.swap = info.get("SwapTotal", 0)
        self.lowmem = info.get("LowTotal", self.ram)
        if cpuinfo is None:
            try:
                with open("/proc/cpuinfo") as f:
                    cpuinfo = f.read()
            except OSError:
                cpuinfo = ""
        mips = []
        for line in cpuinfo.splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() == "bogomips":
                try:
                    mips.append(float(value))
                except ValueError:
                    pass
        self.bogomips = sum(mips)
        self.cpus = len(mips) or (os.cpu_count() or 1)
        if threads_max is None:
            try:
                with open("/proc/sys/kernel/threads-max") as f:
                    threads_max = int(f.read())
            except (OSError, ValueError):
                threads_max = 32768
        self.threads_max = threads_max

    @property
    def cpu_power(self) -> int:
        """vzcpucheck's "power of the node": bogomips x 25 (in cpuunits)."""
        return int(self.bogomips * 25)


class VeUsage:
    """One VE's beancounters by name: (held, maxheld, barrier, limit, failcnt)."""

    __slots__ = ("cpuunits", "ctid", "rows")

    def __init__(self, ctid: int, rows: dict[str, tuple[int, int, int, int, int]],
                 cpuunits: int) -> None:
        self.ctid = ctid
        self.rows = rows
        self.cpuunits = cpuunits

    @classmethod
    def of(cls, ve: VE, *, proc: bool = False) -> VeUsage:
        from pyvz.res.ubc import collect

        rows = {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in collect(ve, proc=proc)}
        return cls(ve.ctid, rows, ve.conf.get_int("CPUUNITS", 1000))

    def get(self, name: str, field: int) -> int:
        """A field in bytes (pages converted) or items; UNLIMITED stays UNLIMITED."""
        from pyvz.res.params import BY_NAME

        value = self.rows[name][field]
        return u.to_bytes(value, BY_NAME[name].unit)

    def lowmem(self, field: int) -> int:
        """Kernel memory the VE holds (field 0/1) or is allowed (2/3): kmemsize plus the
        socket buffers, as vzmemcheck counts low memory."""
        total = 0
        for name in ("kmemsize", "tcpsndbuf", "tcprcvbuf", "othersockbuf", "dgramrcvbuf"):
            v = self.get(name, field)
            if v >= UNL:
                return UNL
            total += v
        return total


def running_usages(node: Node) -> list[VeUsage]:
    from pyvz.ve.inventory import all_ctids
    from pyvz.ve.model import VE

    out = []
    for ctid in all_ctids(node):
        ve = VE(node, ctid)
        if ve.runstate() is not None:
            out.append(VeUsage.of(ve))
    return out


def pct(value: int, total: int) -> float | None:
    """value as percent of total; None for an unlimited value."""
    if value >= UNL:
        return None
    return 100.0 * value / total if total else 0.0
