"""Snapshots of a VE: its files (through the layout's driver) and its config, kept in
``VE_PRIVATE/snapshots/<uuid>/`` (``meta``, ``ve.conf`` and the driver's data).

Every snapshot is a full, independent state, so *any* snapshot can be switched to, in any
order, and deleting one never touches another (no chain to merge).  ``parent`` records
which snapshot was current when it was taken (vzctl's tree); ``snapshots/current`` names the
snapshot the VE's present state descends from.

A running VE is frozen (cgroup freezer) while its files are copied, so the snapshot is
consistent; ``--skip-suspend`` leaves it running (still crash-consistent: the filesystem
is synced/frozen by the driver).  A snapshot is built as ``.<uuid>.partial`` and renamed
into place, so a killed command leaves nothing that lists as a snapshot; the next snapshot
command removes such leftovers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time

from pyvz import log
from pyvz.config.conffile import ConfFile
from pyvz.errors import E, VzError
from pyvz.storage.base import StorageDriver, get_driver
from pyvz.storage.codes import C
from pyvz.ve.model import VE

__all__ = ["Snapshot", "delete", "frozen", "list_snapshots", "mount", "normalize_id", "switch",
           "take",
           "umount"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


def normalize_id(text: str) -> str:
    """A UUID in vzctl's printed form, ``{xxxxxxxx-…}`` (braces optional on input)."""
    import uuid

    try:
        return "{" + str(uuid.UUID(text.strip().strip("{}"))) + "}"
    except ValueError:
        raise VzError(E.INVALID_PARAMETER_VALUE, f"Invalid guid is specified: {text}") \
            from None


class Snapshot:
    __slots__ = ("created", "date", "desc", "dir", "name", "parent", "target", "uuid")

    def __init__(self, path: str, meta: dict[str, str]) -> None:
        self.dir = path
        self.uuid = meta.get("UUID", "")
        self.parent = meta.get("PARENT", "")
        self.name = meta.get("NAME", "")
        self.desc = meta.get("DESC", "")
        self.date = meta.get("DATE", "")
        self.target = meta.get("TARGET", "")
        created = meta.get("CREATED", "")
        self.created = int(created) if created.isdigit() else 0


class Store:
    def __init__(self, ve: VE) -> None:
        self.ve = ve
        self.top = os.path.join(ve.private, "snapshots")

    def path(self, uuid: str) -> str:
        return os.path.join(self.top, uuid.strip("{}"))

    def all(self) -> list[Snapshot]:
        try:
            names = os.listdir(self.top)
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            meta = os.path.join(self.top, name, "meta")
            if name.startswith(".") or not os.path.isfile(meta):
                continue
            found.append(Snapshot(os.path.join(self.top, name), ConfFile.load(meta).values()))
        found.sort(key=lambda s: (s.date, s.created, s.uuid))  # in the order taken
        return found

    def get(self, uuid: str) -> Snapshot:
        for s in self.all():
            if s.uuid == uuid:
                return s
        raise VzError(E.INVALID_PARAMETER_VALUE, f"Snapshot {uuid} not found")

    @property
    def current(self) -> str:
        try:
            with open(os.path.join(self.top, "current")) as f:
                return f.read().strip()
        except FileNotFoundError:
            return ""

    def set_current(self, uuid: str) -> None:
        tmp = os.path.join(self.top, ".current.tmp")
        with open(tmp, "w") as f:
            f.write(uuid + "\n")
        os.replace(tmp, os.path.join(self.top, "current"))

    def write_meta(self, path: str, values: dict[str, str]) -> None:
        conf = ConfFile(os.path.join(path, "meta"), "")
        for k, v in values.items():
            conf.set(k, v or None)
        conf.save()

    def clean_partial(self, driver: StorageDriver) -> None:
        try:
            names = os.listdir(self.top)
        except FileNotFoundError:
            return
        for name in names:
            if name.startswith(".") and name.endswith(".partial"):
                _remove_snapshot_dir(driver, os.path.join(self.top, name))


def _driver(ve: VE, code: int, *, repair: bool = True) -> StorageDriver:
    """The VE's driver if it has snapshots; with ``repair`` (the caller holds the VE's
    lock) whatever a killed snapshot command left is finished or undone first."""
    ve.require_config()
    ve.require_private()
    driver = get_driver(ve.layout, ve.node)
    if not driver.info.snapshots:
        raise VzError(code, f"The {driver.info.name} layout has no snapshots (use ploop, "
                      "btrfs or overlay)")
    if repair:
        driver.repair(ve.private)
        _thaw_leftover(ve)
        _finish_interrupted_switch(ve, driver)
        Store(ve).clean_partial(driver)
    return driver


def _frozen_mark(ve: VE) -> str:
    return os.path.join(ve.run_dir, "disk-frozen")


def _thaw_leftover(ve: VE) -> None:
    """A snapshot or clone killed while the VE was frozen leaves it frozen: thaw it."""
    if os.path.exists(_frozen_mark(ve)):
        log.warn("Thawing the container, left frozen by an interrupted command")
        _thaw(ve)
        os.unlink(_frozen_mark(ve))


