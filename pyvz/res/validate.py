"""vzcfgvalidate's rules (vzctl 4.x ``src/validate.c``) over a config's beancounters.

Each finding has a severity (Error fails validation, Warning and Recommendation do not)
and, where a fix is obvious, the repaired value.  VSwap configs (PHYSPAGES limit set, or
``-v yes``) are checked only for physpages/swappages, as vzctl does.
"""

from __future__ import annotations

from pyvz.res import units as u
from pyvz.res.params import BY_NAME

__all__ = ["ERROR", "RECOMMENDATION", "WARNING", "Finding", "check"]

ERROR, WARNING, RECOMMENDATION = "Error", "Warning", "Recommendation"
UNL = u.UNLIMITED

_EQUAL = ("numproc", "numtcpsock", "numothersock", "numfile", "numpty", "numsiginfo",
          "numiptent", "shmpages")
_ORDERED = ("kmemsize", "tcpsndbuf", "tcprcvbuf", "othersockbuf", "dgramrcvbuf",
            "privvmpages", "lockedpages", "numflock", "dcachesize")
_REQUIRED = ("kmemsize", "lockedpages", "privvmpages", "shmpages", "numproc", "physpages",
             "vmguarpages", "oomguarpages", "numtcpsock", "numflock", "numpty",
             "numsiginfo", "tcpsndbuf", "tcprcvbuf", "othersockbuf", "dgramrcvbuf",
             "numothersock", "dcachesize", "numfile", "numiptent")


class Finding:
    __slots__ = ("fix", "key", "message", "severity")

    def __init__(self, severity: str, message: str, key: str | None = None,
                 fix: tuple[int, int] | None = None) -> None:
        self.severity = severity
        self.message = message
        self.key = key          # parameter the fix applies to
        self.fix = fix          # repaired (barrier, limit)

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


def _fmt(pair: tuple[int, int]) -> str:
    return u.fmt_pair(*pair)


