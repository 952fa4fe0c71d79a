"""Disk limit values as vzctl writes them: ``soft[:hard]``, 1K blocks with an optional
K/M/G/T/P suffix, or inodes; ``unlimited`` is LONG_MAX.  No imports: the config table,
the drivers and vzlist all use it."""

from __future__ import annotations

__all__ = ["UNLIMITED", "parse_pair"]

UNLIMITED = 2**63 - 1
_SUFFIX = {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3, "P": 1024**4}


def _number(text: str, blocks: bool) -> int | None:
    t = text.strip()
    if t in ("unlimited", "-1"):
        return UNLIMITED
    mult = 1
    if blocks and t and t[-1].upper() in _SUFFIX:
        mult = _SUFFIX[t[-1].upper()]
        t = t[:-1]
    try:
        value = float(t) if (blocks and "." in t) else int(t, 10)
    except ValueError:
        return None
    if value < 0:
        return None
    return min(int(value * mult), UNLIMITED)


def parse_pair(text: str, *, blocks: bool) -> tuple[int, int] | None:
    """``soft[:hard]`` (hard = soft when missing) → numbers, or None when malformed."""
    soft_t, sep, hard_t = text.partition(":")
    soft = _number(soft_t, blocks)
    hard = _number(hard_t, blocks) if sep else soft
    if soft is None or hard is None or soft > hard:
        return None
    return soft, hard