def _switch_mark(ve: VE) -> str:
    return os.path.join(ve.private, "snapshots", ".switching")


def _finish_interrupted_switch(ve: VE, driver: StorageDriver) -> None:
    try:
        with open(_switch_mark(ve)) as f:
            uuid, _, skip_config = f.read().split()[:3]
    except (FileNotFoundError, ValueError):
        return
    if ve.is_mounted():
        log.warn(f"A switch to snapshot {uuid} was interrupted; stop and unmount the "
                 "container and switch again")
        return
    log.info(f"Finishing an interrupted switch to snapshot {uuid}")
    _do_switch(ve, driver, Store(ve).get(uuid), skip_config == "1")


def _remove_snapshot_dir(driver: StorageDriver, path: str) -> None:
    driver.snapshot_drop(path)
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def frozen(ve: VE) -> Iterator[None]:
    """Freeze the VE's processes (v2 freezer, else v1) for the duration."""
    mark = _frozen_mark(ve)
    with open(mark, "w"):
        pass
    _freeze(ve)
    try:
        yield
    finally:
        _thaw(ve)
        os.unlink(mark)


def _freeze(ve: VE) -> None:
    cg = ve.cgroups()
    unified = cg.unified
    if unified and os.path.exists(f"{unified}/cgroup.freeze"):
        _write(f"{unified}/cgroup.freeze", "1")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(f"{unified}/cgroup.events") as f:
                if "frozen 1" in f.read():
                    return
            time.sleep(0.01)
        _write(f"{unified}/cgroup.freeze", "0")
        raise VzError(C.CREATE_SNAPSHOT, "Unable to freeze the container (use "
                      "--skip-suspend to snapshot it running)")
    v1 = cg.dir_for("freezer")
    if v1 and os.path.exists(f"{v1}/freezer.state"):
        _write(f"{v1}/freezer.state", "FROZEN")
        return
    raise VzError(C.CREATE_SNAPSHOT, "No cgroup freezer: use --skip-suspend")


def _thaw(ve: VE) -> None:
    cg = ve.cgroups()
    unified = cg.unified
    if unified and os.path.exists(f"{unified}/cgroup.freeze"):
        _write(f"{unified}/cgroup.freeze", "0")
    v1 = cg.dir_for("freezer")
    if v1 and os.path.exists(f"{v1}/freezer.state"):
        _write(f"{v1}/freezer.state", "THAWED")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def take(ve: VE, *, uuid: str | None = None, name: str = "", desc: str = "",
         skip_suspend: bool = False, skip_config: bool = False) -> str:
    import uuid as uuidlib

    driver = _driver(ve, C.CREATE_SNAPSHOT)
    store = Store(ve)
    os.makedirs(store.top, mode=0o700, exist_ok=True)
    store.clean_partial(driver)
    sid = normalize_id(uuid) if uuid else "{" + str(uuidlib.uuid4()) + "}"
    if os.path.exists(store.path(sid)):
        raise VzError(C.CREATE_SNAPSHOT, f"Snapshot {sid} already exists")
    final = store.path(sid)
    partial = os.path.join(store.top, f".{os.path.basename(final)}.partial")
    running = ve.is_running()
    root = ve.root if ve.is_mounted() else None
    log.info(f"Creating snapshot {sid}")
    os.mkdir(partial, 0o700)
    try:
        if running and not skip_suspend:
            with frozen(ve):
                driver.snapshot_take(ve.private, root, partial)
        else:
            driver.snapshot_take(ve.private, root, partial)
        if not skip_config and os.path.exists(ve.conf_path):
            shutil.copy2(ve.conf_path, os.path.join(partial, "ve.conf"))
        store.write_meta(partial, {"UUID": sid, "PARENT": store.current, "NAME": name,
                                   "DESC": desc,
                                   "DATE": time.strftime("%Y-%m-%d %H:%M:%S"),
                                   "CREATED": str(time.time_ns())})
        os.rename(partial, final)
    except BaseException as e:
        _remove_snapshot_dir(driver, partial)
        if isinstance(e, OSError):
            code = E.FS_NO_DISK_SPACE if e.errno == 28 else C.CREATE_SNAPSHOT
            raise VzError(code, f"Unable to create snapshot: {e.strerror}") from e
        raise
    store.set_current(sid)
    log.info(f"Snapshot {sid} has been successfully created")
    return sid


def list_snapshots(ve: VE, uuid: str | None = None, *,
                   repair: bool = True) -> tuple[list[Snapshot], str]:
    """Snapshots (all, or the chain from ``uuid`` back to the first) and the current id."""
    _driver(ve, C.LIST_SNAPSHOT, repair=repair)
    store = Store(ve)
    snaps = store.all()
    if uuid is None:
        return snaps, store.current
    by_id = {s.uuid: s for s in snaps}
    chain = []
    sid = uuid
    while sid:
        if sid not in by_id:
            raise VzError(E.INVALID_PARAMETER_VALUE, f"Can't find snapshot by uuid {sid}")
        chain.append(by_id[sid])
        sid = by_id[sid].parent
        if len(chain) > len(snaps):
            raise VzError(C.LIST_SNAPSHOT, "Inconsistency detected in the snapshot tree")
    return chain, store.current


