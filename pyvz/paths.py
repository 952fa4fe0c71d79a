"""Every location pyvz uses, derived from one node root (``VZ_ROOT``, default ``/``).

With the default root the layout is OpenVZ's (``/etc/vz/vz.conf``, ``/vz/private/CTID`` …).
Any other root relocates all of it, so tests and several nodes live side by side on one
machine; kernel objects that are global (cgroups) carry ``node_name`` to stay apart.
"""

from __future__ import annotations

import os

__all__ = ["ENV_ROOT", "Paths"]

ENV_ROOT = "VZ_ROOT"


class Paths:
    __slots__ = (
        "conf_dir",
        "dump_dir",
        "etc_vz",
        "lock_dir",
        "log_dir",
        "log_file",
        "node_name",
        "private_dir",
        "root",
        "root_dir",
        "run_dir",
        "template_dir",
        "vz_conf",
        "vz_dir",
    )

    def __init__(self, root: str = "/") -> None:
        if not root.startswith("/"):
            raise ValueError(f"{ENV_ROOT} must be an absolute path: {root}")
        root = os.path.normpath(root)
        self.root = root

        def under(rel: str) -> str:
            return os.path.join(root, rel)

        self.etc_vz = under("etc/vz")
        self.vz_conf = under("etc/vz/vz.conf")
        self.conf_dir = under("etc/vz/conf")
        self.vz_dir = under("vz")
        self.private_dir = under("vz/private")
        self.root_dir = under("vz/root")
        self.template_dir = under("vz/template")
        self.lock_dir = under("vz/lock")
        self.dump_dir = under("vz/dump")
        self.run_dir = under("run/pyvz")
        self.log_dir = under("var/log/pyvz")
        self.log_file = under("var/log/vzctl.log")
        self.node_name = node_name_for(root)

    @classmethod
    def from_env(cls) -> Paths:
        return cls(os.environ.get(ENV_ROOT) or "/")

    def ve_conf(self, ctid: int) -> str:
        return f"{self.conf_dir}/{ctid}.conf"

    def ve_run(self, ctid: int) -> str:
        return f"{self.run_dir}/{ctid}"

    def console_log(self, ctid: int) -> str:
        return f"{self.log_dir}/console/{ctid}.log"

    def sample_conf(self, name: str) -> str:
        return f"{self.conf_dir}/ve-{name}.conf-sample"


def node_name_for(root: str) -> str:
    """Short name for kernel objects shared by all nodes on a machine (cgroup dirs)."""
    if root == "/":
        return "pyvz"
    import zlib

    return f"pyvz-{zlib.crc32(os.path.realpath(root).encode()):08x}"
