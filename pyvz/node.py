"""The node: its paths and its global config (vz.conf), created with defaults on first use."""

from __future__ import annotations

import os

from pyvz.config.conffile import ConfFile, write_atomic
from pyvz.config.layers import BUILTIN_DEFAULTS, VeConfig
from pyvz.errors import E, VzError
from pyvz.paths import Paths

__all__ = ["DEFAULT_VZ_CONF", "Node"]

DEFAULT_VZ_CONF = """\
## Global parameters of pyvz (vzctl's vz.conf format: KEY="value").
## Any VE parameter may also be given here as a default for all VEs.
VIRTUOZZO="yes"
LOCKDIR="{root}vz/lock"
DUMPDIR="{root}vz/dump"

## Logging
LOGGING="yes"
LOGFILE="{root}var/log/vzctl.log"
LOG_LEVEL="0"
VERBOSE="0"

## Defaults for new VEs
TEMPLATE="{root}vz/template"
VE_ROOT="{root}vz/root/$VEID"
VE_PRIVATE="{root}vz/private/$VEID"
DEF_OSTEMPLATE="busybox"
VE_LAYOUT="overlay"
## root inside a VE is this node uid (user namespace); 0 makes privileged VEs
LOCAL_UID="100000"
LOCAL_GID="100000"
STOP_TIMEOUT="120"
IPV6="yes"
"""


class Node:
    """Paths plus vz.conf.  Cheap to build; vz.conf is read on first access."""

    __slots__ = ("_global", "paths")

    def __init__(self, paths: Paths | None = None) -> None:
        self.paths = paths or Paths.from_env()
        self._global: dict[str, str] | None = None

    @property
    def global_values(self) -> dict[str, str]:
        if self._global is None:
            self._global = self._load_global()
        return self._global

    def _load_global(self) -> dict[str, str]:
        path = self.paths.vz_conf
        try:
            return ConfFile.load(path).values()
        except FileNotFoundError:
            pass
        except OSError as e:
            raise VzError(E.NOCONFIG, f"Unable to read {path}: {e.strerror}") from e
        root = self.paths.root.rstrip("/") + "/"
        text = DEFAULT_VZ_CONF.format(root=root)
        try:
            os.makedirs(self.paths.conf_dir, exist_ok=True)
            write_atomic(path, text)
            from pyvz.res.samples import install  # resources issue: ve-*.conf-sample

            install(self.paths)
        except OSError as e:
            raise VzError(E.NOCONFIG, f"Global config {path} not found and cannot be "
                          f"created: {e.strerror}") from e
        return ConfFile(path, text).values()

    def setting(self, key: str) -> str | None:
        value = self.global_values.get(key)
        return value if value is not None else BUILTIN_DEFAULTS.get(key)

    @property
    def lock_dir(self) -> str:
        return self.setting("LOCKDIR") or self.paths.lock_dir

    @property
    def template_dir(self) -> str:
        return self.setting("TEMPLATE") or self.paths.template_dir

    @property
    def cache_dir(self) -> str:
        return os.path.join(self.template_dir, "cache")

    @property
    def dump_dir(self) -> str:
        return self.setting("DUMPDIR") or self.paths.dump_dir

    def ve_config(self, ctid: int) -> VeConfig:
        """The VE's effective config; ``exists`` is false when CTID.conf is missing."""
        path = self.paths.ve_conf(ctid)
        try:
            file: ConfFile | None = ConfFile.load(path)
        except FileNotFoundError:
            file = None
        except OSError as e:
            raise VzError(E.NOVECONFIG, f"Unable to read {path}: {e.strerror}") from e
        return VeConfig(ctid, self.global_values, file)
