"""The logic of per-interface addressing, without VEs: NETIF's VZ7 form, how options
merge into it, the ifupdown stanzas, and what the busybox and Debian setups write into a
VE's tree (a scratch directory standing in for the VE's root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyvz.dists.busybox import Busybox
from pyvz.dists.debian import Debian
from pyvz.errors import E, VzError
from pyvz.net.ifupdown import MARK, render
from pyvz.net.netif import NetifKind, claimed_options, format_netifs, parse_netifs

VZ7 = ("ifname=eth0,mac=00:18:51:0A:0B:0C,host_ifname=veth101.0,host_mac=00:18:51:0A:0B:0D,"
       "gw=10.0.0.1,gw6=fd00::1,ip=10.0.0.5/255.255.255.0:10.0.0.6/255.255.0.0,"
       "ip6=fd00::5/64,fd00::6/48")


class _Paths:
    node_name = "pyvz"


class _Node:
    paths = _Paths()


class _Ve:
    """What NetifKind.merge asks of a VE: its node's name and its CTID."""

    node = _Node()
    ctid = 101


def _merge(current: str | None, *entries: tuple[str, str]) -> str | None:
    return NetifKind().merge(_Ve(), current, [(o, o, v) for o, v in entries])  # type: ignore[arg-type]


def test_vz7_netif_reads_back_unchanged() -> None:
    netifs = parse_netifs(VZ7)
    n = netifs[0]
    assert n.ips == ["10.0.0.5/24", "10.0.0.6/16", "fd00::5/64", "fd00::6/48"]
    assert (n.gw, n.gw6) == ("10.0.0.1", "fd00::1")
    assert format_netifs(netifs) == VZ7
    assert n.device_text() == VZ7.split(",gw=")[0]
    # VZ7 writes "ip=," for an interface with IPv6 addresses only; ip6= may come first
    assert parse_netifs("ifname=eth0,ip=,ip6=fd00::5/64")[0].ips == ["fd00::5/64"]
    assert parse_netifs("ifname=eth0,dhcp=yes,dhcp6=yes")[0].uses_dhcp(True)
    for bad, code in (("ifname=eth0,ip=10.0.0.300", E.BADIP), ("ifname=eth0,ip=fd00::5", E.BADIP),
                      ("ifname=eth0,gw=fd00::1", E.BADIP), ("ifname=eth0,dhcp=maybe",
                                                           E.INVALID_PARAMETER_VALUE),
                      ("ifname=eth0,ip6=224.0.0.1", E.BADIP)):
        with pytest.raises(VzError) as err:
            parse_netifs(bad)
        assert err.value.code == code, bad


def test_options_merge_into_one_interface() -> None:
    base = _merge(None, ("netif_add", "eth0"))
    assert base is not None and base.startswith("ifname=eth0,mac=00:18:51:")
    # --ifname applies wherever it stands; addresses get their family's default prefix
    v = _merge(base, ("ipadd", "10.1.0.5"), ("ifname", "eth0"), ("gw", "10.1.0.1"),
               ("ipadd", "fd00:1::5"), ("gw6", "fd00:1::1"))
    assert v is not None
    n = parse_netifs(v)[0]
    assert n.ips == ["10.1.0.5/24", "fd00:1::5/64"] and n.gateway(False) == "10.1.0.1"
    assert v.endswith(",gw=10.1.0.1,gw6=fd00:1::1,ip=10.1.0.5/255.255.255.0,ip6=fd00:1::5/64")
    # --netif_add names the interface when --ifname is absent (VZ7)
    v2 = _merge(None, ("netif_add", "eth1"), ("ipadd", "10.2.0.5/16"))
    assert v2 is not None and parse_netifs(v2)[0].ips == ["10.2.0.5/16"]
    # --dhcp yes replaces the IPv4 addresses, keeps IPv6; no static IPv4 beside it
    d = _merge(v, ("ifname", "eth0"), ("dhcp", "yes"))
    assert d is not None
    n = parse_netifs(d)[0]
    assert n.ips == ["fd00:1::5/64"] and n.claims_default(False) and not n.gateway(False)
    with pytest.raises(VzError) as err:
        _merge(d, ("ifname", "eth0"), ("ipadd", "10.1.0.7"))
    assert err.value.code == E.INVALID_PARAMETER_VALUE
    # --dhcp no and an address in one command: the address is static
    s = _merge(d, ("ipadd", "10.1.0.7/24"), ("ifname", "eth0"), ("dhcp", "no"))
    assert s is not None and "10.1.0.7/24" in parse_netifs(s)[0].ips
    # --ipdel one, then all; an address pyvz never had is no error
    one = _merge(v, ("ifname", "eth0"), ("ipdel", "10.1.0.5"), ("ipdel", "10.9.9.9"))
    assert one is not None and parse_netifs(one)[0].ips == ["fd00:1::5/64"]
    none = _merge(v, ("ifname", "eth0"), ("ipdel", "all"))
    assert none is not None and parse_netifs(none)[0].ips == []
    # errors: two --ifname, an unknown interface, an option without an interface
    for entries, code in (((("ifname", "eth0"), ("ifname", "eth1"), ("gw", "10.0.0.1")),
                           E.INVALID_PARAMETER_SYNTAX),
                          ((("ifname", "eth7"), ("ipadd", "10.0.0.1")),
                           E.INVALID_PARAMETER_VALUE),
                          ((("gw", "10.0.0.1"),), E.INVALID_PARAMETER_SYNTAX),
                          ((("ifname", "eth0"), ("ipadd", "10.0.0.256")), E.BADIP),
                          ((("ifname", "eth0"), ("gw6", "10.0.0.1")), E.BADIP)):
        with pytest.raises(VzError) as err:
            _merge(base, *entries)
        assert err.value.code == code, entries


