"""Disk settings: the first-level quota (DISKSPACE, DISKINODES, QUOTATIME, DISK_QUOTA) and
the second level (QUOTAUGIDLIMIT).

Values are stored the way vzctl stores them: ``soft:hard`` in 1 KiB blocks (DISKSPACE) or
inodes (DISKINODES).  A change goes through the storage layout's driver, which either
enforces it or refuses it (``pyvz.storage.limits:apply_set``), on a running VE and on a
stopped one alike.
"""

from __future__ import annotations

from pyvz.config import kinds as k
from pyvz.config.schema import BOTH, LIVE, Setting
from pyvz.storage.units import UNLIMITED, parse_pair

__all__ = ["SETTINGS", "UNLIMITED", "DiskPair", "parse_pair"]

_LIVE = "pyvz.storage.limits:apply_set"


class DiskPair(k.Kind):
    """``soft[:hard]``; for blocks a K/M/G/T suffix scales the number (1K blocks default)."""

    json_type = "string"

    def __init__(self, *, blocks: bool) -> None:
        self.blocks = blocks

    def parse(self, text: str, option: str) -> str:
        pair = parse_pair(text, blocks=self.blocks)
        if pair is None:
            raise k.bad_value(option, text)
        return f"{pair[0]}:{pair[1]}"

    def value(self, stored: str) -> tuple[int, int] | None:
        return parse_pair(stored, blocks=self.blocks)


SETTINGS: tuple[Setting, ...] = (
    Setting("DISK_QUOTA", k.YesNo(), options=(("diskquota", "set"),), scope=BOTH,
            help="first-level quota; 'no' keeps DISKSPACE/DISKINODES unenforced on purpose"),
    Setting("DISKSPACE", DiskPair(blocks=True), options=(("diskspace", "set"),), scope=BOTH,
            apply=LIVE, live=_LIVE,
            help="disk space soft:hard in 1K blocks (K/M/G/T suffixes)"),
    Setting("DISKINODES", DiskPair(blocks=False), options=(("diskinodes", "set"),),
            scope=BOTH, apply=LIVE, live=_LIVE, help="inodes soft:hard"),
    Setting("QUOTATIME", k.Int(0, 2**31 - 1), options=(("quotatime", "set"),), scope=BOTH,
            apply=LIVE, live=_LIVE, help="grace period (seconds) past the soft limits"),
    Setting("QUOTAUGIDLIMIT", k.Int(0, 2**31 - 1), options=(("quotaugidlimit", "set"),),
            scope=BOTH, apply=LIVE, live=_LIVE,
            help="second-level (per user/group inside the VE) quota; 0 = off"),
)
