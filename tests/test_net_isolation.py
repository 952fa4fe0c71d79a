"""Two venet VEs: A sees nothing of node<->B traffic on its device, a spoofed source from
A is dropped at the node, and a firewall rule in A's own network stack blocks a port for
A only."""

from __future__ import annotations

import pytest
from test_netlib import NODE_IP, NetNode, netnode  # noqa: F401

pytestmark = pytest.mark.slow

IP_A = "10.213.0.111"
IP_B = "10.213.0.112"
SPOOF = "10.213.0.199"
SIZE = 3_000_000


def _rx(nn: NetNode, ctid: int) -> int:
    return int(nn.exec(ctid, "cat /sys/class/net/venet0/statistics/rx_bytes").stdout)


def test_isolation_spoofing_firewall(netnode: NetNode) -> None:  # noqa: F811
    nn = netnode
    a = nn.create("--ipadd", IP_A)
    b = nn.create("--ipadd", IP_B)
    nn.serve(a, 8080, 1000)
    nn.serve(b, 8080, SIZE)

    # no sniffing: A's device (where a packet socket in A would listen) carries none of
    # the node<->B transfer, in bytes or packets
    rx_before = _rx(nn, a)
    assert nn.fetch(nn.ns, f"http://{IP_B}:8080/blob")[0] == SIZE
    assert nn.fetch(nn.client, f"http://{IP_B}:8080/blob")[0] == SIZE
    assert _rx(nn, a) - rx_before < 1000

    # anti-spoofing: A's root adds a foreign address and pings the node from it
    nn.exec(a, f"ip addr add {SPOOF}/32 dev venet0")
    echos = nn.counters(nn.ns, "Icmp.InEchos")
    nn.exec(a, f"ping -c 3 -W 1 -I {SPOOF} {NODE_IP}", check=False)
    assert nn.counters(nn.ns, "Icmp.InEchos") == echos
    nn.exec(a, f"ping -c 3 -W 1 {NODE_IP}", check=False)  # its own address: let through
    assert nn.counters(nn.ns, "Icmp.InEchos") == echos + 3
    # nor can A take B's address
    nn.exec(a, f"ip addr add {IP_B}/32 dev venet0")
    nn.exec(a, f"ping -c 2 -W 1 -I {IP_B} {NODE_IP}", check=False)
    assert nn.counters(nn.ns, "Icmp.InEchos") == echos + 3

    # a firewall in A's own network namespace (busybox has no iptables/nft: the rule is
    # set by nft run in A's namespace, standing in for A's root doing it)
    pid = nn.init_pid(a)
    rules = ("add table inet vefw\n"
             "add chain inet vefw input { type filter hook input priority 0; }\n"
             "add rule inet vefw input tcp dport 8080 drop\n")
    nn.node_sh("nsenter", f"--net=/proc/{pid}/ns/net", "nft", "-f", "-", input=rules)
    assert nn.fetch(nn.ns, f"http://{IP_A}:8080/blob", timeout=3)[0] == -1
    assert nn.fetch(nn.ns, f"http://{IP_B}:8080/blob")[0] == SIZE
    assert "vefw" not in nn.node_sh("nft", "list", "tables").stdout  # not the node's

    for ctid in (a, b):
        nn.vzctl("stop", str(ctid), check=True)
    assert nn.leftovers() == ""
