"""What the bench made, and how to take it away again.

Every object (network namespace, swap file, cgroup, mount, pyvz node, LXC path, …) is
written to ``WORK/manifest`` *before* it is made, one ``kind<TAB>value…`` line each.
``undo`` walks the manifest backwards and removes each object, tolerating ones that were
never finished; it runs at the end of a run, on Ctrl-C/SIGTERM, and for the leftovers of
a run that was killed outright (``sweep_stale`` at the next start).  Everything is found
by the names and paths recorded here, never by a pattern, so nothing of anyone else's is
touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

from benchkit.proc import VENV_BIN, pid_alive, run

WORK_PREFIX = "pyvz-bench-"
WORK_PARENT = Path("/var/tmp")


class Manifest:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.path = work / "manifest"

    def add(self, kind: str, *values: str) -> None:
        with open(self.path, "a") as f:
            f.write("\t".join((kind, *values)) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def entries(self) -> list[list[str]]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        return [line.split("\t") for line in text.splitlines() if line]


def undo(work: Path, log: list[str] | None = None) -> list[str]:
    """Remove everything ``work``'s manifest names, newest first; returns what failed."""
    failed: list[str] = []
    for entry in reversed(Manifest(work).entries()):
        kind, *values = entry
        try:
            UNDO[kind](*values)
            if log is not None:
                log.append(kind + " " + " ".join(values))
        except Exception as e:  # keep going: one stuck object must not leave the rest
            failed.append(f"{kind} {' '.join(values)}: {e}")
    for line in mounts_under(work):
        run(["umount", "-l", line], check=False)
    # a VE's monitor that is still exiting may write one last file into the node's run
    # directory while the tree goes: try again a few times before giving up
    for _ in range(10):
        shutil.rmtree(work, ignore_errors=True)
        if not work.exists():
            break
        time.sleep(0.5)
    else:
        failed.append(f"work directory {work} not removed (the next run sweeps it)")
    return failed


def sweep_stale() -> list[Path]:
    """Clean up the work directories of bench runs whose process is gone (killed -9)."""
    swept = []
    for work in sorted(WORK_PARENT.glob(WORK_PREFIX + "*")):
        try:
            pid = int((work / "bench.pid").read_text())
        except (OSError, ValueError):
            pid = 0
        if pid and pid_alive(pid) and _is_bench(pid):
            continue
        undo(work)
        swept.append(work)
    return swept


def _is_bench(pid: int) -> bool:
    try:
        return b"bench/run.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


# --- the undo actions, one per kind ------------------------------------------------------

def _netns(name: str) -> None:
    run(["ip", "netns", "del", name], check=False)


def _swap(path: str) -> None:
    if os.path.exists(path):
        active = Path("/proc/swaps").read_text().split()
        if path in active:
            run(["swapoff", path], timeout=1800)
        os.unlink(path)


INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")


def _sysctl_inotify(old: str) -> None:
    if old.isdigit():
        INOTIFY_INSTANCES.write_text(f"{old}\n")


def _mount(path: str) -> None:
    for target in sorted(mounts_under(Path(path)), key=len, reverse=True):
        run(["umount", "-l", target], check=False)


def _file(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _cgroup(path: str) -> None:
    remove_cgroup_tree(Path(path))


def _pyvz_node(root: str, netns: str = "") -> None:
    from benchkit.pyvz_sys import node_cleanup

    node_cleanup(Path(root), netns or None)


def _lxc_path(path: str, netns: str = "") -> None:
    from benchkit.lxc_sys import lxc_path_cleanup

    lxc_path_cleanup(Path(path), netns or None)


UNDO = {"netns": _netns, "swap": _swap, "sysctl-inotify": _sysctl_inotify, "mount": _mount,
        "file": _file, "cgroup": _cgroup, "pyvz-node": _pyvz_node, "lxc-path": _lxc_path}


# --- helpers shared with the systems -----------------------------------------------------

def mounts_under(top: Path) -> list[str]:
    prefix = os.path.realpath(top)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            target = line.split()[4].replace("\\040", " ")
            if target == prefix or target.startswith(prefix + "/"):
                found.append(target)
    return found


def remove_cgroup_tree(top: Path, timeout: float = 30) -> None:
    """rmdir a cgroup directory the bench made and everything below it, killing the
    processes in it first (they are the bench's: nothing else runs in its cgroups)."""
    if not top.exists():
        return
    subdirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
    deadline = time.monotonic() + timeout
    for d in [*subdirs, top]:
        while True:
            try:
                d.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                kill_cgroup_procs(d)
                time.sleep(0.05)


def kill_cgroup_procs(cg: Path) -> None:
    for procs in [cg / "cgroup.procs", *cg.rglob("cgroup.procs")]:
        try:
            pids = procs.read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def pyvz_tool(name: str) -> str:
    return str(VENV_BIN / name)
