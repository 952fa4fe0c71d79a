"""``vzctl set``: turn options into new stored values (through the settings table), save them
in place, and apply the ones that can change on a running VE.
"""

from __future__ import annotations

from pyvz import log
from pyvz.config.schema import BY_OPTION, LIVE, RESTART, Setting
from pyvz.errors import E, VzError
from pyvz.ve.model import VE

__all__ = ["Changes", "apply", "collect", "configure_guest", "network_pending"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class Changes:
    """New stored values by key (None = remove the key), plus password actions."""

    __slots__ = ("save", "setmode", "userpasswd", "values")

    def __init__(self) -> None:
        self.values: dict[str, str | None] = {}
        self.userpasswd: list[tuple[str, str]] = []
        self.save = False
        self.setmode = ""


def _merge_list(current: list[str], op: str, items: list[str]) -> list[str]:
    if op == "add":
        seen = {c.split("/")[0] for c in current}
        out = list(current)
        for item in items:
            if item.split("/")[0] in seen:
                out = [c for c in out if c.split("/")[0] != item.split("/")[0]]
            out.append(item)
            seen.add(item.split("/")[0])
        return out
    if op == "del":
        if "all" in items:
            return []
        gone = {i.split("/")[0] for i in items}
        return [c for c in current if c.split("/")[0] not in gone]
    return items


def collect(ve: VE, found: dict[str, list[str]]) -> Changes:
    """Options (as parsed by cli.opts) → Changes, validating every value."""
    ch = Changes()
    per_setting: dict[str, list[tuple[str, str, str]]] = {}
    from pyvz.net.netif import claimed_options  # [net area] --ifname eth0 --ipadd …: NETIF

    claimed = claimed_options(found)
    for option, values in found.items():
        if option == "save":
            ch.save = True
        elif option == "setmode":
            mode = values[-1]
            if mode not in ("restart", "ignore"):
                raise VzError(E.INVALID_PARAMETER_VALUE, f"Bad parameter for --setmode: {mode}")
            ch.setmode = mode
        elif option == "userpasswd":
            from pyvz.dists.crypt import parse_userpasswd

            ch.userpasswd.extend(parse_userpasswd(v) for v in values)
        elif option == "force":
            pass
        else:
            setting, op = BY_OPTION[option]
            if option in claimed:
                setting, op = BY_OPTION["netif_add"][0], claimed[option]
            for value in values:
                per_setting.setdefault(setting.key, []).append((option, op, value))
    from pyvz.config.schema import BY_KEY

    for key, entries in per_setting.items():
        setting = BY_KEY[key]
        ch.values[key] = _new_value(ve, setting, entries)
    return ch


def _new_value(ve: VE, setting: Setting, entries: list[tuple[str, str, str]]) -> str | None:
    kind = setting.kind
    current = ve.conf.own().get(setting.key)
    merge = getattr(kind, "merge", None)
    if merge is not None:  # [net area] kinds fed by several options (NETIF's --netif_add …)
        result: str | None = merge(ve, current, entries)
        return result
    if entries[0][1] in ("add", "del"):
        items = (current or "").split()
        for option, op, value in entries:
            items = _merge_list(items, op, [kind.parse(value, option)])
        return " ".join(items) if items else None
    if entries[0][1] == "list":
        values = [v for _, _, v in entries]
        if values == ["inherit"]:
            return "inherit"
        return " ".join(kind.parse(v, entries[0][0]) for v in values) or None
    if entries[0][1] == "merge":
        merged = dict(item.partition(":")[::2] for item in (current or "").split())
        for option, _, value in entries:
            for item in kind.parse(value, option).split():
                name, _, state = item.partition(":")
                merged[name] = state
        return " ".join(f"{k}:{v}" for k, v in merged.items()) or None
    option, _, value = entries[-1]
    return kind.parse(value, option)


def apply(ve: VE, ch: Changes) -> None:
    """Apply to a running VE what can be applied live, then save (if asked).  The caller
    holds the VE's lock."""
    from pyvz.config.schema import BY_KEY

    for key in ch.values:
        setting = BY_KEY[key]
        if setting.save_only and not ch.save:
            code = E.SET_NAME_ERROR if key == "NAME" else E.INVALID_PARAMETER_SYNTAX
            raise VzError(code, f"Error: unable to use --{setting.options[0][0]} option "
                          "without --save")
        if setting.create_only:
            raise VzError(E.INVALID_PARAMETER_SYNTAX,
                          f"--{setting.options[0][0]} can only be given to create")
    if ch.setmode == "restart" and not ch.save:
        raise VzError(E.INVALID_PARAMETER_SYNTAX,
                      "Error: --setmode restart doesn't make sense without --save flag")
    running = ve.is_running()
    if running:
        for key in ("VE_PRIVATE", "VE_ROOT"):
            if key in ch.values:
                raise VzError(E.VE_RUNNING, f"Unable to change {key} on a running container")
    if ch.values.get("NAME"):
        from pyvz.ve import names

        names.check_free(ve.node, ch.values["NAME"] or "", ve.ctid)
    if ch.userpasswd:
        _set_passwords(ve, ch.userpasswd, running)
    needs_restart = False
    if running:
        needs_restart = _apply_live(ve, ch)
    else:
        _apply_stopped(ve, ch)
    if ch.save:
        _save(ve, ch)
    if not ch.save and not running and ch.values:
        log.info("WARNING: Settings were not saved and will be reset to original values "
                 "on next start (use --save flag)")
    if needs_restart and ch.setmode == "restart":
        from pyvz.ve.start import start
        from pyvz.ve.stop import stop

        log.info("Restarting container")
        stop(ve)
        ve.forget_runstate()
        start(ve)


def _apply_live(ve: VE, ch: Changes) -> bool:
    from pyvz.config.schema import BY_KEY

    new = dict(ve.conf.own())
    for key, value in ch.values.items():
        if value is None:
            new.pop(key, None)
        else:
            new[key] = value
    needs_restart = False
    for key in ch.values:
        setting = BY_KEY[key]
        if setting.apply == RESTART:
            needs_restart = True
            if ch.setmode != "restart":
                log.error(f"Unable to set {key.lower()} on a running container")
    handlers: dict[str, set[str]] = {}
    for key in ch.values:
        setting = BY_KEY[key]
        if setting.apply == LIVE and setting.live:
            handlers.setdefault(setting.live, set()).add(key)
    for target, keys in handlers.items():
        _live_handler(target)(ve, keys, new)
    if needs_restart and ch.setmode != "restart" and ch.setmode != "ignore":
        log.info("WARNING: Some of the parameters could not be applied to a running "
                 "container. Please consider using --setmode option")
    return needs_restart


def _apply_stopped(ve: VE, ch: Changes) -> None:
    """Handlers marked ``stopped_too`` (disk limits: a layout enforces or refuses them
    whether or not the VE runs) also run for a VE that is not running.  [disk area]"""
    from pyvz.config.schema import BY_KEY

    new = dict(ve.conf.own())
    for key, value in ch.values.items():
        if value is None:
            new.pop(key, None)
        else:
            new[key] = value
    handlers: dict[str, set[str]] = {}
    for key in ch.values:
        target = BY_KEY[key].live
        if target and getattr(_live_handler(target), "stopped_too", False):
            handlers.setdefault(target, set()).add(key)
    for target, keys in handlers.items():
        _live_handler(target)(ve, keys, new)


def _live_handler(target: str) -> Callable[[VE, set[str], dict[str, str]], None]:
    import importlib

    module, _, func = target.partition(":")
    handler: Callable[[VE, set[str], dict[str, str]], None] = \
        getattr(importlib.import_module(module), func)
    return handler


def network_pending(ve: VE, keys: set[str], values: dict[str, str]) -> None:
    """Until the network layer exists: addresses are stored, and said to be."""
    log.warn("IP addresses are saved; the network layer applies them at the next start")


def configure_guest(ve: VE, keys: set[str], values: dict[str, str]) -> None:
    """Hostname and resolver settings, applied inside the running VE as its root."""
    from pyvz.dists import preload
    from pyvz.kernel.syscalls import sethostname
    from pyvz.ve import nsexec

    dist = preload(values.get("OSTEMPLATE") or ve.conf.get("OSTEMPLATE"))
    hostname = values.get("HOSTNAME") or ""
    ips = [ip.split("/")[0] for ip in (values.get("IP_ADDRESS") or "").split()]

    def ns_or_none(key: str) -> list[str] | None:
        v = values.get(key) if key in values else ve.conf.get(key)
        return None if v in (None, "", "inherit") else (v or "").split()

    def work() -> None:
        if "HOSTNAME" in keys and hostname:
            sethostname(hostname if len(hostname) <= 64 else hostname.split(".")[0])
            dist.set_hostname("/", hostname, ips)
        if keys & {"NAMESERVER", "SEARCHDOMAIN"}:
            dist.set_dns("/", ns_or_none("NAMESERVER"), ns_or_none("SEARCHDOMAIN"))

    if "HOSTNAME" in keys and hostname:
        log.info(f"Set hostname: {hostname}")
    nsexec.call_in_running(ve, work)


def _set_passwords(ve: VE, pairs: list[tuple[str, str]], running: bool) -> None:
    from pyvz.dists import preload
    from pyvz.dists.crypt import crypt_password
    from pyvz.ve import nsexec

    dist = preload(ve.conf.get("OSTEMPLATE"))
    hashed = [(user, crypt_password(pw)) for user, pw in pairs]

    def work() -> None:
        for user, crypted in hashed:
            dist.set_userpass("/", user, crypted)

    try:
        if running:
            nsexec.call_in_running(ve, work)
            return
        from pyvz.ve import mount as ve_mount

        ve.require_private()
        mounted_here = not ve.is_mounted()
        if mounted_here:
            ve_mount.mount(ve)
        try:
            nsexec.call_in_root(ve, work)
        finally:
            if mounted_here:
                ve_mount.umount(ve)
    except VzError as e:
        if e.code == E.CHANGEPASS:
            raise
        raise VzError(E.CHANGEPASS, f"Unable to change password: {e.message}") from e
    for user, _ in pairs:
        log.info(f"Changed password for user {user}")


def _save(ve: VE, ch: Changes) -> bool:
    """Edit CTID.conf in place; False when nothing changed (nothing is written)."""
    from pyvz.config.conffile import ConfFile

    file = ve.conf.file or ConfFile(ve.conf_path)
    old_name = ve.conf.own().get("NAME")
    for key, value in ch.values.items():
        file.set(key, value)
    if not file.save():
        log.info("No changes in CT configuration, not saving")
        return False
    ve.conf.file = file
    ve.conf.reload()
    if "NAME" in ch.values:
        from pyvz.ve import names

        names.unlink(ve.node, old_name, ve.ctid)
        if ch.values["NAME"]:
            names.link(ve.node, ch.values["NAME"] or "", ve.ctid)
    log.info(f"CT configuration saved to {ve.conf_path}")
    return True
