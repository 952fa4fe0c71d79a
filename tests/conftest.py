"""Fixtures for real-VE tests.

Every test session gets its own node (``VZ_ROOT`` under pytest's temporary directory,
so cgroup directories carry a unique per-node name), and every VE a test makes gets a
CTID no other test uses.  Teardown stops and destroys each VE and removes the node's
cgroup directories, mounts and processes, even when the test failed.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "tests"))

_ctids = itertools.count(1000)


# vzpkg fetches packages from the Debian archive the node's apt sources name: it needs the
# host's network.  Every other command runs in the node's own network namespace.
_HOST_NETWORK_TOOLS = frozenset({"vzpkg", "vzpkgcache", "vzpkgls", "vzyum"})


class Node:
    """A pyvz node rooted at ``root``; runs the real CLI commands against it.

    The commands run in a network namespace of the node's own (``netns``, no route out,
    removed by ``cleanup``): a VE that a test gives an address puts its routes, proxy
    neighbour entries and firewall tables there, never into the host's network."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = dict(os.environ, VZ_ROOT=str(root), PYTHONDONTWRITEBYTECODE="1")
        self.env.pop("PYTHONPATH", None)
        self.netns = f"pvs{zlib.crc32(str(root).encode()):08x}"

    def _ensure_netns(self) -> None:
        if Path(f"/run/netns/{self.netns}").exists():
            return
        subprocess.run(["ip", "netns", "add", self.netns], check=True, capture_output=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True,
                       capture_output=True)

    def argv(self, prog: str, *args: str) -> list[str]:
        """The command line of ``prog`` run against this node (in its network namespace)."""
        if prog in _HOST_NETWORK_TOOLS:
            return [str(BIN / prog), *args]
        self._ensure_netns()
        return ["nsenter", f"--net=/run/netns/{self.netns}", str(BIN / prog), *args]

    def run(self, prog: str, *args: str, input: bytes | None = None, timeout: float = 120,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.argv(prog, *args), env=self.env,
                              input=input and input.decode(),
                              capture_output=True, text=True, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"{prog} {' '.join(args)} -> {proc.returncode}\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def vzctl(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.run("vzctl", *args, **kw)  # type: ignore[arg-type]

    def kill_vzctl_after(self, delay: float, *args: str) -> None:
        """Start ``vzctl ARGS`` and SIGKILL that command (only it, by its PID) after
        ``delay`` seconds: the crash-safety tests' way to stop a command half-way."""
        proc = subprocess.Popen(self.argv("vzctl", *args), env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def vzlist(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.run("vzlist", *args, **kw)  # type: ignore[arg-type]

    def conf(self, ctid: int) -> Path:
        return self.root / "etc/vz/conf" / f"{ctid}.conf"

    def private(self, ctid: int) -> Path:
        return self.root / "vz/private" / str(ctid)

    def ve_root(self, ctid: int) -> Path:
        return self.root / "vz/root" / str(ctid)

    def state(self, ctid: int) -> dict[str, str]:
        path = self.root / "run/pyvz" / str(ctid) / "state"
        return dict(line.split("=", 1) for line in path.read_text().splitlines())

    @property
    def node_name(self) -> str:
        from pyvz.paths import node_name_for

        return node_name_for(str(self.root))

    def cgroup_dirs(self, ctid: int | None = None) -> list[Path]:
        from pyvz.cgroups.hierarchy import Hierarchies

        hier = Hierarchies.probe()
        mounts = list(hier.v1) + ([hier.v2] if hier.v2 else [])
        tail = self.node_name + (f"/{ctid}" if ctid is not None else "")
        return [Path(m) / tail for m in mounts]

    def new_ctid(self) -> int:
        return next(_ctids)

    def cleanup(self) -> None:
        """Stop and destroy every VE of this node; remove its cgroups and mounts."""
        conf_dir = self.root / "etc/vz/conf"
        for conf in sorted(conf_dir.glob("*.conf")) if conf_dir.exists() else []:
            if conf.stem.isdigit():
                self.vzctl("stop", conf.stem, "--fast", timeout=60)
                self.vzctl("destroy", conf.stem, timeout=60)
        self.run("pyvz", "cleanup", timeout=60)  # the node's lxcfs and cgroup directories
        kill_node_processes(self.root)
        unmount_under(self.root)
        for d in self.cgroup_dirs():
            remove_cgroup_tree(d)
        if Path(f"/run/netns/{self.netns}").exists():
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)


def kill_node_processes(root: Path) -> None:
    """SIGKILL monitors and VE inits this node started (found by their run state)."""
    run_dir = root / "run/pyvz"
    if not run_dir.exists():
        return
    for state in run_dir.glob("*/state"):
        try:
            values = dict(line.split("=", 1) for line in state.read_text().splitlines())
        except OSError:
            continue
        for key in ("monitor_pid", "init_pid"):
            pid = int(values.get(key, "0") or 0)
            if pid > 0 and _pid_matches_node(pid, root):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _pid_matches_node(pid: int, root: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(root).encode() in cmdline or cmdline.startswith(b"init")


def unmount_under(root: Path) -> None:
    prefix = str(root)
    for _ in range(5):
        targets = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                target = line.split()[4].replace("\\040", " ")
                if target == prefix or target.startswith(prefix + "/"):
                    targets.append(target)
        if not targets:
            return
        for t in sorted(targets, key=len, reverse=True):
            subprocess.run(["umount", "-l", t], capture_output=True)


def remove_cgroup_tree(path: Path) -> None:
    if not path.exists():
        return
    for sub in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        _rmdir_cgroup(sub)
    _rmdir_cgroup(path)


def _rmdir_cgroup(path: Path) -> None:
    for _ in range(100):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            procs = path / "cgroup.procs"
            try:
                for pid in procs.read_text().split():
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
            time.sleep(0.02)


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    if os.geteuid() != 0:
        pytest.skip("real-VE tests need root")
    root = tmp_path_factory.mktemp("node")
    n = Node(root)
    try:
        yield n
    finally:
        n.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fresh_node(tmp_path: Path) -> Iterator[Node]:
    """A node of its own, for tests that change vz.conf or need an empty node."""
    n = Node(tmp_path / "node")
    n.root.mkdir()
    try:
        yield n
    finally:
        n.cleanup()


class VeHandle:
    def __init__(self, node: Node, ctid: int) -> None:
        self.node = node
        self.ctid = ctid

    def __str__(self) -> str:
        return str(self.ctid)

    def vzctl(self, command: str, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.node.vzctl(command, str(self.ctid), *args, **kw)

    def exec(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.node.vzctl("exec", str(self.ctid), *cmd, check=check)

    def state(self) -> dict[str, str]:
        return self.node.state(self.ctid)


@pytest.fixture
def make_ve(node: Node) -> Iterator[object]:
    """Factory: ``make_ve(start=True, *create_args)`` → a VE that is destroyed afterwards."""
    made: list[VeHandle] = []

    def factory(*create_args: str, start: bool = True, on: Node | None = None) -> VeHandle:
        n = on or node
        ve = VeHandle(n, n.new_ctid())
        made.append(ve)
        n.vzctl("create", str(ve.ctid), "--ostemplate", "busybox", *create_args, check=True)
        if start:
            ve.vzctl("start", "--wait", check=True)
        return ve

    yield factory
    for ve in made:
        ve.vzctl("stop", "--fast", timeout=60)
        ve.vzctl("destroy", timeout=60)


@pytest.fixture
def ve(make_ve: object) -> VeHandle:
    """One running busybox VE."""
    assert callable(make_ve)
    result = make_ve()
    assert isinstance(result, VeHandle)
    return result
