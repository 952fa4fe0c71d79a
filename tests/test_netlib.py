"""Test support for the network tests: a node network namespace with no route out, an
outside client namespace wired to it, and pyvz commands run inside the node namespace.

Everything here carries a per-test prefix and is removed at teardown, even on failure.
Traffic only ever goes between these namespaces and the VEs inside them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
NODE_IP = "10.213.0.1"    # the node's uplink address (its own namespace)
CLIENT_IP = "10.213.0.2"  # the outside client, on the same link
BR_NODE_IP = "10.214.0.1"  # the node's address on the test bridge
BR_CLIENT_IP = "10.214.0.2"
# IPv6 on the uplink (a ULA /64; the namespaces have no route out, like for IPv4)
NODE_IP6 = "fd00:213::1"
CLIENT_IP6 = "fd00:213::2"


def sh(*argv: str, check: bool = True, timeout: float = 60,
       input: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"{argv} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


class NetNode:
    """A pyvz node (``fresh_node``) whose commands run in network namespace ``ns``."""

    def __init__(self, node: object, prefix: str) -> None:
        self.node = node
        self.prefix = prefix
        self.ns = f"{prefix}n"
        self.client = f"{prefix}c"
        self.ctids: list[int] = []

    def in_ns(self, ns: str, *argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return sh("nsenter", f"--net=/run/netns/{ns}", *argv, **kw)  # type: ignore[arg-type]

    def node_sh(self, *argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.in_ns(self.ns, *argv, **kw)

    def client_sh(self, *argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.in_ns(self.client, *argv, **kw)

    def pyvz(self, prog: str, *args: str, timeout: float = 120
             ) -> subprocess.CompletedProcess[str]:
        env = dict(self.node.env)  # type: ignore[attr-defined]
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.ns}", str(BIN / prog),
                               *args], env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def vzctl(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        proc = self.pyvz("vzctl", *args)
        if check and proc.returncode != 0:
            raise AssertionError(f"vzctl {args} -> {proc.returncode}\n{proc.stdout}\n"
                                 f"{proc.stderr}")
        return proc

    def create(self, *args: str, start: bool = True) -> int:
        ctid: int = self.node.new_ctid()  # type: ignore[attr-defined]
        self.ctids.append(ctid)
        self.vzctl("create", str(ctid), "--ostemplate", "busybox", *args, check=True)
        if start:
            self.vzctl("start", str(ctid), "--wait", check=True)
        return ctid

    def exec(self, ctid: int, *cmd: str, check: bool = True
             ) -> subprocess.CompletedProcess[str]:
        return self.vzctl("exec", str(ctid), *cmd, check=check)

    def init_pid(self, ctid: int) -> int:
        return int(self.node.state(ctid)["init_pid"])  # type: ignore[attr-defined]

    def serve(self, ctid: int, port: int, size: int) -> None:
        """busybox httpd in the VE, serving /www/blob of ``size`` bytes."""
        # vzctl exec runs its arguments as one shell command line inside the VE
        self.exec(ctid, f"mkdir -p /www && head -c {size} /dev/zero > /www/blob "
                  f"&& httpd -p {port} -h /www")

    def fetch(self, ns: str, url: str, timeout: float = 10) -> tuple[int, float]:
        """Bytes received from ``url`` from namespace ``ns`` and seconds taken (-1: no
        connection)."""
        code = ("import sys,time,urllib.request\nt=time.monotonic()\ntry:\n"
                f" d=urllib.request.urlopen(sys.argv[1],timeout={timeout}).read()\n"
                "except Exception as e:\n print(-1, 0); sys.exit(0)\n"
                "print(len(d), time.monotonic()-t)\n")
        out = self.in_ns(ns, sys.executable, "-c", code, url, timeout=timeout + 30).stdout
        size, secs = out.split()
        return int(size), float(secs)

    def counters(self, ns: str, name: str) -> int:
        """A counter of /proc/net/snmp (``Icmp.InEchos`` …) in namespace ``ns``."""
        proto, field = name.split(".")
        lines = [ln.split() for ln in self.in_ns(ns, "cat", "/proc/net/snmp").stdout
                 .splitlines() if ln.startswith(proto + ":")]
        return int(lines[1][lines[0].index(field)])

    def counters6(self, ns: str, name: str) -> int:
        """A counter of /proc/net/snmp6 (``Icmp6InEchos`` …) in namespace ``ns``."""
        text = str(self.in_ns(ns, "cat", "/proc/net/snmp6").stdout)
        for line in text.splitlines():
            fields = line.split()
            if fields and fields[0] == name:
                return int(fields[1])
        raise AssertionError(f"no {name} in /proc/net/snmp6")

    def leftovers(self) -> str:
        """pyvz objects in the node namespace: links with an alias, routes, proxy
        entries, nft tables (empty when nothing is left)."""
        out = []
        links = self.node_sh("ip", "-d", "link", "show").stdout
        out += [ln for ln in links.splitlines() if "alias pyvz:" in ln]
        out += [ln for ln in self.node_sh("ip", "route", "show", "proto", "176").stdout
                .splitlines()]
        out += [ln for ln in self.node_sh("ip", "-6", "route", "show", "proto", "176")
                .stdout.splitlines()]
        out += [ln for ln in self.node_sh("ip", "neigh", "show", "proxy").stdout.splitlines()]
        out += [ln for ln in self.node_sh("nft", "list", "tables").stdout.splitlines()]
        return "\n".join(out)

    def cleanup(self) -> None:
        for ctid in self.ctids:
            self.vzctl("stop", str(ctid), "--fast")
            self.vzctl("destroy", str(ctid))


@pytest.fixture
def netnode(fresh_node: object) -> Iterator[NetNode]:
    if os.geteuid() != 0:
        pytest.skip("network tests need root")
    prefix = f"pvt{os.getpid() % 10000}{int(time.time() * 1000) % 10000}"
    nn = NetNode(fresh_node, prefix)
    made: list[str] = []
    try:
        for ns in (nn.ns, nn.client):
            sh("ip", "netns", "add", ns)
            made.append(ns)
            nn.in_ns(ns, "ip", "link", "set", "lo", "up")
        # the uplink: node "up0" <-> client "cl0", one /24, no default route anywhere
        nn.node_sh("ip", "link", "add", "up0", "type", "veth", "peer", "name", "cl0",
                   "netns", f"/run/netns/{nn.client}")
        nn.node_sh("ip", "addr", "add", f"{NODE_IP}/24", "dev", "up0")
        nn.node_sh("ip", "link", "set", "up0", "up")
        nn.client_sh("ip", "addr", "add", f"{CLIENT_IP}/24", "dev", "cl0")
        nn.client_sh("ip", "link", "set", "cl0", "up")
        # forwarding in the test's own node namespace only
        nn.node_sh("sysctl", "-qw", "net.ipv4.ip_forward=1")
        yield nn
    finally:
        try:
            nn.cleanup()
        finally:
            for ns in made:
                sh("ip", "netns", "del", ns, check=False)


def add_bridge(nn: NetNode) -> None:
    """A bridge br0 in the node namespace with the client on it (client "cb0")."""
    nn.node_sh("ip", "link", "add", "br0", "type", "bridge")
    nn.node_sh("ip", "addr", "add", f"{BR_NODE_IP}/24", "dev", "br0")
    nn.node_sh("ip", "link", "set", "br0", "up")
    nn.node_sh("ip", "link", "add", "brc0", "type", "veth", "peer", "name", "cb0", "netns",
               f"/run/netns/{nn.client}")
    nn.node_sh("ip", "link", "set", "brc0", "master", "br0", "up")
    nn.client_sh("ip", "addr", "add", f"{BR_CLIENT_IP}/24", "dev", "cb0")
    nn.client_sh("ip", "link", "set", "cb0", "up")


def add_ipv6(nn: NetNode) -> None:
    """IPv6 on the uplink: the node's and the client's addresses in one /64, forwarding
    and proxy NDP switched on in the test's own node namespace (the admin's settings)."""
    nn.node_sh("ip", "addr", "add", f"{NODE_IP6}/64", "dev", "up0", "nodad")
    nn.client_sh("ip", "addr", "add", f"{CLIENT_IP6}/64", "dev", "cl0", "nodad")
    nn.node_sh("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1",
               "net.ipv6.conf.all.proxy_ndp=1")


def add_routed_bridge(nn: NetNode) -> None:
    """A bridge br0 in the node namespace with the node's address and no client on it:
    the client reaches its VEs only through the node (its route via the uplink)."""
    nn.node_sh("ip", "link", "add", "br0", "type", "bridge")
    nn.node_sh("ip", "addr", "add", f"{BR_NODE_IP}/24", "dev", "br0")
    nn.node_sh("ip", "link", "set", "br0", "up")
    nn.client_sh("ip", "route", "add", "10.214.0.0/24", "via", NODE_IP)
