"""pyvz as the bench drives it: the real CLI (``vzctl``, cold, as a user types it) on a
node of the bench's own (``VZ_ROOT`` in the work directory, so its cgroup directories and
host device names carry a node name nobody else uses), with template caches in a
persistent directory shared between bench runs.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from benchkit.cleanup import kill_cgroup_procs, mounts_under, remove_cgroup_tree
from benchkit.proc import VENV_BIN, CommandError, in_netns, run, timed

BUSYBOX = "busybox"
WEB_ROOT = "/www"


class PyvzSystem:
    name = "pyvz"

    def __init__(self, root: Path, template_dir: Path, netns: str | None,
                 btrfs_dir: Path | None = None) -> None:
        self.root = root
        self.netns = netns
        self.btrfs_dir = btrfs_dir
        self.env = dict(os.environ, VZ_ROOT=str(root))
        self.env.pop("PYTHONPATH", None)
        root.mkdir(parents=True, exist_ok=True)
        from pyvz.node import Node
        from pyvz.paths import Paths

        _ = Node(Paths(str(root))).global_values   # writes vz.conf with pyvz's defaults
        conf = root / "etc/vz/vz.conf"
        lines = [f'TEMPLATE="{template_dir}"' if ln.startswith("TEMPLATE=") else ln
                 for ln in conf.read_text().splitlines()]
        conf.write_text("\n".join(lines) + "\n")
        from pyvz.paths import node_name_for

        self.node_name = node_name_for(str(root))

    # --- commands ----------------------------------------------------------------------
    def argv(self, prog: str, *args: str, net: bool = False) -> list[str]:
        argv = [str(VENV_BIN / prog), *args]
        return in_netns(self.netns, argv) if net and self.netns else argv

    def vz(self, *args: str, net: bool = False, check: bool = True,
           timeout: float = 600) -> float:
        return timed(self.argv("vzctl", *args, net=net), env=self.env, check=check,
                     timeout=timeout)

    def layout_args(self, ctid: int, template: str, layout: str) -> list[str]:
        if layout == "ploop":
            return ["--layout", "ploop", "--diskspace", "1G" if template == BUSYBOX else "3G"]
        if layout == "btrfs":
            assert self.btrfs_dir, "the btrfs layout needs the bench's btrfs pool"
            return ["--layout", "btrfs", "--private", f"{self.btrfs_dir}/pyvz/{ctid}"]
        return ["--layout", layout]

    def create(self, ctid: int, template: str = BUSYBOX, layout: str = "overlay",
               *extra: str, net: bool = False) -> float:
        return self.vz("create", str(ctid), "--ostemplate", template,
                       *self.layout_args(ctid, template, layout), *extra, net=net)

    def start_until_answer(self, ctid: int, net: bool = False) -> float:
        """``vzctl start`` then ``vzctl exec true``: until a command inside answers."""
        t = time.perf_counter()
        self.vz("start", str(ctid), net=net)
        self.vz("exec", str(ctid), "true", net=net)
        return time.perf_counter() - t

    def exec_true(self, ctid: int) -> float:
        return self.vz("exec", str(ctid), "true")

    def run_in(self, ctid: int, command: str) -> float:
        # vzctl exec runs its arguments as one shell command line inside the VE
        return self.vz("exec", str(ctid), command)

    def stop(self, ctid: int, net: bool = False) -> float:
        return self.vz("stop", str(ctid), net=net)

    def stop_fast(self, ctid: int, net: bool = False) -> float:
        return self.vz("stop", str(ctid), "--fast", net=net)

    def destroy(self, ctid: int, net: bool = False) -> float:
        return self.vz("destroy", str(ctid), net=net)

    def remove(self, ctid: int, net: bool = False) -> None:
        self.vz("stop", str(ctid), "--fast", net=net, check=False)
        self.vz("destroy", str(ctid), net=net, check=False)

    # --- density: a VE serving HTTP on its venet address ---------------------------------
    def add_web(self, ctid: int, template: str, address: str, layout: str = "overlay") -> None:
        self.create(ctid, template, layout, "--ipadd", address, net=True)
        self.vz("start", str(ctid), net=True)
        if template == BUSYBOX:
            self.vz("exec", str(ctid), f"mkdir -p {WEB_ROOT} && echo ok > {WEB_ROOT}/index.html"
                    f" && httpd -p 80 -h {WEB_ROOT}", net=True)

    # --- what the kernel sees ----------------------------------------------------------
    def state(self, ctid: int) -> dict[str, str]:
        path = self.root / "run/pyvz" / str(ctid) / "state"
        return dict(line.split("=", 1) for line in path.read_text().splitlines())

    def manager_pids(self, ctids: list[int]) -> tuple[list[int], list[int]]:
        """(per-VE monitors, node-wide helpers such as lxcfs): pyvz's own processes."""
        per_ve = []
        for c in ctids:
            try:    # a VE that died under the cap has no run state: nothing to count
                per_ve.append(int(self.state(c)["monitor_pid"]))
            except (OSError, KeyError, ValueError):
                pass
        shared = []
        pidfile = self.root / "run/pyvz/lxcfs.pid"
        if pidfile.exists():
            shared.append(int(pidfile.read_text().split()[0]))
        return per_ve, shared

    def cap_cgroup(self, memory_root: Path) -> Path:
        """The node's base directory: every VE of this node lives below it."""
        return memory_root / self.node_name

    def ve_cgroup(self, memory_root: Path, ctid: int) -> Path:
        return memory_root / self.node_name / str(ctid)

    def template_trees(self) -> list[Path]:
        """Where the node keeps unpacked template layers (for page-cache eviction)."""
        conf = (self.root / "etc/vz/vz.conf").read_text()
        tdir = next(ln.split("=", 1)[1].strip('"') for ln in conf.splitlines()
                    if ln.startswith("TEMPLATE="))
        return [Path(tdir) / "layers"]

    def private(self, ctid: int) -> Path:
        return self.root / "vz/private" / str(ctid)


