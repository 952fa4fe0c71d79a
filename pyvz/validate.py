"""Validators for everything a user hands us before it reaches the kernel or a file name.

Each returns the normalised value or raises ``VzError`` with vzctl's exit code.  No ``re``:
these run on every command and the character checks are simple.
"""

from __future__ import annotations

from pyvz.errors import E, VzError

__all__ = [
    "CTID_MAX",
    "check_bool",
    "check_hostname",
    "check_ip",
    "check_name",
    "check_path",
    "is_ctid_text",
    "parse_ctid",
]

CTID_MAX = 2147483644
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def is_ctid_text(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 10


def parse_ctid(text: str) -> int:
    """A numeric CTID; names are resolved by the caller (see pyvz.ve.inventory)."""
    if not is_ctid_text(text) or int(text) > CTID_MAX:
        raise VzError(E.INVALID_PARAMETER_VALUE, f"Bad CT ID {text}")
    return int(text)


def check_name(name: str) -> str:
    """A VE name: letters, digits, ``_ . -``; not all digits (it would read as a CTID)."""
    if not name or len(name) > 64 or not set(name) <= _NAME_CHARS or name.isdigit() \
            or name.startswith(("-", ".")):
        raise VzError(E.SET_NAME_ERROR,
                      f"Invalid container name {name!r}: use letters, digits, '_', '.', '-' "
                      "and at least one non-digit")
    return name


def check_hostname(name: str) -> str:
    """RFC 1123 host name (labels of letters, digits and inner hyphens)."""
    labels = name.rstrip(".").split(".")
    ok = 0 < len(name) <= 253 and all(
        0 < len(lab) <= 63 and set(lab) <= _HOST_CHARS and lab[0] != "-" and lab[-1] != "-"
        for lab in labels)
    if not ok:
        raise VzError(E.BADHOSTNAME, f"Invalid hostname {name!r}")
    return name


def check_ip(text: str, *, allow_mask: bool = True, code: int = E.BADIP) -> str:
    """An IPv4/IPv6 address, optionally with /prefix; returns it normalised."""
    import ipaddress

    addr, sep, mask = text.partition("/")
    try:
        ip = ipaddress.ip_address(addr)
        if sep:
            if not allow_mask:
                raise ValueError("no mask allowed")
            net = ipaddress.ip_interface(f"{ip}/{mask}")
            return f"{ip}/{net.network.prefixlen}"
    except ValueError:
        raise VzError(code, f"Invalid IP address: {text}") from None
    if ip.is_unspecified or ip.is_multicast:
        raise VzError(code, f"Invalid IP address: {text}")
    return str(ip)


def check_path(path: str, what: str) -> str:
    """An absolute, normalised path without NUL or newline (it is written to configs)."""
    if not path.startswith("/") or "\0" in path or "\n" in path or '"' in path:
        raise VzError(E.INVALID_PARAMETER_VALUE, f"Invalid {what} path: {path!r}")
    import os.path

    return os.path.normpath(path)


def check_bool(text: str, what: str) -> bool:
    low = text.lower()
    if low in ("yes", "on", "true", "1"):
        return True
    if low in ("no", "off", "false", "0"):
        return False
    raise VzError(E.INVALID_PARAMETER_VALUE, f"Bad parameter for --{what}: {text}")
