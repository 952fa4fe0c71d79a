"""VE names: ``NAME`` in CTID.conf, indexed by symlinks ``etc/vz/names/NAME → ../conf/CTID.conf``
(vzctl's layout), so a name resolves without reading every config."""

from __future__ import annotations

import os

from pyvz.errors import E, VzError
from pyvz.node import Node
from pyvz.validate import check_name

__all__ = ["check_free", "link", "resolve", "unlink"]


def _names_dir(node: Node) -> str:
    return os.path.join(node.paths.etc_vz, "names")


def _ctid_of_link(path: str) -> int | None:
    try:
        target = os.readlink(path)
    except OSError:
        return None
    base = os.path.basename(target)
    if base.endswith(".conf") and base[:-5].isdigit():
        return int(base[:-5])
    return None


def resolve(node: Node, name: str) -> int | None:
    """The CTID whose NAME is ``name``, or None."""
    if not name or "/" in name or name.startswith("."):
        return None
    ctid = _ctid_of_link(os.path.join(_names_dir(node), name))
    if ctid is not None and node.ve_config(ctid).get("NAME") == name:
        return ctid
    return None


def check_free(node: Node, name: str, ctid: int) -> None:
    check_name(name)
    owner = resolve(node, name)
    if owner is not None and owner != ctid:
        raise VzError(E.SET_NAME_ERROR, f"Name {name} is in use by CT {owner}")


def link(node: Node, name: str, ctid: int) -> None:
    d = _names_dir(node)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    tmp = f"{path}.tmp.{os.getpid()}"
    os.symlink(f"../conf/{ctid}.conf", tmp)
    os.rename(tmp, path)


def unlink(node: Node, name: str | None, ctid: int) -> None:
    """Remove ``name``'s link if it points at ``ctid`` (a stale one of another VE stays)."""
    if not name:
        return
    path = os.path.join(_names_dir(node), name)
    if _ctid_of_link(path) == ctid:
        os.unlink(path)
