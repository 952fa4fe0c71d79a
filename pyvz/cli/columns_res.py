"""vzlist's beancounter columns: ``physpages`` (held), ``physpages.m`` (maxheld), ``.b``
(barrier), ``.l`` (limit), ``.f`` (failcnt) for every UBC parameter, the JSON objects
``{"held","maxheld","barrier","limit","failcnt"}``, and ``vswap``.

A row's beancounters are collected once per listing, from the kernel's counters
(``pyvz.res.ubc``), only if a column asks for them.
"""

from __future__ import annotations

from pyvz.cli.columns import Column
from pyvz.res.params import UBC

__all__ = ["columns"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyvz.res.ubc import Row
    from pyvz.ve.inventory import VeRow

_cache: dict[tuple[int, int, bool], dict[str, Row]] = {}


def _rows(row: VeRow, name: str) -> dict[str, Row]:
    from pyvz.res.ubc import PROC_COUNTED, collect

    proc = name in PROC_COUNTED
    key = (id(row.listing), row.ctid, proc)
    got = _cache.get(key) or _cache.get((id(row.listing), row.ctid, True))
    if got is None:
        cg = row.cgroups() if row.status().running else None
        got = {r[0]: r for r in collect(row.ve, cg, proc=proc)}  # type: ignore[arg-type]
        _cache[key] = got
    return got


def _full(name: str) -> Callable[[VeRow], object]:
    def get(row: VeRow) -> object:
        r = _rows(row, name)[name]
        running = row.status().running
        return {"held": r[1] if running else None, "maxheld": r[2] if running else None,
                "barrier": r[3], "limit": r[4], "failcnt": r[5] if running else None}
    return get


def _part(name: str, index: int) -> Callable[[VeRow], object]:
    def get(row: VeRow) -> object:
        if index in (1, 2, 5) and not row.status().running:
            return None
        return _rows(row, name)[name][index]
    return get


def _vswap(row: VeRow) -> object:
    from pyvz.res.model import Resources

    return Resources(row.ve.conf).vswap


def columns() -> list[Column]:
    out = []
    for ubc in UBC:
        out.append(Column(ubc.name, ubc.header, 10, "ubc", _full(ubc.name)))
        for suffix, index in (("m", 2), ("b", 3), ("l", 4), ("f", 5)):
            out.append(Column(f"{ubc.name}.{suffix}", f"{ubc.header}.{suffix.upper()}", 10,
                              "int", _part(ubc.name, index)))
    out.append(Column("vswap", "VSWAP", 5, "bool", _vswap))
    return out
