"""Resource settings: beancounters (``B[:L]``), VSwap (``--ram``/``--swap``), the fair CPU
scheduler, disk I/O and /proc/meminfo (merged into ``pyvz.config.schema.SETTINGS``).

Every key here applies live to a running VE through ``pyvz.res.live:apply``.
"""

from __future__ import annotations

from pyvz.config import kinds as k
from pyvz.config.schema import BOTH, GLOBAL, LIVE, Setting
from pyvz.res import units as u
from pyvz.res.params import AVNUMPROC, UBC

__all__ = ["SETTINGS", "CpuLimit", "CpuMask", "Float", "IoLimit", "Meminfo", "UbcPair"]

_LIVE = "pyvz.res.live:apply"


class UbcPair(k.Kind):
    """``barrier[:limit]`` in items, pages or bytes; ``--ram``/``--swap`` give one amount
    that becomes ``0:amount`` (VSwap's PHYSPAGES/SWAPPAGES)."""

    # vzlist shows beancounters through pyvz.cli.columns_res (objects), never as a
    # config column; the table's own JSON types are string/integer/boolean/array
    json_type = "string"

    def __init__(self, unit: str) -> None:
        self.unit = unit

    def parse(self, text: str, option: str) -> str:
        if option in ("ram", "swap"):
            # a byte amount (suffixes allowed), stored as pages
            amount = u.parse_amount(text, u.BYTES if text[-1:].isdigit() else u.PAGES)
            if amount is None or ":" in text:
                raise k.bad_value(option, text)
            if text[-1:].isdigit():
                amount = amount // u.PAGE if amount < u.UNLIMITED else amount
            return u.fmt_pair(0, amount)
        pair = u.parse_pair(text, self.unit)
        if pair is None:
            raise k.bad_value(option, text)
        return u.fmt_pair(*pair)

    def value(self, stored: str) -> tuple[int, int] | None:
        return u.parse_pair(stored, self.unit)

    def to_json(self, stored: str | None) -> object:
        pair = self.value(stored) if stored else None
        return None if pair is None else {"barrier": pair[0], "limit": pair[1]}


class Float(k.Kind):

    def parse(self, text: str, option: str) -> str:
        try:
            f = float(text)
        except ValueError:
            raise k.bad_value(option, text) from None
        if not 0 <= f < 1e6 or text.strip().lower() in ("nan", "inf"):
            raise k.bad_value(option, text)
        return text.strip()

    def value(self, stored: str) -> float | None:
        try:
            return float(stored)
        except ValueError:
            return None

    def to_json(self, stored: str | None) -> object:
        return self.value(stored) if stored else None


class CpuLimit(k.Int):
    """``N`` or ``N%``: percent of one CPU (200 = two CPUs), 0 = no cap."""

    def __init__(self) -> None:
        super().__init__(0, 100 * 4096)

    def parse(self, text: str, option: str) -> str:
        return super().parse(text[:-1] if text.endswith("%") else text, option)


class CpuMask(k.Kind):
    """CPU (or NUMA node) list ``0,2-3``, ``all``, or (CPUs) ``auto``."""

    def __init__(self, auto: bool) -> None:
        self.auto = auto

    def parse(self, text: str, option: str) -> str:
        if text == "all" or (self.auto and text == "auto"):
            return text
        parts = []
        for item in text.split(","):
            lo, dash, hi = item.partition("-")
            if not lo.isdigit() or (dash and not hi.isdigit()) or \
                    (dash and int(hi) < int(lo)) or int(hi or lo) > 8191:
                raise k.bad_value(option, text)
            parts.append(f"{int(lo)}-{int(hi)}" if dash else str(int(lo)))
        return ",".join(parts)


class IoLimit(k.Kind):
    """``N[B|K|M|G]`` per second; a bare number is MB/s on the command line (vzctl) and
    bytes/s in the config file.  Stored in bytes/s; at most 2 GB/s; 0 = no cap."""

    json_type = "integer"

    def parse(self, text: str, option: str) -> str:
        t = text.strip()
        amount = u.parse_amount(t if not t.isdigit() else t + "M", u.BYTES)
        if amount is None or amount > 2 * 1024**3:
            raise k.bad_value(option, text)
        return str(amount)

    def value(self, stored: str) -> int | None:
        return u.parse_amount(stored, u.BYTES)

    def to_json(self, stored: str | None) -> object:
        return self.value(stored) if stored else None


