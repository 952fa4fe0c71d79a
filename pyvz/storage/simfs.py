"""``simfs`` layout (OpenVZ classic): the template unpacked into the private directory,
bind-mounted at VE_ROOT.  Every VE has its own copy of every file."""

from __future__ import annotations

from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc
from pyvz.storage.base import DriverInfo, StorageDriver

__all__ = ["SimfsDriver"]


class SimfsDriver(StorageDriver):
    info = DriverInfo("simfs")

    def create(self, private: str, cache_path: str, uid: int, gid: int) -> None:
        from pyvz.templates.cache import unpack

        unpack(cache_path, private, uid, gid)

    def mount(self, private: str, root: str) -> None:
        try:
            sc.mount(private, root, None, sc.MS_BIND)
        except OSError as e:
            raise VzError(E.FS_MOUNT, f"Unable to mount {root}: {e.strerror}") from e