def node_cleanup(root: Path, netns: str | None) -> None:
    """Stop and destroy every VE of the bench's node, stop its lxcfs, kill what is left
    of its processes, unmount and remove its cgroup directories."""
    env = dict(os.environ, VZ_ROOT=str(root))
    env.pop("PYTHONPATH", None)
    in_ns = bool(netns) and os.path.exists(f"/run/netns/{netns}")

    def vz(prog: str, *args: str) -> None:
        argv = [str(VENV_BIN / prog), *args]
        try:
            run(in_netns(netns, argv) if in_ns and netns else argv, env=env, check=False,
                timeout=300)
        except (CommandError, OSError):
            pass

    conf_dir = root / "etc/vz/conf"
    ctids = sorted(c.stem for c in conf_dir.glob("*.conf") if c.stem.isdigit()) \
        if conf_dir.exists() else []
    for ctid in ctids:
        vz("vzctl", "stop", ctid, "--fast")
        vz("vzctl", "destroy", ctid)
    vz("pyvz", "cleanup")
    _kill_run_state(root)
    for target in sorted(mounts_under(root), key=len, reverse=True):
        run(["umount", "-l", target], check=False)
    from pyvz.cgroups.hierarchy import Hierarchies
    from pyvz.paths import node_name_for

    hier = Hierarchies.probe()
    name = node_name_for(str(root))
    for mount in [*hier.v1, *([hier.v2] if hier.v2 else [])]:
        base = Path(mount) / name
        if base.exists():
            kill_cgroup_procs(base)
            remove_cgroup_tree(base)


def _kill_run_state(root: Path) -> None:
    """SIGKILL the monitors the node's run state names (checked by their command line,
    which holds the node's path); the VEs' own processes go with their cgroups."""
    run_dir = root / "run/pyvz"
    for state in run_dir.glob("*/state") if run_dir.exists() else []:
        try:
            values = dict(ln.split("=", 1) for ln in state.read_text().splitlines())
            pid = int(values.get("monitor_pid", "0") or 0)
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if pid > 0 else b""
        except (OSError, ValueError):
            continue
        if str(root).encode() in cmdline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
