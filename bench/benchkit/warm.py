"""The warm path: the same VE operations through ``pyvz.api`` in one long-lived process
(a panel or node agent pays Python's start-up and pyvz's imports once), against LXC's
cold commands (LXC has no warm path of its own in Debian's package; its tools are C).

The API runs in a worker process of its own (``python -m benchkit.warm ROOT CTID N``),
inside the bench's network namespace like every other pyvz command, and prints its
samples as JSON.  The worker creates its VE, then N times: start, ``exec true`` until it
answers (timed together), three timed ``exec true``, fast stop; and destroys the VE.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from benchkit.proc import VENV_BIN, in_netns, run, summary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from benchkit.pyvz_sys import PyvzSystem

OPS = ("start until a command answers (warm API)", "exec true (warm API)")


def measure(system: PyvzSystem, ident: int, repeat: int) -> dict[str, dict[str, float]]:
    """→ {op: summary in seconds} for pyvz's warm path."""
    argv = [str(VENV_BIN / "python"), "-m", "benchkit.warm", str(system.root), str(ident),
            str(repeat)]
    if system.netns:
        argv = in_netns(system.netns, argv)
    env = dict(system.env, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    samples = json.loads(run(argv, env=env, timeout=600).stdout)
    return {op: summary(values) for op, values in samples.items()}


def _worker(root: str, ctid: int, repeat: int) -> dict[str, list[float]]:
    from pyvz.api import Node, VzError

    node = Node(root=root)
    got: dict[str, list[float]] = {op: [] for op in OPS}
    node.create(ctid, ostemplate="busybox")
    try:
        for _ in range(repeat):
            t = time.perf_counter()
            node.start(ctid)
            while node.exec(ctid, ["true"]).returncode != 0:
                pass
            got[OPS[0]].append(time.perf_counter() - t)
            for _ in range(3):
                t = time.perf_counter()
                node.exec(ctid, ["true"])
                got[OPS[1]].append(time.perf_counter() - t)
            node.stop(ctid, fast=True)
    finally:
        try:
            node.stop(ctid, fast=True)
        except VzError:
            pass
        node.destroy(ctid)
    return got


if __name__ == "__main__":
    sys.stdout.write(json.dumps(_worker(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
