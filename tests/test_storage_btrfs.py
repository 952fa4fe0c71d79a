"""The btrfs layout on a btrfs pool image the test makes (loop-mounted under its own
node): qgroup limit enforced inside the VE, DISKINODES refused, instant snapshots and
clones, destroy removes every subvolume.  The image, its loop device and its mount carry
the test's unique prefix and are removed even on failure."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Node

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("mkfs.btrfs") is None,
                                 reason="btrfs-progs not installed (make setup)")]


@pytest.fixture
def pool(node: Node) -> Iterator[Path]:
    name = f"pyvz-test-btrfs-{uuid.uuid4().hex[:8]}"
    image = node.root / f"{name}.img"
    mnt = node.root / name
    mnt.mkdir()
    with open(image, "wb") as f:
        f.truncate(400 * 1024 * 1024)
    subprocess.run(["mkfs.btrfs", "-q", "-f", str(image)], check=True, capture_output=True)
    dev = subprocess.run(["losetup", "--find", "--show", str(image)], check=True,
                         capture_output=True, text=True).stdout.strip()
    try:
        subprocess.run(["mount", "-t", "btrfs", dev, str(mnt)], check=True)
        try:
            yield mnt
        finally:
            for conf in (node.root / "etc/vz/conf").glob("*.conf"):
                if str(mnt) in conf.read_text():
                    node.vzctl("stop", conf.stem, "--fast")
                    node.vzctl("destroy", conf.stem)
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
    finally:
        subprocess.run(["losetup", "-d", dev], capture_output=True)
        image.unlink()
        mnt.rmdir()


def _subvolumes(mnt: Path) -> list[str]:
    out = subprocess.run(["btrfs", "subvolume", "list", str(mnt)], check=True,
                         capture_output=True, text=True).stdout
    return [line.split()[-1] for line in out.splitlines()]


def test_btrfs_layout(node: Node, pool: Path) -> None:
    ctid = node.new_ctid()
    base = ["create", str(ctid), "--ostemplate", "busybox", "--layout", "btrfs"]
    r = node.vzctl(*base)  # the node's private dir is not on btrfs
    assert r.returncode == 48 and "needs VE_PRIVATE on btrfs" in r.stderr
    r = node.vzctl(*base, "--private", f"{pool}/$VEID", "--diskinodes", "1000")
    assert r.returncode == 62 and "DISKINODES" in r.stderr
    assert not (pool / str(ctid)).exists()
    node.vzctl(*base, "--private", f"{pool}/$VEID", "--diskspace", "20M", check=True)
    v = str(ctid)
    node.vzctl("start", v, check=True)
    r = node.vzctl("exec", v, "dd if=/dev/zero of=/big bs=1M count=60")
    assert "Disk quota exceeded" in r.stderr, r.stderr
    node.vzctl("exec", v, "rm /big; sync", check=True)
    node.vzctl("set", v, "--diskspace", "80M", "--save", check=True)  # live: a new limit
    node.vzctl("exec", v, "dd if=/dev/zero of=/big bs=1M count=40 && rm /big && sync",
               check=True)
    out = node.vzlist("-H", "-o", "layout,diskspace.h", v, check=True).stdout.split()
    assert out == ["btrfs", str(80 * 1024)]

    # snapshots: switch to the older one, then the newer one
    node.vzctl("exec", v, "echo one > /f", check=True)
    first = "{" + str(uuid.uuid4()) + "}"
    node.vzctl("snapshot", v, "--id", first, check=True)
    node.vzctl("exec", v, "echo two > /f", check=True)
    node.vzctl("snapshot", v, "--name", "second", check=True)
    node.vzctl("exec", v, "echo three > /f", check=True)
    node.vzctl("snapshot-switch", v, "--id", first, check=True)
    assert node.vzctl("exec", v, "cat /f", check=True).stdout == "one\n"
    listed = node.vzctl("snapshot-list", v, "-H", "-o", "uuid,name", check=True).stdout
    assert [line.split()[0] for line in listed.splitlines()][0] == first  # taken first
    second = next(line.split()[0] for line in listed.splitlines()
                  if line.split()[1:] == ["second"])
    node.vzctl("snapshot-switch", v, "--id", second, check=True)
    assert node.vzctl("exec", v, "cat /f", check=True).stdout == "two\n"
    # the limit still holds on the switched-in subvolume
    r = node.vzctl("exec", v, "dd if=/dev/zero of=/big bs=1M count=120")
    assert "Disk quota exceeded" in r.stderr
    node.vzctl("exec", v, "rm /big", check=True)

    # clone: a writable snapshot, running beside its source
    clone = node.new_ctid()
    node.vzctl("clone", v, str(clone), "--private", f"{pool}/$VEID", check=True)
    node.vzctl("start", str(clone), check=True)
    assert node.vzctl("exec", str(clone), "cat /f", check=True).stdout == "two\n"
    assert node.vzctl("status", v, check=True).stdout.split()[-1] == "running"
    node.vzctl("stop", str(clone), check=True)
    node.vzctl("destroy", str(clone), check=True)

    node.vzctl("stop", v, check=True)
    assert len(_subvolumes(pool)) == 3  # the VE and its two snapshots
    node.vzctl("destroy", v, check=True)
    assert _subvolumes(pool) == []
    assert list(pool.iterdir()) == []
