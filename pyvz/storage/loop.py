"""Loop devices for image files, through util-linux's ``losetup``.

A device is attached, mounted, and then detached at once: the kernel keeps a busy loop
device until its last user (the mount) goes, then frees it by itself (autoclear).  So an
unmount, even a lazy one or one done by the next command after a crash, never leaks a
device.  What a killed command can still leave is an attached, unmounted device: the next
mount of the same image finds and detaches it (``release_unused``).
"""

from __future__ import annotations

import os

from pyvz.errors import VzError
from pyvz.kernel.proc import run

__all__ = ["attach", "backing_devices", "detach", "refresh_capacity", "release_unused"]


def attach(image: str, *, code: int, read_only: bool = False) -> str:
    argv = ["losetup", "--find", "--show"]
    if read_only:
        argv.append("--read-only")
    _, out, _ = run([*argv, image], code=code, what="losetup")
    dev = out.decode().strip()
    if not dev.startswith("/dev/loop"):
        raise VzError(code, f"losetup gave no device for {image}")
    return dev


def detach(dev: str, *, code: int) -> None:
    """Detach now, or (while mounted) as soon as the mount goes."""
    run(["losetup", "--detach", dev], code=code, what="losetup", check=False)


def backing_devices(image: str, *, deleted: bool = False) -> list[str]:
    """Loop devices backed by ``image`` (by the kernel's record of the backing file); with
    ``deleted`` also those still holding a removed file that had this path (a device left
    by a killed command whose half-made private area was removed since)."""
    want = os.path.realpath(image)
    try:
        st: os.stat_result | None = os.stat(want)
    except OSError:
        st = None
    found = []
    try:
        names = os.listdir("/sys/block")
    except OSError:
        return []
    for name in names:
        if not name.startswith("loop"):
            continue
        try:
            with open(f"/sys/block/{name}/loop/backing_file") as f:
                backing = f.read().rstrip("\n")
        except OSError:
            continue
        if backing.endswith(" (deleted)"):
            if deleted and backing[:-len(" (deleted)")] == want:
                found.append(f"/dev/{name}")
            continue
        if st is None:
            continue
        try:
            bst = os.stat(backing)
        except OSError:
            continue
        if (bst.st_dev, bst.st_ino) == (st.st_dev, st.st_ino):
            found.append(f"/dev/{name}")
    return found


def _mounted_devices() -> set[str]:
    """Devices that are the source of a mount in any namespace we can see (ours)."""
    from pyvz.kernel.mountinfo import read_mounts

    return {m.source for m in read_mounts()}


def release_unused(image: str, *, code: int) -> None:
    """Detach devices of ``image`` that nothing mounts (left by a killed command)."""
    devs = backing_devices(image, deleted=True)
    if not devs:
        return
    mounted = _mounted_devices()
    for dev in devs:
        if dev not in mounted and not _holders(dev):
            detach(dev, code=code)


def _holders(dev: str) -> bool:
    try:
        return bool(os.listdir(f"/sys/block/{os.path.basename(dev)}/holders"))
    except OSError:
        return False


def refresh_capacity(dev: str, *, code: int) -> None:
    run(["losetup", "--set-capacity", dev], code=code, what="losetup")
