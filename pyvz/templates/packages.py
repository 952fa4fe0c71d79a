"""``vzpkg install|remove|update CTID`` and ``vzyum``: the VE's own apt, fed by the node.

The VE's apt does the work (its dpkg database, its maintainer scripts, as the VE's root,
inside the VE), but it never needs a network of its own:

1. the node's apt keeps the package lists of the VE's OS (``pyvz.templates.aptstate``);
2. for the length of the command, in a mount namespace of the command's own (nothing in
   the VE sees it), those lists are bound read-only over the VE's ``/var/lib/apt/lists``
   with the matching ``sources.list``, and the node's shared package cache for the VE's
   uid range (``TEMPLATE/pkgcache/uUID``, owned by the VE's root) over
   ``/var/cache/apt/archives``;
3. the VE's apt says what it would download (``--print-uris``); the node fetches exactly
   those files — only from the archives the node's sources name, checked against the
   hashes — into that cache (from its own store first: packages a cache build fetched);
4. the VE's apt runs for real and finds everything in its cache.

VEs with the same uid range share the downloaded packages; apt checks each file's hash
against its lists before installing it, so a file one VE put there cannot change what
another installs.  Files move into the VE-owned directory by rename through a directory
descriptor, so a symlink planted there cannot redirect the node's writes.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys

from pyvz import log
from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.node import Node
    from pyvz.templates.aptstate import AptState
    from pyvz.ve.model import VE

__all__ = ["VeApt", "apt_argv", "check_packages", "parse_print_uris"]

_PKG_ARG = re.compile(r"[a-z0-9][a-z0-9+.-]*(?:[=/][A-Za-z0-9.+~:_-]+)?\Z")
_DEB_NAME = re.compile(r"[A-Za-z0-9.+~%_-]+\.deb\Z")
_VE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": "/root", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive",
           "TERM": "dumb"}
_DPKG_OPTS = ["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]


def check_packages(names: list[str]) -> list[str]:
    for name in names:
        if not _PKG_ARG.match(name):
            raise VzError(E.INVALID_PARAMETER_VALUE, f"Bad package name {name!r}")
    return names


def apt_argv(verb: str, packages: list[str]) -> list[str]:
    """The apt-get command line for a vzpkg verb (without -y/--print-uris)."""
    if verb == "install":
        return ["apt-get", *_DPKG_OPTS, "install", *packages]
    if verb == "remove":
        return ["apt-get", "remove", *packages]
    if verb == "update":
        if packages:
            return ["apt-get", *_DPKG_OPTS, "install", "--only-upgrade", *packages]
        return ["apt-get", *_DPKG_OPTS, "dist-upgrade"]
    raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Unknown package command {verb}")


def parse_print_uris(text: str) -> list[tuple[str, str, int, str]]:
    """``'URI' FILE SIZE HASH`` lines of ``apt-get --print-uris`` → (uri, file, size, hash)."""
    out = []
    for line in text.splitlines():
        if not line.startswith("'"):
            continue
        uri, _, rest = line[1:].partition("' ")
        words = rest.split()
        # the hash column is apt's MD5Sum, empty where the archive has none (security)
        if len(words) >= 2 and words[1].isdigit():
            out.append((uri, words[0], int(words[1]), words[2] if len(words) > 2 else ""))
    return out


class VeApt:
    """The package commands of one running VE."""

    def __init__(self, node: Node, ve: VE) -> None:
        from pyvz.templates import metadata
        from pyvz.templates.aptstate import AptState
        from pyvz.templates.builder import resolve_archives

        self.node = node
        self.ve = ve
        ve.require_config()
        ostemplate = ve.conf.get("OSTEMPLATE") or ""
        try:
            self.meta = metadata.load(node.template_dir, ostemplate)
        except VzError as e:
            raise VzError(E.OSTEMPLATE_NOT_FOUND, f"CT {ve.ctid} (OSTEMPLATE={ostemplate or '-'}) "
                          f"is not from a vzpkg template: {e.message}") from e
        self.uris = resolve_archives(node, self.meta)
        self.state: AptState = AptState(node.template_dir, self.meta, self.uris)
        base = os.path.join(node.template_dir, "pkgcache")
        ids = f"u{ve.uid}" if ve.uid == ve.gid else f"u{ve.uid}g{ve.gid}"
        self.shared = os.path.join(base, ids)
        self.staging = os.path.join(base, ".staging")
        from pyvz.templates.builder import store_dir

        self.store = store_dir(node.template_dir)

    # -- node side ------------------------------------------------------------------
    def refresh_lists(self, force: bool) -> None:
        self.state.prepare()
        if force or not self.state.has_lists():
            log.info(f"Updating the package lists of {self.meta.name.os} on the node")
            self.state.update()

    def _prepare_dirs(self) -> None:
        for d, mode in ((os.path.dirname(self.shared), 0o755), (self.staging, 0o700)):
            os.makedirs(d, mode=mode, exist_ok=True)
        if not os.path.isdir(self.shared):
            os.mkdir(self.shared, 0o755)
        st = os.lstat(self.shared)
        if (st.st_uid, st.st_gid) != (self.ve.uid, self.ve.gid):
            os.lchown(self.shared, self.ve.uid, self.ve.gid)

    def fetch(self, wanted: list[tuple[str, str, int, str]]) -> None:
        """Put each wanted file into the VE's shared cache (store copy or download)."""
        from urllib.parse import unquote

        allowed = [u.rstrip("/") + "/" for u in self.uris.values()]
        pool_paths: dict[str, str] = {}
        for uri, name, _, _ in wanted:
            base = next((a for a in allowed if uri.startswith(a)), None)
            if base is None or not _DEB_NAME.match(name):
                raise VzError(E.INSTALL_APPS_ERROR, f"Refusing to fetch {uri}: not a "
                              "package of the archives this node uses")
            pool_paths[uri] = unquote(uri[len(base):])
        hashes = sha256_from_lists(self.state.lists_dir, set(pool_paths.values()))
        dirfd = os.open(self.shared, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                        | os.O_CLOEXEC)
        try:
            st = os.fstat(dirfd)
            if (st.st_uid, st.st_gid) != (self.ve.uid, self.ve.gid):
                raise VzError(E.SYSTEM, f"{self.shared} is not the VE's package cache")
            for uri, name, size, _ in wanted:
                digest = hashes.get(pool_paths[uri])
                if digest is None:
                    raise VzError(E.INSTALL_APPS_ERROR, f"{name} is not in the node's "
                                  "package lists", hint=f"try 'vzpkg update {self.ve.ctid}'")
                staged = os.path.join(self.staging, f"{name}.{os.getpid()}")
                try:
                    self._stage(uri, name, size, digest, staged)
                    os.chown(staged, self.ve.uid, self.ve.gid)
                    os.chmod(staged, 0o644)
                    os.rename(staged, name, dst_dir_fd=dirfd)
                finally:
                    if os.path.exists(staged):
                        os.unlink(staged)
        finally:
            os.close(dirfd)

    def _stage(self, uri: str, name: str, size: int, digest: str, staged: str) -> None:
        from pyvz.kernel.proc import run

        stored = os.path.join(self.store, name)
        if os.path.isfile(stored) and _hash_ok(stored, digest):
            import shutil

            shutil.copyfile(stored, staged)
            log.debug(f"{name}: from the node's store")
            return
        log.info(f"Fetching {name} ({size // 1024} KiB)")
        code, out, err = run(["/usr/lib/apt/apt-helper", "-o", "APT::Sandbox::User=root",
                              "download-file", uri, staged, digest],
                             code=E.INSTALL_APPS_ERROR, check=False,
                             env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        if code != 0 or not _hash_ok(staged, digest):
            from pyvz.templates.aptstate import classify_apt_failure

            lines = (out + err).decode(errors="replace").splitlines()
            e = classify_apt_failure(lines, f"Fetching {name}")
            raise VzError(E.INSTALL_APPS_ERROR, e.message,
                          hint="the node's package lists may be old: try 'vzpkg update "
                          f"{self.ve.ctid}'")

    # -- VE side --------------------------------------------------------------------
    def _binds(self) -> list[tuple[int, str, bool]]:
        """(tree fd, target in the VE, read-only) for the command's private mounts."""
        return [(sc.open_tree(self.shared), "/var/cache/apt/archives", False),
                (sc.open_tree(self.state.lists_dir), "/var/lib/apt/lists", True),
                (sc.open_tree(self.state.ve_sources), "/etc/apt/sources.list", True),
                (sc.open_tree(self.state.empty_dir), "/etc/apt/sources.list.d", True)]

    def run(self, argv: list[str], *, capture: bool = False, binds: bool = True) \
            -> tuple[int, bytes]:
        """Run ``argv`` in the VE (with the mounts); output relayed, or returned."""
        import warnings  # noqa: F401  (the child's os.execvpe imports it, inside the VE)

        from pyvz.ve import nsexec

        mounts = self._binds() if binds else []
        target = nsexec.open_target(self.ve)
        r, w = os.pipe2(os.O_CLOEXEC)
        devnull = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        try:
            pid = nsexec.spawn(target, argv, _VE_ENV, stdin=devnull, stdout=w, stderr=w,
                               before_exec=lambda: _mount_in_child(mounts))
        except BaseException:
            os.close(r)
            raise
        finally:
            os.close(w)
            os.close(devnull)
            target.close()
            for fd, _, _ in mounts:
                os.close(fd)
        output = b""
        pending = b""
        while chunk := os.read(r, 65536):
            if capture:
                output += chunk
                continue
            *lines, pending = (pending + chunk).split(b"\n")
            sys.stdout.buffer.write(b"".join(ln + b"\n" for ln in lines
                                             if not _ro_lists_noise(ln)))
            sys.stdout.flush()
        if pending and not _ro_lists_noise(pending):
            sys.stdout.buffer.write(pending)
            sys.stdout.flush()
        os.close(r)
        return nsexec.wait_status(pid), output

    def apply(self, verb: str, packages: list[str]) -> int:
        """vzpkg install/remove/update: prefetch, then the VE's apt-get -y."""
        argv = apt_argv(verb, check_packages(packages))
        self.refresh_lists(force=verb == "update")
        self._prepare_dirs()
        if verb != "remove":
            code, out = self.run([*argv, "-y", "-qq", "--print-uris"], capture=True)
            if code != 0:
                text = out.decode(errors="replace").strip().splitlines()
                raise VzError(E.INSTALL_APPS_ERROR, f"apt-get in CT {self.ve.ctid}: "
                              + (text[-1] if text else f"exit status {code}"))
            self.fetch(parse_print_uris(out.decode(errors="replace")))
        code, _ = self.run([*argv, "-y"])
        if code != 0:
            raise VzError(E.INSTALL_APPS_ERROR,
                          f"apt-get {verb} failed in CT {self.ve.ctid} (exit status {code})")
        return 0


def sha256_from_lists(lists_dir: str, filenames: set[str]) -> dict[str, str]:
    """``Filename`` -> ``SHA256:hex`` from the node's (signed, verified) Packages lists,
    for the pool paths asked for."""
    found: dict[str, str] = {}
    if not filenames:
        return found
    for entry in sorted(os.listdir(lists_dir)):
        if not entry.endswith("_Packages"):
            continue
        filename = sha = ""
        with open(os.path.join(lists_dir, entry), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("Filename: "):
                    filename = line[10:].strip()
                elif line.startswith("SHA256: "):
                    sha = line[8:].strip()
                elif line == "\n":
                    if filename in filenames and sha:
                        found[filename] = f"SHA256:{sha}"
                        if len(found) == len(filenames):
                            return found
                    filename = sha = ""
        if filename in filenames and sha:
            found[filename] = f"SHA256:{sha}"
    return found


def _ro_lists_noise(line: bytes) -> bool:
    """apt's complaint that it cannot chown the (read-only, node-owned) lists it was lent."""
    return line.startswith((b"W: chown ", b"W: chmod ")) and b"/var/lib/apt/lists/" in line


def _hash_ok(path: str, digest: str) -> bool:
    algo, _, value = digest.partition(":")
    name = {"SHA256": "sha256", "SHA512": "sha512", "SHA1": "sha1", "MD5Sum": "md5"}.get(algo)
    if name is None or not value:
        return False
    h = hashlib.new(name)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError:
        return False
    return h.hexdigest() == value.lower()


def _mount_in_child(mounts: list[tuple[int, str, bool]]) -> None:
    """In the child, as the VE's root: the node's directories over apt's, in a mount
    namespace of its own whose events do not travel back to the VE's.  No imports."""
    if not mounts:
        return
    sc.unshare(sc.CLONE_NEWNS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_SLAVE)
    keep = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_NOATIME | sc.MS_RELATIME
    for fd, target, read_only in mounts:
        if target.endswith(".list"):
            if not os.path.exists(target):
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
        else:
            os.makedirs(target, 0o755, exist_ok=True)
        sc.move_mount(fd, target)
        if read_only:
            flags = os.statvfs(target).f_flag & keep
            sc.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | flags)
