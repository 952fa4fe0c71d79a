"""LXC (Debian's lxc package) as the bench drives it: its own command-line tools, cold, in
an lxcpath of the bench's own, privileged containers (LXC's default when root runs it).

* busybox containers come from LXC's busybox template; Debian containers are unpacked from
  the very pyvz template cache the pyvz VEs use (``data/lxc-cache-template``), so both
  systems run the same bits.
* Cgroups go to directories the bench names (``lxc.cgroup.dir.container`` and
  ``.monitor``): containers below a cap directory, monitors outside it, as pyvz's
  monitors are outside its node directory.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from benchkit.proc import CommandError, in_netns, run, timed

TEMPLATE_SCRIPT = Path(__file__).resolve().parent / "data" / "lxc-cache-template"
BUSYBOX = "busybox"
BASE = {"busybox": "base-busybox"}


class LxcSystem:
    name = "LXC"

    def __init__(self, path: Path, tag: str, netns: str | None, cache_dir: Path,
                 btrfs_dir: Path | None = None) -> None:
        self.path = path
        self.path.mkdir(parents=True, exist_ok=True)
        self.netns = netns
        self.cache_dir = cache_dir
        self.btrfs_path = btrfs_dir / "lxc" if btrfs_dir else None
        self.cg = f"pvb{tag}-lxc"          # containers (a cap may be set here)
        self.cg_monitor = f"pvb{tag}-lxcmon"
        self.cg_pivot = f"pvb{tag}-lxcpivot"
        self.where: dict[str, Path] = {}   # container name -> its lxcpath
        self.netted: set[str] = set()      # containers started in the bench's netns

    def cgroup_tops(self) -> list[str]:
        return [self.cg, self.cg_monitor, self.cg_pivot]

    # --- configuration -----------------------------------------------------------------
    def config(self, name: str, template: str, address: str | None) -> str:
        lines = []
        if template != BUSYBOX:
            lines += ["lxc.include = /usr/share/lxc/config/debian.common.conf",
                      "lxc.arch = amd64"]
        lines += ["lxc.apparmor.profile = unconfined",
                  f"lxc.cgroup.dir.container = {self.cg}/{name}",
                  f"lxc.cgroup.dir.monitor = {self.cg_monitor}/{name}",
                  f"lxc.cgroup.dir.monitor.pivot = {self.cg_pivot}"]
        if address:
            # routed veth: a host route to the address, a device default route inside,
            # no bridge — LXC's counterpart of pyvz's venet
            lines += ["lxc.net.0.type = veth", "lxc.net.0.veth.mode = router",
                      "lxc.net.0.flags = up", f"lxc.net.0.ipv4.address = {address}/32",
                      "lxc.net.0.ipv4.gateway = dev"]
        else:
            lines.append("lxc.net.0.type = empty")
        return "\n".join(lines) + "\n"

    def _conf_file(self, name: str, template: str, address: str | None) -> Path:
        f = self.path / f".{name}.conf"
        f.write_text(self.config(name, template, address))
        return f

    def _fix_clone_config(self, name: str, template: str, address: str | None) -> None:
        """lxc-copy copies the base's config: give the clone its own cgroups and net."""
        conf = self.where[name] / name / "config"
        keep = [ln for ln in conf.read_text().splitlines()
                if not ln.startswith(("lxc.cgroup.dir", "lxc.net.", "lxc.apparmor",
                                      "lxc.include", "lxc.arch"))]
        conf.write_text("\n".join(keep) + "\n" + self.config(name, template, address))

    # --- commands ----------------------------------------------------------------------
    def lxc(self, tool: str, name: str, *args: str, check: bool = True, net: bool = False,
            timeout: float = 600) -> float:
        """Run an LXC tool on one container.  A container started in the bench's network
        namespace is reached there too: its monitor's command socket is an abstract unix
        socket, and those belong to a network namespace."""
        argv = [tool, "-P", str(self.where.get(name, self.path)), "-n", name, *args]
        if self.netns and (net or name in self.netted):
            self.netted.add(name)
            argv = in_netns(self.netns, argv)
        return timed(argv, check=check, timeout=timeout)

    def _template_args(self, template: str) -> list[str]:
        if template == BUSYBOX:
            return ["-t", "busybox"]
        cache = self.cache_dir / f"{template}.tar.gz"
        return ["-t", str(TEMPLATE_SCRIPT), "--", f"--cache={cache}"]

    def prepare_base(self, template: str) -> None:
        """A stopped container to clone from (``lxc-copy -s -B overlay``)."""
        name = BASE.get(template, f"base-{template}")
        if name in self.where:
            return
        self.where[name] = self.path
        self.lxc("lxc-create", name, "-f", str(self._conf_file(name, template, None)),
                 *self._template_args(template))
        rcs = self.path / name / "rootfs/etc/init.d/rcS"
        if template == BUSYBOX and rcs.exists():
            # LXC's busybox rcS runs udhcpc, whose deconfig would drop the static address
            # the bench gives each clone; nothing in the bench serves DHCP anyway
            rcs.write_text("".join(ln for ln in rcs.read_text().splitlines(keepends=True)
                                   if "udhcpc" not in ln))

    def create(self, ident: int, template: str = BUSYBOX, layout: str = "overlay",
               address: str | None = None) -> float:
        """LXC's nearest equivalent of ``vzctl create --layout LAYOUT``:
        overlay: a snapshot clone of a base container on overlayfs;
        simfs: a plain directory filled by the template; ploop: ``-B loop`` (an ext4
        image); btrfs: ``-B btrfs`` (a subvolume, lxcpath on the bench's btrfs pool)."""
        name = f"c{ident}"
        if layout == "overlay":
            base = BASE.get(template, f"base-{template}")
            self.prepare_base(template)
            self.where[name] = self.path
            dt = timed(["lxc-copy", "-P", str(self.path), "-n", base, "-N", name, "-s",
                        "-B", "overlay"])
            self._fix_clone_config(name, template, address)
            return dt
        where = self.path
        backing = ["-B", "dir"]
        if layout == "ploop":
            backing = ["-B", "loop", "--fstype", "ext4",
                       "--fssize", "1G" if template == BUSYBOX else "3G"]
        elif layout == "btrfs":
            assert self.btrfs_path, "the btrfs layout needs the bench's btrfs pool"
            self.btrfs_path.mkdir(exist_ok=True)
            where = self.btrfs_path
            backing = ["-B", "btrfs"]
        self.where[name] = where
        conf = self._conf_file(name, template, address)
        return self.lxc("lxc-create", name, "-f", str(conf), *backing,
                        *self._template_args(template))

    def start_until_answer(self, ident: int, net: bool = False) -> float:
        """``lxc-start`` then ``lxc-attach -- true`` until it succeeds."""
        name = f"c{ident}"
        t = time.perf_counter()
        self.lxc("lxc-start", name, net=net)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.lxc("lxc-attach", name, "--", "true")
                break
            except CommandError:
                if time.monotonic() > deadline:
                    raise
        return time.perf_counter() - t

    def exec_true(self, ident: int) -> float:
        return self.lxc("lxc-attach", f"c{ident}", "--", "true")

    def run_in(self, ident: int, command: str) -> float:
        return self.lxc("lxc-attach", f"c{ident}", "--", "/bin/sh", "-c", command)

    def stop(self, ident: int, net: bool = False) -> float:
        return self.lxc("lxc-stop", f"c{ident}", net=net)

    def stop_fast(self, ident: int, net: bool = False) -> float:
        return self.lxc("lxc-stop", f"c{ident}", "-k", net=net)

    def destroy(self, ident: int, net: bool = False) -> float:
        dt = self.lxc("lxc-destroy", f"c{ident}")
        self.where.pop(f"c{ident}", None)
        self.netted.discard(f"c{ident}")
        return dt

    def remove(self, ident: int, net: bool = False) -> None:
        self.lxc("lxc-stop", f"c{ident}", "-k", check=False, net=net)
        self.lxc("lxc-destroy", f"c{ident}", check=False)
        self.where.pop(f"c{ident}", None)
        self.netted.discard(f"c{ident}")

    # --- density -------------------------------------------------------------------------
    def add_web(self, ident: int, template: str, address: str, layout: str = "overlay") -> None:
        self.create(ident, template, layout, address=address)
        self.lxc("lxc-start", f"c{ident}", net=True)
        if template == BUSYBOX:
            deadline = time.monotonic() + 60
            while True:
                try:
                    self.run_in(ident, "mkdir -p /www && echo ok > /www/index.html && "
                                "httpd -p 80 -h /www")
                    break
                except CommandError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    # --- what the kernel sees ----------------------------------------------------------
    def manager_pids(self, idents: list[int]) -> tuple[list[int], list[int]]:
        """The ``[lxc monitor] PATH NAME`` process of each container (LXC keeps nothing
        node-wide running for them)."""
        wanted = {f"[lxc monitor] {self.where.get(f'c{i}', self.path)} c{i}".encode()
                  for i in idents}
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes().rstrip(b"\0")
            except OSError:
                continue
            if cmdline in wanted:
                found.append(int(entry.name))
        return found, []

    def cap_cgroup(self, memory_root: Path) -> Path:
        return memory_root / self.cg

    def ve_cgroup(self, memory_root: Path, ident: int) -> Path:
        return memory_root / self.cg / f"c{ident}"

    def template_trees(self) -> list[Path]:
        return [self.path / n / "rootfs" for n in self.where if n.startswith("base-")]

    def private(self, ident: int) -> Path:
        return self.where.get(f"c{ident}", self.path) / f"c{ident}"


def lxc_path_cleanup(path: Path, netns: str | None = None) -> None:
    """Stop and destroy every container in the bench's lxcpaths (clones before bases).
    A container whose monitor cannot be reached is killed with its cgroups later (the
    manifest names them too)."""
    paths = [path]
    btrfs = path.parent / "btrfs" / "lxc"
    if btrfs.exists():
        paths.append(btrfs)
    in_ns = bool(netns) and os.path.exists(f"/run/netns/{netns}")
    for p in paths:
        for _ in range(3):
            names = [d.name for d in p.iterdir() if (d / "config").exists()] \
                if p.exists() else []
            if not names:
                break
            for name in sorted(names, key=lambda n: n.startswith("base-")):
                stop = ["lxc-stop", "-P", str(p), "-n", name, "-k"]
                run(stop, check=False, timeout=120)
                if in_ns and netns:
                    run(in_netns(netns, stop), check=False, timeout=120)
                run(["lxc-destroy", "-P", str(p), "-n", name], check=False, timeout=300)
