"""The OpenVZ overview's session, end to end, on real VEs."""

from __future__ import annotations

import os

from conftest import Node, VeHandle


def test_overview_session(node: Node) -> None:
    ctid = str(node.new_ctid())
    try:
        r = node.vzctl("create", ctid, "--ostemplate", "busybox", check=True)
        assert "Container private area was created" in r.stdout
        assert node.conf(int(ctid)).exists()
        node.vzctl("set", ctid, "--ipadd", "192.168.4.45", "--hostname", "ve101", "--save",
                   check=True)
        conf = node.conf(int(ctid)).read_text()
        assert 'IP_ADDRESS="192.168.4.45"' in conf and 'HOSTNAME="ve101"' in conf
        r = node.vzctl("start", ctid, check=True)
        assert "Container start in progress" in r.stdout
        assert node.vzctl("status", ctid).stdout.strip() == \
            f"CTID {ctid} exist mounted running"

        ps = node.vzctl("exec", ctid, "ps", "ax", check=True).stdout.splitlines()
        assert ps[0].split()[:3] == ["PID", "USER", "COMMAND"]
        pids = {int(line.split()[0]): line for line in ps[1:]}
        assert pids[1].split()[-1] == "init"
        # only the VE's processes: a handful, none of the node's (its PID 1 is not init)
        assert len(pids) < 12
        assert all("pytest" not in line for line in ps)
        assert node.vzctl("exec", ctid, "hostname", check=True).stdout.strip() == "ve101"

        listing = node.vzlist("-a", check=True).stdout.splitlines()
        assert listing[0].split() == ["CTID", "NPROC", "STATUS", "IP_ADDR", "HOSTNAME"]
        row = next(line for line in listing if line.split()[0] == ctid)
        assert row.split()[2:] == ["running", "192.168.4.45", "ve101"]
        assert int(row.split()[1]) >= 2

        r = node.vzctl("stop", ctid, check=True)
        assert "Container was stopped" in r.stdout
        assert node.vzctl("status", ctid).stdout.strip() == \
            f"CTID {ctid} exist unmounted down"
        r = node.vzctl("destroy", ctid, check=True)
        assert "destroyed" in r.stdout
        assert node.vzctl("status", ctid).stdout.strip() == \
            f"CTID {ctid} deleted unmounted down"
        assert not node.conf(int(ctid)).exists()
        assert not node.private(int(ctid)).exists()
        assert not any(d.exists() for d in node.cgroup_dirs(int(ctid)))
    finally:
        node.vzctl("stop", ctid, "--fast")
        node.vzctl("destroy", ctid)


def test_restart_gives_new_init(ve: VeHandle) -> None:
    first = ve.state()["init_pid"]
    r = ve.vzctl("restart", check=True)
    assert "Restarting container" in r.stdout
    assert ve.state()["init_pid"] != first
    assert ve.vzctl("status").stdout.split()[-1] == "running"


def test_mount_umount(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    root = ve.node.ve_root(ve.ctid)
    ve.vzctl("mount", check=True)
    assert ve.vzctl("status").stdout.split()[3] == "mounted"
    assert (root / "bin/busybox").exists()
    assert ve.vzctl("mount").returncode == 41
    ve.vzctl("umount", check=True)
    assert not os.path.ismount(root)
    assert ve.vzctl("umount").returncode == 40


def test_root_visible_on_node_while_running(ve: VeHandle) -> None:
    root = ve.node.ve_root(ve.ctid)
    ve.exec("echo hello > /root/from-inside", check=True)
    assert (root / "root/from-inside").read_text() == "hello\n"
    (root / "tmp/from-node").write_text("hi\n")
    assert ve.exec("cat /tmp/from-node").stdout == "hi\n"
    # the VE's /proc, /sys and /dev are its own: the node's view of VE_ROOT has none of them
    assert not os.path.ismount(root / "proc")
    assert not os.path.ismount(root / "dev")
