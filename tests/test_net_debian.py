"""A Debian VE's veth addressing: pyvz writes ifupdown stanzas into its
/etc/network/interfaces (keeping Debian's ``source interfaces.d`` line), the VE's own
networking service brings them up at boot, the node changes them live, and the VE's own
``ifdown``/``ifup`` agree with what pyvz wrote.

Uses the Debian cache of test_debian_ve (``PYVZ_TEST_TEMPLATE_DIR``), built once if it is
missing; the VE runs inside the test's node namespace, like every network test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_netlib import BR_NODE_IP, CLIENT_IP, NetNode, add_routed_bridge, netnode  # noqa: F401

pytestmark = pytest.mark.slow

SHARED = Path(os.environ.get("PYVZ_TEST_TEMPLATE_DIR", "/var/cache/pyvz-test/template"))
MINIMAL = "debian-12-x86_64-minimal"
ADDR = "10.214.0.70"
ADDR2 = "10.214.0.71"
ADDR6 = "fd00:214::70"


def _debian_node(nn: NetNode) -> None:
    nn.vzctl("status", "101")  # writes the node's default vz.conf
    conf = nn.node.root / "etc/vz/vz.conf"  # type: ignore[attr-defined]
    conf.write_text(conf.read_text() + f'TEMPLATE="{SHARED}"\n')
    if not list((SHARED / "cache").glob(f"{MINIMAL}.tar*")):
        SHARED.mkdir(parents=True, exist_ok=True)
        r = nn.pyvz("vzpkg", "cache", MINIMAL, timeout=1500)
        assert r.returncode == 0, r.stdout + r.stderr


def test_debian_veth_static(netnode: NetNode) -> None:  # noqa: F811
    nn = netnode
    _debian_node(nn)
    add_routed_bridge(nn)
    ctid = nn.node.new_ctid()  # type: ignore[attr-defined]
    nn.ctids.append(ctid)
    nn.vzctl("create", str(ctid), "--ostemplate", MINIMAL, check=True)
    nn.vzctl("set", str(ctid), "--netif_add", "eth0,,,,br0", "--ipadd", f"{ADDR}/24",
             "--ipadd", f"{ADDR6}/64", "--gw", BR_NODE_IP, "--save", check=True)
    nn.vzctl("start", str(ctid), "--wait", check=True)

    conf = nn.exec(ctid, "cat /etc/network/interfaces").stdout
    assert "source /etc/network/interfaces.d/*" in conf
    assert "iface eth0 inet static" in conf and "iface eth0 inet6 static" in conf
    assert "eth0" in nn.exec(ctid, "cat /run/network/ifstate").stdout  # its own ifup
    addrs = nn.exec(ctid, "ip addr show eth0").stdout
    assert f"{ADDR}/24" in addrs and f"{ADDR6}/64" in addrs
    assert f"default via {BR_NODE_IP} dev eth0" in nn.exec(ctid, "ip route").stdout
    assert nn.exec(ctid, f"ping -c 1 -W 2 {CLIENT_IP}", check=False).returncode == 0

    # live: a second address, set by the node and written for the VE's own tools
    nn.vzctl("set", str(ctid), "--ifname", "eth0", "--ipadd", f"{ADDR2}/24", "--save",
             check=True)
    assert f"{ADDR2}/24" in nn.exec(ctid, "ip addr show eth0").stdout
    assert f"up ip addr add {ADDR2}/24 dev eth0" in \
        nn.exec(ctid, "cat /etc/network/interfaces").stdout
    # the VE's root takes the interface down and up with its own tools: all comes back
    r = nn.exec(ctid, "ifdown eth0 && ifup eth0", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    addrs = nn.exec(ctid, "ip addr show eth0").stdout
    assert f"{ADDR}/24" in addrs and f"{ADDR2}/24" in addrs
    assert nn.exec(ctid, f"ping -c 1 -W 2 {CLIENT_IP}", check=False).returncode == 0

    nn.vzctl("stop", str(ctid), check=True)
    assert nn.leftovers() == ""
