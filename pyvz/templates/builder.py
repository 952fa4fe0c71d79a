"""``vzpkg cache``: build or update a template cache from its metadata.

The tree is bootstrapped by **mmdebstrap** (Debian's apt-based successor of debootstrap:
it resolves the whole package set with apt, takes several suites at once — so the cache
has the security and point-release updates — and is several times faster), from the
archives the node's own apt sources name (``pyvz.templates.sources``).  It runs in a mount
and pid namespace of its own (``unshare``), so if the command is killed its mounts and
maintainer-script processes go with it.

Nothing half-made is ever a cache: the work happens in ``TEMPLATE/cache/.NAME.build/``,
under a per-template lock; the tarball is renamed into place at the end, then its manifest
(``.NAME.manifest``: what it was built from and the package versions in it).  The next
run removes whatever a killed one left.

An existing cache is rebuilt only when something changed: its metadata (a digest of
everything that goes into it, the init choice included) or the archive (the node's apt,
with the cache's own dpkg status, finds upgrades).  ``--force`` rebuilds regardless.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time

from pyvz import log
from pyvz.errors import E, VzError
from pyvz.templates.aptstate import APT_ENV, AptState, classify_apt_failure
from pyvz.templates.metadata import Metadata
from pyvz.templates.progress import Progress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from pyvz.node import Node

__all__ = ["CacheResult", "build_cache", "choose_init", "manifest_path", "read_manifest",
           "remove_cache", "resolve_archives", "store_dir"]

_BUILD_TOOL = "mmdebstrap"


class CacheResult:
    __slots__ = ("init", "path", "state")

    def __init__(self, state: str, path: str, init: str) -> None:
        self.state = state      # "built", "updated" or "current"
        self.path = path
        self.init = init


def manifest_path(cache_dir: str, name: str) -> str:
    return os.path.join(cache_dir, f".{name}.manifest")


def store_dir(template_dir: str) -> str:
    """The node's store of downloaded packages (root's; copied into VEs' caches)."""
    return os.path.join(template_dir, "pkgcache", "debs")


def read_manifest(cache_dir: str, name: str) -> dict[str, object] | None:
    try:
        with open(manifest_path(cache_dir, name)) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def systemd_possible() -> tuple[bool, str]:
    """Whether VEs on this node can run systemd: it needs a cgroup v2 tree to be handed
    (see ``pyvz.templates.lifecycle``)."""
    from pyvz.cgroups.hierarchy import Hierarchies

    if Hierarchies.probe().v2 is None:
        return False, "this node has no cgroup v2 tree to give a VE's systemd"
    return True, "a cgroup v2 tree is delegated to each VE's systemd"


def choose_init(meta: Metadata, requested: str | None) -> tuple[str, str]:
    """("systemd" | "fallback", why)."""
    want = requested or meta.init
    if want == "systemd":
        return "systemd", "asked for"
    if want == "fallback":
        return "fallback", "asked for"
    ok, why = systemd_possible()
    return ("systemd" if ok else "fallback"), why


def resolve_archives(node: Node, meta: Metadata, etc_apt: str = "/etc/apt") -> dict[str, str]:
    from pyvz.templates.sources import read_node_sources, resolve_roles

    roles = list(dict.fromkeys(role for role, _ in meta.sources))
    uris = resolve_roles(roles, read_node_sources(etc_apt), node.setting("VZPKG_MIRRORS"))
    for role in roles:
        if role not in uris:
            log.warn(f"The node's apt sources name no {role} archive: the cache gets no "
                     f"updates from it (set VZPKG_MIRRORS in vz.conf to add one)")
    return uris


class _Lock:
    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> _Lock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("Waiting for another vzpkg working on this template...")
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def build_cache(node: Node, meta: Metadata, *, force: bool = False, init: str | None = None,
                stream: TextIO | None = None, quiet: bool = False,
                etc_apt: str = "/etc/apt") -> CacheResult:
    name = meta.name.name
    cache_dir = node.cache_dir
    try:
        os.makedirs(cache_dir, mode=0o755, exist_ok=True)
    except OSError as e:
        raise VzError(E.FS_CANTCREATE_DIR, f"Unable to create {cache_dir}: {e.strerror}") \
            from e
    init_kind, why = choose_init(meta, init)
    uris = resolve_archives(node, meta, etc_apt)
    progress = Progress(name, stream, quiet)
    with _Lock(os.path.join(cache_dir, f".{name}.lock")):
        build_dir = os.path.join(cache_dir, f".{name}.build")
        _remove_tree(build_dir)  # what a killed run left
        from pyvz.templates.cache import find_cache

        existing = find_cache(cache_dir, name)
        manifest = read_manifest(cache_dir, name) if existing else None
        state = AptState(node.template_dir, meta, uris)
        if existing and manifest and not force:
            reason = _why_rebuild(meta, init_kind, manifest, state, existing, build_dir,
                                  progress)
            if reason is None:
                progress.done("up to date")
                return CacheResult("current", existing, str(manifest.get("init")))
            progress.say(reason)
        fallback = " ".join(meta.init_fallback)
        if init_kind == "systemd":
            progress.say(f"init: systemd ({why})")
        elif why == "asked for":
            progress.say(f"init: {fallback} (asked for)")
        else:
            progress.say(f"init: {fallback}, since systemd is not possible here: {why}")
        try:
            path = _build(node, meta, init_kind, uris, state, build_dir, progress)
        finally:
            _remove_tree(build_dir)
        progress.done(f"cache {path} ready")
        return CacheResult("updated" if existing else "built", path, init_kind)


