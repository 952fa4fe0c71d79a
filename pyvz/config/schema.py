"""The one table of settings.

Each ``Setting`` names a config key (as in vzctl's ``config[]``), its kind, the ``vzctl
set``/``create`` options that change it, how a change reaches a running VE, and the vzlist
column that shows it.  The config parser, ``vzctl set``, ``vzcfgvalidate``, vzlist and the
docs all read this table; adding a key means adding one line here (or in one of the
per-area tables in ``EXTENSIONS``, which are merged into ``SETTINGS``).

A LIVE setting names, in ``live``, the function ("module:function") that applies changed
values to a running VE: ``function(ve, keys, values)`` with the changed keys and the new
stored values of every key (None = unset).
"""

from __future__ import annotations

from pyvz.config import kinds as k

__all__ = [
    "BOTH",
    "BY_KEY",
    "BY_OPTION",
    "CAPABILITIES",
    "CONFIG_ONLY",
    "GLOBAL",
    "LIVE",
    "RESTART",
    "SETTINGS",
    "VE",
    "Setting",
    "lookup",
]

# scope: where a key may appear
VE, GLOBAL, BOTH = "ve", "global", "both"
# how a change reaches a running VE
CONFIG_ONLY, LIVE, RESTART = "config", "live", "restart"

CAPABILITIES = frozenset((
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
    "setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin",
    "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace",
    "sys_pacct", "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time",
    "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
    "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read",
    "perfmon", "bpf", "checkpoint_restore", "setveid", "ve_admin"))


class Setting:
    """One config key.  ``options`` are (option name, operation) pairs, where the
    operation is ``set`` (replace), ``add``/``del`` (list members) or ``list`` (the
    option may repeat in one command and the values form the new list)."""

    __slots__ = (
        "aliases",
        "apply",
        "column",
        "create_only",
        "header",
        "help",
        "key",
        "kind",
        "live",
        "options",
        "save_only",
        "scope",
        "width",
    )

    def __init__(self, key: str, kind: k.Kind, *, options: tuple[tuple[str, str], ...] = (),
                 aliases: tuple[str, ...] = (), scope: str = VE, apply: str = CONFIG_ONLY,
                 save_only: bool = False, create_only: bool = False,
                 column: str | None = None, header: str | None = None, width: int = 0,
                 help: str = "", live: str | None = None) -> None:
        self.key = key
        self.kind = kind
        self.options = options
        self.aliases = aliases
        self.scope = scope
        self.apply = apply
        self.save_only = save_only
        self.create_only = create_only
        self.column = column
        self.header = header or (column.upper() if column else None)
        self.width = width
        self.help = help
        self.live = live


def _opt(name: str, op: str = "set") -> tuple[tuple[str, str], ...]:
    return ((name, op),)


