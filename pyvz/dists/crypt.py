"""Password hashing for ``vzctl set --userpasswd`` and parsing of its ``user:password``.

The hash is computed on the node, so the plain password never enters the VE.  It comes
from the system's libxcrypt (the library behind crypt(3), shadow and PAM on every Debian),
not from a hand-written SHA-512 crypt.  ctypes is imported only when a hash is made.
"""

from __future__ import annotations

import os

from pyvz.errors import E, VzError

__all__ = ["check_password", "check_user", "crypt_password", "parse_userpasswd"]

# crypt(3)'s salt alphabet; SHA-512 crypt uses up to 16 salt characters.
_SALT_CHARS = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SALT_LEN = 16
_USER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_USER_MAX = 32


def check_user(user: str, code: int = E.INVALID_PARAMETER_VALUE) -> str:
    """A user name as useradd accepts it: letters, digits, ``_ . -``, at most 32 long.

    "." and ".." (which would make /home/.. the home) and all-digit names (which chown and
    friends would read as uids) are refused too.
    """
    if not user or len(user) > _USER_MAX or not set(user) <= _USER_CHARS \
            or user.startswith("-") or user in (".", "..") or user.isdigit():
        raise VzError(code, f"Invalid user name {user!r}: use letters, digits, '_', '.', '-' "
                            f"(not first), at most {_USER_MAX} characters")
    return user


def check_password(password: str, code: int = E.CHANGEPASS) -> str:
    """Refuse what cannot be stored or passed on: empty, ':', newline or NUL.

    The message never repeats the password: it ends up in logs.
    """
    if not password:
        raise VzError(code, "The password must not be empty")
    if any(c in password for c in ":\n\r\0"):
        raise VzError(code, "The password must not contain ':', a newline or a NUL character")
    return password


def parse_userpasswd(text: str) -> tuple[str, str]:
    """Split ``user:password`` (the argument of --userpasswd)."""
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise VzError(E.INVALID_PARAMETER_VALUE,
                      "Bad parameter for --userpasswd: expected user:password")
    try:
        check_user(user)
        check_password(password, code=E.INVALID_PARAMETER_VALUE)
    except VzError as e:
        raise VzError(E.INVALID_PARAMETER_VALUE,
                      f"Bad parameter for --userpasswd: {e.message}") from None
    return user, password


def _salt(salt: str | None) -> str:
    if salt is None:
        raw = os.urandom(_SALT_LEN)
        # 256 % 64 == 0, so taking each byte modulo 64 keeps the choice uniform.
        return "$6$" + "".join(_SALT_CHARS[b % 64] for b in raw)
    if salt.startswith("$6$"):
        return salt
    if not salt or len(salt) > _SALT_LEN or not set(salt) <= set(_SALT_CHARS):
        raise VzError(E.CHANGEPASS, f"Invalid salt {salt!r}: up to {_SALT_LEN} characters "
                                    "of [./0-9A-Za-z]")
    return "$6$" + salt


def crypt_password(password: str, salt: str | None = None) -> str:
    """The SHA-512 crypt (``$6$salt$hash``) of ``password``.

    ``salt`` is a bare salt or a whole ``$6$...`` setting (``rounds=`` included); by
    default a random 16-character salt is used.
    """
    import ctypes

    check_password(password)
    setting = _salt(salt)
    try:
        # PyDLL keeps the GIL during the call: crypt() returns a static buffer, and no
        # other Python thread may overwrite it before ctypes has copied the result.
        lib = ctypes.PyDLL("libcrypt.so.1")
    except OSError as e:
        raise VzError(E.CHANGEPASS, f"Unable to load libcrypt.so.1: {e}",
                      hint="install libcrypt1") from e
    fn = lib.crypt
    fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    fn.restype = ctypes.c_char_p
    result = fn(password.encode(), setting.encode())
    # libxcrypt reports failure with NULL or a "*0"/"*1" token, never a "$6$" string.
    hashed = result.decode("ascii", errors="replace") if result else ""
    if not hashed.startswith("$6$"):
        raise VzError(E.CHANGEPASS, "Unable to hash the password: libcrypt refused the "
                                    f"setting {setting!r}")
    return hashed
