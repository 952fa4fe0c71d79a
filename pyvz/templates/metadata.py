"""OS template metadata: what a template cache is built from (see docs/templates.md).

A template is named ``OS-ARCH-SET`` (``debian-12-x86_64-minimal``), as vzpkg names its
caches.  Two kinds of files describe it, looked up first in the node's
``TEMPLATE/metadata/`` (local additions and overrides) and then in pyvz's own
``pyvz/data/templates/``:

* ``OS.conf`` (``debian-12.conf``): the distribution, its archives (as ROLE:SUITE pairs,
  resolved against the node's apt sources), components, architectures, bootstrap variant,
  keyring and init system, as vz.conf-style ``KEY="value"`` lines;
* ``OS-SET.list`` or, shared by every version of a distribution, ``DISTRIBUTION-SET.list``
  (``debian-default.list``): package names, one per line, ``#`` comments, and
  ``@SET`` lines that include another set.

Everything is checked here, before anything is downloaded: a bad file is one clear error
(exit 47), a missing one exit 91.
"""

from __future__ import annotations

import hashlib
import os
import re

from pyvz.errors import E, VzError

__all__ = [
    "ARCHES",
    "BUILDER_VERSION",
    "Metadata",
    "TemplateName",
    "load",
    "metadata_dirs",
    "parse_name",
    "shipped_dir",
]

# pyvz arch name -> Debian's
ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "i386": "i386"}
# Bumped when what the builder does to a tree changes, so caches get rebuilt.
BUILDER_VERSION = "2"
_VARIANTS = ("extract", "custom", "essential", "apt", "required", "minbase", "buildd",
             "important", "debootstrap", "standard")
_INITS = ("auto", "systemd", "fallback")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_SUITE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*\Z")
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+\Z")
_MAX_INCLUDE_DEPTH = 8


class TemplateName:
    __slots__ = ("arch", "name", "os", "set")

    def __init__(self, name: str, os_name: str, arch: str, pkg_set: str) -> None:
        self.name = name
        self.os = os_name
        self.arch = arch
        self.set = pkg_set


def parse_name(name: str) -> TemplateName:
    """``debian-12-x86_64-minimal`` -> os ``debian-12``, arch ``x86_64``, set ``minimal``."""
    parts = name.split("-")
    if len(parts) < 4 or not all(_WORD.match(p) for p in parts) or \
            parts[-2] not in ARCHES or not parts[0].isalpha():
        raise VzError(E.INVALID_PARAMETER_VALUE,
                      f"Bad OS template name {name!r}: expected OS-VERSION-ARCH-SET, "
                      "e.g. debian-12-x86_64-minimal")
    return TemplateName(name, "-".join(parts[:-2]), parts[-2], parts[-1])


def shipped_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "data", "templates")


def metadata_dirs(template_dir: str) -> list[str]:
    return [os.path.join(template_dir, "metadata"), shipped_dir()]


class Metadata:
    """One template's checked metadata."""

    __slots__ = ("arch", "components", "conf_path", "distribution", "init", "init_fallback",
                 "init_systemd", "keyring", "name", "packages", "set_paths", "sources",
                 "variant")

    def __init__(self, name: TemplateName) -> None:
        self.name = name
        self.distribution = ""
        self.sources: list[tuple[str, str]] = []     # (role, suite)
        self.components: list[str] = []
        self.arch = ARCHES[name.arch]
        self.variant = "minbase"
        self.keyring = ""
        self.init = "auto"
        self.init_systemd: list[str] = []
        self.init_fallback: list[str] = []
        self.packages: list[str] = []
        self.conf_path = ""
        self.set_paths: list[str] = []

    @property
    def suite(self) -> str:
        """The release the tree is bootstrapped from (the first source's suite)."""
        return self.sources[0][1]

    def digest(self, init_kind: str) -> str:
        """What the cache is made of, as one hash: a changed one means "rebuild"."""
        text = "\n".join([BUILDER_VERSION, self.distribution, self.arch, self.variant,
                          self.keyring, init_kind, " ".join(self.components),
                          " ".join(f"{r}:{s}" for r, s in self.sources),
                          " ".join(sorted(self.packages_for(init_kind)))])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def packages_for(self, init_kind: str) -> list[str]:
        init = self.init_systemd if init_kind == "systemd" else self.init_fallback
        return _unique(self.packages + init)


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    return [i for i in items if not (i in seen or seen.add(i))]  # type: ignore[func-returns-value]


def _find(dirs: list[str], names: list[str]) -> str | None:
    for d in dirs:
        for n in names:
            path = os.path.join(d, n)
            if os.path.isfile(path):
                return path
    return None


