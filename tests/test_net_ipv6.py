"""IPv6 on venet, end to end: several IPv6 addresses beside an IPv4 one, TCP (busybox
httpd) from the node and from an outside client (proxy NDP on the uplink), ICMPv6 from the
VE, IPv6 anti-spoofing, live delete, nothing left after stop.  And no link-local address
on either venet end: both share one MAC, so both would get the same fe80:: address, and
a node without a global IPv6 address then talked to the VE from the VE's own address."""

from __future__ import annotations

import pytest
from test_netlib import CLIENT_IP6, NODE_IP6, NetNode, add_ipv6, netnode  # noqa: F401

pytestmark = pytest.mark.slow

IP4 = "10.213.0.121"
A6 = "fd00:213::121"
B6 = "fd00:213::122"
SPOOF6 = "fd00:213::199"
SIZE = 1_000_000


def _host_end(nn: NetNode, ctid: int) -> str:
    alias = f"pyvz:{nn.node.node_name}:{ctid}:venet0"  # type: ignore[attr-defined]
    lines = nn.node_sh("ip", "-o", "-d", "link", "show").stdout.splitlines()
    return next(ln.split(": ")[1].split("@")[0] for ln in lines if alias in ln)


def test_venet_ipv6(netnode: NetNode) -> None:  # noqa: F811
    nn = netnode
    add_ipv6(nn)
    ctid = nn.create("--ipadd", IP4, "--ipadd", A6, "--ipadd", B6)
    inside = nn.exec(ctid, "ip -6 addr show venet0").stdout
    assert f"{A6}/128" in inside and f"{B6}/128" in inside
    assert "fe80" not in inside
    assert "fe80" not in nn.node_sh("ip", "-6", "addr", "show", "dev", _host_end(nn, ctid)).stdout
    assert "default dev venet0" in nn.exec(ctid, "ip -6 route").stdout
    proxies = nn.node_sh("ip", "-6", "neigh", "show", "proxy").stdout
    assert f"{A6} dev up0" in proxies and f"{B6} dev up0" in proxies

    # TCP over IPv6 to both addresses, from the node and from the client
    nn.serve(ctid, 8080, SIZE)
    for ns in (nn.ns, nn.client):
        for ip in (A6, B6):
            assert nn.fetch(ns, f"http://[{ip}]:8080/blob")[0] == SIZE, (ns, ip)
    assert nn.fetch(nn.client, f"http://{IP4}:8080/blob")[0] == SIZE
    # and out of the VE: ICMPv6 to the client, through the node
    assert nn.exec(ctid, f"ping6 -c 1 -W 2 {CLIENT_IP6}", check=False).returncode == 0

    # anti-spoofing: a foreign source address is dropped at the node, the VE's own passes
    echos = nn.counters6(nn.ns, "Icmp6InEchos")
    nn.exec(ctid, f"ip addr add {SPOOF6}/128 dev venet0")
    nn.exec(ctid, f"ping6 -c 3 -W 1 -I {SPOOF6} {NODE_IP6}", check=False)
    assert nn.counters6(nn.ns, "Icmp6InEchos") == echos
    client_echos = nn.counters6(nn.client, "Icmp6InEchos")
    nn.exec(ctid, f"ping6 -c 2 -W 1 -I {SPOOF6} {CLIENT_IP6}", check=False)
    assert nn.counters6(nn.client, "Icmp6InEchos") == client_echos
    nn.exec(ctid, f"ping6 -c 3 -W 1 -I {A6} {NODE_IP6}", check=False)
    assert nn.counters6(nn.ns, "Icmp6InEchos") == echos + 3

    # live delete: unreachable, its route and proxy entry gone, the other address stays
    r = nn.vzctl("set", str(ctid), "--ipdel", A6, "--save", check=True)
    assert f"Deleting IP address(es): {A6}" in r.stdout
    assert nn.fetch(nn.client, f"http://[{A6}]:8080/blob", timeout=3)[0] == -1
    assert nn.fetch(nn.client, f"http://[{B6}]:8080/blob")[0] == SIZE
    assert A6 not in nn.node_sh("ip", "-6", "route").stdout
    assert A6 not in nn.node_sh("ip", "-6", "neigh", "show", "proxy").stdout
    assert A6 not in nn.exec(ctid, "ip -6 addr").stdout

    nn.vzctl("stop", str(ctid), check=True)
    assert nn.leftovers() == ""
    assert "fd00:213" not in nn.node_sh("ip", "-6", "neigh", "show", "proxy").stdout
