"""veth (bridged): --netif_add stores NETIF as vzctl does, the VE gets Ethernet on the
node's bridge and talks to a client on it; live add/del; nothing left after stop.  In-VE
addressing (--ifname eth0 --ipadd/--gw/--dhcp): at boot by the VE's own ifup, live."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_netlib import (  # noqa: F401
    BR_CLIENT_IP,
    BR_NODE_IP,
    CLIENT_IP,
    NetNode,
    add_bridge,
    add_routed_bridge,
    netnode,
)

pytestmark = pytest.mark.slow

VE_IP = "10.214.0.50"
ADDR_A = "10.214.0.60"
ADDR_B = "10.214.0.61"


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
    # busybox's ifup has no DHCPv6: said, not silently ignored
    r = nn.vzctl("set", str(ctid), "--ifname", "eth1", "--dhcp6", "yes", "--save",
                 check=True)
    assert "DHCPv6 on eth1" in r.stderr, r.stdout + r.stderr
    assert "DHCPv6 is not supported" in nn.exec(ctid, "cat /etc/network/interfaces").stdout
    nn.vzctl("set", str(ctid), "--netif_del", "eth0", "--save", check=True)
    links = nn.exec(ctid, "ip -o link").stdout
    assert "eth0" not in links and "eth1" in links
    assert host not in nn.node_sh("ip", "link").stdout
    nn.vzctl("stop", str(ctid), check=True)
    assert nn.leftovers() == ""


def test_veth_addresses_and_gateway(netnode: NetNode) -> None:  # noqa: F811
    """In-VE addressing of a veth interface (--ifname eth0 --ipadd/--gw): stored in NETIF
    as VZ7 does, written into the VE's /etc/network/interfaces, brought up by the VE's own
    boot (busybox: rcS -> S10network -> ifup), changed live by the node; the client is
    reached only through the gateway (the node's address on the bridge)."""
    nn = netnode
    add_routed_bridge(nn)
    ctid = nn.create(start=False)
    nn.vzctl("set", str(ctid), "--netif_add", "eth0,,,,br0", "--ipadd", f"{ADDR_A}/24",
             "--gw", BR_NODE_IP, "--save", check=True)
    netif = _netif(nn, ctid)
    assert netif.endswith(f",gw={BR_NODE_IP},ip={ADDR_A}/255.255.255.0"), netif
    nn.vzctl("start", str(ctid), "--wait", check=True)
    conf = nn.exec(ctid, "cat /etc/network/interfaces").stdout
    assert f"iface eth0 inet static\n\taddress {ADDR_A}\n\tnetmask 255.255.255.0\n" \
           f"\tgateway {BR_NODE_IP}\n" in conf, conf
    assert "eth0" in nn.exec(ctid, "cat /run/ifstate").stdout  # the VE's ifup did it
    assert f"{ADDR_A}/24" in nn.exec(ctid, "ip addr show eth0").stdout
    assert f"default via {BR_NODE_IP} dev eth0" in nn.exec(ctid, "ip route").stdout
    assert nn.exec(ctid, f"ping -c 1 -W 2 {CLIENT_IP}", check=False).returncode == 0
    nn.serve(ctid, 8080, 100_000)
    assert nn.fetch(nn.client, f"http://{ADDR_A}:8080/blob")[0] == 100_000

    # live: another address, then the first one gone (the kernel takes secondary
    # addresses and the gateway route along with a primary one: they are set again)
    nn.vzctl("set", str(ctid), "--ifname", "eth0", "--ipadd", f"{ADDR_B}/24", "--save",
             check=True)
    assert nn.fetch(nn.client, f"http://{ADDR_B}:8080/blob")[0] == 100_000
    nn.vzctl("set", str(ctid), "--ipdel", ADDR_A, "--ifname", "eth0", "--save", check=True)
    assert nn.fetch(nn.client, f"http://{ADDR_B}:8080/blob")[0] == 100_000
    assert nn.fetch(nn.client, f"http://{ADDR_A}:8080/blob", timeout=3)[0] == -1
    assert ADDR_A not in nn.exec(ctid, "ip addr show eth0").stdout
    assert f"address {ADDR_B}" in nn.exec(ctid, "cat /etc/network/interfaces").stdout
    assert f"default via {BR_NODE_IP} dev eth0" in nn.exec(ctid, "ip route").stdout
    # live: no gateway, no way out; the gateway back, the way back
    nn.vzctl("set", str(ctid), "--ifname", "eth0", "--gw", "", "--save", check=True)
    assert "default" not in nn.exec(ctid, "ip route").stdout
    assert nn.exec(ctid, f"ping -c 1 -W 1 {CLIENT_IP}", check=False).returncode != 0
    nn.vzctl("set", str(ctid), "--gw", BR_NODE_IP, "--ifname", "eth0", "--save", check=True)
    assert nn.exec(ctid, f"ping -c 1 -W 2 {CLIENT_IP}", check=False).returncode == 0

    # restart: the VE's boot sets the saved state up again
    nn.vzctl("stop", str(ctid), check=True)
    assert nn.leftovers() == ""
    nn.vzctl("start", str(ctid), "--wait", check=True)
    assert nn.fetch(nn.client, f"http://{ADDR_B}:8080/blob", timeout=3)[0] == -1  # no httpd
    assert nn.exec(ctid, f"ping -c 1 -W 2 {CLIENT_IP}", check=False).returncode == 0
    # the interface removed while stopped: its stanza goes at the next start
    nn.vzctl("stop", str(ctid), check=True)
    nn.vzctl("set", str(ctid), "--netif_del", "eth0", "--save", check=True)
    nn.vzctl("start", str(ctid), "--wait", check=True)
    assert "eth0" not in nn.exec(ctid, "cat /etc/network/interfaces").stdout
    nn.vzctl("stop", str(ctid), check=True)
    assert nn.leftovers() == ""


def test_veth_dhcp(netnode: NetNode, tmp_path: Path) -> None:  # noqa: F811
    """--dhcp yes: the VE's own DHCP client (busybox udhcpc, run by its ifup) takes a
    lease from a DHCP server in the client namespace, at boot and when switched on live;
    switched off live, the static address takes over."""
    nn = netnode
    add_bridge(nn)
    (tmp_path / "leases").write_text("")
    (tmp_path / "udhcpd.conf").write_text(
        "start 10.214.0.100\nend 10.214.0.109\ninterface cb0\n"
        f"lease_file {tmp_path}/leases\npidfile {tmp_path}/udhcpd.pid\n"
        f"option subnet 255.255.255.0\noption router {BR_NODE_IP}\n")
    server = subprocess.Popen(["nsenter", f"--net=/run/netns/{nn.client}", "busybox",
                               "udhcpd", "-f", str(tmp_path / "udhcpd.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ctid = nn.create(start=False)
        nn.vzctl("set", str(ctid), "--netif_add", "eth0,,,,br0", "--dhcp", "yes", "--save",
                 check=True)
        assert _netif(nn, ctid).endswith(",dhcp=yes")
        nn.vzctl("start", str(ctid), "--wait", check=True)
        assert "inet 10.214.0.10" in nn.exec(ctid, "ip -4 addr show eth0").stdout
        assert f"default via {BR_NODE_IP} dev eth0" in nn.exec(ctid, "ip route").stdout
        assert nn.exec(ctid, f"ping -c 1 -W 2 {BR_CLIENT_IP}", check=False).returncode == 0
        # live off: the client stops, the static address is set by the VE's ifup
        nn.vzctl("set", str(ctid), "--ifname", "eth0", "--dhcp", "no", "--ipadd",
                 f"{ADDR_A}/24", "--save", check=True)
        addrs = nn.exec(ctid, "ip -4 addr show eth0").stdout
        assert f"{ADDR_A}/24" in addrs and "10.214.0.10" not in addrs
        assert "udhcpc" not in nn.exec(ctid, "ps").stdout
        # live on again
        nn.vzctl("set", str(ctid), "--ifname", "eth0", "--dhcp", "yes", "--save",
                 check=True)
        addrs = nn.exec(ctid, "ip -4 addr show eth0").stdout
        assert "inet 10.214.0.10" in addrs and ADDR_A not in addrs
        # a refused change (130: host name taken) leaves the DHCP client running
        nn.node_sh("ip", "link", "add", "taken0", "type", "veth", "peer", "name", "taken1")
        r = nn.vzctl("set", str(ctid), "--netif_add", "eth1,,taken0", "--ifname", "eth0",
                     "--dhcp", "no", "--ipadd", f"{ADDR_A}/24", "--save")
        assert r.returncode == 130, r.stdout + r.stderr
        assert "udhcpc" in nn.exec(ctid, "ps").stdout
        assert "inet 10.214.0.10" in nn.exec(ctid, "ip -4 addr show eth0").stdout
        # the interface removed live: its DHCP client stops with it
        nn.vzctl("set", str(ctid), "--netif_del", "eth0", "--save", check=True)
        assert "udhcpc" not in nn.exec(ctid, "ps").stdout
        nn.vzctl("stop", str(ctid), check=True)
        assert nn.leftovers() == ""
    finally:
        server.kill()
        server.wait()


def _netif(nn: NetNode, ctid: int) -> str:
    conf = str(nn.node.conf(ctid).read_text())  # type: ignore[attr-defined]
    return next(ln for ln in conf.splitlines() if ln.startswith("NETIF=")).strip('"')