def switch(ve: VE, uuid: str, *, skip_resume: bool = False, skip_config: bool = False) -> None:
    """Roll the VE's files (and config) back or forward to snapshot ``uuid``; the present
    state is lost.  A running VE is stopped, switched and (unless --skip-resume) started."""
    driver = _driver(ve, C.SWITCH_SNAPSHOT)
    store = Store(ve)
    snap = store.get(uuid)
    was_running = ve.is_running()
    if was_running:
        from pyvz.ve.stop import stop

        stop(ve)
        ve.forget_runstate()
    if ve.is_mounted():
        from pyvz.ve import mount as ve_mount

        ve_mount.umount(ve)
    log.info(f"Switching to snapshot {uuid}")
    _do_switch(ve, driver, snap, skip_config)
    log.info(f"Container switched to snapshot {uuid}")
    if was_running and not skip_resume:
        from pyvz.ve.start import start

        start(ve)


def _do_switch(ve: VE, driver: StorageDriver, snap: Snapshot, skip_config: bool) -> None:
    """Files, then config, then "current"; a mark says a switch is under way, so one
    killed half-way is finished by the next snapshot command."""
    mark = _switch_mark(ve)
    with open(mark + ".tmp", "w") as f:
        f.write(f"{snap.uuid} x {int(skip_config)}\n")
    os.replace(mark + ".tmp", mark)
    try:
        driver.snapshot_restore(ve.private, snap.dir)
    except OSError as e:
        raise VzError(C.SWITCH_SNAPSHOT, f"Unable to switch to snapshot {snap.uuid}: "
                      f"{e.strerror}") from e
    saved_conf = os.path.join(snap.dir, "ve.conf")
    if not skip_config and os.path.exists(saved_conf):
        tmp = ve.conf_path + ".switch"
        shutil.copy2(saved_conf, tmp)
        os.replace(tmp, ve.conf_path)
        ve.conf.file = ConfFile.load(ve.conf_path)
        ve.conf.reload()
    _reapply_limits(ve, driver)
    Store(ve).set_current(snap.uuid)
    os.unlink(mark)


def _reapply_limits(ve: VE, driver: StorageDriver) -> None:
    """The restored config's disk limits hold for the restored files (a qgroup limit on a
    new subvolume, an image that was resized since)."""
    from pyvz.storage.limits import ve_limits

    limits = ve_limits(ve)
    try:
        driver.set_limits(ve.private, None, limits)
    except VzError as e:
        log.warn(f"Disk limits of the snapshot's config not applied: {e.message}")


def delete(ve: VE, uuid: str) -> None:
    driver = _driver(ve, C.DELETE_SNAPSHOT)
    store = Store(ve)
    snap = store.get(uuid)
    if snap.target and _is_mounted(snap.target):
        raise VzError(C.DELETE_SNAPSHOT, f"Snapshot {uuid} is mounted at {snap.target}: "
                      "snapshot-umount it first")
    for child in store.all():
        if child.parent == uuid:
            meta = ConfFile.load(os.path.join(child.dir, "meta"))
            meta.set("PARENT", snap.parent or None)
            meta.save()
    if store.current == uuid:
        store.set_current(snap.parent)
    trash = os.path.join(store.top, f".{os.path.basename(snap.dir)}.partial")
    os.rename(snap.dir, trash)  # gone from the list at once; removed below or next time
    _remove_snapshot_dir(driver, trash)
    log.info(f"Snapshot {uuid} has been successfully deleted")


def _is_mounted(path: str) -> bool:
    from pyvz.kernel.mountinfo import is_mountpoint

    return is_mountpoint(path)


def mount(ve: VE, uuid: str, target: str) -> None:
    driver = _driver(ve, C.MOUNT_SNAPSHOT)
    store = Store(ve)
    snap = store.get(uuid)
    if not os.path.isabs(target) or not os.path.isdir(target):
        raise VzError(C.MOUNT_SNAPSHOT, f"Target {target} is not an existing directory")
    target = os.path.realpath(target)
    if snap.target and _is_mounted(snap.target):
        raise VzError(C.MOUNT_SNAPSHOT, f"Snapshot {uuid} is already mounted at "
                      f"{snap.target}")
    driver.snapshot_mount(snap.dir, target)
    meta = ConfFile.load(os.path.join(snap.dir, "meta"))
    meta.set("TARGET", target)
    meta.save()
    log.info(f"Snapshot {uuid} mounted read-only at {target}")


def umount(ve: VE, uuid: str) -> None:
    from pyvz.storage.base import umount_root

    _driver(ve, C.UMOUNT_SNAPSHOT)
    snap = Store(ve).get(uuid)
    if not snap.target or not _is_mounted(snap.target):
        raise VzError(C.UMOUNT_SNAPSHOT, f"Snapshot {uuid} is not mounted")
    umount_root(snap.target)
    meta = ConfFile.load(os.path.join(snap.dir, "meta"))
    meta.set("TARGET", None)
    meta.save()
    log.info(f"Snapshot {uuid} unmounted")
