"""A VE's resource configuration, resolved: every beancounter's barrier and limit (with
vzctl's VSwap derivations), and the kernel-facing numbers they become.

VSwap (``PHYSPAGES`` limit set): RAM cap = physpages.limit, swap = swappages.limit, and
when unset lockedpages and oomguarpages barriers = RAM, vmguarpages barrier = RAM + swap,
privvmpages = (RAM + swap) * VM_OVERCOMMIT (unset or 0 = unlimited).  Classic configs
(PHYSPAGES unlimited) cap RAM + swap at privvmpages.limit: the allocations OpenVZ counted
there are an upper bound of what the VE can have resident or swapped, so the cap never
refuses what OpenVZ would have allowed, and it is the nearest control a stock kernel has.
"""

from __future__ import annotations

from pyvz.errors import E, VzError
from pyvz.res import units as u
from pyvz.res.params import BY_NAME, UBC

__all__ = ["Resources"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.config.layers import VeConfig

UNL = u.UNLIMITED


def _pair(conf: VeConfig, name: str) -> tuple[int, int] | None:
    text = conf.get(name.upper())
    if not text:
        return None
    pair = u.parse_pair(text, BY_NAME[name].unit)
    if pair is None:
        raise VzError(E.INVALID_CONFIG, f"Invalid value {name.upper()}=\"{text}\" in the "
                      "container's config")
    return pair


class Resources:
    """Resolved settings; ``ubc[name]`` is (barrier, limit), set or derived."""

    __slots__ = ("cpulimit", "cpumask", "cpus", "cpuunits", "explicit", "iolimit",
                 "ioprio", "iopslimit", "nodemask", "ubc", "vm_overcommit")

    def __init__(self, conf: VeConfig) -> None:
        self.explicit: dict[str, tuple[int, int]] = {}
        for ubc in BY_NAME.values():
            p = _pair(conf, ubc.name)
            if p is not None:
                self.explicit[ubc.name] = p
        try:
            self.vm_overcommit = float(conf.get("VM_OVERCOMMIT") or 0)
        except ValueError:
            raise VzError(E.INVALID_CONFIG, "Invalid VM_OVERCOMMIT in the container's "
                          "config") from None
        self.ubc: dict[str, tuple[int, int]] = {ubc.name: (UNL, UNL) for ubc in UBC}
        self.ubc.update(self.explicit)
        if self.vswap:
            ram, swap = self.ram_pages or 0, self.swap_pages
            derived = {"lockedpages": (ram, UNL), "oomguarpages": (ram, UNL),
                       "vmguarpages": (min(UNL, ram + swap), UNL), "swappages": (0, swap)}
            if self.vm_overcommit > 0:
                priv = min(UNL, int((ram + swap) * self.vm_overcommit))
                derived["privvmpages"] = (priv, priv)
            for name, pair in derived.items():
                if name not in self.explicit:
                    self.ubc[name] = pair
        self.cpuunits = conf.get_int("CPUUNITS", 1000)
        self.cpulimit = conf.get_int("CPULIMIT", 0)
        self.cpus = conf.get_int("CPUS", 0)
        self.cpumask = conf.get("CPUMASK") or None
        self.nodemask = conf.get("NODEMASK") or None
        self.ioprio = conf.get_int("IOPRIO", 4)
        io = conf.get("IOLIMIT")
        self.iolimit = (u.parse_amount(io, u.BYTES) or 0) if io else 0
        self.iopslimit = conf.get_int("IOPSLIMIT", 0)

    # -- VSwap ---------------------------------------------------------------------------
    @property
    def vswap(self) -> bool:
        return self.ram_pages is not None

    @property
    def ram_pages(self) -> int | None:
        lim = self.explicit.get("physpages", (0, UNL))[1]
        return None if lim >= UNL else lim

    @property
    def swap_pages(self) -> int:
        lim = self.explicit.get("swappages", (0, 0))[1]
        return 0 if lim >= UNL and not self.vswap else lim

    def check_startable(self) -> None:
        """vzctl's exit 28: settings that only make sense with others missing."""
        if "swappages" in self.explicit and self.explicit["swappages"][1] < UNL \
                and not self.vswap:
            raise VzError(E.NOTENOUGHUBCPARAMS, "Not all required UBC parameters are set: "
                          "SWAPPAGES needs PHYSPAGES (--ram); unable to start container")
        if self.vm_overcommit > 0 and not self.vswap:
            raise VzError(E.NOTENOUGHUBCPARAMS, "Not all required UBC parameters are set: "
                          "VM_OVERCOMMIT needs PHYSPAGES (--ram); unable to start container")
        for name, (bar, lim) in self.explicit.items():
            if bar > lim:
                raise VzError(E.SETUBC, f"Unable to apply {name}: barrier {bar} is above "
                              f"limit {lim}")

    # -- what the kernel gets ------------------------------------------------------------
    def memory_bytes(self) -> tuple[int | None, int | None, int | None]:
        """(RAM cap, RAM+swap cap, guarantee) in bytes; None = none."""
        if self.vswap:
            ram = (self.ram_pages or 0) * u.PAGE
            swap = self.swap_pages
            memsw = None if swap >= UNL else ram + swap * u.PAGE
            limit: int | None = ram
        else:
            priv = self.ubc["privvmpages"][1]
            limit = None if priv >= UNL else priv * u.PAGE
            memsw = limit
        guarantee = None
        for name in ("oomguarpages", "vmguarpages"):
            # only explicit guarantees reach the kernel: the derived ones equal the RAM
            # cap, and protecting every VE up to its cap would leave the node nothing
            # to reclaim
            if name in self.explicit and self.explicit[name][0] < UNL:
                g = self.explicit[name][0] * u.PAGE
                guarantee = g if guarantee is None else max(guarantee, g)
        if guarantee is not None and limit is not None:
            guarantee = min(guarantee, limit)
        return limit, memsw, guarantee

    def numproc_limit(self) -> int | None:
        lim = self.ubc["numproc"][1]
        return None if lim >= UNL else lim

    def tcp_bytes(self) -> int | None:
        snd, rcv = self.ubc["tcpsndbuf"][1], self.ubc["tcprcvbuf"][1]
        if snd >= UNL or rcv >= UNL:
            return None
        return snd + rcv

    def cpu_cap(self) -> int | None:
        """Effective cap in percent of one CPU: CPULIMIT, and CPUS x 100%."""
        caps = [c for c in (self.cpulimit, self.cpus * 100) if c > 0]
        return min(caps) if caps else None

    def io_weight(self) -> int:
        """IOPRIO 0..7 as a proportional weight: 4 (the default) is the kernel's default
        100, each step doubles or halves it."""
        return max(10, int(100 * 2 ** (self.ioprio - 4)))