def _bad(path: str, what: str) -> VzError:
    return VzError(E.FS_BAD_TMPL, f"Bad template metadata {path}: {what}")


def load(template_dir: str, name: str) -> Metadata:
    """Find, read and check the metadata of template ``name``."""
    from pyvz.config.conffile import ConfFile

    tn = parse_name(name)
    dirs = metadata_dirs(template_dir)
    conf_path = _find(dirs, [f"{tn.os}.conf"])
    if conf_path is None:
        raise VzError(E.OSTEMPLATE_NOT_FOUND, f"No metadata for OS {tn.os} "
                      f"(looked for {tn.os}.conf in {' and '.join(dirs)})")
    meta = Metadata(tn)
    meta.conf_path = conf_path
    try:
        values = ConfFile.load(conf_path).values()
    except (OSError, UnicodeDecodeError) as e:
        raise _bad(conf_path, str(getattr(e, "strerror", None) or e)) from e

    def words(key: str, required: bool = True) -> list[str]:
        value = values.get(key, "").split()
        if required and not value:
            raise _bad(conf_path, f"{key} is not set")
        return value

    meta.distribution = (words("DISTRIBUTION") or [""])[0]
    if meta.distribution != "debian":
        raise _bad(conf_path, f"DISTRIBUTION {meta.distribution!r} is not supported "
                   "(supported: debian)")
    for item in words("SOURCES"):
        role, sep, suite = item.partition(":")
        if not sep or not _WORD.match(role) or not _SUITE.match(suite):
            raise _bad(conf_path, f"SOURCES entry {item!r} is not ROLE:SUITE")
        meta.sources.append((role, suite))
    meta.components = words("COMPONENTS")
    for c in meta.components:
        if not _WORD.match(c):
            raise _bad(conf_path, f"bad component {c!r}")
    arches = words("ARCHITECTURES")
    if tn.arch not in arches:
        raise VzError(E.OSTEMPLATE_NOT_FOUND, f"OS {tn.os} has no architecture {tn.arch} "
                      f"(metadata {conf_path} lists: {' '.join(arches)})")
    meta.variant = values.get("VARIANT") or "minbase"
    if meta.variant not in _VARIANTS:
        raise _bad(conf_path, f"VARIANT {meta.variant!r} is not one of {', '.join(_VARIANTS)}")
    meta.keyring = values.get("KEYRING", "")
    if meta.keyring and (not meta.keyring.startswith("/") or "\n" in meta.keyring):
        raise _bad(conf_path, "KEYRING must be an absolute path")
    meta.init = values.get("INIT") or "auto"
    if meta.init not in _INITS:
        raise _bad(conf_path, f"INIT {meta.init!r} is not one of {', '.join(_INITS)}")
    meta.init_systemd = words("INIT_SYSTEMD", required=meta.init != "fallback")
    meta.init_fallback = words("INIT_FALLBACK", required=meta.init != "systemd")
    for p in meta.init_systemd + meta.init_fallback:
        if not _PACKAGE.match(p):
            raise _bad(conf_path, f"bad package name {p!r}")
    meta.packages = _unique(_read_set(meta, dirs, tn.set, []))
    return meta


def _read_set(meta: Metadata, dirs: list[str], pkg_set: str, stack: list[str]) -> list[str]:
    tn = meta.name
    if not _WORD.match(pkg_set):
        raise _bad(stack[-1] if stack else meta.conf_path, f"bad set name {pkg_set!r}")
    path = _find(dirs, [f"{tn.os}-{pkg_set}.list", f"{meta.distribution}-{pkg_set}.list"])
    if path is None:
        if stack:
            raise _bad(stack[-1], f"@{pkg_set}: no {tn.os}-{pkg_set}.list or "
                       f"{meta.distribution}-{pkg_set}.list")
        raise VzError(E.OSTEMPLATE_NOT_FOUND, f"No package set {pkg_set!r} for {tn.os} "
                      f"(looked for {tn.os}-{pkg_set}.list and "
                      f"{meta.distribution}-{pkg_set}.list)")
    if path in stack or len(stack) >= _MAX_INCLUDE_DEPTH:
        raise _bad(path, "sets include each other in a loop")
    meta.set_paths.append(path)
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise _bad(path, str(getattr(e, "strerror", None) or e)) from e
    packages: list[str] = []
    for number, line in enumerate(lines, 1):
        word = line.partition("#")[0].strip()
        if not word:
            continue
        if word.startswith("@"):
            packages += _read_set(meta, dirs, word[1:], [*stack, path])
        elif _PACKAGE.match(word):
            packages.append(word)
        else:
            raise _bad(path, f"line {number}: {word!r} is not a package name")
    if not stack and not packages:
        raise _bad(path, "no packages")
    return packages
