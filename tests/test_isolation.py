"""A VE is a whole server: its own namespaces, its own root, and root inside is not root on
the node.  Each check runs real commands inside real VEs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import VeHandle


def _sh(ve: VeHandle, script: str) -> subprocess.CompletedProcess[str]:
    return ve.node.vzctl("exec2", str(ve.ctid), script)


def test_pid_namespace_and_init(ve: VeHandle) -> None:
    init_pid = int(ve.state()["init_pid"])
    assert Path(f"/proc/{init_pid}/status").read_text().count("NSpid:") == 1
    nspid = [line for line in Path(f"/proc/{init_pid}/status").read_text().splitlines()
             if line.startswith("NSpid:")][0].split()
    assert nspid[-1] == "1"          # virtual PID 1 inside
    assert int(nspid[1]) == init_pid  # a normal PID on the node
    assert _sh(ve, "cat /proc/1/comm").stdout.strip() == "init"
    # the node's processes are invisible: no /proc entry for the test runner's PID
    assert _sh(ve, f"test -e /proc/{os.getpid()}/comm || echo absent").stdout.strip() \
        in ("absent", "")


def test_namespaces_differ_from_node(ve: VeHandle) -> None:
    init_pid = int(ve.state()["init_pid"])
    for ns in ("pid", "mnt", "uts", "ipc", "net", "user", "cgroup"):
        assert os.readlink(f"/proc/{init_pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
    inside = _sh(ve, "readlink /proc/self/ns/net; readlink /proc/1/ns/net").stdout.split()
    assert inside[0] == inside[1] == os.readlink(f"/proc/{init_pid}/ns/net")


def test_root_is_pivoted_not_chrooted(ve: VeHandle) -> None:
    mounts = _sh(ve, "cat /proc/self/mountinfo").stdout.splitlines()
    targets = [m.split()[4] for m in mounts]
    assert targets[0] == "/" or "/" in targets
    assert "/work" not in targets and not any(t.startswith("/sys/fs/cgroup/memory") for t in
                                              targets)
    # no mount point of the node's (overlay options name its layer paths, as with LXC)
    assert not any(str(ve.node.root) in t for t in targets)
    assert _sh(ve, "ls /work 2>&1 || true").stdout.strip().endswith("No such file or directory")


def test_dev_is_minimal(ve: VeHandle) -> None:
    names = set(_sh(ve, "ls /dev").stdout.split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "console", "ptmx", "pts",
            "shm"} <= names
    assert not any(n.startswith(("sd", "vd", "nvme", "loop", "mem", "kmsg", "port")) for n in
                   names)
    r = _sh(ve, "echo x > /dev/null && head -c 4 /dev/zero | wc -c")
    assert r.stdout.strip() == "4"
    assert len(_sh(ve, "mount | grep ' /dev/pts '").stdout.splitlines()) == 1


def test_sys_is_read_only_and_locked(ve: VeHandle) -> None:
    r = _sh(ve, "touch /sys/kernel/x 2>&1; echo 1 > /sys/class/net/lo/mtu 2>&1; echo done")
    assert "Read-only file system" in r.stdout
    r = _sh(ve, "mount -o remount,rw /sys 2>&1; echo rc=$?")
    assert r.stdout.strip().endswith("rc=1") or "denied" in r.stdout
    assert " ro," in _sh(ve, "grep ' /sys ' /proc/self/mountinfo").stdout
    r = _sh(ve, "umount /sys 2>&1; echo rc=$?")
    assert not r.stdout.strip().endswith("rc=0")
    # the VE's /sys shows its own network devices only
    assert _sh(ve, "ls /sys/class/net").stdout.split() == ["lo"]


def test_network_namespace_has_lo_up(ve: VeHandle) -> None:
    links = _sh(ve, "ip -o link").stdout.splitlines()
    assert len(links) == 1 and ": lo:" in links[0] and "UP" in links[0]


def test_uts_hostname(make_ve: object) -> None:
    assert callable(make_ve)
    ve = make_ve(start=False)
    ve.vzctl("set", "--hostname", "alpha.example.com", "--save", check=True)
    ve.vzctl("start", check=True)
    assert _sh(ve, "hostname").stdout.strip() == "alpha.example.com"
    assert os.uname().nodename != "alpha.example.com"
    ve.vzctl("set", "--hostname", "beta", check=True)  # live, without saving
    assert _sh(ve, "hostname; cat /etc/hostname").stdout.split() == ["beta", "beta"]


def test_cgroup_namespace_root(ve: VeHandle) -> None:
    for line in _sh(ve, "cat /proc/self/cgroup").stdout.splitlines():
        assert line.split(":", 2)[2] == "/", line


def test_root_inside_is_unprivileged_outside(ve: VeHandle) -> None:
    assert _sh(ve, "id -u").stdout.strip() == "0"
    init_pid = int(ve.state()["init_pid"])
    uids = [line for line in Path(f"/proc/{init_pid}/status").read_text().splitlines()
            if line.startswith("Uid:")][0].split()[1:]
    assert uids == ["100000"] * 4
    _sh(ve, "echo data > /root/owned")
    st = (ve.node.private(ve.ctid) / "upper/root/owned").stat()
    assert (st.st_uid, st.st_gid) == (100000, 100000)
    _sh(ve, "adduser -D -u 1234 alice 2>/dev/null || echo 'alice:x:1234:1234::/:/bin/sh' "
        ">> /etc/passwd; touch /tmp/a; chown 1234:1234 /tmp/a")
    assert (ve.node.private(ve.ctid) / "upper/tmp/a").stat().st_uid == 101234


def test_node_is_out_of_reach(ve: VeHandle) -> None:
    checks = {
        "host sysctl": "echo 60 > /proc/sys/vm/overcommit_ratio",
        "sysrq": "echo h > /proc/sysrq-trigger",
        "kernel memory": "head -c 1 /proc/kcore || head -c 1 /dev/mem",
        "block device": "mknod /tmp/disk b 8 0",
        "clock": "date -s 2001-01-01 >/dev/null; test $(date +%Y) = 2001",
        "remount sys": "mount -o remount,rw /sys",
        "kernel module": "insmod /nonexistent.ko || modprobe dummy",
        "hostname of node": "test \"$(cat /proc/sys/kernel/hostname)\" = \"$(hostname)\" "
                            "&& echo 1 > /proc/sys/kernel/domainname && false",
    }
    for what, cmd in checks.items():
        r = _sh(ve, f"{cmd} 2>/dev/null")
        assert r.returncode != 0, f"{what}: {cmd} succeeded inside the VE"


def test_cannot_raise_own_cgroup_limits(ve: VeHandle) -> None:
    # a VE may mount its own cgroup subtree (systemd does), but not change its limits
    r = _sh(ve, "mkdir -p /tmp/cg2 /tmp/pids /tmp/mem; "
                "mount -t cgroup2 none /tmp/cg2; mount -t cgroup -o pids none /tmp/pids; "
                "mount -t cgroup -o memory none /tmp/mem; "
                "for f in /tmp/cg2/cgroup.max.descendants /tmp/cg2/cgroup.subtree_control "
                "/tmp/cg2/pids.max /tmp/cg2/memory.max /tmp/pids/pids.max "
                "/tmp/mem/memory.limit_in_bytes; do "
                "[ -e $f ] && echo SEEN $f && (echo max > $f) 2>/dev/null && echo WROTE $f; "
                "done; true")
    assert "SEEN" in r.stdout
    assert "WROTE" not in r.stdout


def test_ves_do_not_see_each_other(make_ve: object) -> None:
    assert callable(make_ve)
    a = make_ve()
    b = make_ve()
    _sh(a, "sleep 1234 >/dev/null 2>&1 & echo secret-a > /tmp/only-a")
    assert "sleep 1234" not in _sh(b, "ps ax").stdout
    assert _sh(b, "cat /tmp/only-a 2>&1").returncode != 0
    ipc_a = os.readlink(f"/proc/{a.state()['init_pid']}/ns/ipc")
    ipc_b = os.readlink(f"/proc/{b.state()['init_pid']}/ns/ipc")
    assert ipc_a != ipc_b
    # a SysV shared memory segment made on the node is invisible inside a VE
    made = subprocess.run(["ipcmk", "-M", "4096"], capture_output=True, text=True)
    if made.returncode == 0:
        shmid = made.stdout.split()[-1]
        try:
            assert shmid not in _sh(a, "cat /proc/sysvipc/shm").stdout.split()
        finally:
            subprocess.run(["ipcrm", "-m", shmid], capture_output=True)


def test_template_layer_is_shared(make_ve: object) -> None:
    assert callable(make_ve)
    a = make_ve(start=False)
    b = make_ve(start=False)
    layer_a = (a.node.private(a.ctid) / "layer").read_text()
    layer_b = (b.node.private(b.ctid) / "layer").read_text()
    assert layer_a == layer_b
    layers = a.node.root / "vz/template/layers"
    assert [p.name for p in layers.iterdir() if not p.name.startswith(".")] == \
        [layer_a.strip()]
    # the private areas hold only what each VE changed
    upper = a.node.private(a.ctid) / "upper"
    assert sum(1 for _ in upper.rglob("*")) < 20
    assert not (upper / "bin/busybox").exists()
