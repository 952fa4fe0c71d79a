"""``vzctl backup CTID FILE [--incremental]`` and ``vzctl restore-backup CTID FILE…
[--layout NAME] [--diskspace …]``.

A backup is one uncompressed tar holding ``pyvz-backup.conf`` (what it is: CT id, layout,
level, date), ``ve.conf`` (the VE's config) and ``root.tar.gz``: the VE's whole file tree as
its own root sees it (GNU tar, numeric owners, ACLs, xattrs, file capabilities).  That
inner tar is written and read *inside a user namespace mapped like the VE*, so owners are
stored relative to the VE (0 = its root) and a restore maps them onto whatever LOCAL_UID the
new VE gets; the kernel translates file capabilities the same way.  So a backup restores to
any CT id, on any node, into any layout that holds a full tree (simfs, ploop, btrfs).

Incremental backups are GNU tar's listed-incremental dumps: ``backup --incremental`` stores
only what changed since the VE's previous backup (state in ``VE_PRIVATE/backup.snar``);
restore takes the full backup then each incremental one in order (deleted files are
deleted again).  A running VE is frozen while its files are read, unless --skip-suspend.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tarfile
import tempfile
import time

from pyvz import log
from pyvz.config.conffile import ConfFile
from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc
from pyvz.kernel.proc import run
from pyvz.storage.base import get_driver
from pyvz.ve.model import VE

__all__ = ["backup", "restore"]

_META = "pyvz-backup.conf"
_STATE = "backup.snar"


def _userns_tar(uid: int, gid: int, args: list[str], *, cwd: str, code: int) -> None:
    """GNU tar as the VE's root: ids inside the archive are the VE's own.  It works in
    ``cwd`` (entered as the node's root) with relative names only, so no node directory
    above it need be open to the VE's root."""
    from pyvz.storage.idmap import nsenter_argv, ve_userns
    from pyvz.storage.mountns import DIE_WITH_US

    argv = [*DIE_WITH_US, "tar", "--numeric-owner", "--xattrs", "--xattrs-include=*",
            "--acls", *args]
    if uid == 0 and gid == 0:  # a VE without user namespace: plain tar as the node's root
        _tar(argv, cwd, code)
        return
    with ve_userns(uid, gid) as ns:
        _tar(nsenter_argv(ns, argv), cwd, code)


def _tar(argv: list[str], cwd: str, code: int) -> None:
    rc, _, err = run(argv, code=code, check=False, cwd=cwd)
    text = err.decode(errors="replace")
    if rc == 1 and "file changed as we read it" in text:
        return
    if rc != 0:
        lines = [ln for ln in text.splitlines() if "Exiting with failure" not in ln]
        if "No space left" in text or "Disk quota exceeded" in text:
            raise VzError(E.FS_NO_DISK_SPACE, "Not enough disk space: "
                          + (lines[0] if lines else ""))
        raise VzError(code, "tar failed: " + (lines[0] if lines else f"exit status {rc}"))


def _fresh_dir(path: str) -> str:
    if os.path.lexists(path):
        shutil.rmtree(path)
    os.mkdir(path, 0o711)
    os.chmod(path, 0o711)  # past the umask
    return path


class _Workdir:
    """A fresh 0711 directory where tar runs: ``root`` in it is where the VE's tree is
    bind-mounted (in a private mount namespace, so a killed command leaves no mount), so
    the VE's root in a user namespace reaches it whatever the node's directories above
    are; the files tar writes are made here first, writable by it."""

    def __init__(self, near: str, ctid: int) -> None:
        # named after the VE (whose lock we hold): what a killed run left is ours to drop
        self.tmp = _fresh_dir(os.path.join(near, f".pyvz-backup-{ctid}"))
        self.path = os.path.join(self.tmp, "root")
        os.mkdir(self.path, 0o700)

    def file(self, name: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "wb"):
            pass
        os.chmod(path, 0o666)
        return path

    def tar(self, source: str, uid: int, gid: int, args: list[str], *, read_only: bool,
            code: int) -> None:
        from pyvz.storage.mountns import in_private_mounts

        def work() -> None:
            sc.mount(source, self.path, None, sc.MS_BIND)
            if read_only:
                sc.mount(None, self.path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)
            _userns_tar(uid, gid, args, cwd=self.tmp, code=code)

        in_private_mounts(work)

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def backup(ve: VE, path: str, *, incremental: bool = False,
           skip_suspend: bool = False) -> None:
    ve.require_config()
    ve.require_private()
    path = os.path.abspath(path)
    if not os.path.isdir(os.path.dirname(path)):
        raise VzError(E.INVALID_PARAMETER_VALUE, f"No directory for {path}")
    state = os.path.join(ve.private, _STATE)
    level = 0
    meta_prev: dict[str, str] = {}
    if incremental:
        if not os.path.exists(state + ".meta"):
            raise VzError(E.INVALID_PARAMETER_VALUE, "No earlier backup of this container "
                          "to be incremental to: make a full backup first")
        meta_prev = ConfFile.load(state + ".meta").values()
        level = int(meta_prev.get("LEVEL", "0")) + 1
    mounted_here = not ve.is_mounted()
    if mounted_here:
        from pyvz.ve import mount as ve_mount

        ve_mount.mount(ve)
    tmp_out = path + ".partial"
    exposed: _Workdir | None = None
    try:
        exposed = _Workdir(os.path.dirname(path), ve.ctid)
        inner = exposed.file("root.tar.gz")
        snar = exposed.file("state.snar")
        if incremental:
            shutil.copyfile(state, snar)
        args = ["--one-file-system", "--no-check-device", "--listed-incremental=state.snar",
                "--exclude=./dev/*", "-C", "root", "-czf", "root.tar.gz", "."]
        log.info(f"Backing up container {ve.ctid} (level {level})")
        if ve.is_running() and not skip_suspend:
            from pyvz.ve.snapshot import frozen

            with frozen(ve):
                exposed.tar(ve.root, ve.uid, ve.gid, args, read_only=True, code=E.SYSTEM)
        else:
            exposed.tar(ve.root, ve.uid, ve.gid, args, read_only=True, code=E.SYSTEM)
        meta = {"CTID": str(ve.ctid), "LAYOUT": ve.layout, "LEVEL": str(level),
                "DATE": time.strftime("%Y-%m-%d %H:%M:%S"),
                "OSTEMPLATE": ve.conf.get("OSTEMPLATE") or "",
                "BASE": meta_prev.get("ID", "") if incremental else "",
                "ID": f"{ve.ctid}-{time.time_ns()}"}
        meta_path = exposed.file(_META)
        conf = ConfFile(meta_path, "")
        for k, v in meta.items():
            conf.set(k, v or None)
        conf.save()
        with tarfile.open(tmp_out, "w") as out:
            out.add(meta_path, _META)
            out.add(ve.conf_path, "ve.conf")
            out.add(inner, "root.tar.gz")
        os.replace(tmp_out, path)
        # the next incremental backup starts from this one
        shutil.copyfile(snar, state + ".tmp")
        os.replace(state + ".tmp", state)
        state_meta = ConfFile(state + ".meta", "")
        state_meta.set("LEVEL", str(level))
        state_meta.set("ID", meta["ID"])
        state_meta.save()
    except BaseException:
        if os.path.exists(tmp_out):
            os.unlink(tmp_out)
        raise
    finally:
        if exposed is not None:
            exposed.close()
        if mounted_here:
            from pyvz.ve import mount as ve_mount

            ve_mount.umount(ve)
    log.info(f"Backup of container {ve.ctid} written to {path}")


def _read_backup(path: str, workdir: str) -> tuple[dict[str, str], str, str]:
    """(meta, ve.conf path, inner tar path) of backup ``path``, copied out into a new
    directory under ``workdir`` (members are read by name; nothing else is extracted)."""
    target = tempfile.mkdtemp(prefix="b", dir=workdir)
    os.chmod(target, 0o755)
    try:
        with tarfile.open(path, "r:") as tf:
            for name in (_META, "ve.conf", "root.tar.gz"):
                try:
                    member = tf.getmember(name)
                except KeyError:
                    raise VzError(E.INVALID_PARAMETER_VALUE,
                                  f"{path} is not a pyvz backup (no {name})") from None
                src = tf.extractfile(member)
                if src is None:
                    raise VzError(E.INVALID_PARAMETER_VALUE, f"{path}: {name} is not a file")
                with src, open(os.path.join(target, name), "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except (OSError, tarfile.TarError) as e:
        raise VzError(E.INVALID_PARAMETER_VALUE, f"Unable to read backup {path}: {e}") \
            from e
    os.chmod(os.path.join(target, "root.tar.gz"), 0o644)
    meta = ConfFile.load(os.path.join(target, _META)).values()
    return meta, os.path.join(target, "ve.conf"), os.path.join(target, "root.tar.gz")


def restore(ve: VE, path_list: str, values: dict[str, str]) -> None:
    """A new VE ``ve.ctid`` from a full backup and any incremental ones after it (given
    as one argument, comma-separated, in order).  The caller holds the VE's lock."""
    from pyvz.config import kinds as k
    from pyvz.config.layers import expand_veid
    from pyvz.storage.base import Limits
    from pyvz.ve import names
    from pyvz.ve.create import CREATING_MARK, PARTIAL_SUFFIX, remove_partial

    node = ve.node
    if ve.conf.exists:
        raise VzError(E.FS_PRVT_AREA_EXIST, f"Container {ve.ctid} already exists")
    paths = [os.path.abspath(p) for p in path_list.split(",") if p]
    base = node.paths.private_dir
    os.makedirs(base, exist_ok=True)
    work = _fresh_dir(os.path.join(base, f".pyvz-restore-{ve.ctid}"))
    try:
        chain = [_read_backup(p, work) for p in paths]
        first_meta, _conf_path, _ = chain[0]
        if first_meta.get("LEVEL") != "0":
            raise VzError(E.INVALID_PARAMETER_VALUE, f"{paths[0]} is an incremental backup: "
                          "give the full one first")
        for (prev, _, _), (meta, _, _) in itertools.pairwise(chain):
            if meta.get("BASE") != prev.get("ID"):
                raise VzError(E.INVALID_PARAMETER_VALUE,
                              "Incremental backups are not given in order")
        conf = ConfFile(ve.conf_path, ConfFile.load(chain[-1][1]).text())
        from pyvz.storage.base import LAYOUTS

        layout = k.Choice(*LAYOUTS).parse(
            values.get("layout") or first_meta.get("LAYOUT") or "simfs", "layout")
        if get_driver(layout, node).info.shares_template:
            if values.get("layout"):
                raise VzError(E.INVALID_PARAMETER_VALUE, f"A backup cannot be restored into "
                              f"the {layout} layout (it holds no template layer); choose "
                              "simfs, ploop or btrfs")
            log.info(f"Restoring into the simfs layout (the backup of a {layout} VE holds "
                     "no template layer; give --layout to choose)")
            layout = "simfs"
        for key, option in (("DISKSPACE", "diskspace"), ("DISKINODES", "diskinodes")):
            if values.get(option):
                from pyvz.config.schema import BY_KEY

                conf.set(key, BY_KEY[key].kind.parse(values[option], option))
        private_t = k.PathKind().parse(values["private"], "private") \
            if values.get("private") else f"{node.paths.private_dir}/$VEID"
        root_t = k.PathKind().parse(values["root"], "root") \
            if values.get("root") else f"{node.paths.root_dir}/$VEID"
        name = k.Name().parse(values["name"], "name") if values.get("name") else None
        if name:
            names.check_free(node, name, ve.ctid)
        conf.set("VE_PRIVATE", private_t)
        conf.set("VE_ROOT", root_t)
        conf.set("VE_LAYOUT", layout)
        conf.set("NAME", name)
        conf.set("VEID", None)
        private = expand_veid(private_t, ve.ctid)
        if os.path.lexists(private):
            raise VzError(E.FS_PRVT_AREA_EXIST, f"Private area already exists in {private}")
        restored = conf.values()
        glob = node.global_values
        limits = Limits.from_values(lambda key: restored.get(key) or glob.get(key))
        driver = get_driver(layout, node)
        driver.check_limits(private, limits)
        uid = int(restored.get("LOCAL_UID") or 100000)
        gid = int(restored.get("LOCAL_GID") or uid)
        partial = private + PARTIAL_SUFFIX
        remove_partial(partial)
        os.makedirs(os.path.dirname(private), exist_ok=True)
        os.mkdir(partial, 0o755)
        try:
            driver.create_empty(partial, uid, gid, limits)
            exposed = _Workdir(work, ve.ctid)
            try:
                def fill(mnt: str) -> None:
                    os.chown(mnt, uid, gid)  # the VE's root must own its "/" to fill it
                    sc.mount(mnt, exposed.path, None, sc.MS_BIND)
                    for meta, _, inner in chain:
                        log.info(f"Restoring level {meta.get('LEVEL')} backup")
                        os.rename(inner, os.path.join(exposed.tmp, "root.tar.gz"))
                        _userns_tar(uid, gid, ["--listed-incremental=/dev/null", "-C",
                                               "root", "-xzpf", "root.tar.gz"],
                                    cwd=exposed.tmp, code=E.FS_NEW_VE_PRVT)

                driver.with_mounted(partial, fill)
            finally:
                exposed.close()
            driver.set_limits(partial, None, limits)  # e.g. project quota on the files
            open(os.path.join(partial, CREATING_MARK), "w").close()
            os.rename(partial, private)
        except BaseException:
            driver.snapshot_drop(partial)
            remove_partial(partial)
            raise
        try:
            os.makedirs(os.path.dirname(ve.conf_path), exist_ok=True)
            conf.save()
            os.unlink(os.path.join(private, CREATING_MARK))
            if name:
                names.link(node, name, ve.ctid)
        except BaseException:
            try:
                os.unlink(ve.conf_path)
            except FileNotFoundError:
                pass
            driver.snapshot_drop(private)
            shutil.rmtree(private, ignore_errors=True)
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info(f"Container {ve.ctid} restored from {paths[-1]} ({layout})")