SETTINGS: tuple[Setting, ...] = (
    Setting("VEID", k.Int(0), help="CT id (informational)"),
    Setting("NAME", k.Name(), options=_opt("name"), save_only=True, column="name",
            width=-32, help="name usable instead of the CTID"),
    Setting("DESCRIPTION", k.Text(), options=_opt("description"), column="description",
            width=-32, help="free text"),
    Setting("ONBOOT", k.YesNo(), options=_opt("onboot"), column="onboot", width=6,
            help="start at node boot"),
    Setting("BOOTORDER", k.Int(0), options=_opt("bootorder"), column="bootorder", width=10,
            help="higher starts earlier at boot; unset starts last"),
    Setting("DISABLED", k.YesNo(), options=_opt("disabled"), column="disabled", header="DISABL",
            width=6, help="refuse to start unless --force"),
    Setting("OSTEMPLATE", k.Str(), options=_opt("ostemplate"), save_only=True, scope=BOTH,
            column="ostemplate", width=-32, help="OS template the VE was made from"),
    Setting("ORIGIN_SAMPLE", k.Str(), column="origin_sample", width=32,
            help="sample config used at create"),
    Setting("VE_ROOT", k.PathKind(), options=_opt("root"), scope=BOTH, column="root",
            width=-32, help="mount point of the VE's root ($VEID = CTID)"),
    Setting("VE_PRIVATE", k.PathKind(), options=_opt("private"), scope=BOTH, column="private",
            width=-32, help="the VE's private area ($VEID = CTID)"),
    Setting("VE_LAYOUT", k.Choice("overlay", "simfs", "ploop", "btrfs"), options=_opt("layout"),
            scope=BOTH, create_only=True, column="layout", width=-6, help="storage layout"),
    Setting("STOP_TIMEOUT", k.Int(0, 86400), options=_opt("stop-timeout"), scope=BOTH,
            save_only=True, help="seconds a graceful stop may take before the VE is killed"),
    Setting("LOCAL_UID", k.Int(0, 2**32 - 65537), options=_opt("local_uid"), scope=BOTH,
            create_only=True,
            help="node uid that root inside the VE maps to (0: no user namespace)"),
    Setting("LOCAL_GID", k.Int(0, 2**32 - 65537), options=_opt("local_gid"), scope=BOTH,
            create_only=True, help="node gid that group 0 inside the VE maps to"),
    Setting("IP_ADDRESS", k.IpList(), options=(("ipadd", "add"), ("ip", "add"),
                                               ("ipdel", "del")),
            apply=LIVE, column="ip", header="IP_ADDR", width=-15,
            help="venet addresses", live="pyvz.net.live:apply"),
    Setting("HOSTNAME", k.Hostname(), options=_opt("hostname"), apply=LIVE,
            column="hostname", width=-32, help="host name inside the VE",
            live="pyvz.ve.setparams:configure_guest"),
    Setting("NAMESERVER", k.IpList(), options=_opt("nameserver", "list"), scope=BOTH,
            apply=LIVE, column="nameserver", width=-15, help="resolv.conf nameservers",
            live="pyvz.ve.setparams:configure_guest"),
    Setting("SEARCHDOMAIN", k.Words(), options=_opt("searchdomain", "list"), scope=BOTH,
            apply=LIVE, column="searchdomain", width=-15, help="resolv.conf search list",
            live="pyvz.ve.setparams:configure_guest"),
    Setting("CAPABILITY", k.OnOffList(CAPABILITIES), options=_opt("capability", "merge"),
            apply=RESTART, column="capability", width=-15,
            help="capabilities switched on or off against the default set"),
    # global (vz.conf) keys
    Setting("VIRTUOZZO", k.YesNo(), scope=GLOBAL, help="boot service does nothing unless yes"),
    Setting("LOCKDIR", k.PathKind(), scope=GLOBAL, help="lock files"),
    Setting("DUMPDIR", k.PathKind(), scope=GLOBAL, help="checkpoint images"),
    Setting("TEMPLATE", k.PathKind(), scope=GLOBAL, help="template directory"),
    Setting("LOGGING", k.YesNo(), scope=GLOBAL, help="write LOGFILE"),
    Setting("LOGFILE", k.PathKind(), scope=GLOBAL, help="log file"),
    Setting("LOG_LEVEL", k.Int(-1, 10), scope=GLOBAL, help="log file verbosity"),
    Setting("VERBOSE", k.Int(-1, 10), scope=GLOBAL, help="console verbosity"),
    Setting("DEF_OSTEMPLATE", k.Str(), scope=GLOBAL, help="template for create without one"),
    Setting("CONFIGFILE", k.Str(), scope=GLOBAL, help="sample config for create without one"),
    Setting("VE_PARALLEL", k.Int(1, 1024), scope=GLOBAL,
            help="VEs started or stopped at once at node boot and shutdown"),
    Setting("IPV6", k.YesNo(), scope=GLOBAL, help="IPv6 for VEs"),
)

# Per-area tables (resources, network, disk …), each a module with a ``SETTINGS`` tuple.
EXTENSIONS = ("pyvz.config.settings_res", "pyvz.config.settings_net",
              "pyvz.config.settings_disk")


def _load_extensions() -> tuple[Setting, ...]:
    import importlib

    extra: list[Setting] = []
    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue  # that area has no settings yet
        extra.extend(module.SETTINGS)
    return tuple(extra)


SETTINGS = SETTINGS + _load_extensions()

BY_KEY: dict[str, Setting] = {}
BY_OPTION: dict[str, tuple[Setting, str]] = {}
for _s in SETTINGS:
    if _s.key in BY_KEY:
        raise RuntimeError(f"setting {_s.key} is defined twice")
    BY_KEY[_s.key] = _s
    for _a in _s.aliases:
        BY_KEY[_a] = _s
    for _name, _op in _s.options:
        if _name in BY_OPTION:
            raise RuntimeError(f"option --{_name} is defined twice")
        BY_OPTION[_name] = (_s, _op)


def lookup(key: str) -> Setting | None:
    return BY_KEY.get(key)
