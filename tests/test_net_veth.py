"""veth (bridged): --netif_add stores NETIF as vzctl does, the VE gets Ethernet on the
node's bridge and talks to a client on it; live add/del; nothing left after stop."""

from __future__ import annotations

import pytest
from test_netlib import BR_CLIENT_IP, NetNode, add_bridge, netnode  # noqa: F401

pytestmark = pytest.mark.slow

VE_IP = "10.214.0.50"


def test_veth_on_bridge(netnode: NetNode) -> None:  # noqa: F811
    nn = netnode
    add_bridge(nn)
    ctid = nn.create(start=False)
    nn.vzctl("set", str(ctid), "--netif_add", "eth0,,,,br0", "--save", check=True)
    conf = nn.node.conf(ctid).read_text()  # type: ignore[attr-defined]
    netif = next(ln for ln in conf.splitlines() if ln.startswith("NETIF="))
    assert netif.startswith('NETIF="ifname=eth0,bridge=br0,mac=00:18:51:')
    assert ",host_ifname=" in netif and ",host_mac=00:18:51:" in netif
    nn.vzctl("start", str(ctid), "--wait", check=True)
    mac = netif.split("mac=")[1].split(",")[0]
    link = nn.exec(ctid, "ip link show eth0").stdout
    assert mac.lower() in link.lower()
    nn.exec(ctid, f"ip addr add {VE_IP}/24 dev eth0")
    assert nn.client_sh("busybox", "ping", "-c", "2", "-W", "2", VE_IP,
                        check=False).returncode == 0
    nn.serve(ctid, 8080, 100_000)
    assert nn.fetch(nn.client, f"http://{VE_IP}:8080/blob")[0] == 100_000
    assert nn.exec(ctid, f"ping -c 1 -W 2 {BR_CLIENT_IP}", check=False).returncode == 0
    # the host end is on the bridge
    host = netif.split("host_ifname=")[1].split(",")[0]
    assert "master br0" in nn.node_sh("ip", "link", "show", host).stdout

    # live: a second interface appears, then both go
    nn.vzctl("set", str(ctid), "--netif_add", "eth1", "--save", check=True)
    assert "eth1" in nn.exec(ctid, "ip -o link").stdout
    nn.vzctl("set", str(ctid), "--netif_del", "eth0", "--save", check=True)
    links = nn.exec(ctid, "ip -o link").stdout
    assert "eth0" not in links and "eth1" in links
    assert host not in nn.node_sh("ip", "link").stdout
    nn.vzctl("stop", str(ctid), check=True)
    assert nn.leftovers() == ""
