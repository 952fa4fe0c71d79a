"""Which archive addresses to build from: the node's own apt sources.

pyvz writes no mirror into its code.  A template's metadata names archives by role
(``debian``, ``debian-security``); the address of each role comes from

1. ``VZPKG_MIRRORS`` in vz.conf (``"debian=http://... debian-security=http://..."``), else
2. the node's apt sources (``/etc/apt/sources.list``, ``sources.list.d/*.list`` and
   deb822 ``*.sources``): the first ``deb`` entry whose URI path ends in ``/ROLE``; a
   ``-security`` role also matches an entry whose suites end in ``-security``.

A role that neither names is an error (or, for a security archive, a warning: the cache is
built without its updates).
"""

from __future__ import annotations

import os
import re

from pyvz.errors import E, VzError

__all__ = ["AptSource", "parse_deb822", "parse_one_line", "read_node_sources", "resolve_roles"]

_URI = re.compile(r"(https?|file)://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+\Z")


class AptSource:
    __slots__ = ("suites", "uri")

    def __init__(self, uri: str, suites: list[str]) -> None:
        self.uri = uri.rstrip("/")
        self.suites = suites

    @property
    def role(self) -> str:
        return self.uri.rpartition("/")[2]

    def __repr__(self) -> str:
        return f"AptSource({self.uri!r}, {self.suites!r})"


def parse_one_line(text: str) -> list[AptSource]:
    """``deb [options] URI suite [component...]`` lines (``deb-src`` and comments skipped)."""
    out = []
    for line in text.splitlines():
        line = line.partition("#")[0].strip()
        if not line.startswith("deb ") and not line.startswith("deb\t"):
            continue
        rest = line[3:].strip()
        if rest.startswith("["):
            rest = rest.partition("]")[2].strip()
        words = rest.split()
        if len(words) >= 2:
            out.append(AptSource(words[0], [words[1]]))
    return out


def parse_deb822(text: str) -> list[AptSource]:
    """deb822 stanzas (``Types:``, ``URIs:``, ``Suites:``, ``Enabled:``)."""
    out = []
    for stanza in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t"):
                if key:
                    fields[key] += " " + line.strip()
                continue
            key, sep, value = line.partition(":")
            key = key.strip().lower()
            if sep:
                fields[key] = value.strip()
            else:
                key = ""
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = fields.get("suites", "").split()
        for uri in fields.get("uris", "").split():
            out.append(AptSource(uri, suites))
    return out


def read_node_sources(etc_apt: str = "/etc/apt") -> list[AptSource]:
    """Every ``deb`` source the node's apt uses, in apt's reading order."""
    out: list[AptSource] = []
    main = os.path.join(etc_apt, "sources.list")
    for path, parse in [(main, parse_one_line)] + [
            (os.path.join(etc_apt, "sources.list.d", n),
             parse_one_line if n.endswith(".list") else parse_deb822)
            for n in _listdir(os.path.join(etc_apt, "sources.list.d"))
            if n.endswith((".list", ".sources"))]:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                out += parse(f.read())
        except OSError:
            continue
    return out


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _check_uri(uri: str, where: str) -> str:
    if not _URI.match(uri):
        raise VzError(E.FS_BAD_TMPL, f"Unusable archive address {uri!r} ({where}): "
                      "only http, https and file URIs are supported")
    return uri.rstrip("/")


def resolve_roles(roles: list[str], sources: list[AptSource],
                  overrides: str | None = None) -> dict[str, str]:
    """role -> archive URI.  Missing security roles are left out (the caller warns)."""
    given: dict[str, str] = {}
    for item in (overrides or "").split():
        role, sep, uri = item.partition("=")
        if not sep:
            raise VzError(E.INVALID_CONFIG, f"VZPKG_MIRRORS: {item!r} is not ROLE=URI")
        given[role] = _check_uri(uri, "VZPKG_MIRRORS in vz.conf")
    found: dict[str, str] = {}
    for role in roles:
        if role in given:
            found[role] = given[role]
            continue
        match = next((s for s in sources if s.role == role), None)
        if match is None and role.endswith("-security"):
            match = next((s for s in sources
                          if any(x.endswith("-security") for x in s.suites)), None)
        if match is not None:
            found[role] = _check_uri(match.uri, "the node's apt sources")
        elif not role.endswith("-security"):
            raise VzError(E.FS_BAD_TMPL, f"No archive for role {role!r}: the node's apt "
                          f"sources name none ending in /{role}",
                          hint=f"set VZPKG_MIRRORS=\"{role}=URI\" in vz.conf")
    return found
