"""Config layering: built-in defaults → vz.conf → (sample, at create) → CTID.conf → command line.

Any VE key may appear in vz.conf as a default, as in vzctl; a VE's own file wins.  The
result is a plain mapping of stored strings, with ``$VEID`` expanded in paths.
"""

from __future__ import annotations

from pyvz.config.conffile import ConfFile

__all__ = ["BUILTIN_DEFAULTS", "VeConfig", "expand_veid"]

# What a key means when neither vz.conf nor CTID.conf says anything.
BUILTIN_DEFAULTS = {
    "VE_LAYOUT": "overlay",
    "LOCAL_UID": "100000",
    "LOCAL_GID": "100000",
    "STOP_TIMEOUT": "120",
    "DEF_OSTEMPLATE": "busybox",
    "LOGGING": "yes",
    "LOG_LEVEL": "0",
    "VERBOSE": "0",
    "IPV6": "yes",
}


def expand_veid(value: str, ctid: int) -> str:
    """``$VEID``, ``${VEID}``, ``$VE_ID`` and ``${VE_ID}`` stand for the CTID (a longer
    name such as ``$VEIDX`` is left alone, as the shell would)."""
    out = []
    i = 0
    while i < len(value):
        if value[i] == "$":
            for name in ("{VEID}", "{VE_ID}", "VE_ID", "VEID"):
                end = i + 1 + len(name)
                nxt = value[end:end + 1]
                if value.startswith(name, i + 1) and \
                        (name[0] == "{" or not (nxt.isalnum() or nxt == "_")):
                    out.append(str(ctid))
                    i = end
                    break
            else:
                out.append("$")
                i += 1
            continue
        out.append(value[i])
        i += 1
    return "".join(out)


class VeConfig:
    """The effective configuration of one VE (or of the node, for CTID 0)."""

    __slots__ = ("_own", "ctid", "file", "global_values", "overrides")

    def __init__(self, ctid: int, global_values: dict[str, str], file: ConfFile | None) -> None:
        self.ctid = ctid
        self.global_values = global_values
        self.file = file
        self.overrides: dict[str, str | None] = {}
        self._own = file.values() if file is not None else {}

    def reload(self) -> None:
        """Re-read the values after ``file`` was edited."""
        self._own = self.file.values() if self.file is not None else {}

    @property
    def exists(self) -> bool:
        return self.file is not None

    def own(self) -> dict[str, str]:
        """Keys set in CTID.conf itself."""
        return self._own

    def get(self, key: str, default: str | None = None) -> str | None:
        if key in self.overrides:
            value = self.overrides[key]
        else:
            value = self._own.get(key)
            if value is None:
                value = self.global_values.get(key)
            if value is None:
                value = BUILTIN_DEFAULTS.get(key)
        if value is None:
            return default
        if key in ("VE_ROOT", "VE_PRIVATE"):
            return expand_veid(value, self.ctid)
        return value

    def get_int(self, key: str, default: int) -> int:
        value = self.get(key)
        try:
            return int(value) if value not in (None, "") else default
        except ValueError:
            return default

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self.get(key)
        if not value:
            return default
        return value.lower() in ("yes", "on", "true", "1")

    def get_list(self, key: str) -> list[str]:
        return (self.get(key) or "").split()
