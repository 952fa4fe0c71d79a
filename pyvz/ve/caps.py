"""The capability set a VE's processes keep.

Inside a user namespace capabilities only reach what the namespace owns, but a VE still
drops the ones it can never use well (module loading, raw I/O, the clock …), and a
privileged VE (LOCAL_UID=0) must drop them, since there they would act on the node.
``CAPABILITY`` in the VE's config turns single ones on or off against this default.
"""

from __future__ import annotations

__all__ = ["CAP_NUMBERS", "DEFAULT_DROPPED", "parse_capability_setting", "ve_cap_mask"]

CAP_NUMBERS = {
    "chown": 0, "dac_override": 1, "dac_read_search": 2, "fowner": 3, "fsetid": 4, "kill": 5,
    "setgid": 6, "setuid": 7, "setpcap": 8, "linux_immutable": 9, "net_bind_service": 10,
    "net_broadcast": 11, "net_admin": 12, "net_raw": 13, "ipc_lock": 14, "ipc_owner": 15,
    "sys_module": 16, "sys_rawio": 17, "sys_chroot": 18, "sys_ptrace": 19, "sys_pacct": 20,
    "sys_admin": 21, "sys_boot": 22, "sys_nice": 23, "sys_resource": 24, "sys_time": 25,
    "sys_tty_config": 26, "mknod": 27, "lease": 28, "audit_write": 29, "audit_control": 30,
    "setfcap": 31, "mac_override": 32, "mac_admin": 33, "syslog": 34, "wake_alarm": 35,
    "block_suspend": 36, "audit_read": 37, "perfmon": 38, "bpf": 39, "checkpoint_restore": 40,
}

# Never given to a VE unless its config switches them on.
DEFAULT_DROPPED = frozenset((
    "sys_module", "sys_rawio", "sys_time", "sys_pacct", "syslog", "mac_admin",
    "mac_override", "wake_alarm", "block_suspend", "audit_control", "audit_read", "bpf",
    "perfmon", "linux_immutable",
))


def parse_capability_setting(value: str | None) -> dict[str, bool]:
    result: dict[str, bool] = {}
    for item in (value or "").replace(",", " ").split():
        name, _, state = item.partition(":")
        if name.lower() in CAP_NUMBERS:
            result[name.lower()] = state == "on"
    return result


def ve_cap_mask(capability_setting: str | None, last_cap: int = 40) -> int:
    """Bit mask of capabilities a VE keeps (bits by CAP_* number)."""
    wanted = {name for name in CAP_NUMBERS if name not in DEFAULT_DROPPED}
    for name, on in parse_capability_setting(capability_setting).items():
        if on:
            wanted.add(name)
        else:
            wanted.discard(name)
    mask = 0
    for name in wanted:
        if CAP_NUMBERS[name] <= last_cap:
            mask |= 1 << CAP_NUMBERS[name]
    return mask
