"""The OS templates the bench uses, in a template directory of its own that outlives a run
(a cache, like the test suite's): pyvz's built-in busybox template, and a Debian 12 set
for the overview's workload built by ``vzpkg cache`` from ``data/debian-overview.list``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from benchkit.proc import VENV_BIN, CommandError, run

DATA = Path(__file__).resolve().parent / "data"
DEBIAN = "debian-12-x86_64-overview"
DEFAULT_TEMPLATE_DIR = Path("/var/cache/pyvz-bench/template")


def ensure_debian(template_dir: Path, env: dict[str, str]) -> tuple[str | None, str]:
    """Build (or update, when the archive has newer packages) the Debian cache.

    Returns (template name or None, one line of what happened)."""
    meta = template_dir / "metadata"
    meta.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DATA / "debian-overview.list", meta / "debian-overview.list")
    try:
        proc = run([str(VENV_BIN / "vzpkg"), "cache", DEBIAN], env=env, timeout=1800)
    except CommandError as e:
        if (template_dir / "cache" / f"{DEBIAN}.tar.gz").exists():
            return DEBIAN, f"using the existing cache (update failed: {e})"
        return None, f"no Debian cache: {e}"
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    return DEBIAN, last


def cache_file(template_dir: Path, name: str) -> Path:
    return template_dir / "cache" / f"{name}.tar.gz"
