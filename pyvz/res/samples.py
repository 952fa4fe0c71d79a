"""The shipped sample configs (``pyvz/data/ve-*.conf-sample``), installed into a node's
conf dir when its vz.conf is first written (``pyvz.node``), never over a file that is
already there (an admin's edited sample wins)."""

from __future__ import annotations

import os

__all__ = ["SAMPLES", "install"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.paths import Paths

SAMPLES = ("basic", "light", "unlimited", "vswap-256m", "vswap-512m", "vswap-1g",
           "vswap-2g", "vswap-4g")
# vzctl ships ve-vswap-1024m as a link to ve-vswap-1g
ALIASES = {"vswap-1024m": "vswap-1g"}


def data_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")


def install(paths: Paths) -> list[str]:
    """Copy missing samples into ``paths.conf_dir``; returns the names installed."""
    from pyvz.config.conffile import write_atomic

    done = []
    os.makedirs(paths.conf_dir, exist_ok=True)
    for name in (*SAMPLES, *ALIASES):
        target = paths.sample_conf(name)
        if os.path.exists(target):
            continue
        src = os.path.join(data_dir(), f"ve-{ALIASES.get(name, name)}.conf-sample")
        try:
            with open(src) as f:
                text = f.read()
        except OSError:
            continue
        write_atomic(target, text)
        done.append(name)
    return done
