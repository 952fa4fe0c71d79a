"""N_bare: the density workload's daemons started straight on the node, without isolation.

Each copy runs rsyslogd, cron, sshd, nginx and exim4 from the same template cache the
VEs use, as real root, in the bench's network namespace (all copies share it; each
listens on an address of its own on the namespace's loopback device), and in no cgroup
of its own: all copies sit in one memory cgroup that only carries the cap.  The only
thing a copy has of its own is its file tree (``chroot`` into an overlayfs over one
unpacked cache, the way pyvz's overlay VEs share it): the daemons need their own /run,
/var and configuration to run side by side.  There is no per-copy init: the node's own
init stands for all of them, which is the point of a physical limit.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

from benchkit.proc import in_netns, run

DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8),
           "urandom": (1, 9), "tty": (5, 0)}
DAEMONS = [["/usr/sbin/rsyslogd"], ["/usr/sbin/cron"], ["/usr/sbin/sshd"],
           ["/usr/sbin/nginx"]]


class BareSystem:
    name = "bare"

    def __init__(self, top: Path, cache: Path, netns: str, cap: Path) -> None:
        self.top = top
        self.cache = cache
        self.netns = netns
        self.cap = cap                      # the memory cgroup all copies go into
        self.lower = top / "lower"
        self.addresses: dict[int, str] = {}

    def prepare(self) -> None:
        """Unpack the cache once (owners as stored: no uid shift, these run as real root)
        and give it ssh host keys, which every copy then shares."""
        if (self.lower / "etc").exists():
            return
        self.lower.mkdir(parents=True)
        run(["tar", "--numeric-owner", "-xpzf", str(self.cache), "-C", str(self.lower)])
        run(["chroot", str(self.lower), "ssh-keygen", "-A"])

    def _copy_tree(self, ident: int, address: str) -> Path:
        base = self.top / f"c{ident}"
        root = base / "root"
        for d in ("upper", "work", "root"):
            (base / d).mkdir(parents=True, exist_ok=True)
        run(["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={self.lower},upperdir={base / 'upper'},workdir={base / 'work'}",
             str(root)])
        run(["mount", "-t", "proc", "proc", str(root / "proc")])
        for d in ("run", "dev", "tmp"):
            run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=16m", f"bare-{d}", str(root / d)])
        for name, (major, minor) in DEVICES.items():
            os.mknod(root / "dev" / name, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        (root / "dev/pts").mkdir()
        (root / "dev/shm").mkdir()
        (root / "run/sshd").mkdir(mode=0o755)
        (root / "run/lock").mkdir()
        os.chmod(root / "tmp", 0o1777)
        # each copy listens on its own address only (they share one network namespace)
        site = root / "etc/nginx/sites-available/default"   # sites-enabled links here
        if site.exists():
            text = site.read_text().replace("listen 80 default_server;",
                                            f"listen {address}:80 default_server;")
            site.write_text("\n".join(ln for ln in text.splitlines() if "[::]:80" not in ln)
                            + "\n")
        (root / "etc/ssh/sshd_config.d/bench.conf").write_text(f"ListenAddress {address}\n")
        # the kernel log belongs to the node; a copy must not read /proc/kmsg
        conf = root / "etc/rsyslog.conf"
        if conf.exists():
            conf.write_text("\n".join("#" + ln if "imklog" in ln else ln
                                      for ln in conf.read_text().splitlines()) + "\n")
        return root

    def add_web(self, ident: int, template: str, address: str, layout: str = "overlay") -> None:
        run(in_netns(self.netns, ["ip", "addr", "add", f"{address}/32", "dev", "lo"]))
        self.addresses[ident] = address
        root = self._copy_tree(ident, address)
        procs = self.cap / "cgroup.procs"

        def into_cap() -> None:   # before exec: every daemon and its children are capped
            with open(procs, "w") as f:
                f.write(str(os.getpid()))

        for argv in [*DAEMONS, ["/usr/sbin/exim4", "-bd", "-q30m", "-oX", f"{address}.25"]]:
            proc = subprocess.run(in_netns(self.netns, ["chroot", str(root), *argv]),
                                  preexec_fn=into_cap, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  start_new_session=True, timeout=60)
            if proc.returncode != 0:
                raise RuntimeError(f"bare copy {ident}: {argv[0]} failed: "
                                   f"{proc.stderr.decode(errors='replace').strip()[-300:]}")

    def remove(self, ident: int, net: bool = False) -> None:
        """Copies are removed all at once (``remove_all``): their processes share a cgroup."""

    def remove_all(self) -> None:
        from benchkit.cleanup import kill_cgroup_procs, mounts_under

        deadline = time.monotonic() + 30
        while (self.cap / "cgroup.procs").read_text().split() and time.monotonic() < deadline:
            kill_cgroup_procs(self.cap)
            time.sleep(0.05)
        for target in sorted(mounts_under(self.top), key=len, reverse=True):
            if "/c" in target.removeprefix(str(self.top)):
                run(["umount", "-l", target], check=False)
        for ident, address in self.addresses.items():
            run(in_netns(self.netns, ["ip", "addr", "del", f"{address}/32", "dev", "lo"]),
                check=False)
            run(["rm", "-rf", "--one-file-system", str(self.top / f"c{ident}")], check=False)
        self.addresses.clear()

    def manager_pids(self, idents: list[int]) -> tuple[list[int], list[int]]:
        return [], []

    def cap_cgroup(self, memory_root: Path) -> Path:
        return self.cap

    def template_trees(self) -> list[Path]:
        return [self.lower]
