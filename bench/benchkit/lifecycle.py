"""Lifecycle rows: create (per layout), start until a command answers, cold ``exec true``,
graceful and fast stop, destroy — each a whole command as a user runs it.

Systems take turns within every repetition (pyvz, then LXC, per layout), so a slow
phase of the machine hits both alike.  One VE per (repetition, layout): create → start
→ 3 x exec → (Debian: wait until systemd has booted, not timed) → graceful stop → start
(not timed) → fast stop → destroy.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence

from benchkit.proc import summary
from benchkit.pyvz_sys import BUSYBOX
from benchkit.systems import VeSystem

OPS = ("create", "start until a command answers", "exec true (cold CLI)", "stop (graceful)",
       "stop --fast", "destroy")


def lifecycle(systems: Sequence[VeSystem], template: str, layouts: Sequence[str],
              repeat: int, ids: Iterator[int], progress: object = print,
              errors: list[str] | None = None
              ) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """→ {system: {layout: {op: summary}}} for one template.  A repetition that fails
    is removed, noted in ``errors`` and the others go on (one flaky command must not
    cost the whole table); only Ctrl-C ends the loop."""
    samples: dict[str, dict[str, dict[str, list[float]]]] = {
        s.name: {lay: {op: [] for op in OPS} for lay in layouts} for s in systems}
    for rep in range(repeat):
        for layout in layouts:
            for s in systems:
                ident = next(ids)
                got = samples[s.name][layout]
                try:
                    got["create"].append(s.create(ident, template, layout))
                    got["start until a command answers"].append(s.start_until_answer(ident))
                    got["exec true (cold CLI)"].append(
                        statistics.median(s.exec_true(ident) for _ in range(3)))
                    if template != BUSYBOX:
                        # a graceful stop of a VE still booting measures the boot
                        s.run_in(ident, "systemctl is-system-running --wait || true")
                    got["stop (graceful)"].append(s.stop(ident))
                    s.start_until_answer(ident)
                    got["stop --fast"].append(s.stop_fast(ident))
                    got["destroy"].append(s.destroy(ident))
                except Exception as e:
                    s.remove(ident)
                    if errors is None:
                        raise
                    errors.append(f"lifecycle {template} {layout} {s.name} "
                                  f"(repetition {rep + 1}): {str(e)[:300]}")
                    if callable(progress):
                        progress(f"    FAILED: {errors[-1]}")
                except BaseException:
                    s.remove(ident)
                    raise
        if callable(progress):
            progress(f"  lifecycle {template}: repetition {rep + 1}/{repeat} done")
    return {name: {lay: {op: summary(v) for op, v in ops.items() if v}
                   for lay, ops in by_layout.items()}
            for name, by_layout in samples.items()}
