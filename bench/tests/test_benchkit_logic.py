"""Unit tests of the bench's pure logic (no VEs, no root): step schedules, percentiles,
address plans, the manifest's order, the report.  Run with
``.venv/bin/pytest bench/tests`` (not part of ``make test``, whose testpaths is tests/)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchkit import cleanup, density, report
from benchkit.env import address
from benchkit.proc import percentile, summary


def test_steps_doubling_follows_the_issue_schedule() -> None:
    assert list(density.steps_doubling(400)) == [10, 50, 100, 200, 400]
    assert list(density.steps_doubling(50)) == [10, 50]
    it = density.steps_doubling()
    assert [next(it) for _ in range(6)] == [10, 50, 100, 200, 400, 800]


def test_steps_linear_grows_by_ten_percent_in_whole_steps() -> None:
    assert list(density.steps_linear(10, 150)) == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100,
                                                   110, 130, 150]


def test_percentile_is_nearest_rank() -> None:
    xs = [float(i) for i in range(1, 101)]
    assert percentile(xs, 50) == 50.0
    assert percentile(xs, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert summary([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}


def test_addresses_are_private_and_distinct_per_system() -> None:
    assert address("pyvz", 0) == "10.77.0.1"
    assert address("pyvz", 249) == "10.77.0.250"
    assert address("pyvz", 250) == "10.77.1.1"
    assert address("lxc", 0) == "10.78.0.1"
    got = {address("pyvz", i) for i in range(1000)}
    assert len(got) == 1000


def test_undo_walks_the_manifest_newest_first(tmp_path: Path, monkeypatch: object) -> None:
    done: list[str] = []
    undo = {"a": lambda v: done.append("a" + v), "b": lambda v: done.append("b" + v)}
    monkeypatch.setattr(cleanup, "UNDO", undo)  # type: ignore[attr-defined]
    work = tmp_path / "pyvz-bench-x"
    work.mkdir()
    m = cleanup.Manifest(work)
    m.add("a", "1")
    m.add("b", "2")
    m.add("a", "3")
    assert cleanup.undo(work) == []
    assert done == ["a3", "b2", "a1"]
    assert not work.exists()


def test_undo_goes_on_after_a_failure(tmp_path: Path, monkeypatch: object) -> None:
    def boom(v: str) -> None:
        raise OSError("stuck")

    done: list[str] = []
    monkeypatch.setattr(cleanup, "UNDO", {"ok": done.append, "bad": boom})  # type: ignore[attr-defined]
    work = tmp_path / "w"
    work.mkdir()
    m = cleanup.Manifest(work)
    m.add("ok", "1")
    m.add("bad", "2")
    failed = cleanup.undo(work)
    assert done == ["1"] and len(failed) == 1 and "stuck" in failed[0]


def _series(system: str, ns: list[int], p99s: list[float], stop: str) -> dict[str, object]:
    rows = [{"n": n, "p50_s": 0.001, "p99_s": p, "errors": 0, "ram_kib_per_ve": 1.0,
             "swap_kib_per_ve": 0.0, "manager_kib_per_ve": 0.0, "ready_s": 0.1,
             "passed": p <= 1.0} for n, p in zip(ns, p99s, strict=True)]
    passed = [n for n, p in zip(ns, p99s, strict=True) if p <= 1.0]
    return {"system": system, "template": "t", "cap_mib": 768, "threshold_s": 1.0,
            "rows": rows, "stop": stop, "n_max": max(passed) if passed else 0,
            "limit_found": not stop.startswith(("steps", "time budget"))}


def test_report_targets_compare_pyvz_with_bare_and_lxc() -> None:
    res = {"overview": [_series("pyvz", [10, 20, 30], [0.01, 0.02, 2.0], "p99 above 1.0 s"),
                        _series("LXC", [10, 20], [0.01, 3.0], "p99 above 1.0 s"),
                        _series("bare", [10, 20, 30], [0.01, 0.01, 5.0], "p99 above 1.0 s")]}
    lines = report.targets(res)
    assert any("N_max ≥ 95% of N_bare" in ln and "met" in ln for ln in lines)
    assert any("pyvz 20 vs LXC 10: more than LXC — met" in ln for ln in lines)
    res["overview"][2] = _series("bare", [10, 20, 30, 40], [0.01] * 4, "time budget used")
    lines = report.targets(res)
    assert any("not measured" in ln and "N_bare >=40" in ln for ln in lines)


def test_report_renders_a_partial_run() -> None:
    res = {"date": "d", "command": "c", "machine": {"cores": 2, "mem_gib": 1.0,
                                                   "kernel": "k"},
           "versions": {}, "errors": ["x: y"], "notes": [],
           "warm_path": {"pyvz": None, "note": "not measured"}}
    text = report.render(res)
    assert "ERROR: x: y" in text and "warm" in text.lower()
