"""``vzctl [--quiet|--verbose|--skiplock] COMMAND CTID [options]`` — vzctl 4.x's interface.

Thin: parse, resolve the VE, take its lock, call the operation module.  Modules are
imported per command, so ``vzctl status`` or ``exec`` load only what they use.
"""

from __future__ import annotations

import sys

from pyvz import __version__, log
from pyvz.cli import opts
from pyvz.cli.common import require_root, resolve_ctid, run_main, setup_logging
from pyvz.errors import E, VzError

__all__ = ["main"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyvz.node import Node
    from pyvz.ve.model import VE

USAGE = """\
Usage: vzctl [options] <command> <ctid> [parameters]

vzctl create <ctid> [--ostemplate <name>] [--config <name>]
   [--layout overlay|simfs|ploop|btrfs] [--diskspace <soft[:hard]>] [--diskinodes <soft[:hard]>]
   [--hostname <name>] [--name <name>] [--ipadd <addr>] [--description <text>]
   [--private <path>] [--root <path>] [--local_uid <uid>] [--local_gid <gid>]
vzctl start <ctid> [--force] [--wait]
vzctl stop <ctid> [--fast] [--skip-umount]
vzctl restart <ctid> [--force] [--wait] [--fast]
vzctl destroy | delete | mount | umount | status <ctid>
vzctl console <ctid>
vzctl enter <ctid> [--exec <command> [arg ...]]
vzctl exec | exec2 | exec3 <ctid> <command> [arg ...]
vzctl runscript <ctid> <script>
vzctl set <ctid> [--save] [--force] [--setmode restart|ignore]
   [--ipadd <addr>] [--ipdel <addr>|all] [--hostname <name>]
   [--nameserver <addr>] [--searchdomain <name>] [--onboot yes|no] [--bootorder <N>]
   [--userpasswd <user>:<passwd>] [--name <name>] [--description <text>]
   [--disabled yes|no] [--capability <name>:on|off ...] [--stop-timeout <sec>]
   [--diskspace <soft[:hard]>] [--diskinodes <soft[:hard]>] [--quotaugidlimit <N>]
   [--diskquota yes|no]
vzctl snapshot <ctid> [--id <uuid>] [--name <name>] [--description <text>] [--skip-suspend]
vzctl snapshot-switch | snapshot-delete <ctid> --id <uuid>
vzctl snapshot-mount <ctid> --id <uuid> --target <dir>
vzctl snapshot-umount <ctid> --id <uuid>
vzctl snapshot-list <ctid> [-H] [-o <field>[,<field>...]] [--id <uuid>] [-L]
vzctl clone <ctid> <new ctid> [--name <name>] [--hostname <name>] [--private <path>]
vzctl backup <ctid> <file> [--incremental] [--skip-suspend]
vzctl restore-backup <new ctid> <file>[,<incremental file>...] [--layout simfs|ploop|btrfs]
vzctl compact | quotaon | quotaoff | quotainit <ctid>

Global options: --quiet, --verbose, --skiplock, --version, --help
"""

_START = {"wait": False, "force": False, "skip-remount": False, "skip-fsck": False}
_STOP = {"fast": False, "skip-umount": False}
_CREATE = {"ostemplate": True, "config": True, "layout": True, "ve-layout": True,
           "velayout": True, "private": True, "root": True, "ipadd": True, "ip": True,
           "hostname": True, "name": True, "description": True, "local-uid": True,
           "local-gid": True,
           # [disk area] first/second-level quota given at create
           "diskspace": True, "diskinodes": True, "quotatime": True, "quotaugidlimit": True,
           "diskquota": True}


class Invocation:
    __slots__ = ("_ve", "args", "command", "ctid", "node", "skiplock")

    def __init__(self, node: Node, ctid: int, command: str, args: list[str],
                 skiplock: bool) -> None:
        self.node = node
        self.ctid = ctid
        self.command = command
        self.args = args
        self.skiplock = skiplock
        self._ve: VE | None = None

    def ve(self) -> VE:
        if self._ve is None:
            from pyvz.ve.model import VE

            self._ve = VE(self.node, self.ctid)
        return self._ve


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


def _main(argv: list[str]) -> int:
    verbose, quiet, skiplock, verbose_given = 0, False, False, False
    while argv and argv[0].startswith("--"):
        flag = argv.pop(0)
        if flag == "--verbose":
            verbose += 1
            verbose_given = True
        elif flag == "--quiet":
            quiet = True
        elif flag == "--skiplock":
            skiplock = True
        elif flag == "--version":
            sys.stdout.write(f"vzctl version {__version__} (pyvz)\n")
            return 0
        elif flag == "--help":
            sys.stdout.write(USAGE)
            return 0
        else:
            raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Invalid option {flag}")
    if not argv:
        sys.stderr.write(USAGE)
        return E.INVALID_PARAMETER_SYNTAX
    command = argv[0]
    handler = command_handler(command)
    if len(argv) < 2:
        raise VzError(E.INVALID_PARAMETER_VALUE, "CT ID missing")
    from pyvz.node import Node

    node = Node()
    if command == "status":
        quiet = True
    setup_logging(node, prog="vzctl", verbose=verbose, quiet=quiet,
                  verbose_given=verbose_given)
    require_root()
    ctid = resolve_ctid(node, argv[1])
    if ctid == 0 and command != "set":
        raise VzError(E.INVALID_PARAMETER_VALUE, "Only set actions are allowed for CT0")
    log.set_ctid(ctid)
    inv = Invocation(node, ctid, command, argv[2:], skiplock)
    readopt_if_needed(inv)
    return handler(inv)


def command_handler(command: str) -> Callable[[Invocation], int]:
    """The function behind a vzctl verb (the CLI and ``pyvz.api`` share it)."""
    handler = _COMMANDS.get(command) or _extension_verb(command)
    if handler is None:
        raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Bad command: {command}")
    return handler


# commands that find a running VE whose monitor died give it a new one first
_READOPT = frozenset(("status", "exec", "exec2", "exec3", "enter", "console", "set",
                      "runscript", "start", "restart", "mount", "umount"))


def readopt_if_needed(inv: Invocation) -> None:
    """Give a running VE whose monitor died a new one before a command uses it."""
    if inv.command not in _READOPT:
        return
    from pyvz.ve.runstate import RunState

    st = RunState.load(inv.node.paths.ve_run(inv.ctid))
    if st is None or st.monitor_alive() or not st.init_alive():
        return
    from pyvz.ve.adopt import ensure_monitor

    ve = inv.ve()
    try:
        with ve.lock("adopt"):
            ensure_monitor(ve)
    except VzError:
        pass  # another command holds the lock; it or a later one will do it


def _locked(inv: Invocation, ve: VE, fn: Callable[[], int]) -> int:
    if inv.skiplock:
        return fn()
    with ve.lock(inv.command):
        return fn()


# --- commands ---------------------------------------------------------------------

def cmd_status(inv: Invocation) -> int:
    opts.parse(inv.args, {}, command="status")
    st = inv.ve().status()
    sys.stdout.write(f"CTID {inv.ctid} {'exist' if st.exist else 'deleted'} "
                     f"{'mounted' if st.mounted else 'unmounted'} "
                     f"{'running' if st.running else 'down'}"
                     f"{' suspended' if st.suspended else ''}\n")
    return 0


def cmd_start(inv: Invocation) -> int:
    found, _ = opts.parse(inv.args, _START, command="start")
    ve = inv.ve()
    from pyvz.ve.start import start

    def go() -> int:
        start(ve, force="force" in found, wait="wait" in found)
        return 0

    return _locked(inv, ve, go)


def cmd_stop(inv: Invocation) -> int:
    found, _ = opts.parse(inv.args, _STOP, command="stop")
    ve = inv.ve()
    from pyvz.ve.stop import stop

    def go() -> int:
        stop(ve, fast="fast" in found, skip_umount="skip-umount" in found)
        return 0

    return _locked(inv, ve, go)


def cmd_restart(inv: Invocation) -> int:
    found, _ = opts.parse(inv.args, {**_START, **_STOP}, command="restart")
    ve = inv.ve()
    from pyvz.ve.start import start
    from pyvz.ve.stop import stop

    def go() -> int:
        log.info("Restarting container")
        if ve.is_running():
            stop(ve, fast="fast" in found)
            ve.forget_runstate()
        start(ve, force="force" in found, wait="wait" in found)
        return 0

    return _locked(inv, ve, go)


def cmd_mount(inv: Invocation) -> int:
    opts.parse(inv.args, {}, command=inv.command)
    ve = inv.ve()
    ve.require_config()
    from pyvz.ve import mount as ve_mount

    def go() -> int:
        (ve_mount.mount if inv.command == "mount" else ve_mount.umount)(ve)
        return 0

    return _locked(inv, ve, go)


def cmd_destroy(inv: Invocation) -> int:
    opts.parse(inv.args, {}, command=inv.command)
    ve = inv.ve()
    from pyvz.ve.destroy import destroy

    def go() -> int:
        destroy(ve)
        return 0

    if inv.skiplock:
        return go()
    lock = ve.lock(inv.command)
    try:
        go()
    except BaseException:
        lock.release()
        raise
    lock.release(remove=True)
    return 0


def cmd_create(inv: Invocation) -> int:
    found, _ = opts.parse(inv.args, _CREATE, command="create")
    from pyvz.config.schema import BY_OPTION
    from pyvz.ve.create import create

    values: dict[str, str] = {}
    ips: list[str] = []
    for option, vals in found.items():
        if option == "config":
            continue
        name = "layout" if option in ("ve-layout", "velayout") else option
        name = {"local-uid": "local_uid", "local-gid": "local_gid"}.get(name, name)
        setting, op = BY_OPTION[name]
        for v in vals:
            parsed = setting.kind.parse(v, name)
            if op == "add":
                if parsed not in ips:
                    ips.append(parsed)
            else:
                values[setting.key] = parsed
    if ips:
        values["IP_ADDRESS"] = " ".join(ips)
    if "OSTEMPLATE" in values:
        from pyvz.templates.cache import check_template_name

        check_template_name(values["OSTEMPLATE"])
    ve = inv.ve()
    config_name = found["config"][-1] if "config" in found else None
    if config_name is not None and ("/" in config_name or not config_name):
        raise VzError(E.INVALID_PARAMETER_VALUE, f"Bad parameter for --config: {config_name}")

    def go() -> int:
        create(ve, values, config_name=config_name)
        return 0

    return _locked(inv, ve, go)


def cmd_set(inv: Invocation) -> int:
    from pyvz.config.schema import BY_OPTION

    spec = {name: True for name in BY_OPTION}
    for name in ("layout", "local_uid", "local_gid"):
        spec.pop(name, None)
    spec = {opts.canonical(k): v for k, v in spec.items()}
    spec.update({"save": False, "force": False, "setmode": True, "userpasswd": True})
    found, _ = opts.parse(inv.args, spec, command="set")
    found = {_option_key(k): v for k, v in found.items()}
    if not found:
        raise VzError(E.INVALID_PARAMETER_SYNTAX, "Nothing to set")
    if inv.ctid == 0:
        # resources issue: CT0 takes --cpuunits (the node's weight against its VEs)
        if set(found) - {"save"} != {"cpuunits"}:
            raise VzError(E.INVALID_PARAMETER_VALUE,
                          "These parameters cannot be set for CT0 (the node)")
        from pyvz.res.host import set_host_cpuunits

        set_host_cpuunits(inv.node, found["cpuunits"][-1], "save" in found)
        return 0
    ve = inv.ve()
    ve.require_config()
    from pyvz.ve import setparams

    changes = setparams.collect(ve, found)

    def go() -> int:
        setparams.apply(ve, changes)
        return 0

    return _locked(inv, ve, go)


def _option_key(canonical_name: str) -> str:
    """Back from the canonical (dashed) spelling to the settings table's option name."""
    from pyvz.config.schema import BY_OPTION

    for name in BY_OPTION:
        if opts.canonical(name) == canonical_name:
            return name
    return canonical_name


def cmd_exec(inv: Invocation) -> int:
    ve = inv.ve()
    ve.require_config()
    from pyvz.ve import execute

    args = inv.args
    if inv.command == "exec3":
        if not args:
            raise VzError(E.INVALID_PARAMETER_SYNTAX, "No command given")
        code = execute.run(ve, args)
    elif not args or args == ["-"]:
        code = execute.run(ve, ["/bin/sh"])
    else:
        code = execute.run(ve, ["/bin/sh", "-c", " ".join(a if a else "''" for a in args)])
    if inv.command == "exec" and code != 0:
        return E.EXEC
    return code


def cmd_runscript(inv: Invocation) -> int:
    if len(inv.args) != 1:
        raise VzError(E.INVALID_PARAMETER_SYNTAX, "Usage: vzctl runscript <ctid> <script>")
    try:
        with open(inv.args[0], "rb") as f:
            script = f.read()
    except OSError as e:
        raise VzError(E.INVALID_PARAMETER_VALUE,
                      f"Unable to read script {inv.args[0]}: {e.strerror}") from e
    ve = inv.ve()
    ve.require_config()
    from pyvz.ve import execute

    if ve.is_running():
        return execute.run(ve, ["/bin/sh", "-s"], stdin_data=script)
    from pyvz.ve.runscript import run_stopped

    return _locked(inv, ve, lambda: run_stopped(ve, script))


def cmd_enter(inv: Invocation) -> int:
    found, rest = opts.parse(inv.args, {"exec": False}, command="enter", positional=None,
                             stop_at_positional=True)
    if rest and "exec" not in found:
        raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Invalid argument {rest[0]!r} for enter")
    ve = inv.ve()
    ve.require_config()
    from pyvz.ve import execute

    log.info(f"entered into CT {inv.ctid}")
    code = execute.enter(ve, ["/bin/sh", "-c", " ".join(rest) + "; exec /bin/sh"]
                         if rest else None)
    log.info(f"exited from CT {inv.ctid}")
    return code


def cmd_console(inv: Invocation) -> int:
    if len(inv.args) > 1:
        raise VzError(E.INVALID_PARAMETER_SYNTAX, "Invalid syntax: too many parameters!")
    if inv.args and inv.args[0] not in ("1",):
        raise VzError(E.INVALID_PARAMETER_VALUE,
                      f"Invalid tty number: {inv.args[0]} (only the console, 1, exists)")
    ve = inv.ve()
    ve.require_config()
    ve.require_running()
    from pyvz.ve.console import attach

    return attach(f"{ve.run_dir}/console.sock")


_COMMANDS: dict[str, Callable[[Invocation], int]] = {
    "status": cmd_status, "start": cmd_start, "stop": cmd_stop, "restart": cmd_restart,
    "mount": cmd_mount, "umount": cmd_mount, "destroy": cmd_destroy, "delete": cmd_destroy,
    "create": cmd_create, "set": cmd_set, "exec": cmd_exec, "exec2": cmd_exec,
    "exec3": cmd_exec, "runscript": cmd_runscript, "enter": cmd_enter,
    "console": cmd_console,
}

# Verbs of other areas, each module exposing ``run(inv) -> int`` (imported on use).
EXTENSION_VERBS = {
    **dict.fromkeys(("snapshot", "snapshot-switch", "snapshot-delete", "snapshot-mount",
                     "snapshot-umount", "snapshot-list", "quotaon", "quotaoff", "quotainit",
                     "convert", "compact", "clone", "backup", "restore-backup"),
                    "pyvz.cli.verbs_disk"),
    **dict.fromkeys(("suspend", "chkpnt", "resume", "restore"), "pyvz.cli.verbs_cpt"),
}


def _extension_verb(command: str) -> Callable[[Invocation], int] | None:
    module = EXTENSION_VERBS.get(command)
    if module is None:
        return None
    import importlib

    try:
        run: Callable[[Invocation], int] = importlib.import_module(module).run
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        raise VzError(E.INVALID_PARAMETER_SYNTAX,
                      f"Command {command} is not available in this pyvz") from None
    return run


if __name__ == "__main__":
    sys.exit(main())
