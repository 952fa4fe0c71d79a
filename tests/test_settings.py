"""Config layering and ``vzctl set`` on real VEs: vz.conf → sample → CTID.conf → options."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import Node, VeHandle


def test_sample_config_and_global_defaults(fresh_node: Node) -> None:
    node = fresh_node
    node.vzctl("status", "1")  # vz.conf is created on first use
    vz_conf = node.root / "etc/vz/vz.conf"
    assert 'DEF_OSTEMPLATE="busybox"' in vz_conf.read_text()
    vz_conf.write_text(vz_conf.read_text() + 'NAMESERVER="10.9.9.9"\n')
    sample = node.root / "etc/vz/conf/ve-small.conf-sample"
    sample.write_text('# a sample\nDESCRIPTION="from sample"\nONBOOT="yes"\n'
                      'HOSTNAME="not-taken"\nMY_OWN_KEY="kept"\n')
    node.vzctl("create", "401", "--config", "small", "--hostname", "h401", check=True)
    conf = node.conf(401).read_text()
    assert 'DESCRIPTION="from sample"' in conf and 'ONBOOT="yes"' in conf
    assert 'MY_OWN_KEY="kept"' in conf and 'ORIGIN_SAMPLE="small"' in conf
    assert 'HOSTNAME="h401"' in conf and "not-taken" not in conf
    node.vzctl("start", "401", check=True)
    assert "nameserver 10.9.9.9" in node.vzctl("exec", "401", "cat /etc/resolv.conf").stdout
    assert node.vzctl("create", "402", "--config", "nosuch").returncode == 109
    assert not node.conf(402).exists()


def test_create_with_own_private_and_root(fresh_node: Node, tmp_path: Path) -> None:
    node = fresh_node
    private, root = tmp_path / "data/ve-$VEID", tmp_path / "mnt/ve-$VEID"
    node.vzctl("create", "411", "--ostemplate", "busybox", "--private", str(private),
               "--root", str(root), "--description", "my web server", check=True)
    assert (tmp_path / "data/ve-411/upper").is_dir()
    conf = node.conf(411).read_text()
    assert f'VE_PRIVATE="{private}"' in conf  # stored with $VEID, as vzctl does
    node.vzctl("start", "411", check=True)
    assert os.path.ismount(tmp_path / "mnt/ve-411")
    out = node.vzlist("-H", "-o", "private,root,description", "411").stdout.split()
    assert out[:2] == [str(tmp_path / "data/ve-411")[:32], str(tmp_path / "mnt/ve-411")[:32]]
    node.vzctl("stop", "411", check=True)
    node.vzctl("delete", "411", check=True)  # vzctl's alias of destroy
    assert not (tmp_path / "data/ve-411").exists()


def test_set_saves_in_place_and_only_when_changed(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    path = ve.node.conf(ve.ctid)
    path.write_text("# keep this comment\n" + path.read_text() + 'UNKNOWN_KEY="stays"\n')
    ve.vzctl("set", "--hostname", "one", "--save", check=True)
    text = path.read_text()
    assert text.startswith("# keep this comment\n") and 'UNKNOWN_KEY="stays"' in text
    before = path.stat()
    r = ve.vzctl("set", "--hostname", "one", "--save", check=True)
    assert "No changes in CT configuration, not saving" in r.stdout
    after = path.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_ip_add_and_del(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    ve.vzctl("set", "--ipadd", "10.1.1.1", "--ipadd", "10.1.1.2/24", "--ipadd", "fd00::5",
             "--save", check=True)
    assert 'IP_ADDRESS="10.1.1.1 10.1.1.2/24 fd00::5"' in ve.node.conf(ve.ctid).read_text()
    ve.vzctl("set", "--ipdel", "10.1.1.1", "--save", check=True)
    assert 'IP_ADDRESS="10.1.1.2/24 fd00::5"' in ve.node.conf(ve.ctid).read_text()
    ve.vzctl("set", "--ipdel", "all", "--save", check=True)
    assert "IP_ADDRESS" not in ve.node.conf(ve.ctid).read_text()


def test_dns_inside_running_ve(ve: VeHandle) -> None:
    ve.vzctl("set", "--nameserver", "192.0.2.53", "--nameserver", "2001:db8::53",
             "--searchdomain", "example.org", "--save", check=True)
    resolv = ve.exec("cat /etc/resolv.conf").stdout.splitlines()
    assert "nameserver 192.0.2.53" in resolv and "nameserver 2001:db8::53" in resolv
    assert "search example.org" in resolv
    assert ve.vzctl("set", "--nameserver", "999.1.1.1", "--save").returncode == 71


def test_hostname_applied_at_next_start_when_saved_while_stopped(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    r = ve.vzctl("set", "--hostname", "later", check=True)  # not saved: a warning
    assert "not saved" in r.stdout
    ve.vzctl("set", "--hostname", "saved-name", "--save", check=True)
    ve.vzctl("start", check=True)
    assert ve.exec("hostname").stdout.strip() == "saved-name"
    assert "saved-name" in ve.exec("cat /etc/hosts").stdout


def test_capability_change_needs_restart(ve: VeHandle) -> None:
    r = ve.vzctl("set", "--capability", "net_raw:off", "--save")
    assert r.returncode == 0
    assert "could not be applied" in r.stdout or "Unable to set" in r.stderr
    ve.vzctl("set", "--capability", "net_raw:off", "--setmode", "restart", "--save", check=True)
    status = ve.exec("cat /proc/1/status").stdout
    bnd = int(next(li for li in status.splitlines() if li.startswith("CapBnd:")).split()[1], 16)
    assert not bnd & (1 << 13)  # CAP_NET_RAW


def test_init_is_checkpointable_shape(ve: VeHandle) -> None:
    """CRIU's rules: init leads its session in its pid namespace, holds no node fds."""
    init = int(ve.state()["init_pid"])
    stat = Path(f"/proc/{init}/stat").read_text()
    fields = stat[stat.rfind(")") + 2:].split()
    assert fields[3] == fields[2]  # session id == process group id...
    assert ve.exec("cut -d' ' -f6 /proc/1/stat").stdout.strip() == "1"  # ...== 1 inside
    # busybox init opens nothing itself: all it has is what pyvz gave it, the console
    fds = sorted(os.listdir(f"/proc/{init}/fd"), key=int)
    assert fds == ["0", "1", "2"]
    targets = {os.readlink(f"/proc/{init}/fd/{fd}") for fd in fds}
    assert len(targets) == 1 and targets.pop().startswith("/dev/pts/")
