"""``vzpkg`` — OS templates and the packages of VEs made from them.

    vzpkg cache [-f|--force] [--init auto|systemd|fallback] [NAME...]
                                build NAME's cache from its metadata, or update it if
                                packages changed (no NAME: every cache vzpkg built)
    vzpkg list [-c|--cached] [CTID]
                                templates with metadata or a cache (-c: with a cache);
                                with a CTID, the VE's OSTEMPLATE
    vzpkg info NAME             what a cache was built from
    vzpkg remove-cache NAME...  remove caches
    vzpkg install CTID PKG...   install packages in a running VE (its own apt)
    vzpkg remove CTID PKG...    remove packages
    vzpkg update CTID [PKG...]  refresh the package lists and upgrade (all, or PKGs)

Aliases, as in OpenVZ: ``vzpkgcache [-f] [-r] [NAME...]``, ``vzpkgls [-c] [CTID]``,
``vzyum CTID [-y] install|remove|erase|update|upgrade|check-update|list|info|search|clean
ARGS`` (yum's verbs done by apt).  Templates are described in docs/templates.md.
"""

from __future__ import annotations

import sys

from pyvz.cli.common import require_root, resolve_ctid, run_main, setup_logging
from pyvz.errors import E, VzError

__all__ = ["main", "main_cache", "main_ls", "main_yum"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.node import Node


def _node(prog: str, opts: dict[str, list[str]] | None = None) -> Node:
    from pyvz.node import Node

    node = Node()
    opts = opts or {}
    setup_logging(node, prog=prog, quiet="quiet" in opts or "q" in opts,
                  verbose=len(opts.get("verbose", [])), verbose_given="verbose" in opts)
    return node


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


def main_cache(argv: list[str] | None = None) -> int:
    return run_main(_vzpkgcache, argv)


def main_ls(argv: list[str] | None = None) -> int:
    return run_main(lambda a: _list(a, "vzpkgls"), argv)


def main_yum(argv: list[str] | None = None) -> int:
    return run_main(_vzyum, argv)


def _main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(__doc__ or "")
        return 0 if argv else E.INVALID_PARAMETER_SYNTAX
    command, rest = argv[0], argv[1:]
    if command == "cache":
        return _cache(rest, "vzpkg cache")
    if command in ("list", "ls"):
        return _list(rest, "vzpkg list")
    if command == "info":
        return _info(rest)
    if command == "remove-cache":
        return _remove_cache(rest, "vzpkg remove-cache")
    if command in ("install", "remove", "update"):
        return _apt(command, rest)
    raise VzError(E.INVALID_PARAMETER_SYNTAX, f"Unknown command: vzpkg {command}",
                  hint="see vzpkg --help")


_COMMON = {"quiet": False, "q": False, "verbose": False}


def _cache(argv: list[str], command: str) -> int:
    from pyvz.cli.opts import parse

    opts, names = parse(argv, {**_COMMON, "force": False, "f": False, "init": True},
                        command=command, positional=None)
    inits = opts.get("init")
    init = inits[-1] if inits else None
    if init not in (None, "auto", "systemd", "fallback"):
        raise VzError(E.INVALID_PARAMETER_VALUE, f"Bad value for --init: {init} "
                      "(auto, systemd or fallback)")
    node = _node("vzpkg", opts)
    require_root()
    from pyvz.templates import metadata
    from pyvz.templates.builder import build_cache, read_manifest

    if not names:
        names = [n for n, path in _all_templates(node) if path and
                 read_manifest(node.cache_dir, n) is not None]
        if not names:
            raise VzError(E.NOTENOUGHPARAMS, "No template name given and no cache built by "
                          "vzpkg to update")
    force = "force" in opts or "f" in opts
    quiet = "quiet" in opts or "q" in opts
    metas = [metadata.load(node.template_dir, n) for n in names]  # all checked first
    for meta in metas:
        result = build_cache(node, meta, force=force, init=init, quiet=quiet)
        if not quiet:
            word = {"built": "created", "updated": "updated",
                    "current": "is up to date"}[result.state]
            sys.stdout.write(f"OS template cache {meta.name.name} {word}: {result.path}\n")
    return 0


def _vzpkgcache(argv: list[str]) -> int:
    if "-r" in argv or "--remove" in argv:
        return _remove_cache([a for a in argv if a not in ("-r", "--remove")], "vzpkgcache")
    return _cache(argv, "vzpkgcache")


def _remove_cache(argv: list[str], command: str) -> int:
    from pyvz.cli.opts import parse

    opts, names = parse(argv, dict(_COMMON), command=command, positional=None)
    if not names:
        raise VzError(E.NOTENOUGHPARAMS, f"{command}: no template name given")
    node = _node("vzpkg", opts)
    require_root()
    from pyvz.templates.builder import remove_cache

    for name in names:
        for path in remove_cache(node, name):
            if "quiet" not in opts and "q" not in opts:
                sys.stdout.write(f"Removed {path}\n")
    return 0


def _all_templates(node: Node) -> list[tuple[str, str | None]]:
    """(name, cache path or None) of every template with metadata or a cache."""
    import os

    from pyvz.templates import metadata
    from pyvz.templates.cache import CACHE_SUFFIXES, find_cache

    names: set[str] = set()
    dirs = metadata.metadata_dirs(node.template_dir)
    for d in dirs:
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for entry in entries:
            if not entry.endswith(".conf"):
                continue
            os_name = entry[:-5]
            try:
                from pyvz.config.conffile import ConfFile

                values = ConfFile.load(os.path.join(d, entry)).values()
            except (OSError, UnicodeDecodeError):
                continue
            dist = values.get("DISTRIBUTION", "")
            sets = set()
            for d2 in dirs:
                try:
                    for f in os.listdir(d2):
                        for prefix in (f"{os_name}-", f"{dist}-"):
                            if f.startswith(prefix) and f.endswith(".list"):
                                sets.add(f[len(prefix):-5])
                except OSError:
                    continue
            for arch in values.get("ARCHITECTURES", "").split():
                names.update(f"{os_name}-{arch}-{s}" for s in sets if "-" not in s)
    try:
        for entry in os.listdir(node.cache_dir):
            for suffix in CACHE_SUFFIXES:
                if entry.endswith(suffix) and not entry.startswith("."):
                    names.add(entry[:-len(suffix)])
                    break
    except OSError:
        pass
    return [(n, find_cache(node.cache_dir, n)) for n in sorted(names)]


def _list(argv: list[str], command: str) -> int:
    from pyvz.cli.opts import parse

    opts, rest = parse(argv, {**_COMMON, "cached": False, "c": False}, command=command,
                       positional=1)
    node = _node("vzpkg", opts)
    if rest:
        from pyvz.ve.model import VE

        ve = VE(node, resolve_ctid(node, rest[0]))
        ve.require_config()
        template = ve.conf.get("OSTEMPLATE")
        if not template:
            raise VzError(E.VE_PKGSET_NOTSET, f"CT {ve.ctid} has no OSTEMPLATE")
        sys.stdout.write(template + "\n")
        return 0
    cached_only = "cached" in opts or "c" in opts
    for name, path in _all_templates(node):
        if path or not cached_only:
            sys.stdout.write(name + "\n")
    return 0


def _info(argv: list[str]) -> int:
    import time

    from pyvz.cli.opts import parse

    opts, rest = parse(argv, dict(_COMMON), command="vzpkg info", positional=1)
    if not rest:
        raise VzError(E.NOTENOUGHPARAMS, "vzpkg info: no template name given")
    node = _node("vzpkg", opts)
    from pyvz.templates.builder import read_manifest
    from pyvz.templates.cache import check_template_name, find_cache

    name = check_template_name(rest[0])
    path = find_cache(node.cache_dir, name)
    manifest = read_manifest(node.cache_dir, name) if path else None
    if path is None:
        raise VzError(E.OSTEMPLATE_NOT_FOUND, f"No cache of OS template {name}")
    rows = [("cache", path)]
    if manifest:
        packages = manifest.get("packages")
        built = manifest.get("built")
        rows += [("built", time.strftime("%Y-%m-%d %H:%M:%S",
                                         time.localtime(built if isinstance(built, int)
                                                        else 0))),
                 ("init", str(manifest.get("init"))),
                 ("tool", str(manifest.get("tool"))),
                 ("packages", str(len(packages) if isinstance(packages, dict) else "-"))]
        sources = manifest.get("sources")
        for line in sources if isinstance(sources, list) else []:
            rows.append(("source", str(line)))
    else:
        rows.append(("built", "not by vzpkg (no manifest)"))
    for key, value in rows:
        sys.stdout.write(f"{key + ':':<10} {value}\n")
    return 0


def _apt(verb: str, argv: list[str]) -> int:
    from pyvz.cli.opts import parse

    opts, rest = parse(argv, dict(_COMMON), command=f"vzpkg {verb}", positional=None)
    if not rest or (verb != "update" and len(rest) < 2):
        raise VzError(E.NOTENOUGHPARAMS, f"Usage: vzpkg {verb} CTID "
                      + ("[PKG...]" if verb == "update" else "PKG..."))
    node = _node("vzpkg", opts)
    require_root()
    return _with_ve(node, rest[0], lambda apt: apt.apply(verb, rest[1:]))


def _with_ve(node: Node, ctid_text: str, work: object) -> int:
    from pyvz.templates.packages import VeApt
    from pyvz.ve.model import VE

    ve = VE(node, resolve_ctid(node, ctid_text))
    ve.require_config()
    with ve.lock("vzpkg"):
        ve.require_running()
        assert callable(work)
        result = work(VeApt(node, ve))
        assert isinstance(result, int)
        return result


# yum verb -> (vzpkg verb or apt command in the VE, needs fresh lists)
_YUM = {"install": "install", "remove": "remove", "erase": "remove", "update": "update",
        "upgrade": "update"}


def _vzyum(argv: list[str]) -> int:
    args = [a for a in argv if a not in ("-y", "--assumeyes", "-q", "--quiet")]
    if len(args) < 2:
        raise VzError(E.NOTENOUGHPARAMS, "Usage: vzyum CTID [-y] COMMAND [ARGS...]")
    ctid_text, verb, rest = args[0], args[1], args[2:]
    node = _node("vzyum")
    require_root()
    from pyvz.templates.packages import check_packages

    if verb in _YUM:
        return _with_ve(node, ctid_text, lambda apt: apt.apply(_YUM[verb], rest))
    if verb == "check-update":
        def check(apt: object) -> int:
            from pyvz.templates.packages import VeApt

            assert isinstance(apt, VeApt)
            apt.refresh_lists(force=True)
            code, out = apt.run(["apt-get", "-s", "-qq", "dist-upgrade"], capture=True)
            lines = [ln.split()[1] for ln in out.decode(errors="replace").splitlines()
                     if ln.startswith("Inst ")]
            for name in lines:
                sys.stdout.write(name + "\n")
            if code != 0:
                raise VzError(E.INSTALL_APPS_ERROR, "apt-get failed in the container")
            return 100 if lines else 0  # yum's answer: 100 means updates are available

        return _with_ve(node, ctid_text, check)
    queries = {"list": ["dpkg-query", "-W"], "info": ["apt-cache", "show"],
               "search": ["apt-cache", "search"], "clean": ["apt-get", "clean"]}
    if verb not in queries:
        raise VzError(E.INVALID_PARAMETER_SYNTAX, f"vzyum: unknown command {verb}")
    if verb == "list":
        rest = [r for r in rest if r not in ("installed", "all")]
    if verb != "search":
        check_packages(rest)
    elif any(r.startswith("-") for r in rest):
        raise VzError(E.INVALID_PARAMETER_VALUE, "vzyum search: bad search term")

    def query(apt: object) -> int:
        from pyvz.templates.packages import VeApt

        assert isinstance(apt, VeApt)
        if verb in ("info", "search"):
            apt.refresh_lists(force=False)
        # clean works on the VE's own cache, never on the one it shares with other VEs
        code, _ = apt.run([*queries[verb], *rest], binds=verb != "clean")
        return code

    return _with_ve(node, ctid_text, query)
