"""Put a VE's resolved resources into its cgroups (at start, and live on ``vzctl set``).

Failures carry vzctl's exit codes: 1 when a beancounter cannot be applied, 2 for the fair
CPU scheduler, 148 for I/O limits the kernel refused.  Where the host lacks a control
entirely (no I/O weight on this disk, no device behind the private area) pyvz warns and
goes on, as vzctl does on kernels without the feature.
"""

from __future__ import annotations

import os

from pyvz import log
from pyvz.cgroups.limits import CgroupLimits, LimitUnsupported
from pyvz.errors import E, VzError
from pyvz.res.model import Resources

__all__ = ["GROUPS", "apply", "backing_device"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.cgroups.ve import VeCgroups
    from pyvz.ve.model import VE

# which part of the kernel setup a config key touches
GROUPS = {
    "memory": {"PHYSPAGES", "SWAPPAGES", "PRIVVMPAGES", "VM_OVERCOMMIT", "OOMGUARPAGES",
               "VMGUARPAGES"},
    "tcp": {"TCPSNDBUF", "TCPRCVBUF"},
    "pids": {"NUMPROC"},
    "cpu": {"CPUUNITS", "CPULIMIT", "CPUS"},
    "cpuset": {"CPUMASK", "NODEMASK"},
    "io": {"IOPRIO", "IOLIMIT", "IOPSLIMIT"},
}


def apply(ve: VE, cg: VeCgroups, res: Resources, groups: set[str] | None = None) -> None:
    """Apply ``groups`` (all when None) of ``res`` to the VE's cgroups."""
    lim = CgroupLimits(cg)
    want = set(GROUPS) if groups is None else groups
    if "memory" in want:
        _memory(lim, res)
    if "tcp" in want:
        tcp = res.tcp_bytes()
        try:
            lim.set_tcp(tcp)
        except LimitUnsupported:
            if tcp is not None:
                log.warn("tcpsndbuf/tcprcvbuf: this host has no TCP memory limit "
                         "(cgroup v2); accounted only")
        except OSError as e:
            raise VzError(E.SETUBC, f"Unable to apply tcpsndbuf/tcprcvbuf: {e.strerror}") \
                from e
    if "pids" in want:
        n = res.numproc_limit()
        try:
            lim.set_pids(n)
        except LimitUnsupported:
            if n is not None:
                raise VzError(E.SETUBC, "Unable to apply numproc: this host has no pids "
                              "controller") from None
        except OSError as e:
            raise VzError(E.SETUBC, f"Unable to apply numproc={n}: {e.strerror}") from e
    if "cpu" in want:
        _cpu(lim, res)
    if "cpuset" in want:
        _cpuset(lim, res)
    if "io" in want:
        _io(ve, lim, res)


def _memory(lim: CgroupLimits, res: Resources) -> None:
    limit, memsw, low = res.memory_bytes()
    if not lim.has("memory", "memory.max" if lim.version("memory") == 2
                   else "memory.limit_in_bytes"):
        if limit is not None:
            raise VzError(E.SETUBC, "Unable to apply physpages/swappages: this host has "
                          "no memory controller")
        return
    if memsw is not None and lim.version("memory") == 1 and \
            not lim.has("memory", "memory.memsw.limit_in_bytes"):
        log.warn("swappages: this host does not account swap per cgroup "
                 "(swapaccount=1); only the RAM limit applies")
    try:
        lim.set_memory(limit, memsw, low)
    except OSError as e:
        what = f"physpages={limit // 4096}" if limit is not None else "physpages"
        raise VzError(E.SETUBC, f"Unable to apply {what}: {e.strerror}"
                      + (" (the VE uses more than that now)" if e.errno == 16 else "")) \
            from e


def _cpu(lim: CgroupLimits, res: Resources) -> None:
    try:
        lim.set_cpu_weight(res.cpuunits)
        lim.set_cpu_limit(res.cpu_cap())
    except LimitUnsupported:
        if res.cpuunits != 1000 or res.cpu_cap() is not None:
            raise VzError(E.SETFSHD, "Unable to apply cpuunits/cpulimit: this host has no "
                          "cpu controller") from None
    except OSError as e:
        raise VzError(E.SETFSHD, f"Unable to set cpuunits/cpulimit: {e.strerror}") from e


def _cpuset(lim: CgroupLimits, res: Resources) -> None:
    cpus = None if res.cpumask in (None, "all", "auto") else res.cpumask
    mems = None if res.nodemask in (None, "all") else res.nodemask
    try:
        lim.set_cpuset(cpus, mems)
    except LimitUnsupported:
        if cpus is not None or mems is not None:
            raise VzError(E.SETFSHD, "Unable to set cpumask: this host has no cpuset "
                          "controller") from None
    except OSError as e:
        raise VzError(E.SETFSHD, f"Unable to set cpumask {res.cpumask or 'all'}"
                      f"{'/nodemask ' + str(res.nodemask) if mems else ''}: {e.strerror}") \
            from e


def backing_device(path: str) -> tuple[str | None, str]:
    """("major:minor" of the whole disk holding ``path``, or None, and its name)."""
    try:
        dev = os.stat(path).st_dev
    except OSError:
        return None, "?"
    major, minor = os.major(dev), os.minor(dev)
    if major == 0:
        return None, "no block device"  # overlay/tmpfs/btrfs subvolume: no single disk
    sysdir = f"/sys/dev/block/{major}:{minor}"
    if os.path.exists(f"{sysdir}/partition"):
        sysdir = os.path.dirname(os.path.realpath(sysdir))
    try:
        with open(f"{sysdir}/dev") as f:
            whole = f.read().strip()
    except OSError:
        return None, "?"
    return whole, os.path.basename(os.path.realpath(sysdir))


def _io(ve: VE, lim: CgroupLimits, res: Resources) -> None:
    private = ve.conf.get("VE_PRIVATE") or ""
    if res.ioprio != 4 or ve.conf.get("IOPRIO"):
        try:
            lim.set_io_weight(res.io_weight())
            dev, name = backing_device(private)
            sched = _scheduler(name)
            if sched is not None and sched != "bfq" and res.ioprio != 4:
                log.warn(f"ioprio: set as I/O weight {res.io_weight()}, but disk {name} "
                         f"uses the {sched} scheduler, which ignores weights (BFQ honours "
                         "them)")
        except LimitUnsupported:
            if res.ioprio != 4:
                log.warn("ioprio: this host has no I/O weight control; stored only")
        except OSError as e:
            log.warn(f"ioprio: the kernel refused the I/O weight: {e.strerror}")
    if res.iolimit or res.iopslimit or ve.conf.get("IOLIMIT") or ve.conf.get("IOPSLIMIT"):
        dev, name = backing_device(private)
        if dev is None:
            if res.iolimit or res.iopslimit:
                log.warn(f"iolimit/iopslimit: the private area is not on a block device "
                         f"({name}); stored only")
            return
        try:
            lim.set_io_caps(dev, res.iolimit or None, res.iopslimit or None)
        except LimitUnsupported:
            if res.iolimit or res.iopslimit:
                log.warn("iolimit/iopslimit: this host has no I/O throttling; stored only")
        except OSError as e:
            raise VzError(E.SET_IO, f"Unable to set iolimit/iopslimit on {name}: "
                          f"{e.strerror}") from e


def _scheduler(disk: str) -> str | None:
    try:
        with open(f"/sys/block/{disk}/queue/scheduler") as f:
            text = f.read()
    except OSError:
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1:end] if 0 <= start < end else None
