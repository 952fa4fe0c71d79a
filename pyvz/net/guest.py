"""The VE's own network configuration files (per distribution, ``Dist.set_network``),
written as the VE's root from inside it: chrooted into the mounted root of a VE that is
starting, or in the namespaces of a running one.

Whether the VE's own boot brings its veth interfaces' addresses up from those files
(Debian's ifupdown, busybox's ifup) is the distribution's answer; when it does not, the
node sets them (``pyvz.net.apply``).  Two writers would fight: ifup fails on an address
that is already there.
"""

from __future__ import annotations

import os
import signal
import time

from pyvz import log
from pyvz.errors import VzError

__all__ = ["has_network_files", "has_stale_config", "run_ifupdown", "write_config"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.net.netplan import NetPlan
    from pyvz.ve.model import VE

_INTERFACES = "etc/network/interfaces"
# the longest a VE's ifup/ifdown may run (a DHCP client's first lease included: Debian's
# dhclient gives up after 60 s); a VE's root could make them hang forever
IFUPDOWN_TIMEOUT = 90.0


def has_network_files(ve: VE) -> bool:
    """pyvz writes network files for the VE's distribution (``Dist.set_network``)."""
    from pyvz.dists import for_template
    from pyvz.dists.base import Dist

    return type(for_template(ve.conf.get("OSTEMPLATE"))).set_network is not Dist.set_network


def write_config(ve: VE, plan: NetPlan, *, running: bool) -> bool:
    """Write the files; True when the VE's boot applies the veth addressing itself."""
    from pyvz.dists import preload
    from pyvz.dists.base import Dist
    from pyvz.net import ifupdown  # noqa: F401  (the writer runs where it cannot import)

    ostemplate = ve.conf.get("OSTEMPLATE")
    dist = preload(ostemplate, addresses=False)
    if type(dist).set_network is Dist.set_network:
        return False  # no file for this distribution: no need to enter the VE at all
    ips = list(plan.ips)
    netifs = list(plan.netifs)
    if not getattr(dist, "dhcp6", True):
        for n in netifs:
            if n.configured and n.uses_dhcp(True):
                log.warn(f"DHCPv6 on {n.ifname}: the container's ifup ({dist.name}) has "
                         "none; the interface gets no IPv6 address from pyvz")
    # the writer is a child process (inside the VE): its answer comes back over a pipe
    r, w = os.pipe2(os.O_CLOEXEC)

    def work() -> None:
        os.close(r)
        answer = dist.set_network("/", ips, netifs)
        os.write(w, b"1" if answer else b"0")
        os.close(w)

    from pyvz.ve import nsexec

    try:
        if running:
            nsexec.call_in_running(ve, work)
        else:
            nsexec.call_in_root(ve, work)
    except VzError as e:
        # the devices work without the file; a VE whose /etc is odd still starts
        log.warn(f"Unable to write the container's network configuration: {e.message}")
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        return f.read(1) == b"1"


def has_stale_config(ve: VE) -> bool:
    """A VE now without network whose /etc/network/interfaces pyvz wrote with interfaces
    in it (its boot would try to bring up what is gone).  Read from the node through
    openat2 confined to the VE's root: cheap enough for every start."""
    from pyvz.kernel import syscalls as sc
    from pyvz.net.ifupdown import MARK

    try:
        root = os.open(ve.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fd = sc.openat2(root, _INTERFACES, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    finally:
        os.close(root)
    try:
        head = os.read(fd, 16384).decode(errors="replace")
    finally:
        os.close(fd)
    if MARK not in head:
        return False
    return any(line.startswith("iface ") and not line.startswith("iface lo ")
               for line in head.splitlines())


def run_ifupdown(ve: VE, verb: str, ifname: str) -> str:
    """Run the VE's own ``ifup``/``ifdown -f IFNAME`` inside the running VE (for what only
    the VE's tools can do: start or stop its DHCP client).  Returns "" on success, or
    the program's complaint."""
    from pyvz.ve import nsexec

    r, w = os.pipe2(os.O_CLOEXEC)
    devnull = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    target = nsexec.open_target(ve)
    try:
        # busybox's ifup runs its commands with $SHELL
        pid = nsexec.spawn(target, [verb, "-f", ifname],
                           {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SHELL": "/bin/sh"},
                           stdin=devnull, stdout=w, stderr=w)
    except VzError as e:
        os.close(r)
        return e.message
    finally:
        target.close()
        os.close(w)
        os.close(devnull)
    output, finished = _read_until(r, pid, time.monotonic() + IFUPDOWN_TIMEOUT)
    if not finished:  # the VE's program must not hold up vzctl: ours to kill, by PID
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    status = nsexec.wait_status(pid)
    if not finished:
        return f"{verb} {ifname} did not finish in {IFUPDOWN_TIMEOUT:.0f} s: stopped"
    if status == 0:
        return ""
    lines = output.decode(errors="replace").strip().splitlines()
    return f"{verb} {ifname} failed ({status})" + (f": {lines[-1]}" if lines else "")


def _read_until(fd: int, pid: int, deadline: float) -> tuple[bytes, bool]:
    """The last 4 KiB written to pipe ``fd`` until process ``pid`` exits (True) or
    ``deadline`` (False); closes ``fd``.  The process's exit counts, not the pipe's end: a
    DHCP client it left running in the background may hold the pipe open."""
    import select

    output = b""
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    os.set_blocking(fd, False)
    piped = True
    try:
        while True:
            left = deadline - time.monotonic()
            events = poller.poll(left * 1000) if left > 0 else []
            if not events:
                return output, False
            try:
                while piped and (chunk := os.read(fd, 4096)):
                    output = (output + chunk)[-4096:]
                if piped:  # all writers gone: only the exit is awaited
                    poller.unregister(fd)
                    piped = False
            except BlockingIOError:
                pass
            if any(f == pidfd for f, _ in events):
                return output, True
    finally:
        os.close(pidfd)
        os.close(fd)