def test_ipadd_addresses_venet_unless_an_interface_is_named() -> None:
    assert claimed_options({"ipadd": ["10.0.0.1"]}) == {}
    assert claimed_options({"ifname": ["eth0"], "ipadd": ["10.0.0.1"]})["ipadd"] == "ipadd"
    assert claimed_options({"netif_add": ["eth0"]})["ipdel"] == "ipdel"


def test_ifupdown_stanzas() -> None:
    n = parse_netifs(VZ7)[0]
    plain = parse_netifs("ifname=eth1")[0]  # not configured by pyvz: no stanza
    text = "\n".join(render(["10.9.0.1"], [n, plain], source_dir="/etc/network/interfaces.d"))
    assert text == "\n".join([
        MARK, "# interfaces.head or interfaces.tail instead, this file is rewritten.",
        "source /etc/network/interfaces.d/*", "",
        "auto lo", "iface lo inet loopback", "",
        "# venet0 addresses (set by the node): 10.9.0.1", "auto venet0",
        "iface venet0 inet manual", "",
        "auto eth0", "iface eth0 inet static", "\taddress 10.0.0.5",
        "\tnetmask 255.255.255.0", "\tgateway 10.0.0.1",
        "\tup ip addr add 10.0.0.6/16 dev eth0", "\tdown ip addr del 10.0.0.6/16 dev eth0",
        "iface eth0 inet6 static", "\taddress fd00::5", "\tnetmask 64", "\tgateway fd00::1",
        "\tup ip addr add fd00::6/48 dev eth0", "\tdown ip addr del fd00::6/48 dev eth0"])
    dhcp = parse_netifs("ifname=eth0,dhcp=yes")[0]
    assert render([], [dhcp], loopback=False, dhcp_script="/s")[-3:] == [
        "auto eth0", "iface eth0 inet dhcp", "\tscript /s"]
    v6 = parse_netifs("ifname=eth0,dhcp6=yes")[0]  # busybox's ifup has no inet6 dhcp
    assert render([], [v6], dhcp6=False)[-3:] == [
        "auto eth0", "# eth0: DHCPv6 is not supported by this ifup", "iface eth0 inet manual"]
    none = parse_netifs("ifname=eth0,configure=none,ip=10.0.0.5/255.255.255.0")[0]
    assert "eth0" not in "\n".join(render([], [none]))


def _tree(tmp_path: Path, *files: str) -> str:
    root = tmp_path / "root"
    for d in ("etc/init.d", "sbin"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text("")
    return str(root)


def test_busybox_setup_files(tmp_path: Path) -> None:
    root = _tree(tmp_path, "sbin/ifup")
    n = parse_netifs("ifname=eth0,dhcp=yes")[0]
    assert Busybox().set_network(root, ["10.9.0.1"], [n]) is True
    conf = Path(root, "etc/network/interfaces").read_text()
    assert "auto lo" not in conf and "iface eth0 inet dhcp" in conf
    for phase in ("if-pre-up.d", "if-up.d", "if-down.d", "if-post-down.d"):
        assert Path(root, "etc/network", phase).is_dir()  # busybox's ifup needs them
    rc = Path(root, "etc/init.d/S10network")
    assert "ifup -a" in rc.read_text() and os.access(rc, os.X_OK)
    assert os.access(Path(root, "etc/network/udhcpc.script"), os.X_OK)
    # an admin's own S10network stays
    rc.write_text("#!/bin/sh\n# mine\n")
    Busybox().set_network(root, [], [n])
    assert rc.read_text() == "#!/bin/sh\n# mine\n"
    # without ifup, the node has to set the addresses
    assert Busybox().set_network(_tree(tmp_path / "b"), [], [n]) is False


def test_debian_setup_files(tmp_path: Path) -> None:
    root = _tree(tmp_path, "sbin/ifup", "etc/network/interfaces.head")
    Path(root, "etc/network/interfaces.d").mkdir()
    Path(root, "etc/network/interfaces.head").write_text("# the admin's head\n")
    n = parse_netifs("ifname=eth0,ip=10.0.0.5/255.255.255.0")[0]
    assert Debian().set_network(root, [], [n]) is True
    conf = Path(root, "etc/network/interfaces").read_text()
    assert conf.startswith("# the admin's head\n" + MARK)
    assert "source /etc/network/interfaces.d/*\n" in conf and "\taddress 10.0.0.5\n" in conf
    os.unlink(Path(root, "sbin/ifup"))
    assert Debian().set_network(root, [], [n]) is False


def test_ifupdown_wait_ends_at_exit_or_deadline() -> None:
    """How long vzctl waits for a VE's ifup/ifdown (pyvz.net.guest): until the program
    exits, even when a background child it left (a DHCP client) holds its output pipe,
    and no longer than the deadline when it hangs."""
    import subprocess
    import time

    from pyvz.net.guest import _read_until

    def run(script: str, wait: float) -> tuple[bytes, bool, float]:
        r, w = os.pipe2(os.O_CLOEXEC)
        p = subprocess.Popen(["sh", "-c", script], stdout=w, stderr=w, pass_fds=())
        os.close(w)
        t0 = time.monotonic()
        try:
            out, finished = _read_until(r, p.pid, t0 + wait)
            return out, finished, time.monotonic() - t0
        finally:
            p.kill()
            p.wait()

    # the background "client" keeps the pipe open for 3 s: the exit counts, not the pipe
    out, finished, took = run("sleep 3 & echo up; exit 0", 10)
    assert (out, finished) == (b"up\n", True) and took < 2, took
    out, finished, took = run("echo start; sleep 10", 0.5)
    assert (out, finished) == (b"start\n", False) and 0.4 < took < 3, took
