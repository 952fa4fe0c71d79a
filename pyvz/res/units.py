"""Beancounter values: ``B[:L]`` pairs in items, pages or bytes, with vzctl's suffixes.

vzctl accepts ``unlimited`` and, for pages and bytes, a number with a suffix: ``K``, ``M``,
``G``, ``T`` (binary multiples of a byte), ``P`` (pages) or ``B`` (bytes).  A bare number is
in the parameter's own unit.  One value means barrier = limit.  Sample configs written by
vzctl carry suffixes too (``PHYSPAGES="0:256M"``), so stored values are read the same way.

Kept free of imports: the settings table (loaded by every command) uses it.
"""

from __future__ import annotations

__all__ = ["BYTES", "ITEMS", "PAGE", "PAGES", "UNLIMITED", "fmt_pair", "parse_amount",
           "parse_pair", "to_bytes"]

PAGE = 4096
# LONG_MAX: how vzctl writes "no limit" (and what /proc/user_beancounters shows)
UNLIMITED = 2**63 - 1
ITEMS, PAGES, BYTES = "items", "pages", "bytes"

_SUFFIX = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "B": 1}


def parse_amount(text: str, unit: str) -> int | None:
    """One amount in ``unit``; None when the text is not one.  ``unlimited`` and anything
    at or above LONG_MAX is UNLIMITED."""
    t = text.strip()
    if t == "unlimited":
        return UNLIMITED
    if not t:
        return None
    mult_bytes = 0
    pages = False
    last = t[-1].upper()
    if last in _SUFFIX or last == "P":
        if unit == ITEMS:
            return None
        if last == "P":
            pages = True
        else:
            mult_bytes = _SUFFIX[last]
        t = t[:-1]
    num: float
    if t.isdigit():
        num = int(t)
    else:
        # "2.2G" appears in vzctl's own samples (DISKSPACE), so decimals are allowed
        # with a suffix; a bare number in the parameter's unit must be whole
        if not (mult_bytes or pages):
            return None
        head, dot, tail = t.partition(".")
        if not (dot and head.isdigit() and tail.isdigit()):
            return None
        num = float(t)
    if pages:
        value = int(num) if unit == PAGES else int(num * PAGE)
    elif mult_bytes:
        value = int(num * mult_bytes)
        if unit == PAGES:
            value //= PAGE
    else:
        value = int(num)
    return UNLIMITED if value >= UNLIMITED else value


def parse_pair(text: str, unit: str) -> tuple[int, int] | None:
    """``B[:L]`` → (barrier, limit); None when malformed."""
    b, sep, lim = text.partition(":")
    barrier = parse_amount(b, unit)
    limit = parse_amount(lim, unit) if sep else barrier
    if barrier is None or limit is None:
        return None
    return barrier, limit


def fmt_amount(value: int) -> str:
    return "unlimited" if value >= UNLIMITED else str(value)


def fmt_pair(barrier: int, limit: int) -> str:
    return f"{fmt_amount(barrier)}:{fmt_amount(limit)}"


def to_bytes(value: int, unit: str) -> int:
    """A pages amount in bytes (items and bytes as they are); UNLIMITED stays."""
    if value >= UNLIMITED:
        return UNLIMITED
    return value * PAGE if unit == PAGES else value
