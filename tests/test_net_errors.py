"""Bad input and conflicts: exit 71 (bad address), 78 (address in use), 21 (bad NETIF
values), with nothing half-applied; and the pure logic of NETIF values and names."""

from __future__ import annotations

import subprocess

import pytest
from test_netlib import BIN, NetNode, netnode  # noqa: F401

from pyvz.errors import VzError
from pyvz.net import names
from pyvz.net.netif import check_mac, format_netifs, parse_netifs

IP = "10.213.0.131"
IP2 = "10.213.0.133"


def test_netif_round_trip_and_checks() -> None:
    text = ("ifname=eth0,bridge=br0,mac=00:18:51:0A:0B:0C,host_ifname=veth101.0,"
            "host_mac=00:18:51:0A:0B:0D;ifname=eth1,mac=00:18:51:01:02:03,mac_filter=off")
    netifs = parse_netifs(text)
    assert [n.ifname for n in netifs] == ["eth0", "eth1"]
    assert not netifs[1].filtered and netifs[0].filtered
    assert format_netifs(netifs) == text
    for bad in ("bridge=br0", "ifname=eth0,mac=zz", "ifname=venet0", "ifname=a;ifname=a",
                "ifname=eth0,color=red", "ifname=" + "x" * 16):
        with pytest.raises(VzError):
            parse_netifs(bad)
    assert check_mac("00-18-51-aa-bb-cc") == "00:18:51:AA:BB:CC"
    with pytest.raises(VzError):
        check_mac("01:00:00:00:00:01")  # multicast


def test_host_names_fit_and_differ_per_node() -> None:
    for ctid in (101, 2147483644):
        for node in ("pyvz", "pyvz-1234abcd"):
            assert len(names.venet_host_name(node, ctid)) <= 15
            assert len(names.default_veth_name(node, ctid, set())) <= 15
    assert names.venet_host_name("pyvz", 101) == "venet101"
    assert names.default_veth_name("pyvz", 101, {"veth101.0"}) == "veth101.1"
    assert names.venet_host_name("pyvz-1", 101) != names.venet_host_name("pyvz-2", 101)
    assert names.parse_alias(names.alias("pyvz-1", 101, "eth0")) == ("pyvz-1", 101, "eth0")
    assert names.parse_alias("someone else's") is None


@pytest.mark.slow
def test_bad_and_conflicting_addresses(netnode: NetNode) -> None:  # noqa: F811
    nn = netnode
    a = nn.create("--ipadd", IP)
    b = nn.create(start=False)
    conf_b = nn.node.conf(b).read_text()  # type: ignore[attr-defined]
    # 71: bad address, nothing saved
    for bad in ("10.0.0.300", "not-an-ip", "224.0.0.1"):
        r = nn.vzctl("set", str(b), "--ipadd", bad, "--save")
        assert r.returncode == 71, r.stderr
    assert nn.node.conf(b).read_text() == conf_b  # type: ignore[attr-defined]
    # A stopped VE may hold a running VE's address in its config (vzctl 4 checks the
    # addresses of running VEs only: its kernel's venet map holds no others) ...
    nn.vzctl("set", str(b), "--ipadd", IP, "--save", check=True)
    # ... but does not start with it (78), and leaves nothing: no mount, run state,
    # cgroup, device, route, proxy entry or rule
    before = nn.leftovers()
    r = nn.vzctl("start", str(b))
    assert r.returncode == 78, r.stdout + r.stderr
    assert "in use" in r.stderr
    assert nn.vzctl("status", str(b)).stdout.strip() == f"CTID {b} exist unmounted down"
    assert nn.leftovers() == before
    assert not (nn.node.root / "run/pyvz" / str(b)).exists()  # type: ignore[attr-defined]
    assert not any(d.exists() for d in nn.node.cgroup_dirs(b))  # type: ignore[attr-defined]
    # two VEs starting at once with one new address: one gets it, the other 78
    nn.vzctl("set", str(b), "--ipdel", "all", "--ipadd", IP2, "--save", check=True)
    c = nn.create("--ipadd", IP2, start=False)
    starts = [subprocess.Popen(["nsenter", f"--net=/run/netns/{nn.ns}", str(BIN / "vzctl"),
                                "start", str(ctid)], env=nn.node.env,  # type: ignore[attr-defined]
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
              for ctid in (b, c)]
    codes = sorted(p.wait(timeout=120) for p in starts)
    for p in starts:
        assert p.stderr is not None
        p.stderr.close()
    assert codes == [0, 78], codes
    loser = b if nn.vzctl("status", str(c)).stdout.split()[-1] == "running" else c
    assert nn.vzctl("status", str(loser)).stdout.split()[-1] == "down"
    alias = f"pyvz:{nn.node.node_name}:{loser}:"  # type: ignore[attr-defined]
    assert alias not in nn.node_sh("ip", "-d", "link").stdout
    assert len(nn.node_sh("ip", "route", "show", IP2).stdout.splitlines()) == 1
    nn.vzctl("stop", str(b if loser == c else c), check=True)
    # 78 live: B running with another address cannot take A's; config and B unchanged
    nn.vzctl("set", str(b), "--ipdel", "all", "--ipadd", "10.213.0.132", "--save",
             check=True)
    nn.vzctl("start", str(b), "--wait", check=True)
    before = nn.node.conf(b).read_text()  # type: ignore[attr-defined]
    r = nn.vzctl("set", str(b), "--ipadd", IP, "--save")
    assert r.returncode == 78, r.stdout + r.stderr
    assert nn.node.conf(b).read_text() == before  # type: ignore[attr-defined]
    assert IP not in nn.exec(b, "ip addr").stdout
    # the node's own address: 78 too
    r = nn.vzctl("set", str(b), "--ipadd", "10.213.0.1")
    assert r.returncode == 78
    # bad NETIF values: 21, nothing saved
    for args in (("--netif_add", "eth0,zz:zz"), ("--netif_del", "eth9"),
                 ("--ifname", "eth9", "--mac", "00:18:51:00:00:01")):
        r = nn.vzctl("set", str(b), *args, "--save")
        assert r.returncode in (20, 21), (args, r.returncode, r.stderr)
    assert nn.node.conf(b).read_text() == before  # type: ignore[attr-defined]
    # 130: a host end name the node already uses (not pyvz's)
    nn.node_sh("ip", "link", "add", "taken0", "type", "veth", "peer", "name", "taken1")
    r = nn.vzctl("set", str(b), "--netif_add", "eth0,,taken0", "--save")
    assert r.returncode == 130, r.stderr
    assert "NETIF" not in nn.node.conf(b).read_text()  # type: ignore[attr-defined]
    assert "taken0" in nn.node_sh("ip", "link").stdout  # not ours: left alone
    for ctid in (a, b):
        nn.vzctl("stop", str(ctid), check=True)
    assert nn.leftovers() == ""
