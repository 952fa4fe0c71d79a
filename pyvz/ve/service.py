"""Node boot and shutdown: start the ONBOOT VEs in BOOTORDER, stop every running VE, and
give running VEs whose monitor died a new one (the systemd unit runs these).

Order follows vzctl: a higher BOOTORDER starts earlier, VEs without one start last, ties
by CTID; shutdown goes the other way round.  Up to VE_PARALLEL VEs (default: the number
of CPUs) are handled at a time, each by its own ``vzctl`` process so that one VE's failure
or hang cannot stop the others.
"""

from __future__ import annotations

import os
import subprocess
import sys

from pyvz import log
from pyvz.node import Node
from pyvz.ve.inventory import all_ctids
from pyvz.ve.model import VE

__all__ = ["adopt_all", "boot", "boot_order", "remove_node_cgroups", "shutdown"]


def boot_order(node: Node) -> list[int]:
    """CTIDs with ONBOOT=yes, in the order they start."""
    entries = []
    for ctid in all_ctids(node):
        conf = node.ve_config(ctid)
        if not conf.get_bool("ONBOOT"):
            continue
        order = conf.get("BOOTORDER")
        key = (0, -int(order)) if order and order.isdigit() else (1, 0)
        entries.append((key, ctid))
    return [ctid for _, ctid in sorted(entries)]


def _run_batches(node: Node, ctids: list[int], argv_tail: list[str], parallel: int) -> int:
    """Run ``vzctl <argv_tail[0]> CTID <rest>`` for each CTID, ``parallel`` at a time,
    keeping the order between batches; returns the number of failures."""
    vzctl = os.path.join(os.path.dirname(sys.executable), "vzctl")
    argv0 = [vzctl] if os.access(vzctl, os.X_OK) else [sys.executable, "-m", "pyvz.cli.vzctl"]
    failures = 0
    for i in range(0, len(ctids), parallel):
        batch = ctids[i:i + parallel]
        procs = [(ctid, subprocess.Popen([*argv0, argv_tail[0], str(ctid), *argv_tail[1:]],
                                         stdin=subprocess.DEVNULL))
                 for ctid in batch]
        for ctid, proc in procs:
            if proc.wait() != 0:
                failures += 1
                log.error(f"CT {ctid}: vzctl {argv_tail[0]} failed (exit {proc.returncode})")
    return failures


def _parallel(node: Node) -> int:
    value = node.setting("VE_PARALLEL")
    if value and value.isdigit() and int(value) > 0:
        return int(value)
    return os.cpu_count() or 1


def boot(node: Node) -> int:
    adopt_all(node)
    if (node.setting("VIRTUOZZO") or "yes").lower() == "no":
        log.info("VIRTUOZZO=no in vz.conf: not starting any container")
        return 0
    order = [c for c in boot_order(node) if not VE(node, c).is_running()]
    log.info(f"Starting {len(order)} container(s) marked ONBOOT")
    return _run_batches(node, order, ["start"], _parallel(node))


def shutdown(node: Node) -> int:
    running = [c for c in all_ctids(node) if VE(node, c).is_running()]
    onboot = boot_order(node)
    # reverse boot order first, then the rest
    ordered = [c for c in reversed(onboot) if c in running] + \
        [c for c in running if c not in onboot]
    log.info(f"Stopping {len(ordered)} running container(s)")
    failures = _run_batches(node, ordered, ["stop"], _parallel(node))
    from pyvz.res import lxcfs

    lxcfs.stop_unused(node)
    return failures


def remove_node_cgroups(node: Node) -> bool:
    """Stop the node's lxcfs and remove its cgroup base directories (``<hierarchy>/<node>``)
    when none of its VEs runs; False if one does.  For uninstalling, and for throw-away
    nodes (the demo, the benchmark, tests) that should leave nothing behind."""
    if any(VE(node, c).is_running() for c in all_ctids(node)):
        return False
    from pyvz.cgroups.hierarchy import Hierarchies
    from pyvz.res import lxcfs

    lxcfs.stop_unused(node)

    hier = Hierarchies.probe()
    for mount in [*hier.v1, *([hier.v2] if hier.v2 else [])]:
        base = f"{mount}/{node.paths.node_name}"
        try:
            for entry in os.scandir(base):
                if entry.is_dir():
                    os.rmdir(entry.path)  # a stopped VE's directory that a crash left
            os.rmdir(base)
        except FileNotFoundError:
            continue
        except OSError as e:
            log.warn(f"Unable to remove {base}: {e.strerror}")
    return True


def adopt_all(node: Node) -> int:
    from pyvz.ve.adopt import ensure_monitor

    count = 0
    for ctid in all_ctids(node):
        ve = VE(node, ctid)
        try:
            with ve.lock("adopt"):
                count += ensure_monitor(ve)
        except Exception as e:  # one broken VE must not keep the others unmanaged
            log.error(f"CT {ctid}: {e}")
    return count
