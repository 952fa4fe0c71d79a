"""openat2 inside a VE's root must not fail because something else on the machine renamed
a file meanwhile.

A scoped lookup (RESOLVE_IN_ROOT) that crosses ".." returns EAGAIN when any rename or
mount raced with it.  Unretried, that made ``vzctl start`` fail now and then with
"Container is broken: no /sbin/init" on a busy node (busybox's /sbin/init is the link
``../bin/busybox``): seen in the density benchmark and once in the test suite.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from pyvz.kernel import syscalls as sc


def test_openat2_survives_concurrent_renames(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "sbin").mkdir()
    (root / "bin" / "busybox").write_text("")
    (root / "sbin" / "init").symlink_to("../bin/busybox")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "f").write_text("")

    renamer = os.fork()
    if renamer == 0:  # renames across directories take the kernel's rename_lock
        try:
            src, dst = str(tmp_path / "a" / "f"), str(tmp_path / "b" / "f")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.rename(src, dst)
                src, dst = dst, src
        finally:
            os._exit(0)
    failures: list[OSError] = []
    calls = 0
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            calls += 1
            try:
                os.close(sc.openat2(fd, "/sbin/init", os.O_PATH))
            except OSError as e:
                failures.append(e)
    finally:
        os.close(fd)
        os.kill(renamer, signal.SIGKILL)
        os.waitpid(renamer, 0)
    assert calls > 1000
    assert not failures, f"{len(failures)} of {calls} lookups failed: {failures[0]}"
