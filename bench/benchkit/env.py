"""The bench's own world: a work directory, a network namespace with no route out, an
optional swap file, an optional btrfs pool, memory caps — each recorded in the manifest
before it is made (``benchkit.cleanup``), so a Ctrl-C or a later run removes it.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchkit.cleanup import INOTIFY_INSTANCES, WORK_PARENT, WORK_PREFIX, Manifest
from benchkit.proc import in_netns, run

# Address plans inside the bench's namespace (nothing else lives there).
CLIENT_IP = "10.76.0.1"          # the node side's own address (on lo)
NETS = {"pyvz": 77, "lxc": 78, "bare": 79}


def address(system: str, index: int) -> str:
    """The ``index``-th (0-based) address of a system's VEs: 10.77.0.1, 10.77.0.2, …"""
    return f"10.{NETS[system]}.{index // 250}.{index % 250 + 1}"


class Workspace:
    def __init__(self) -> None:
        WORK_PARENT.mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=WORK_PARENT))
        (self.work / "bench.pid").write_text(str(os.getpid()))
        self.manifest = Manifest(self.work)
        self.tag = self.work.name.removeprefix(WORK_PREFIX)[:8].replace("_", "x")
        self.netns: str | None = None
        self.swap_file: Path | None = None
        self.btrfs_dir: Path | None = None

    # --- network ---------------------------------------------------------------------
    def make_netns(self) -> str:
        """``pvb<tag>``: loopback, with CLIENT_IP (the client's source address; this kernel
        has no dummy device).  No default route, no uplink: packets can only go to what
        lives inside (VEs reached by their host routes)."""
        name = f"pvb{self.tag}"
        self.manifest.add("netns", name)
        run(["ip", "netns", "add", name])
        self.netns = name
        for argv in (["ip", "link", "set", "lo", "up"],
                     ["ip", "addr", "add", f"{CLIENT_IP}/32", "dev", "lo"]):
            run(in_netns(name, argv))
        return name

    def ns(self, argv: list[str]) -> list[str]:
        assert self.netns
        return in_netns(self.netns, argv)

    # --- swap --------------------------------------------------------------------------
    def add_swap(self, size_mib: int) -> Path:
        """A swap file of the bench's own (host-wide while the bench runs; removed at the
        end, also on Ctrl-C).  Lowest priority, so it never competes with the node's."""
        path = self.work / "swapfile"
        self.manifest.add("swap", str(path))
        run(["fallocate", "-l", f"{size_mib}M", str(path)])
        os.chmod(path, 0o600)
        run(["mkswap", str(path)])
        run(["swapon", "--priority", "-2", str(path)])
        self.swap_file = path
        return path

    # --- inotify -----------------------------------------------------------------------
    def raise_inotify_instances(self, instances: int) -> int:
        """Raise fs.inotify.max_user_instances for the run (host-wide while the bench runs;
        the old value is recorded first and put back at the end, also on Ctrl-C).  Every
        VE's systemd takes ~6 instances from the pool of the user that created the VEs'
        user namespaces (root): Debian's 128 stops any system at ~20 Debian VEs.  A node
        installed with `make install` has 8192 (its sysctl drop-in).  Returns the old
        value; a lower or equal request changes nothing."""
        old = int(INOTIFY_INSTANCES.read_text())
        if instances > old:
            self.manifest.add("sysctl-inotify", str(old))
            INOTIFY_INSTANCES.write_text(f"{instances}\n")
        return old

    # --- btrfs pool ----------------------------------------------------------------------
    def make_btrfs(self, size_mib: int = 6144) -> Path:
        """A loop-mounted btrfs image: the private areas of the btrfs layout live on it."""
        img = self.work / "btrfs.img"
        mnt = self.work / "btrfs"
        self.manifest.add("file", str(img))
        with open(img, "wb") as f:
            f.truncate(size_mib << 20)
        run(["mkfs.btrfs", "-q", str(img)])
        mnt.mkdir()
        self.manifest.add("mount", str(mnt))
        run(["mount", "-o", "loop", str(img), str(mnt)])  # autoclear: umount frees the loop
        self.btrfs_dir = mnt
        return mnt

    # --- memory caps ---------------------------------------------------------------------
    def memory_cgroup_root(self) -> tuple[Path, int]:
        """Where the memory controller lives and its cgroup version."""
        from pyvz.cgroups.hierarchy import Hierarchies

        hier = Hierarchies.probe()
        version = hier.version("memory")
        if version == 1:
            mount = hier.v1_mount("memory")
            assert mount
            return Path(mount), 1
        assert hier.v2
        return Path(hier.v2), 2

    def make_cgroup(self, rel: str) -> Path:
        """A memory cgroup directory ``rel`` (relative to the memory hierarchy)."""
        root, _ = self.memory_cgroup_root()
        path = root / rel
        self.manifest.add("cgroup", str(path))
        path.mkdir(parents=True, exist_ok=True)
        return path


def set_memory_cap(cg: Path, limit: int | None) -> None:
    """Cap the memory of everything below ``cg`` (swap stays unlimited: the cap is the
    RAM those VEs may hold, as on the overview's 768 MB server)."""
    v1 = (cg / "memory.limit_in_bytes").exists()
    value = str(limit) if limit else ("-1" if v1 else "max")
    if v1:
        (cg / "memory.limit_in_bytes").write_text(value)
    else:
        (cg / "memory.max").write_text(value)


def memory_usage(cg: Path) -> dict[str, int]:
    """RAM charged to ``cg`` (with descendants) and how much of it is swapped out."""
    stat: dict[str, int] = {}
    for line in (cg / "memory.stat").read_text().splitlines():
        k, v = line.split()
        stat[k] = int(v)
    if (cg / "memory.usage_in_bytes").exists():          # v1
        return {"ram": int((cg / "memory.usage_in_bytes").read_text()),
                "swap": stat.get("total_swap", 0), "anon": stat.get("total_rss", 0),
                "file": stat.get("total_cache", 0)}
    swap = cg / "memory.swap.current"
    return {"ram": int((cg / "memory.current").read_text()),
            "swap": int(swap.read_text()) if swap.exists() else 0,
            "anon": stat.get("anon", 0), "file": stat.get("file", 0)}


def evict_page_cache(*tops: Path) -> int:
    """Drop the cached pages of the regular files under ``tops`` (fadvise DONTNEED on each
    file, after a sync): only these files, nothing host-wide.  Pages a running process
    maps stay.  Used so that a VE's file pages are charged to the VE's cgroup when it
    reads them, not to whoever unpacked them.  Returns the number of files."""
    os.sync()
    count = 0
    stack = [str(t) for t in tops]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):   # never open devices or fifos
                try:
                    fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NOATIME)
                except OSError:
                    continue
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    count += 1
                finally:
                    os.close(fd)
    return count


def wait_for(predicate: object, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(interval)
    return False