class Meminfo(k.Kind):
    """``none``, ``pages:N`` or ``privvmpages:N`` (pre-VSwap /proc/meminfo modes)."""

    def parse(self, text: str, option: str) -> str:
        if text == "none":
            return text
        mode, sep, n = text.partition(":")
        if mode not in ("pages", "privvmpages") or not sep or not n.isdigit():
            raise k.bad_value(option, text)
        return f"{mode}:{int(n)}"


def _ubc_settings() -> list[Setting]:
    out = []
    for ubc in (*UBC, AVNUMPROC):
        options: tuple[tuple[str, str], ...] = ((ubc.name, "set"),)
        if ubc.name == "physpages":
            options += (("ram", "set"),)
        elif ubc.name == "swappages":
            options += (("swap", "set"),)
        aliases = {"dcachesize": ("DCACHE",), "numiptent": ("IPTENTRIES",)}.get(ubc.name, ())
        out.append(Setting(ubc.key, UbcPair(ubc.unit), options=options, aliases=aliases,
                           scope=BOTH, apply=LIVE, live=_LIVE,
                           help=f"beancounter {ubc.name} ({ubc.unit}), barrier[:limit]"))
    return out


SETTINGS: tuple[Setting, ...] = (
    *_ubc_settings(),
    Setting("VM_OVERCOMMIT", Float(), options=(("vm_overcommit", "set"),), scope=BOTH,
            apply=LIVE, live=_LIVE, column="vm_overcommit", header="VM_OVC", width=6,
            help="privvmpages = (ram + swap) * this (VSwap); 0 = unlimited"),
    Setting("MEMINFO", Meminfo(), options=(("meminfo", "set"),), scope=BOTH,
            help="pre-VSwap /proc/meminfo mode; the VE's /proc/meminfo (lxcfs) always "
                 "shows its memory cgroup"),
    Setting("CPUUNITS", k.Int(8, 500000), options=(("cpuunits", "set"),), scope=BOTH,
            apply=LIVE, live=_LIVE, column="cpuunits", header="CPUUNI", width=7,
            help="CPU weight (8..500000; 1000 = default share)"),
    Setting("CPULIMIT", CpuLimit(), options=(("cpulimit", "set"),), scope=BOTH, apply=LIVE,
            live=_LIVE, column="cpulimit", header="CPULIM", width=7,
            help="CPU cap in percent of one CPU (200 = two CPUs; 0 = none)"),
    Setting("CPUS", k.Int(0, 8192), options=(("cpus", "set"),), scope=BOTH, apply=LIVE,
            live=_LIVE, column="cpus", header="CPUS", width=5,
            help="CPUs the VE may use at once (a cap of N x 100%; 0 = all)"),
    Setting("CPUMASK", CpuMask(auto=True), options=(("cpumask", "set"),), scope=BOTH,
            apply=LIVE, live=_LIVE, column="cpumask", header="CPUMASK", width=-10,
            help="CPUs the VE may run on (list, all, auto)"),
    Setting("NODEMASK", CpuMask(auto=False), options=(("nodemask", "set"),), scope=BOTH,
            apply=LIVE, live=_LIVE, help="NUMA memory nodes (list or all)"),
    Setting("IOPRIO", k.Int(0, 7), options=(("ioprio", "set"),), scope=BOTH, apply=LIVE,
            live=_LIVE, column="ioprio", header="IOP", width=3,
            help="disk I/O priority 0..7 (default 4), as a proportional weight"),
    Setting("IOLIMIT", IoLimit(), options=(("iolimit", "set"),), scope=BOTH, apply=LIVE,
            live=_LIVE, column="iolimit", header="IOLIMIT", width=10,
            help="disk bandwidth cap (bytes/s; MB/s on the command line; 0 = none)"),
    Setting("IOPSLIMIT", k.Int(0, 2**31), options=(("iopslimit", "set"),), scope=BOTH,
            apply=LIVE, live=_LIVE, column="iopslimit", header="IOPS", width=10,
            help="disk operations per second cap (0 = none)"),
    Setting("VE0CPUUNITS", k.Int(8, 500000), scope=GLOBAL,
            help="the node's own CPU weight against all its VEs (vzctl set 0 --cpuunits)"),
)
