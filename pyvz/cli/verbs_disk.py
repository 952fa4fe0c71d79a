"""vzctl's disk verbs: snapshot*, quotaon/quotaoff/quotainit, compact, convert, and pyvz's
clone, backup and restore-backup (``run(inv)``, called by pyvz.cli.vzctl)."""

from __future__ import annotations

import sys

from pyvz.cli import opts
from pyvz.errors import E, VzError

__all__ = ["run"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyvz.cli.vzctl import Invocation


def _one(found: dict[str, list[str]], name: str) -> str | None:
    values = found.get(name)
    return values[-1] if values else None


def _need_id(found: dict[str, list[str]], command: str) -> str:
    from pyvz.ve.snapshot import normalize_id

    value = _one(found, "id") or _one(found, "uuid")
    if not value:
        raise VzError(E.INVALID_PARAMETER_SYNTAX, f"{command}: --id <uuid> is required")
    return normalize_id(value)


def _locked(inv: Invocation, fn: Callable[[], object]) -> int:
    ve = inv.ve()
    if inv.skiplock:
        fn()
        return 0
    with ve.lock(inv.command):
        fn()
    return 0


def cmd_snapshot(inv: Invocation) -> int:
    from pyvz.config.kinds import Text
    from pyvz.ve import snapshot

    found, _ = opts.parse(inv.args, {"id": True, "uuid": True, "name": True,
                                     "description": True, "skip-suspend": False,
                                     "skip-config": False}, command=inv.command)
    uuid = _one(found, "id") or _one(found, "uuid")
    name = Text().parse(_one(found, "name") or "", "name")
    desc = Text().parse(_one(found, "description") or "", "description")
    ve = inv.ve()
    return _locked(inv, lambda: (snapshot.take(
        ve, uuid=uuid, name=name, desc=desc, skip_suspend="skip-suspend" in found,
        skip_config="skip-config" in found)))


def cmd_switch(inv: Invocation) -> int:
    from pyvz.ve import snapshot

    found, _ = opts.parse(inv.args, {"id": True, "uuid": True, "skip-resume": False,
                                     "must-resume": False, "skip-config": False},
                          command=inv.command)
    uuid = _need_id(found, inv.command)
    ve = inv.ve()
    return _locked(inv, lambda: (snapshot.switch(
        ve, uuid, skip_resume="skip-resume" in found, skip_config="skip-config" in found)))


def cmd_delete(inv: Invocation) -> int:
    from pyvz.ve import snapshot

    found, _ = opts.parse(inv.args, {"id": True, "uuid": True}, command=inv.command)
    uuid = _need_id(found, inv.command)
    ve = inv.ve()
    return _locked(inv, lambda: (snapshot.delete(ve, uuid)))


def cmd_mount(inv: Invocation) -> int:
    from pyvz.ve import snapshot

    found, _ = opts.parse(inv.args, {"id": True, "uuid": True, "target": True},
                          command=inv.command)
    uuid = _need_id(found, inv.command)
    target = _one(found, "target")
    if not target:
        raise VzError(E.INVALID_PARAMETER_SYNTAX, "snapshot-mount: --target <dir> is required")
    ve = inv.ve()
    return _locked(inv, lambda: (snapshot.mount(ve, uuid, target)))


def cmd_umount(inv: Invocation) -> int:
    from pyvz.ve import snapshot

    found, _ = opts.parse(inv.args, {"id": True, "uuid": True}, command=inv.command)
    uuid = _need_id(found, inv.command)
    ve = inv.ve()
    return _locked(inv, lambda: (snapshot.umount(ve, uuid)))


# snapshot-list fields: vzctl's src/snapshot-list.c (name, header, width; < 0 = left)
_FIELDS = {"uuid": ("UUID", -38), "parent_uuid": ("PARENT_UUID", -38), "current": ("C", 1),
           "date": ("DATE", -19), "name": ("NAME", -32), "desc": ("DESC", -32),
           "device": ("DEVICE", -16), "target": ("TARGET", -32)}
_FIELD_ALIASES = {"id": "uuid", "parent_id": "parent_uuid"}


def cmd_list(inv: Invocation) -> int:
    from pyvz.ve import snapshot

    found, _ = opts.parse(inv.args, {"H": False, "no-header": False, "o": True,
                                     "output": True, "id": True, "uuid": True, "L": False,
                                     "list": False}, command=inv.command)
    if "L" in found or "list" in found:
        for name, (header, _) in _FIELDS.items():
            sys.stdout.write(f"{name:<15} {header:<15}\n")
        return 0
    spec = _one(found, "o") or _one(found, "output") or "parent_uuid,current,uuid,date,name"
    fields = []
    for name in spec.split(","):
        key = _FIELD_ALIASES.get(name.lower(), name.lower())
        if key not in _FIELDS:
            raise VzError(E.INVALID_PARAMETER_VALUE, f"Unknown field: {name}")
        fields.append(key)
    uuid = _one(found, "id") or _one(found, "uuid")
    ve = inv.ve()
    sid = snapshot.normalize_id(uuid) if uuid else None
    lock = None
    if not inv.skiplock:
        from pyvz.errors import LockedError

        try:
            lock = ve.lock(inv.command)
        except LockedError:
            pass  # another command works on the VE: list as it is, repair nothing
    try:
        snaps, current = snapshot.list_snapshots(ve, sid, repair=lock is not None)
    finally:
        if lock is not None:
            lock.release()

    def cell(i: int, text: str, width: int) -> str:
        if i == len(fields) - 1:
            return text  # vzctl prints the last field unpadded
        return (text.ljust(-width) if width < 0 else text.rjust(width)) + " "

    out = []
    if "H" not in found and "no-header" not in found:
        out.append("".join(cell(i, _FIELDS[f][0], _FIELDS[f][1])
                           for i, f in enumerate(fields)).rstrip())
    for s in snaps:
        values = {"uuid": s.uuid, "parent_uuid": s.parent, "current": "*" if
                  s.uuid == current else "", "date": s.date, "name": s.name, "desc": s.desc,
                  "device": "", "target": s.target}
        out.append("".join(cell(i, values[f], _FIELDS[f][1]) for i, f in enumerate(fields)))
    if out:
        sys.stdout.write("\n".join(out) + "\n")
    return 0


def cmd_quota(inv: Invocation) -> int:
    """vzquota's on/off/init have no separate state here: the limits are part of the
    layout.  ``quotainit``/``quotaon`` check the VE's limits are enforced; ``quotaoff``
    refuses (DISK_QUOTA=no is the way to keep limits unenforced)."""
    from pyvz.storage.base import get_driver
    from pyvz.storage.limits import ve_limits

    opts.parse(inv.args, {}, command=inv.command)
    ve = inv.ve()
    ve.require_config()
    driver = get_driver(ve.layout, ve.node)
    if inv.command == "quotaoff":
        raise VzError(E.DQ_OFF, f"The {driver.info.name} layout's limits cannot be switched "
                      "off while the container exists; use 'set --diskquota no --save'")
    code = E.DQ_INIT if inv.command == "quotainit" else E.DQ_ON
    try:
        driver.check_limits(ve.private, ve_limits(ve))
    except VzError as e:
        raise VzError(code, e.message, hint=e.hint) from e
    return 0


def cmd_compact(inv: Invocation) -> int:
    from pyvz.storage.base import get_driver

    opts.parse(inv.args, {}, command=inv.command)
    ve = inv.ve()
    ve.require_config()
    ve.require_private()
    driver = get_driver(ve.layout, ve.node)

    def go() -> int:
        driver.compact(ve.private, ve.root if ve.is_mounted() else None)
        return 0

    return _locked(inv, go)


def cmd_convert(inv: Invocation) -> int:
    raise VzError(E.INVALID_PARAMETER_SYNTAX, "convert is not available in this pyvz: use "
                  "'vzctl backup' and 'vzctl restore-backup --layout NAME' to change layout")


def cmd_clone(inv: Invocation) -> int:
    from pyvz.ve.clone import clone

    found, rest = opts.parse(inv.args, {"name": True, "hostname": True,
                                        "private": True, "root": True},
                             command=inv.command, positional=1)
    if not rest:
        raise VzError(E.INVALID_PARAMETER_SYNTAX, "Usage: vzctl clone <ctid> <new ctid> "
                      "[--name <name>] [--hostname <name>]")
    dst = int(rest[0]) if rest[0].isdigit() and len(rest[0]) < 10 else 0
    if dst <= 0 or dst == inv.ctid:
        raise VzError(E.INVALID_PARAMETER_VALUE, f"Invalid new CT ID: {rest[0]}")
    values = {k: v[-1] for k, v in found.items()}
    ve = inv.ve()
    return _locked(inv, lambda: (clone(ve, dst, values)))


def cmd_backup(inv: Invocation) -> int:
    from pyvz.ve import backup

    found, rest = opts.parse(inv.args, {"incremental": False, "skip-suspend": False},
                             command=inv.command, positional=1)
    if not rest:
        raise VzError(E.INVALID_PARAMETER_SYNTAX,
                      "Usage: vzctl backup <ctid> <file> [--incremental]")
    ve = inv.ve()
    return _locked(inv, lambda: (backup.backup(
        ve, rest[0], incremental="incremental" in found,
        skip_suspend="skip-suspend" in found)))


def cmd_restore(inv: Invocation) -> int:
    """``vzctl restore-backup <ctid> <file> [--layout NAME] [--diskspace …]``: a new VE
    (any CT id, any layout) from a backup file."""
    from pyvz.ve import backup

    found, rest = opts.parse(inv.args, {"layout": True, "diskspace": True,
                                        "diskinodes": True, "private": True, "root": True,
                                        "name": True}, command=inv.command, positional=1)
    if not rest:
        raise VzError(E.INVALID_PARAMETER_SYNTAX,
                      "Usage: vzctl restore-backup <ctid> <file> [--layout <name>]")
    values = {k: v[-1] for k, v in found.items()}
    ve = inv.ve()
    return _locked(inv, lambda: (backup.restore(ve, rest[0], values)))


_VERBS: dict[str, Callable[[Invocation], int]] = {
    "snapshot": cmd_snapshot, "snapshot-switch": cmd_switch,
    "snapshot-delete": cmd_delete, "snapshot-mount": cmd_mount,
    "snapshot-umount": cmd_umount, "snapshot-list": cmd_list,
    "quotaon": cmd_quota, "quotaoff": cmd_quota, "quotainit": cmd_quota,
    "compact": cmd_compact, "convert": cmd_convert, "clone": cmd_clone,
    "backup": cmd_backup, "restore-backup": cmd_restore,
}


def run(inv: Invocation) -> int:
    handler = _VERBS.get(inv.command)
    if handler is None:
        raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Bad command: {inv.command}")
    return handler(inv)
