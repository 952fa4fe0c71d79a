"""vzlist's columns: a table of name, header, width, how to get the value of a row, how to
print it, how to sort it and what it is in JSON (vzctl's ``field_names[]``).

Columns backed by a config key come from the settings table (``pyvz.config.schema``);
the rest (status, process count, uptime, load average) are computed from the running VE.
"""

from __future__ import annotations

from pyvz.config.schema import SETTINGS
from pyvz.ve.inventory import VeRow

__all__ = ["ALIASES", "COLUMNS", "DEFAULT_FIELDS", "UNLIMITED", "Column", "find"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# How vzctl shows "no limit" in a beancounter (LONG_MAX on 64-bit).
UNLIMITED = 2**63 - 1

# Kinds whose text is cut to the column width when the column is not the last one
# (vzctl trims strings and lists, never numbers).
_TRIMMED = frozenset(("str", "list"))

# Keys whose "unset" is a state of its own: vzctl prints ONBOOT as null in JSON when the
# key is absent ("start if it was running before the reboot"); other flags are false.
_TRISTATE = frozenset(("ONBOOT",))

# vzctl's status order for ``-s status`` (include/vzlist.h), ties by CTID.
_STATUS_RANK = {"running": 0, "stopped": 1, "mounted": 2, "suspended": 3}


class Column:
    """``width`` < 0 means left-aligned; ``kind`` is str, int, list, ubc, uptime, laverage,
    bool or tristate (a bool whose unset state is null in JSON)."""

    __slots__ = ("get", "header", "kind", "name", "rank", "width")

    def __init__(self, name: str, header: str, width: int, kind: str,
                 get: Callable[[VeRow], object],
                 rank: Callable[[object], object] | None = None) -> None:
        self.name = name
        self.header = header
        self.width = width
        self.kind = kind
        self.get = get
        self.rank = rank

    @property
    def trimmed(self) -> bool:
        return self.kind in _TRIMMED

    def text(self, value: object, *, full: bool) -> str:
        if self.kind in ("bool", "tristate"):
            return "yes" if value else "no"
        if value is None or value == "" or value == []:
            return "-"
        if self.kind == "list":
            assert isinstance(value, list)
            return " ".join(value) if full else value[0]
        if self.kind == "uptime":
            assert isinstance(value, float)
            s = int(value)
            return f"{s // 86400:03d}d{s % 86400 // 3600:02d}h:{s % 3600 // 60:02d}m:" \
                   f"{s % 60:02d}s"
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
        if self.kind == "bool":
            return bool(value)
        if self.kind == "uptime":
            return round(value, 3) if isinstance(value, float) else 0.0
        if self.kind == "laverage":
            return [round(v, 2) for v in value] if isinstance(value, list) else None
        if self.kind == "ubc":
            # held, maxheld and failcnt are 0 for a VE that is not running
            assert isinstance(value, dict)
            if value.get("held") is not None:
                return value
            return {k: (0 if k in ("held", "maxheld", "failcnt") else v)
                    for k, v in value.items()}
        if value == "":
            return None
        return value

    def sort_key(self, value: object) -> tuple[int, object]:
        if self.rank is not None:
            return (1, self.rank(value))
        if self.kind in ("bool", "tristate"):
            return (1, bool(value))
        if value is None or value == "" or value == []:
            return (0, 0)
        if self.kind in ("int", "uptime"):
            return (1, value)
        if self.kind == "ubc":
            assert isinstance(value, dict)
            return (1, value.get("held") or 0)
        if self.kind in ("laverage", "list"):
            assert isinstance(value, list)
            return (1, value)
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
        if kind in ("bool", "tristate"):
            return value.lower() == "yes"
        return value
    return get


def _numproc(row: VeRow) -> object:
    """numproc as a beancounter, from the pids controller: held and maxheld tasks, the
    limit ("unlimited" unless one is set) and how often it was hit."""
    counters = row.numproc_counters()
    if counters is None:
        return {"held": None, "maxheld": None, "barrier": UNLIMITED, "limit": UNLIMITED,
                "failcnt": None}
    limit = counters["limit"] if counters["limit"] is not None else UNLIMITED
    return {"held": counters["held"], "maxheld": counters["maxheld"], "barrier": limit,
            "limit": limit, "failcnt": counters["failcnt"]}


def _smart_name(row: VeRow) -> object:
    """NAME if set, else the CTID (a number in JSON, as vzctl prints it)."""
    return row.ve.conf.get("NAME") or row.ctid


def _build() -> dict[str, Column]:
    cols: dict[str, Column] = {}

    def add(col: Column) -> None:
        cols[col.name] = col

    add(Column("ctid", "CTID", 10, "int", lambda r: r.ctid))
    add(Column("smart_name", "SMARTNAME", 10, "str", _smart_name))
    add(Column("status", "STATUS", -9, "str", lambda r: r.status().word,
               rank=lambda v: _STATUS_RANK.get(str(v), len(_STATUS_RANK))))
    add(Column("numproc", "NPROC", 10, "ubc", _numproc))
    add(Column("uptime", "UPTIME", 15, "uptime", lambda r: r.uptime()))
    add(Column("laverage", "LAVERAGE", 14, "laverage", lambda r: r.loadavg()))
    for s in SETTINGS:
        if s.column is None or s.column in cols:
            continue
        kind = {"array": "list", "integer": "int", "boolean": "bool"}.get(
            s.kind.json_type, "str")
        if kind == "bool" and s.key in _TRISTATE:
            kind = "tristate"
        add(Column(s.column, s.header or s.column.upper(), s.width, kind,
                   _config_getter(s.key, kind)))
    for col in _extension_columns():
        add(col)
    return cols


# Per-area columns (beancounters, traffic, disk usage …): modules with ``columns()``.
EXTENSIONS = ("pyvz.cli.columns_res", "pyvz.cli.columns_net", "pyvz.cli.columns_disk")


def _extension_columns() -> list[Column]:
    import importlib

    found: list[Column] = []
    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        found.extend(module.columns())
    return found


COLUMNS = _build()
ALIASES = {"veid": "ctid", "vpsid": "ctid"}
DEFAULT_FIELDS = ("ctid", "numproc", "status", "ip", "hostname")


def find(name: str) -> Column | None:
    return COLUMNS.get(ALIASES.get(name, name))
