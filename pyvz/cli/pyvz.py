"""``pyvz`` — node-level commands that vzctl has no verb for.

    pyvz boot        start ONBOOT containers in BOOTORDER (the systemd unit's start)
    pyvz shutdown    stop all running containers (the systemd unit's stop)
    pyvz adopt       give running containers whose monitor died a new one
    pyvz cleanup     stop this node's lxcfs, remove its cgroup directories (no VE may run)
    pyvz info        what this node is: paths, cgroup layout, monitor, version
    pyvz ubc [CTID]  refresh and print RUN/user_beancounters (/proc/user_beancounters format)
"""

from __future__ import annotations

import sys

from pyvz.cli.common import require_root, run_main, setup_logging
from pyvz.errors import E, VzError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


def _main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(__doc__ or "")
        return 0 if argv else E.INVALID_PARAMETER_SYNTAX
    command, rest = argv[0], argv[1:]
    if command == "ubc":  # resources issue: beancounters of running VEs
        from pyvz.cli.vzubc import pyvz_ubc

        return pyvz_ubc(rest)
    if rest:
        raise VzError(E.INVALID_PARAMETER_SYNTAX, f"pyvz {command}: unexpected arguments")
    from pyvz.node import Node

    node = Node()
    setup_logging(node, prog="pyvz")
    if command == "info":
        return _info(node)
    require_root()
    from pyvz.ve import service

    if command == "boot":
        return 1 if service.boot(node) else 0
    if command == "shutdown":
        return 1 if service.shutdown(node) else 0
    if command == "cleanup":
        if not service.remove_node_cgroups(node):
            raise VzError(E.VE_RUNNING, "Containers of this node are running")
        return 0
    if command == "adopt":
        n = service.adopt_all(node)
        sys.stdout.write(f"{n} container(s) adopted\n")
        return 0
    raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Unknown command: pyvz {command}")


def _info(node: object) -> int:
    from pyvz import __version__
    from pyvz.cgroups.hierarchy import Hierarchies
    from pyvz.node import Node

    assert isinstance(node, Node)
    p = node.paths
    try:
        from pyvz.ve.start import monitor_binary

        monitor = monitor_binary()
    except VzError as e:
        monitor = f"missing ({e})"
    rows = [("version", __version__), ("node root", p.root), ("node name", p.node_name),
            ("vz.conf", p.vz_conf), ("configs", p.conf_dir), ("private", p.private_dir),
            ("templates", node.template_dir), ("run state", p.run_dir),
            ("cgroups", Hierarchies.probe().describe()), ("monitor", monitor)]
    for key, value in rows:
        sys.stdout.write(f"{key + ':':<12} {value}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