def _why_rebuild(meta: Metadata, init_kind: str, manifest: dict[str, object],
                 state: AptState, cache: str, build_dir: str,
                 progress: Progress) -> str | None:
    """None if the cache is current; else why it is not."""
    if manifest.get("digest") != meta.digest(init_kind):
        return "metadata changed since the cache was built: rebuilding"
    progress.say("checking the archive for updates")
    state.update(progress.line)
    os.makedirs(build_dir, mode=0o700)
    status = os.path.join(build_dir, "status")
    _extract_member(cache, "./var/lib/dpkg/status", status)
    newer = state.upgrades(status)
    if not newer:
        return None
    shown = ", ".join(newer[:8]) + (" …" if len(newer) > 8 else "")
    return f"{len(newer)} package(s) have updates ({shown}): rebuilding"


def _extract_member(tarball: str, member: str, dest: str) -> None:
    from pyvz.kernel.proc import run

    argv = ["tar", "-x", "-O", "-f", tarball, member]
    if tarball.endswith(".tar.zst"):
        argv[1:1] = ["--zstd"]
    _, out, _ = run(argv, code=E.FS_BAD_TMPL, what=f"reading {os.path.basename(tarball)}")
    with open(dest, "wb") as f:
        f.write(out)


def _build(node: Node, meta: Metadata, init_kind: str, uris: dict[str, str],
           state: AptState, build_dir: str, progress: Progress) -> str:
    from pyvz.kernel.proc import run_lines
    from pyvz.templates import fixups
    from pyvz.templates.aptstate import source_lines

    name = meta.name.name
    rootfs = os.path.join(build_dir, "rootfs")
    tmp = os.path.join(build_dir, "tmp")
    try:
        os.makedirs(tmp, mode=0o700)
    except OSError as e:
        raise _os_error(e, f"Unable to create {tmp}") from e
    if meta.keyring and not os.path.isfile(meta.keyring):
        raise VzError(E.FS_BAD_TMPL, f"Keyring {meta.keyring} of {meta.conf_path} does not "
                      "exist on this node", hint="install debian-archive-keyring")
    # setpriv: killed with us (so the lock we hold never outlives the build); unshare:
    # its mounts and processes go with it
    argv = ["setpriv", "--pdeathsig", "KILL", "unshare", "--mount", "--propagation",
            "private", "--pid", "--fork", "--kill-child", _BUILD_TOOL, "--mode=root",
            "--format=directory", "--verbose",
            f"--variant={meta.variant}", f"--architectures={meta.arch}",
            f"--components={','.join(meta.components)}",
            f"--include={','.join(meta.packages_for(init_kind))}",
            "--skip=cleanup/apt/lists", "--skip=cleanup/apt/cache"]
    if meta.keyring:
        argv.append(f"--keyring={meta.keyring}")
    argv += [meta.suite, rootfs, *source_lines(meta, uris, None)]
    env = dict(APT_ENV, TMPDIR=tmp)
    progress.say(f"bootstrapping {meta.suite} ({len(meta.packages_for(init_kind))} "
                 f"packages asked for) with {_BUILD_TOOL}")
    code = run_lines(argv, code=E.NOSCRIPT, on_line=progress.line, env=env)
    if code != 0:
        raise classify_apt_failure(progress.lines, f"Building {name}")
    if not os.path.exists(os.path.join(rootfs, "sbin/init")) and \
            not os.path.islink(os.path.join(rootfs, "sbin/init")):
        raise VzError(E.FS_BAD_TMPL, f"Building {name}: the tree has no /sbin/init "
                      "(the package set installs no init system)")
    progress.say("finishing the tree")
    fixups.apply(rootfs, init_kind)
    with open(os.path.join(rootfs, "var/lib/dpkg/status"), encoding="utf-8",
              errors="replace") as f:
        packages = fixups.installed_packages(f.read())
    _keep_lists(rootfs, state)
    _keep_debs(rootfs, store_dir(node.template_dir))
    progress.say(f"packing {len(packages)} packages")
    out = os.path.join(build_dir, f"{name}.tar.gz")
    _pack(rootfs, out)
    cache_dir = node.cache_dir
    final = os.path.join(cache_dir, f"{name}.tar.gz")
    try:
        os.rename(out, final)
        from pyvz.templates.cache import CACHE_SUFFIXES

        for suffix in CACHE_SUFFIXES:  # an older cache of another format must not win
            other = os.path.join(cache_dir, name + suffix)
            if other != final and os.path.exists(other):
                os.unlink(other)
        from pyvz.config.conffile import write_atomic

        manifest = {"name": name, "digest": meta.digest(init_kind), "init": init_kind,
                    "built": int(time.time()), "tool": _BUILD_TOOL,
                    "sources": source_lines(meta, uris, None), "packages": packages}
        write_atomic(manifest_path(cache_dir, name), json.dumps(manifest, indent=1) + "\n")
    except OSError as e:
        raise _os_error(e, f"Unable to store {final}") from e
    return final


