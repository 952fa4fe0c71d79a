"""The dumb I/O seam under cgroup logic: read and write one file of one cgroup directory.

``CgroupFiles`` is the real one; ``pyvz.testing.fakes.MemoryCgroupFiles`` keeps the same
calls in a dict so limit logic can be unit-tested without a kernel.
"""

from __future__ import annotations

import os

__all__ = ["CgroupFiles"]


class CgroupFiles:
    def read(self, directory: str, name: str) -> str:
        with open(f"{directory}/{name}") as f:
            return f.read()

    def write(self, directory: str, name: str, value: str) -> None:
        fd = os.open(f"{directory}/{name}", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)

    def exists(self, directory: str, name: str = "") -> bool:
        return os.path.exists(f"{directory}/{name}" if name else directory)

    def mkdir(self, directory: str) -> bool:
        """Create the directory; False if it already existed."""
        try:
            os.mkdir(directory, 0o755)
            return True
        except FileExistsError:
            return False

    def rmdir(self, directory: str) -> None:
        os.rmdir(directory)
