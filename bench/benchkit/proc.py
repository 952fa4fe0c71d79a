"""Running programs and summarising timings.

Every program runs from an argv list (no shell), in a session of its own: a Ctrl-C reaches
only the bench, which then kills the command it waits for and cleans up (a killed pyvz
command is repaired by the next one, which is part of what the cleanup exercises).
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"


class CommandError(RuntimeError):
    """A command the bench needed failed."""


def run(argv: Sequence[str], *, env: dict[str, str] | None = None, check: bool = True,
        timeout: float | None = 600, input: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=timeout,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL,
                          start_new_session=True)
    if check and proc.returncode != 0:
        raise CommandError(f"{' '.join(argv)} -> {proc.returncode}: "
                           f"{(proc.stderr or proc.stdout).strip()[-400:]}")
    return proc


def timed(argv: Sequence[str], *, env: dict[str, str] | None = None, check: bool = True,
          timeout: float | None = 600) -> float:
    """Seconds a whole command took (output discarded, stderr kept for the error)."""
    t = time.perf_counter()
    proc = subprocess.run(list(argv), env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout,
                          start_new_session=True)
    dt = time.perf_counter() - t
    if check and proc.returncode != 0:
        raise CommandError(f"{' '.join(argv)} -> {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace').strip()[-400:]}")
    return dt


def in_netns(ns: str, argv: Sequence[str]) -> list[str]:
    """``argv`` run inside network namespace ``ns`` (mounts stay the node's)."""
    return ["nsenter", f"--net=/run/netns/{ns}", *argv]


def summary(samples: Sequence[float]) -> dict[str, float]:
    """Median, min, max and count of a list of seconds."""
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "n": len(samples)}


def percentile(samples: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by the nearest-rank method: a value that occurred."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def median_ci(samples: Sequence[float], level: float = 95, rounds: int = 2000,
              seed: int = 1) -> tuple[float, float]:
    """A bootstrap confidence interval of the median (percentile method)."""
    import random

    rng = random.Random(seed)
    n = len(samples)
    medians = sorted(statistics.median(rng.choices(samples, k=n)) for _ in range(rounds))
    tail = (100 - level) / 2
    return percentile(medians, tail), percentile(medians, 100 - tail)
