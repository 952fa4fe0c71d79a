"""Per-distribution in-VE setup, chosen from the VE's OSTEMPLATE.

The name is matched the way vzctl's ``get_dist_conf_name`` does it: try the whole
OSTEMPLATE, then strip trailing ``-suffix`` parts one at a time
(``debian-12-x86_64-minimal`` -> ``debian-12-x86_64`` -> ``debian-12`` -> ``debian``),
and fall back to ``default`` (generic Linux).  Modules are imported only when their
distribution is asked for: this runs on the VE start path.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.dists.base import Dist

__all__ = ["DISTRIBUTIONS", "dist_name", "for_template", "preload"]

# name -> (module, class).  Ubuntu shares Debian's files and conventions.
DISTRIBUTIONS: dict[str, tuple[str, str]] = {
    "default": ("pyvz.dists.base", "Dist"),
    "debian": ("pyvz.dists.debian", "Debian"),
    "ubuntu": ("pyvz.dists.debian", "Debian"),
    "busybox": ("pyvz.dists.busybox", "Busybox"),
}

_instances: dict[str, Dist] = {}


def dist_name(ostemplate: str | None) -> str:
    """The distribution an OSTEMPLATE name maps to (``default`` if none matches)."""
    name = (ostemplate or "").lower()
    while name:
        if name in DISTRIBUTIONS:
            return name
        name = name.rpartition("-")[0]
    return "default"


def for_template(ostemplate: str | None) -> Dist:
    """The setup object for a VE created from ``ostemplate``."""
    name = dist_name(ostemplate)
    dist = _instances.get(name)
    if dist is None:
        import importlib

        module, cls = DISTRIBUTIONS[name]
        dist = _instances[name] = getattr(importlib.import_module(module), cls)()
    return dist


def preload(ostemplate: str | None, *, addresses: bool = True) -> Dist:
    """``for_template`` plus every module the setup code imports on demand.

    The setup functions run inside the VE, after the process has switched its root to the
    VE's: from there the node's Python library is out of reach, so nothing may be left to
    import lazily.  ``addresses=False`` skips what only address checks need (``set_dns``),
    for callers that will not call it."""
    import fcntl  # noqa: F401
    import random  # noqa: F401
    import time  # noqa: F401

    import pyvz.dists.crypt
    import pyvz.validate  # noqa: F401

    if addresses:
        import ipaddress  # noqa: F401
    return for_template(ostemplate)
