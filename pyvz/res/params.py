"""The beancounter parameters (vzctl's UBC list): name, unit, vzsplit tier, and what the
stock kernel can do with each.

``control`` says how pyvz enforces a parameter:

* ``kernel`` — a cgroup limit applies it (memory, swap, tasks, TCP buffers on v1);
* ``accounting`` — held/maxheld are measured, but no kernel control exists, so the limit is
  stored and reported, never enforced (pyvz says so when it is set);
* ``stored`` — neither a control nor a cheap counter exists: stored and validated only.

Kept free of imports (the settings table reads it on every command).
"""

from __future__ import annotations

__all__ = ["ACCOUNTING", "BY_NAME", "KERNEL", "STORED", "UBC", "Ubc", "vzlist_header"]

KERNEL, ACCOUNTING, STORED = "kernel", "accounting", "stored"


class Ubc:
    __slots__ = ("control", "header", "name", "tier", "unit")

    def __init__(self, name: str, unit: str, tier: str, header: str, control: str) -> None:
        self.name = name          # lower case, as in /proc/user_beancounters
        self.unit = unit          # items | pages | bytes
        self.tier = tier          # P(rimary) S(econdary) A(uxiliary) or "-"
        self.header = header      # vzlist column header
        self.control = control

    @property
    def key(self) -> str:
        return self.name.upper()


# In /proc/user_beancounters order (OpenVZ 2.6.32 kernels).
UBC: tuple[Ubc, ...] = (
    Ubc("kmemsize", "bytes", "S", "KMEMSIZE", ACCOUNTING),
    Ubc("lockedpages", "pages", "A", "LOCKEDP", ACCOUNTING),
    Ubc("privvmpages", "pages", "S", "PRIVVMP", KERNEL),
    Ubc("shmpages", "pages", "A", "SHMP", ACCOUNTING),
    Ubc("numproc", "items", "P", "NPROC", KERNEL),
    Ubc("physpages", "pages", "A", "PHYSP", KERNEL),
    Ubc("vmguarpages", "pages", "P", "VMGUARP", KERNEL),
    Ubc("oomguarpages", "pages", "S", "OOMGUARP", KERNEL),
    Ubc("numtcpsock", "items", "P", "NTCPSOCK", STORED),
    Ubc("numflock", "items", "A", "NFLOCK", STORED),
    Ubc("numpty", "items", "A", "NPTY", STORED),
    Ubc("numsiginfo", "items", "A", "NSIGINFO", STORED),
    Ubc("tcpsndbuf", "bytes", "S", "TCPSNDB", KERNEL),
    Ubc("tcprcvbuf", "bytes", "S", "TCPRCVB", KERNEL),
    Ubc("othersockbuf", "bytes", "S", "OTHSOCKB", STORED),
    Ubc("dgramrcvbuf", "bytes", "S", "DGRAMRB", STORED),
    Ubc("numothersock", "items", "P", "NOTHSOCK", STORED),
    Ubc("dcachesize", "bytes", "A", "DCACHESZ", STORED),
    Ubc("numfile", "items", "A", "NFILE", STORED),
    Ubc("numiptent", "items", "A", "NIPTENT", STORED),
    Ubc("swappages", "pages", "-", "SWAPP", KERNEL),
)

# AVNUMPROC is a sizing hint (vzsplit, vzcfgvalidate), not a beancounter line.
AVNUMPROC = Ubc("avnumproc", "items", "P", "AVNPROC", STORED)

BY_NAME = {u.name: u for u in (*UBC, AVNUMPROC)}


def vzlist_header(name: str) -> str:
    return BY_NAME[name].header
