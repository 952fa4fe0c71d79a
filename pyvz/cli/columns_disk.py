"""vzlist's disk columns: ``diskspace`` (DSPACE, 1K blocks) and ``diskinodes`` (DINODES) show
usage, ``.s``/``.h`` the soft and hard limits; in JSON each is ``{usage, softlimit,
hardlimit}``.  Usage comes from the VE's layout (statvfs of a mounted image, the image's
superblock, a btrfs qgroup, or a walk of the VE's own files); it is measured only when a
disk column is asked for, once per VE.
"""

from __future__ import annotations

from pyvz.cli.columns import Column

__all__ = ["DiskColumn", "columns"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyvz.ve.inventory import VeRow

_usage_cache: dict[int, tuple[int | None, int | None]] = {}


def _usage(row: VeRow) -> tuple[int | None, int | None]:
    ctid = row.ctid
    if ctid not in _usage_cache:
        _usage_cache[ctid] = _measure(row)
    return _usage_cache[ctid]


def _measure(row: VeRow) -> tuple[int | None, int | None]:
    from pyvz.errors import VzError
    from pyvz.storage.base import get_driver

    ve = row.ve
    status = row.status()
    if not status.exist:
        return None, None
    try:
        driver = get_driver(ve.layout, ve.node)
        return driver.usage(ve.private, ve.root if status.mounted else None)
    except (OSError, VzError):
        return None, None


def _limits(row: VeRow, key: str) -> tuple[int | None, int | None]:
    from pyvz.storage.units import UNLIMITED, parse_pair

    stored = row.ve.conf.get(key)
    pair = parse_pair(stored, blocks=key == "DISKSPACE") if stored else None
    if pair is None:
        return None, None
    return (None if pair[0] >= UNLIMITED else pair[0],
            None if pair[1] >= UNLIMITED else pair[1])


class DiskColumn(Column):
    """Usage as text; ``{usage, softlimit, hardlimit}`` in JSON."""

    __slots__ = ()

    def text(self, value: object, *, full: bool) -> str:
        assert isinstance(value, dict)
        usage = value.get("usage")
        return "-" if usage is None else str(usage)

    def to_json(self, value: object) -> object:
        return value

    def sort_key(self, value: object) -> tuple[int, object]:
        assert isinstance(value, dict)
        usage = value.get("usage")
        return (0, 0) if usage is None else (1, usage)


def _disk_getter(key: str, index: int) -> Callable[[VeRow], object]:
    def get(row: VeRow) -> object:
        soft, hard = _limits(row, key)
        return {"usage": _usage(row)[index], "softlimit": soft, "hardlimit": hard}
    return get


def _limit_getter(key: str, which: int) -> Callable[[VeRow], object]:
    def get(row: VeRow) -> object:
        return _limits(row, key)[which]
    return get


def columns() -> list[Column]:
    cols: list[Column] = []
    for name, header, key, index in (("diskspace", "DSPACE", "DISKSPACE", 0),
                                     ("diskinodes", "DINODES", "DISKINODES", 1)):
        cols.append(DiskColumn(name, header, 10, "disk", _disk_getter(key, index)))
        cols.append(Column(f"{name}.s", f"{header}.S", 10, "int", _limit_getter(key, 0)))
        cols.append(Column(f"{name}.h", f"{header}.H", 10, "int", _limit_getter(key, 1)))
    return cols
