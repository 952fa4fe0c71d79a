"""vzlist's columns: a table of name, header, width, how to get the value of a row, how to
print it, how to sort it and what it is in JSON (vzctl's ``field_names[]``).

Columns backed by a config key come from the settings table (``pyvz.config.schema``);
the rest (status, process count, uptime, load average) are computed from the running VE.
"""

from __future__ import annotations

from pyvz.config.schema import SETTINGS
from pyvz.ve.inventory import VeRow

__all__ = ["Column", "COLUMNS", "ALIASES", "DEFAULT_FIELDS", "find"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class Column:
    """``width`` < 0 means left-aligned; ``kind`` is str, int, list, ubc, float or bool."""

    __slots__ = ("name", "header", "width", "kind", "get")

    def __init__(self, name: str, header: str, width: int, kind: str,
                 get: Callable[[VeRow], object]) -> None:
        self.name = name
        self.header = header
        self.width = width
        self.kind = kind
        self.get = get

    def text(self, value: object, *, full: bool) -> str:
        if value is None or value == "" or value == []:
            return "-"
        if self.kind == "list":
            assert isinstance(value, list)
            return " ".join(value) if full else value[0]
        if self.kind == "bool":
            return "yes" if value else "no"
        if self.kind == "uptime":
            assert isinstance(value, float)
            s = int(value)
            return f"{s // 86400}d{s % 86400 // 3600:02d}h:{s % 3600 // 60:02d}m:{s % 60:02d}s"
        if self.kind == "laverage":
            assert isinstance(value, list)
            return "/".join(f"{v:.2f}" for v in value)
        if self.kind == "ubc":
            assert isinstance(value, dict)
            held = value.get("held")
            return "-" if held is None else str(held)
        return str(value)

    def to_json(self, value: object) -> object:
        if self.kind == "list":
            return value if value else []
        if value == "":
            return None
        return value

    def sort_key(self, value: object) -> tuple[int, object]:
        if value is None or value == "" or value == []:
            return (0, 0)
        if self.kind in ("int", "float", "uptime"):
            return (1, value)
        if self.kind == "ubc":
            assert isinstance(value, dict)
            return (1, value.get("held") or 0)
        if self.kind == "laverage":
            assert isinstance(value, list)
            return (1, value[0])
        if self.kind == "list":
            assert isinstance(value, list)
            return (1, value[0])
        return (1, str(value))


def _config_getter(key: str, kind: str) -> Callable[[VeRow], object]:
    def get(row: VeRow) -> object:
        value = row.ve.conf.get(key)
        if value in (None, ""):
            return [] if kind == "list" else None
        assert value is not None
        if kind == "list":
            return value.split()
        if kind == "int":
            try:
                return int(value)
            except ValueError:
                return None
        if kind == "bool":
            return value.lower() == "yes"
        return value
    return get


def _numproc(row: VeRow) -> object:
    held = row.numproc()
    return {"held": held if held is not None else 0, "maxheld": None,
            "barrier": None, "limit": None, "failcnt": 0} if row.status().running else \
        {"held": None, "maxheld": None, "barrier": None, "limit": None, "failcnt": 0}


def _build() -> dict[str, Column]:
    cols: dict[str, Column] = {}

    def add(col: Column) -> None:
        cols[col.name] = col

    add(Column("ctid", "CTID", 10, "int", lambda r: r.ctid))
    add(Column("smart_name", "SMARTNAME", 10, "str",
               lambda r: r.ve.conf.get("NAME") or str(r.ctid)))
    add(Column("status", "STATUS", -9, "str", lambda r: r.status().word))
    add(Column("numproc", "NPROC", 10, "ubc", _numproc))
    add(Column("uptime", "UPTIME", 15, "uptime", lambda r: r.uptime()))
    add(Column("laverage", "LAVERAGE", -14, "laverage", lambda r: r.loadavg()))
    for s in SETTINGS:
        if s.column is None or s.column in cols:
            continue
        kind = {"array": "list", "integer": "int", "boolean": "bool"}.get(
            s.kind.json_type, "str")
        add(Column(s.column, s.header or s.column.upper(), s.width, kind,
                   _config_getter(s.key, kind)))
    return cols


COLUMNS = _build()
ALIASES = {"veid": "ctid", "vpsid": "ctid"}
DEFAULT_FIELDS = ("ctid", "numproc", "status", "ip", "hostname")


def find(name: str) -> Column | None:
    return COLUMNS.get(ALIASES.get(name, name))
