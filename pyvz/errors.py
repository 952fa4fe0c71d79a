"""Errors and the exit codes they carry.

Every failure a user can see is a ``VzError`` carrying one of vzctl 4.x's exit codes
(``include/vzerror.h``; the table is frozen, see docs/exit-codes.md).  Lower layers raise
``OSError`` or ``VzError``; the CLI boundary (``pyvz.cli.common.run_main``) turns either
into one line on stderr and the exit code::

    VzError
     +-- LockedError            9   another command holds the VE's lock
     +-- (any code)             raised as VzError(code, message)

Kept free of imports: it is loaded by every command.
"""

from __future__ import annotations

__all__ = ["E", "LockedError", "VzError"]


class E:
    """vzctl 4.x exit codes (names follow vzerror.h without the VZ_ prefix)."""

    OK = 0
    SETUBC = 1
    SETFSHD = 2
    SYSTEM = 3
    NOVZKERNEL = 5
    RESOURCE = 6
    ENVCREATE = 7
    EXEC = 8
    LOCKED = 9
    NOCONFIG = 10
    NOSCRIPT = 11
    PERM = 12
    CAP = 13
    NOVECONFIG = 14
    EXEC_TIMEOUT = 15
    CHKPNT = 16
    RESTORE = 17
    SETLUID = 18
    INVALID_PARAMETER_SYNTAX = 20
    INVALID_PARAMETER_VALUE = 21
    VE_ROOT_NOTSET = 22
    VE_PRIVATE_NOTSET = 23
    VE_TMPL_NOTSET = 24
    NOTENOUGHPARAMS = 27
    NOTENOUGHUBCPARAMS = 28
    VE_PKGSET_NOTSET = 29
    VE_NOT_RUNNING = 31
    VE_RUNNING = 32
    STOP = 33
    CANT_ADDIP = 34
    VALIDATE = 35
    OVERCOMMIT = 36
    FS_NOT_MOUNTED = 40
    FS_MOUNTED = 41
    FS_NOPRVT = 43
    FS_PRVT_AREA_EXIST = 44
    FS_NO_DISK_SPACE = 46
    FS_BAD_TMPL = 47
    FS_NEW_VE_PRVT = 48
    FS_NEW_VE_ROOT = 49
    FS_MOUNT = 50
    FS_UMOUNT = 51
    FS_DEL_PRVT = 52
    FS_PRVT_NOTEXIST = 53
    FS_CANTCREATE_DIR = 54
    DQ_ON = 60
    DQ_INIT = 61
    DQ_SET = 62
    DISKSPACE_NOT_SET = 63
    DISKINODES_NOT_SET = 64
    ERR_SET_USER_QUOTA = 65
    DQ_OFF = 66
    DQ_UGID_NOTINITIALIZED = 67
    GET_QUOTA_USAGE = 68
    BADHOSTNAME = 70
    BADIP = 71
    BADDNSSRV = 72
    BADDNSSEARCH = 73
    CHANGEPASS = 74
    VE_LCKDIR_NOTSET = 77
    IP_INUSE = 78
    ACTIONSCRIPT_ERROR = 79
    CP_CONFIG = 82
    INVALID_CONFIG = 85
    SET_DEVICES = 86
    INSTALL_APPS_ERROR = 87
    IP_NA = 89
    OSTEMPLATE_NOT_FOUND = 91
    PLOOP_UNSUP = 99
    NO_IP = 100
    NETDEV_ERROR = 104
    VE_START_DISABLED = 105
    SET_IPTABLES = 106
    NO_DISTR_CONF = 107
    NO_DISTR_ACTION_SCRIPT = 108
    APPLY_CONFIG_ERROR = 109
    SET_MEMINFO_ERROR = 129
    VETH_ERROR = 130
    SET_NAME_ERROR = 131
    WAIT_FAILED = 133
    CONFIG_SAVE_ERROR = 139
    SET_IO = 148


class VzError(Exception):
    """A failure with a vzctl exit code and a one-line message (and an optional hint)."""

    def __init__(self, code: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class LockedError(VzError):
    def __init__(self, message: str = "Container already locked") -> None:
        super().__init__(E.LOCKED, message)
