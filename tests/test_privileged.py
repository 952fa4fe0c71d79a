"""LOCAL_UID=0: a privileged VE, still with a reduced capability set, a device allow-list
and masked /proc entries."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import VeHandle

CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_SYS_ADMIN = 16, 17, 25, 21


def _caps(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    raise AssertionError(field)


@pytest.fixture
def priv(make_ve: object) -> VeHandle:
    assert callable(make_ve)
    ve = make_ve("--local_uid", "0", "--local_gid", "0")
    assert isinstance(ve, VeHandle)
    return ve


def test_runs_as_node_root_without_dangerous_caps(priv: VeHandle) -> None:
    init = int(priv.state()["init_pid"])
    uid_line = [line for line in Path(f"/proc/{init}/status").read_text().splitlines()
                if line.startswith("Uid:")][0]
    assert uid_line.split()[1:] == ["0"] * 4
    assert Path(f"/proc/{init}/ns/user").resolve() == Path("/proc/self/ns/user").resolve() \
        or Path(f"/proc/{init}").exists()
    bnd = _caps(init, "CapBnd")
    for cap in (CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_TIME):
        assert not bnd & (1 << cap), cap
    assert bnd & (1 << CAP_SYS_ADMIN)
    # processes started by exec get the same set
    pid = priv.exec("cat /proc/self/status").stdout
    line = [li for li in pid.splitlines() if li.startswith("CapBnd:")][0]
    assert int(line.split()[1], 16) == bnd


def test_proc_is_masked(priv: VeHandle) -> None:
    # entries that reach the node are /dev/null now (sysrq-trigger and kcore too, where
    # the kernel has them)
    for entry in ("timer_list", "keys", "kmsg", "sysrq-trigger", "kcore"):
        r = priv.node.vzctl("exec2", str(priv.ctid),
                            f"test -e /proc/{entry} || echo absent; "
                            f"test -e /proc/{entry} && stat -c %t:%T /proc/{entry}")
        assert r.stdout.strip() in ("1:3", "absent"), (entry, r.stdout)
    assert priv.exec("cat /proc/timer_list").stdout == ""
    r = priv.node.vzctl("exec2", str(priv.ctid),
                        "(echo 50 > /proc/sys/vm/overcommit_ratio) 2>&1; echo rc=$?")
    assert "Read-only" in r.stdout
    # the network part of /proc/sys belongs to the VE's own network namespace
    r = priv.node.vzctl("exec2", str(priv.ctid),
                        "echo 1 > /proc/sys/net/ipv4/ip_forward && "
                        "cat /proc/sys/net/ipv4/ip_forward")
    assert r.stdout.strip() == "1"


def test_device_allow_list(priv: VeHandle) -> None:
    r = priv.node.vzctl("exec2", str(priv.ctid),
                        "mknod /tmp/vda b 254 0 && head -c 1 /tmp/vda >/dev/null 2>&1; echo rc=$?")
    assert r.stdout.strip().endswith("rc=1")
    assert priv.exec("head -c 4 /dev/urandom | wc -c").stdout.strip() == "4"
    r = priv.node.vzctl("exec2", str(priv.ctid), "date -s 2001-01-01 >/dev/null; date +%Y")
    assert r.stdout.strip() != "2001"
