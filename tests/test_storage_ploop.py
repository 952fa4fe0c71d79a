"""The ploop layout (an ext4 image on a loop device): hard DISKSPACE and DISKINODES are
enforced inside the VE, usage shows in vzlist, the image is resized by ``set
--diskspace``, and loop devices never leak."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import Node, VeHandle


def _loops_of(image: Path) -> list[str]:
    from pyvz.storage.loop import backing_devices

    return backing_devices(str(image))


def _image(node: Node, ctid: int) -> Path:
    return node.private(ctid) / "root.hdd"


def _has_cap_sys_resource() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> 24 & 1)
    return False


@pytest.mark.slow
def test_diskspace_is_a_hard_limit_inside_the_ve(make_ve: object) -> None:
    assert callable(make_ve)
    ve: VeHandle = make_ve("--layout", "ploop", "--diskspace", "40M:48M")
    node = ve.node
    image = _image(node, ve.ctid)
    assert image.stat().st_size == 48 * 1024 * 1024
    r = ve.exec("dd if=/dev/zero of=/big bs=1M count=100; echo rc=$?", check=False)
    assert "No space left on device" in r.stdout + r.stderr
    assert "rc=1" in r.stdout
    # the node is not harmed: the image did not grow past the limit
    assert image.stat().st_size == 48 * 1024 * 1024
    assert image.stat().st_blocks * 512 <= 48 * 1024 * 1024
    out = node.vzlist("-o", "ctid,layout,diskspace,diskspace.s,diskspace.h",
                      "-H", str(ve.ctid), check=True).stdout.split()
    assert out[1] == "ploop"
    assert 30 * 1024 < int(out[2]) <= 48 * 1024
    assert out[3:] == [str(40 * 1024), str(48 * 1024)]
    js = json.loads(node.vzlist("-j", "-o", "diskspace", str(ve.ctid), check=True).stdout)
    assert js[0]["diskspace"]["softlimit"] == 40 * 1024
    assert js[0]["diskspace"]["hardlimit"] == 48 * 1024
    assert js[0]["diskspace"]["usage"] == int(out[2])
    # deleting frees it again
    ve.exec("rm /big && dd if=/dev/zero of=/big2 bs=1M count=5")


@pytest.mark.slow
def test_diskinodes_is_a_hard_limit_inside_the_ve(make_ve: object) -> None:
    assert callable(make_ve)
    ve: VeHandle = make_ve("--layout", "ploop", "--diskspace", "64M",
                           "--diskinodes", "1500:1500")
    r = ve.exec("mkdir /many && cd /many && seq 1 4000 | xargs touch; "
                "ls /many | wc -l", check=False)
    made = int(r.stdout.split()[-1])
    assert "No space left on device" in r.stderr
    assert 1000 < made < 1600  # ext4 rounds the count to whole inode tables
    stopped = ve.node.vzlist("-a", "-o", "diskinodes", "-H", str(ve.ctid), check=True)
    assert int(stopped.stdout) >= made


@pytest.mark.slow
def test_resize_and_loop_devices(make_ve: object) -> None:
    assert callable(make_ve)
    ve: VeHandle = make_ve("--layout", "ploop", "--diskspace", "32M")
    node = ve.node
    image = _image(node, ve.ctid)
    assert len(_loops_of(image)) == 1
    # a mounted image never shrinks
    r = ve.vzctl("set", "--diskspace", "24M", "--save")
    assert r.returncode == 154, r.stderr
    assert "only grow" in r.stderr
    r = ve.vzctl("set", "--diskspace", "48M", "--save")
    if _has_cap_sys_resource():
        assert r.returncode == 0, r.stderr
        df = ve.exec("df -k /").stdout.splitlines()[-1].split()
        assert int(df[1]) > 40 * 1024
    else:
        # ext4's resize ioctl needs CAP_SYS_RESOURCE: said plainly, nothing changed
        assert r.returncode == 154, r.stderr
        assert "CAP_SYS_RESOURCE" in r.stderr
        assert image.stat().st_size == 32 * 1024 * 1024
        assert "DISKSPACE=\"32768:32768\"" in node.conf(ve.ctid).read_text()
    ve.vzctl("stop", check=True)
    assert _loops_of(image) == []  # the device went with the mount
    ve.vzctl("set", "--diskspace", "64M", "--save", check=True)
    assert image.stat().st_size == 64 * 1024 * 1024
    ve.vzctl("set", "--diskspace", "40M", "--save", check=True)  # stopped: may shrink
    assert image.stat().st_size == 40 * 1024 * 1024
    r = ve.vzctl("set", "--diskspace", "1M", "--save")
    assert r.returncode == 21 and image.stat().st_size == 40 * 1024 * 1024
    r = ve.vzctl("set", "--diskinodes", "900000", "--save")
    assert r.returncode == 62 and "DISKINODES" not in node.conf(ve.ctid).read_text()
    ve.vzctl("start", check=True)
    df = ve.exec("df -k /").stdout.splitlines()[-1].split()
    assert 32 * 1024 < int(df[1]) <= 40 * 1024


@pytest.mark.slow
def test_loop_left_by_a_killed_command_is_released(make_ve: object) -> None:
    assert callable(make_ve)
    ve: VeHandle = make_ve("--layout", "ploop", "--diskspace", "32M", start=False)
    image = _image(ve.node, ve.ctid)
    # what a command killed between losetup and mount leaves: an attached, unused device
    dev = subprocess.run(["losetup", "--find", "--show", str(image)], check=True,
                         capture_output=True, text=True).stdout.strip()
    try:
        assert _loops_of(image) == [dev]
        ve.vzctl("start", check=True)
        assert len(_loops_of(image)) == 1  # the leftover was released, not kept beside
        ve.vzctl("stop", check=True)
        assert _loops_of(image) == []
    finally:
        subprocess.run(["losetup", "-d", dev], capture_output=True)


@pytest.mark.slow
def test_ploop_needs_a_size_and_leaves_nothing(node: Node) -> None:
    ctid = node.new_ctid()
    r = node.vzctl("create", str(ctid), "--ostemplate", "busybox", "--layout", "ploop")
    assert r.returncode == 63, r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2
    assert not node.private(ctid).exists() and not node.conf(ctid).exists()
    # an image too small for the template: ENOSPC during unpack, nothing left
    r = node.vzctl("create", str(ctid), "--ostemplate", "busybox", "--layout", "ploop",
                   "--diskspace", "16M", "--diskinodes", "20")
    assert r.returncode == 46, r.stderr
    assert not node.private(ctid).exists() and not node.conf(ctid).exists()
    assert not Path(str(node.private(ctid)) + ".partial").exists()
    assert not [d for d in os.listdir("/sys/block") if d.startswith("loop") and
                str(node.root) in _backing(d)]


def _backing(loop: str) -> str:
    try:
        return Path(f"/sys/block/{loop}/loop/backing_file").read_text()
    except OSError:
        return ""


def _mounts_under(root: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if ln.split()[4].startswith(str(root) + "/")]


@pytest.mark.slow
def test_killed_create_backup_restore_leave_no_mount(node: Node, tmp_path: Path) -> None:
    import time


    def settle() -> None:
        for _ in range(100):  # children bound to the killed command die with it
            if not _mounts_under(node.root / "vz/private"):
                return
            time.sleep(0.05)

    ctid = node.new_ctid()
    create = ["create", str(ctid), "--ostemplate", "busybox", "--layout", "ploop",
              "--diskspace", "64M"]
    try:
        for delay in (0.1, 0.2, 0.28):
            node.kill_vzctl_after(delay, *create)
            settle()
            assert _mounts_under(node.root / "vz/private") == []
            node.vzctl("destroy", str(ctid))  # whatever was finished goes
        node.vzctl(*create, check=True)
        node.vzctl("start", str(ctid), check=True)
        node.vzctl("exec", str(ctid), "echo kept > /kept", check=True)
        out = tmp_path / "b.tar"
        for delay in (0.08, 0.15, 0.22):
            node.kill_vzctl_after(delay, "backup", str(ctid), str(out))
            settle()
            assert not [m for m in _mounts_under(tmp_path)]
        node.vzctl("backup", str(ctid), str(out), check=True)
        assert not list(tmp_path.glob(".pyvz-backup-*"))
        new = node.new_ctid()
        for delay in (0.08, 0.13):
            node.kill_vzctl_after(delay, "restore-backup", str(new), str(out), "--layout", "ploop",
                       "--diskspace", "64M")
            settle()
            assert _mounts_under(node.root / "vz/private") == []
            node.vzctl("destroy", str(new))
        node.vzctl("restore-backup", str(new), str(out), "--layout", "ploop",
                   "--diskspace", "64M", check=True)
        node.vzctl("start", str(new), check=True)
        assert node.vzctl("exec", str(new), "cat /kept", check=True).stdout == "kept\n"
        node.vzctl("stop", str(new), check=True)
        node.vzctl("destroy", str(new), check=True)
        assert _loops_of(node.private(new) / "root.hdd") == []
        # no device anywhere still holds an image of this node, even a removed one
        live = str(node.private(ctid) / "root.hdd") + "\n"  # the running VE's own
        assert not [d for d in os.listdir("/sys/block") if d.startswith("loop") and
                    str(node.private(ctid).parent) in _backing(d) and _backing(d) != live]
    finally:
        node.vzctl("stop", str(ctid), "--fast")
        node.vzctl("destroy", str(ctid))