def check(values: dict[str, str], *, vswap: bool | None, host_ram: int,
          host_swap: int) -> list[Finding]:
    """Findings for a config's ``KEY -> stored value`` mapping (sizes in bytes)."""
    ubc: dict[str, tuple[int, int]] = {}
    out: list[Finding] = []
    for name, param in BY_NAME.items():
        text = values.get(name.upper())
        if text is None:
            continue
        pair = u.parse_pair(text, param.unit)
        if pair is None:
            out.append(Finding(ERROR, f"invalid value {name.upper()}=\"{text}\""))
            continue
        ubc[name] = pair
    phys = ubc.get("physpages")
    is_vswap = vswap if vswap is not None else bool(phys and phys[1] < UNL)
    if is_vswap:
        return out + _check_vswap(ubc, host_ram, host_swap)
    for name in _REQUIRED:
        if name not in ubc:
            out.append(Finding(WARNING, f"{name} is not set"))

    def get(name: str) -> tuple[int, int] | None:
        return ubc.get(name)

    for name in _EQUAL:
        p = get(name)
        if p and p[0] != p[1]:
            out.append(Finding(WARNING, f"barrier should be equal to limit for {name} "
                               f"(currently, {_fmt(p)})", name, (p[1], p[1])))
    for name in _ORDERED:
        p = get(name)
        if p and p[0] > p[1]:
            out.append(Finding(ERROR, f"barrier should be less than or equal to limit for "
                               f"{name} (currently, {_fmt(p)})", name, (p[0], p[0])))
    for name in ("vmguarpages", "oomguarpages"):
        p = get(name)
        if p and p[1] < UNL:
            out.append(Finding(WARNING, f"limit should be unlimited for {name} (currently, "
                               f"{_fmt(p)})", name, (p[0], UNL)))
    if phys and (phys[0] != 0 or phys[1] < UNL):
        out.append(Finding(WARNING, f"physpages should be 0:unlimited (currently, "
                           f"{_fmt(phys)})", "physpages", (0, UNL)))
    avn = (get("avnumproc") or (0, 0))[0]
    numfile, dcache, kmem = get("numfile"), get("dcachesize"), get("kmemsize")
    if numfile and dcache and numfile[0] < UNL and dcache[1] < numfile[0] * 384:
        need = numfile[0] * 384
        out.append(Finding(ERROR, f"dcachesize.lim should be > {need} (currently, "
                           f"{dcache[1]})", "dcachesize", (min(dcache[0], need), need)))
    if kmem and dcache and dcache[1] < UNL and kmem[0] < UNL:
        need = 40 * 1024 * avn + dcache[1]
        if kmem[0] < need:
            out.append(Finding(ERROR, f"kmemsize.bar should be > {need} (currently, "
                               f"{kmem[0]})", "kmemsize",
                               (need, max(kmem[1], need + need // 10))))
    priv, vmguar = get("privvmpages"), get("vmguarpages")
    if priv and vmguar and priv[0] < vmguar[0]:
        out.append(Finding(ERROR, f"privvmpages.bar should be > {vmguar[0]} (currently, "
                           f"{priv[0]})", "privvmpages", (vmguar[0], max(priv[1], vmguar[0]))))
    for buf, socks in (("tcpsndbuf", "numtcpsock"), ("tcprcvbuf", "numtcpsock"),
                       ("othersockbuf", "numothersock")):
        b, s = get(buf), get(socks)
        if b and s and b[1] < UNL and s[0] < UNL:
            gap = int(2.5 * 1024 * s[0])
            if b[1] - b[0] < gap:
                out.append(Finding(ERROR, f"{buf}.lim-{buf}.bar should be > {gap} "
                                   f"(currently, {b[1] - b[0]})", buf, (b[0], b[0] + gap)))
    for buf, low in (("tcpsndbuf", 64 * 1024), ("tcprcvbuf", 64 * 1024),
                     ("dgramrcvbuf", 32 * 1024), ("othersockbuf", 32 * 1024)):
        b = get(buf)
        if b and b[0] < low:
            out.append(Finding(ERROR, f"{buf}.bar should be > {low} (currently, {b[0]})",
                               buf, (low, max(b[1], low))))
        elif b and buf in ("dgramrcvbuf", "othersockbuf") and b[0] < 129 * 1024:
            out.append(Finding(RECOMMENDATION, f"{buf}.bar should be > {129 * 1024} "
                               f"(currently, {b[0]})"))
    if numfile:
        parts = [get(x) for x in ("numtcpsock", "numothersock", "numpty")]
        nsock = sum(p[0] for p in parts if p and p[0] < UNL)
        need = max(32 * avn, nsock)
        if numfile[0] < need:
            out.append(Finding(ERROR, f"numfile should be > {need} (currently, "
                               f"{numfile[0]})", "numfile", (need, need)))
    return out


def _check_vswap(ubc: dict[str, tuple[int, int]], host_ram: int, host_swap: int
                 ) -> list[Finding]:
    out = []
    phys = ubc.get("physpages")
    swap = ubc.get("swappages")
    if phys is None:
        out.append(Finding(ERROR, "physpages is not set (VSwap needs --ram)"))
    else:
        if phys[0] != 0:
            out.append(Finding(WARNING, f"physpages.bar should be 0 (currently, "
                               f"{_fmt(phys)})", "physpages", (0, phys[1])))
        if phys[1] < UNL and phys[1] * u.PAGE > host_ram:
            fix = host_ram // u.PAGE
            out.append(Finding(ERROR, f"physpages.lim should be <= {fix} (the node's RAM; "
                               f"currently, {phys[1]})", "physpages", (0, fix)))
    if swap is not None:
        if swap[0] != 0:
            out.append(Finding(WARNING, f"swappages.bar should be 0 (currently, "
                               f"{_fmt(swap)})", "swappages", (0, swap[1])))
        if swap[1] < UNL and swap[1] * u.PAGE > host_swap:
            # VSwap's swap is virtual (over it the VE slows down), so no error
            out.append(Finding(WARNING, f"swappages.lim is more than the node's swap "
                               f"({host_swap // u.PAGE} pages; currently, {swap[1]})"))
    return out
