"""``simfs`` layout (OpenVZ classic): the template unpacked into the private directory,
bind-mounted at VE_ROOT.  Every VE has its own copy of every file."""

from __future__ import annotations

import os

from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc
from pyvz.storage.base import DriverInfo, Limits, StorageDriver

__all__ = ["SimfsDriver"]


class SimfsDriver(StorageDriver):
    info = DriverInfo("simfs", project_quota=True)

    def create(self, private: str, cache_path: str, uid: int, gid: int,
               limits: Limits | None = None) -> None:
        from pyvz.templates.cache import unpack

        if limits is not None:
            self.apply_project_quota(private, limits)  # the unpacked files inherit it
        unpack(cache_path, private, uid, gid)

    def mount(self, private: str, root: str) -> None:
        try:
            sc.mount(private, root, None, sc.MS_BIND)
        except OSError as e:
            raise VzError(E.FS_MOUNT, f"Unable to mount {root}: {e.strerror}") from e

    def clone_into(self, private: str, dest: str, root: str | None = None) -> None:
        from pyvz.storage.copy import copy_tree

        copy_tree(private, dest, into=True)

    def create_empty(self, private: str, uid: int, gid: int, limits: Limits) -> None:
        os.chown(private, uid, gid)
