"""venet: reachable by address from the node and from an outside client after --ipadd
(TCP to busybox httpd in the VE, and ICMP), live add and delete, traffic accounting as a
running total across restarts, and nothing left on the node after a stop; added addresses
announced to the neighbours when the admin chose the devices."""

from __future__ import annotations

import time

import pytest
from test_netlib import CLIENT_IP, NODE_IP, NetNode, add_ipv6, netnode  # noqa: F401

pytestmark = pytest.mark.slow

IP_A = "10.213.0.101"
IP_B = "10.213.0.102"
IP_C = "10.213.0.103"
IP_C6 = "fd00:213::103"
IP_D = "10.213.0.104"
SIZE = 2_000_000


def _traffic(nn: NetNode, ctid: int) -> tuple[int, int]:
    out = nn.pyvz("vzlist", "-a", "-H", "-o", "traffic_in,traffic_out", str(ctid)).stdout
    tin, tout = out.split()
    return int(tin), int(tout)


def test_venet_reachable_live_changes_accounting(netnode: NetNode) -> None:  # noqa: F811
    nn = netnode
    ctid = nn.create("--ipadd", IP_A)
    # inside: venet0 with the address and a default route over it
    assert IP_A in nn.exec(ctid, "ip", "addr", "show", "venet0").stdout
    assert "default dev venet0" in nn.exec(ctid, "ip", "route").stdout
    nn.serve(ctid, 8080, SIZE)
    before = _traffic(nn, ctid)
    # from the node namespace and from the client (via proxy ARP on up0 + forwarding)
    assert nn.fetch(nn.ns, f"http://{IP_A}:8080/blob")[0] == SIZE
    assert nn.fetch(nn.client, f"http://{IP_A}:8080/blob")[0] == SIZE
    assert nn.node_sh("busybox", "ping", "-c", "1", "-W", "2", IP_A, check=False).returncode == 0
    assert nn.exec(ctid, "ping", "-c", "1", "-W", "2", CLIENT_IP, check=False).returncode == 0
    # accounting: two transfers of SIZE out of the VE, small requests in
    tin, tout = _traffic(nn, ctid)
    sent = tout - before[1]
    assert 2 * SIZE <= sent <= 2 * SIZE * 1.06, sent
    assert 0 < tin - before[0] < SIZE // 10

    # live add: reachable at once, on both addresses; saved
    r = nn.vzctl("set", str(ctid), "--ipadd", IP_B, "--save", check=True)
    assert "Adding IP address(es): " + IP_B in r.stdout
    assert nn.fetch(nn.client, f"http://{IP_B}:8080/blob")[0] == SIZE
    assert f'IP_ADDRESS="{IP_A} {IP_B}"' in nn.node.conf(ctid).read_text()  # type: ignore
    # the VE's own view of its network configuration
    assert IP_B in nn.exec(ctid, "cat", "/etc/network/interfaces").stdout

    # live delete: unreachable, no route or proxy entry left for it
    nn.vzctl("set", str(ctid), "--ipdel", IP_A, "--save", check=True)
    assert nn.fetch(nn.client, f"http://{IP_A}:8080/blob", timeout=3)[0] == -1
    assert nn.fetch(nn.ns, f"http://{IP_A}:8080/blob", timeout=3)[0] == -1
    assert IP_A not in nn.node_sh("ip", "route").stdout
    assert IP_A not in nn.node_sh("ip", "neigh", "show", "proxy").stdout
    assert IP_A not in nn.exec(ctid, "ip", "addr").stdout
    assert nn.fetch(nn.client, f"http://{IP_B}:8080/blob")[0] == SIZE

    # stop: nothing of the VE left in the node namespace; totals kept
    total = _traffic(nn, ctid)
    nn.vzctl("stop", str(ctid), check=True)
    assert nn.leftovers() == ""
    assert _traffic(nn, ctid) == total
    # restart: the running total goes on from there
    nn.vzctl("start", str(ctid), "--wait", check=True)
    nn.serve(ctid, 8080, SIZE)
    assert nn.fetch(nn.ns, f"http://{IP_B}:8080/blob")[0] == SIZE
    assert _traffic(nn, ctid)[1] >= total[1] + SIZE
    nn.vzctl("stop", str(ctid), check=True)
    assert nn.leftovers() == ""


def test_ve_without_network_gets_none(netnode: NetNode) -> None:  # noqa: F811
    nn = netnode
    ctid = nn.create()
    links = nn.exec(ctid, "ip", "-o", "link").stdout
    assert "venet0" not in links and "eth" not in links
    assert nn.leftovers() == ""
    assert NODE_IP  # the node keeps its own address untouched
    assert NODE_IP in nn.node_sh("ip", "addr", "show", "up0").stdout


def _neigh_mac(nn: NetNode, ip: str) -> str:
    out = nn.client_sh("ip", "neigh", "show", ip, "dev", "cl0").stdout.split()
    return out[out.index("lladdr") + 1] if "lladdr" in out else ""


def test_added_address_is_announced(netnode: NetNode) -> None:  # noqa: F811
    """With NEIGHBOUR_DEVS chosen by the admin (detect), an added address is announced
    on the uplink (gratuitous ARP, unsolicited NA): a client that still had it at an
    old MAC (the address was elsewhere until now) moves it to the node's at once.  With
    the default ("all") nothing is sent."""
    nn = netnode
    add_ipv6(nn)
    nn.vzctl("status", "101")  # the node's vz.conf, with its defaults
    conf = nn.node.root / "etc/vz/vz.conf"  # type: ignore[attr-defined]
    default = conf.read_text()
    conf.write_text(default + 'NEIGHBOUR_DEVS="detect"\n')
    ctid = nn.create()
    up0 = nn.node_sh("ip", "-o", "link", "show", "up0").stdout.split("link/ether ")[1][:17]
    old = "02:00:00:00:00:01"
    for ip in (IP_C, IP_C6, IP_D):
        nn.client_sh("ip", "neigh", "add", ip, "lladdr", old, "dev", "cl0", "nud", "stale")
    nn.vzctl("set", str(ctid), "--ipadd", IP_C, "--ipadd", IP_C6, check=True)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and \
            (_neigh_mac(nn, IP_C), _neigh_mac(nn, IP_C6)) != (up0, up0):
        time.sleep(0.05)
    assert (_neigh_mac(nn, IP_C), _neigh_mac(nn, IP_C6)) == (up0, up0)
    conf.write_text(default)
    nn.vzctl("set", str(ctid), "--ipadd", IP_D, check=True)
    time.sleep(0.5)
    assert _neigh_mac(nn, IP_D) == old
    nn.vzctl("stop", str(ctid), check=True)
    assert nn.leftovers() == ""
