"""Names of the objects pyvz makes on the node for a VE.

Host ends of a VE's device pairs live in the node's network namespace, which several pyvz
nodes on one machine may share, and both may run a VE 101.  So:

* the default node (``VZ_ROOT=/``, node name ``pyvz``) uses vzctl's names where they fit in
  IFNAMSIZ: ``venet<CTID>`` and ``veth<CTID>.<n>``;
* any other node (or a name that would be too long) uses ``vz<hash>.<n>`` with a hash of
  the node name and CTID (``.v`` for venet);
* every host end carries an alias ``pyvz:<node>:<CTID>:<VE-side name>``: cleanup finds its
  devices by it even after a crash, and never touches a device that is not its own.

Each VE gets its own nft table (``netdev <node>-<CTID>``), so removing it is one step and
no two VEs ever edit the same table.
"""

from __future__ import annotations

__all__ = ["ALIAS_PREFIX", "alias", "default_veth_name", "nft_table", "parse_alias",
           "venet_host_name"]

ALIAS_PREFIX = "pyvz:"
_DEFAULT_NODE = "pyvz"


def _hash(node_name: str, ctid: int) -> str:
    import zlib

    return f"{zlib.crc32(f'{node_name}/{ctid}'.encode()):08x}"


def venet_host_name(node_name: str, ctid: int) -> str:
    name = f"venet{ctid}"
    if node_name == _DEFAULT_NODE and len(name) <= 15:
        return name
    return f"vz{_hash(node_name, ctid)}.v"


def default_veth_name(node_name: str, ctid: int, taken: set[str]) -> str:
    """The first free ``veth<CTID>.<n>`` (or hashed) name, n counting from 0."""
    for n in range(1000):
        name = f"veth{ctid}.{n}"
        if node_name != _DEFAULT_NODE or len(name) > 15:
            name = f"vz{_hash(node_name, ctid)}.{n}"
        if name not in taken:
            return name
    raise ValueError("no free host interface name")  # 1000 interfaces: cannot happen


def alias(node_name: str, ctid: int, ve_ifname: str) -> str:
    return f"{ALIAS_PREFIX}{node_name}:{ctid}:{ve_ifname}"


def parse_alias(text: str | None) -> tuple[str, int, str] | None:
    """(node, CTID, VE-side name) from a host end's alias; None if not pyvz's."""
    if not text or not text.startswith(ALIAS_PREFIX):
        return None
    parts = text[len(ALIAS_PREFIX):].split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2]


def nft_table(node_name: str, ctid: int) -> str:
    return f"{node_name}-{ctid}"
