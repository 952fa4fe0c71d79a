"""The node's own apt view of one OS (``TEMPLATE/apt/OS-ARCH/``).

The node's apt, never a VE's, talks to the archive: it runs with ``Dir=`` this directory
(its own sources, lists and cache; nothing of the node's /etc/apt but the binaries), so it
can fetch indexes for Debian 13 on a Debian 12 node.  The lists it keeps serve

* ``vzpkg cache`` (is an existing cache still current?  ``apt-get -s dist-upgrade``
  against the cache's own dpkg status), and
* ``vzpkg install|remove|update`` (bound read-only into the VE while its apt runs, with
  the matching ``sources.list``, so the VE's apt resolves against what the node fetched).

Layout: ``etc/apt/sources.list`` (with ``signed-by``, for the node), ``ve-sources.list``
(the same lines as a VE's apt should see them), ``var/lib/apt/lists``,
``var/cache/apt``, ``var/lib/dpkg/status`` (empty), ``empty/`` (an empty directory bound
over the VE's ``sources.list.d``).
"""

from __future__ import annotations

import os

from pyvz import log
from pyvz.errors import E, VzError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyvz.templates.metadata import Metadata

__all__ = ["AptState", "classify_apt_failure", "source_lines"]

APT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8",
           "DEBIAN_FRONTEND": "noninteractive"}


def source_lines(meta: Metadata, uris: dict[str, str], keyring: str | None) -> list[str]:
    """One-line sources for the template's suites on the resolved archives."""
    opts = f"[signed-by={keyring}] " if keyring else ""
    comps = " ".join(meta.components)
    return [f"deb {opts}{uris[role]} {suite} {comps}" for role, suite in meta.sources
            if role in uris]


_NETWORK_WORDS = ("Could not connect", "Could not resolve", "Temporary failure resolving",
                  "Connection refused", "Connection failed", "Unable to connect",
                  "No route to host", "Network is unreachable", "timed out")


def classify_apt_failure(lines: list[str], what: str) -> VzError:
    """One clear error from the output of a failed apt/mmdebstrap run."""
    text = "\n".join(lines)
    if "No space left on device" in text or "Disk quota exceeded" in text:
        return VzError(E.FS_NO_DISK_SPACE, f"{what} failed: no space left on device")
    for line in lines:
        if any(w in line for w in _NETWORK_WORDS):
            return VzError(E.SYSTEM, f"{what} failed: the archive is unreachable: "
                           f"{_strip(line)}",
                           hint="check the node's apt sources or VZPKG_MIRRORS in vz.conf")
    for marker in ("E: ", "Err:", "W: Failed to fetch"):
        for line in lines:
            if line.startswith(marker):
                return VzError(E.SYSTEM, f"{what} failed: {_strip(line)}")
    tail = next((ln for ln in reversed(lines) if ln.strip()), "no output")
    return VzError(E.SYSTEM, f"{what} failed: {_strip(tail)}")


def _strip(line: str) -> str:
    return line.strip()[:300]


class AptState:
    __slots__ = ("arch", "dir", "keyring", "lines")

    def __init__(self, template_dir: str, meta: Metadata, uris: dict[str, str]) -> None:
        self.dir = os.path.join(template_dir, "apt", f"{meta.name.os}-{meta.name.arch}")
        self.arch = meta.arch
        self.keyring = meta.keyring or None
        self.lines = source_lines(meta, uris, None)

    @property
    def lists_dir(self) -> str:
        return os.path.join(self.dir, "var/lib/apt/lists")

    @property
    def ve_sources(self) -> str:
        return os.path.join(self.dir, "ve-sources.list")

    @property
    def empty_dir(self) -> str:
        return os.path.join(self.dir, "empty")

    def has_lists(self) -> bool:
        try:
            return any(n.endswith("_Packages") or "_Packages." in n
                       for n in os.listdir(self.lists_dir))
        except OSError:
            return False

    def prepare(self) -> None:
        """Create the tree (idempotent) and write the sources for the current archives."""
        from pyvz.config.conffile import write_atomic

        for sub in ("etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d",
                    "etc/apt/trusted.gpg.d", "var/lib/apt/lists/partial",
                    "var/cache/apt/archives/partial", "var/lib/dpkg", "empty"):
            os.makedirs(os.path.join(self.dir, sub), mode=0o755, exist_ok=True)
        status = os.path.join(self.dir, "var/lib/dpkg/status")
        if not os.path.exists(status):
            open(status, "w").close()
        signed = [ln.replace("deb ", f"deb [signed-by={self.keyring}] ", 1)
                  if self.keyring else ln for ln in self.lines]
        old = _read(os.path.join(self.dir, "etc/apt/sources.list"))
        write_atomic(os.path.join(self.dir, "etc/apt/sources.list"), "\n".join(signed) + "\n")
        write_atomic(self.ve_sources, "\n".join(self.lines) + "\n")
        if old is not None and old != "\n".join(signed) + "\n":
            # other archives: the old lists no longer describe them
            for name in os.listdir(self.lists_dir):
                path = os.path.join(self.lists_dir, name)
                if os.path.isfile(path) and name != "lock":
                    os.unlink(path)

    def options(self, status: str | None = None) -> list[str]:
        return ["-o", f"Dir={self.dir}",
                "-o", f"Dir::State::status={status or self.dir + '/var/lib/dpkg/status'}",
                "-o", f"APT::Architecture={self.arch}",
                "-o", f"APT::Architectures={self.arch}",
                "-o", "Acquire::Languages=none",
                "-o", "APT::Install-Recommends=false"]

    def locked(self) -> int:
        """Take the state's lock (one writer of its lists at a time); returns the fd to
        close."""
        import fcntl

        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        fd = os.open(os.path.join(self.dir, ".pyvz.lock"),
                     os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def update(self, on_line: Callable[[str], None] | None = None) -> None:
        """``apt-get update`` of the node's lists for this OS (needs the archive)."""
        fd = self.locked()
        try:
            self._update(on_line)
        finally:
            os.close(fd)

    def _update(self, on_line: Callable[[str], None] | None) -> None:
        from pyvz.kernel.proc import run_lines

        self.prepare()
        lines: list[str] = []

        def collect(line: str) -> None:
            lines.append(line)
            if on_line is not None:
                on_line(line)

        code = run_lines(["apt-get", *self.options(), "-q", "update"], code=E.SYSTEM,
                         on_line=collect, env=APT_ENV)
        # apt-get update exits 0 when an index could not be fetched ("W: Failed to fetch")
        if code != 0 or any(ln.startswith(("Err:", "W: Failed to fetch", "E: "))
                            for ln in lines):
            raise classify_apt_failure(lines, "Updating package lists")
        log.debug(f"apt lists of {self.dir} updated")

    def upgrades(self, status: str) -> list[str]:
        """Packages of a tree (its dpkg ``status``) that the archive has newer versions of."""
        from pyvz.kernel.proc import run

        code, out, err = run(["apt-get", *self.options(status), "-s", "-q",
                              "-o", "Debug::NoLocking=true", "dist-upgrade"],
                             code=E.SYSTEM, check=False, env=APT_ENV)
        if code != 0:
            raise classify_apt_failure(err.decode(errors="replace").splitlines(),
                                       "Checking for updates")
        return [ln.split()[1] for ln in out.decode(errors="replace").splitlines()
                if ln.startswith("Inst ")]


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None