def _keep_lists(rootfs: str, state: AptState) -> None:
    """The build's package lists become the node's lists for this OS (the same archives,
    fetched a minute ago), and leave the tree: a VE gets them when vzpkg runs."""
    lists = os.path.join(rootfs, "var/lib/apt/lists")
    fd = state.locked()
    try:
        _replace_lists(lists, state)
    finally:
        os.close(fd)


def _replace_lists(lists: str, state: AptState) -> None:
    state.prepare()
    for name in os.listdir(state.lists_dir):
        path = os.path.join(state.lists_dir, name)
        if os.path.isfile(path) and name != "lock":
            os.unlink(path)
    for name in os.listdir(lists):
        path = os.path.join(lists, name)
        if os.path.isfile(path) and not os.path.islink(path) and name != "lock":
            shutil.move(path, os.path.join(state.lists_dir, name))


def _keep_debs(rootfs: str, store: str) -> None:
    """The downloaded packages seed the node's package store, then leave the tree (with
    apt's binary caches, which the tree's first apt run rebuilds)."""
    for name in ("pkgcache.bin", "srcpkgcache.bin"):
        path = os.path.join(rootfs, "var/cache/apt", name)
        if os.path.isfile(path):
            os.unlink(path)
    archives = os.path.join(rootfs, "var/cache/apt/archives")
    os.makedirs(store, mode=0o755, exist_ok=True)
    for name in os.listdir(archives):
        path = os.path.join(archives, name)
        if name.endswith(".deb") and os.path.isfile(path) and not os.path.islink(path):
            os.chmod(path, 0o644)
            os.replace(path, os.path.join(store, name))


def _pack(rootfs: str, out: str) -> None:
    from pyvz.kernel.proc import run

    argv = ["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls",
            "--one-file-system", "-c", "-f", out]
    if shutil.which("pigz"):
        argv[1:1] = ["--use-compress-program=pigz"]
    else:
        argv[1:1] = ["-z"]
    argv += ["-C", rootfs, "."]
    code, _, err = run(argv, code=E.FS_NEW_VE_PRVT, check=False)
    if code != 0:
        text = err.decode(errors="replace")
        if "No space left on device" in text:
            raise VzError(E.FS_NO_DISK_SPACE, f"Packing {os.path.basename(out)} failed: "
                          "no space left on device")
        raise VzError(E.FS_NEW_VE_PRVT, f"Packing {os.path.basename(out)} failed: "
                      + (text.strip().splitlines() or [f"tar exit status {code}"])[-1])


def _os_error(e: OSError, what: str) -> VzError:
    if e.errno == 28:
        return VzError(E.FS_NO_DISK_SPACE, f"{what}: no space left on device")
    return VzError(E.SYSTEM, f"{what}: {e.strerror}")


def _remove_tree(path: str) -> None:
    if os.path.lexists(path):
        shutil.rmtree(path, ignore_errors=True)


def remove_cache(node: Node, name: str) -> list[str]:
    """Remove a template's cache (every format) and manifest; the names removed."""
    from pyvz.templates.cache import CACHE_SUFFIXES, check_template_name

    check_template_name(name)
    cache_dir = node.cache_dir
    removed = []
    with _Lock(os.path.join(cache_dir, f".{name}.lock")) if os.path.isdir(cache_dir) \
            else _NoLock():
        for suffix in CACHE_SUFFIXES:
            path = os.path.join(cache_dir, name + suffix)
            if os.path.exists(path):
                os.unlink(path)
                removed.append(path)
        for path in (manifest_path(cache_dir, name), os.path.join(cache_dir, f".{name}.build")):
            if os.path.isdir(path):
                _remove_tree(path)
            elif os.path.exists(path):
                os.unlink(path)
    if not removed:
        raise VzError(E.OSTEMPLATE_NOT_FOUND, f"No cache of OS template {name}")
    return removed


class _NoLock:
    def __enter__(self) -> _NoLock:
        return self

    def __exit__(self, *exc: object) -> None:
        pass
