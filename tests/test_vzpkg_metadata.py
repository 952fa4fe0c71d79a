"""vzpkg's metadata, archive sources and error paths: fast tests, no archive traffic.

The real builds, VEs and package commands are in test_debian_ve.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import BIN, Node

from pyvz.errors import E, VzError
from pyvz.templates import fixups, metadata, sources
from pyvz.templates.aptstate import classify_apt_failure
from pyvz.templates.packages import apt_argv, check_packages, parse_print_uris

SHIPPED = ["debian-12-x86_64-minimal", "debian-12-x86_64-default",
           "debian-13-x86_64-minimal", "debian-13-x86_64-default"]


# --- names and metadata -------------------------------------------------------------

def test_parse_name() -> None:
    tn = metadata.parse_name("debian-12-x86_64-minimal")
    assert (tn.os, tn.arch, tn.set) == ("debian-12", "x86_64", "minimal")
    for bad in ("debian", "debian-12-minimal", "debian-12-sparc-default", "../x-1-x86_64-a",
                "debian-12-x86_64-", "12-1-x86_64-default"):
        with pytest.raises(VzError) as err:
            metadata.parse_name(bad)
        assert err.value.code == E.INVALID_PARAMETER_VALUE


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_metadata_loads(tmp_path: Path, name: str) -> None:
    meta = metadata.load(str(tmp_path), name)
    assert meta.distribution == "debian"
    assert meta.arch == "amd64"
    suite = "bookworm" if "-12-" in name else "trixie"
    assert meta.suite == suite
    assert ("debian-security", f"{suite}-security") in meta.sources
    assert "iproute2" in meta.packages
    server = {"openssh-server", "cron", "rsyslog", "nginx"}
    if name.endswith("-default"):
        assert server <= set(meta.packages)
    else:
        assert not server & set(meta.packages)
    assert "systemd-sysv" in meta.packages_for("systemd")
    assert "sysvinit-core" in meta.packages_for("fallback")
    assert "systemd-sysv" not in meta.packages_for("fallback")


def test_digest_follows_everything_that_goes_in(tmp_path: Path) -> None:
    meta = metadata.load(str(tmp_path), "debian-12-x86_64-minimal")
    base = meta.digest("systemd")
    assert base == metadata.load(str(tmp_path), "debian-12-x86_64-minimal").digest("systemd")
    assert meta.digest("fallback") != base
    meta.packages.append("htop")
    assert meta.digest("systemd") != base


def _local(tmp_path: Path, files: dict[str, str]) -> str:
    d = tmp_path / "metadata"
    d.mkdir(exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)
    return str(tmp_path)


_CONF = ('DISTRIBUTION="debian"\nSOURCES="debian:bookworm"\nCOMPONENTS="main"\n'
         'ARCHITECTURES="x86_64"\nINIT_SYSTEMD="systemd-sysv"\nINIT_FALLBACK="sysvinit-core"\n')


def test_local_metadata_adds_an_os_and_a_set(tmp_path: Path) -> None:
    tdir = _local(tmp_path, {"myos-1.conf": _CONF,
                             "myos-1-web.list": "# comment\n@minimal\nnginx  # inline\n"})
    meta = metadata.load(tdir, "myos-1-x86_64-web")
    # @minimal comes from the shipped debian-minimal.list (the distribution's sets)
    assert "iproute2" in meta.packages and meta.packages[-1] == "nginx"
    assert len(meta.set_paths) == 2


@pytest.mark.parametrize(("files", "name", "code", "words"), [
    ({}, "nosuch-1-x86_64-default", E.OSTEMPLATE_NOT_FOUND, "No metadata for OS nosuch-1"),
    ({}, "debian-12-x86_64-nosuchset", E.OSTEMPLATE_NOT_FOUND, "No package set"),
    ({"bad-1.conf": _CONF.replace("debian:bookworm", "bookworm")}, "bad-1-x86_64-minimal",
     E.FS_BAD_TMPL, "is not ROLE:SUITE"),
    ({"bad-1.conf": _CONF.replace('"debian"', '"gentoo"', 1)}, "bad-1-x86_64-minimal",
     E.FS_BAD_TMPL, "not supported"),
    ({"bad-1.conf": _CONF + 'VARIANT="huge"\n'}, "bad-1-x86_64-minimal", E.FS_BAD_TMPL,
     "VARIANT"),
    ({"bad-1.conf": _CONF, "bad-1-x.list": "good\nBad_Name!\n"}, "bad-1-x86_64-x",
     E.FS_BAD_TMPL, "line 2"),
    ({"bad-1.conf": _CONF, "bad-1-a.list": "@b\n", "bad-1-b.list": "@a\n"},
     "bad-1-x86_64-a", E.FS_BAD_TMPL, "loop"),
    ({"bad-1.conf": _CONF, "bad-1-e.list": "# nothing\n"}, "bad-1-x86_64-e",
     E.FS_BAD_TMPL, "no packages"),
    ({"bad-1.conf": _CONF.replace("SOURCES", "XSOURCES")}, "bad-1-x86_64-minimal",
     E.FS_BAD_TMPL, "SOURCES is not set"),
    ({"bad-1.conf": _CONF}, "bad-1-i386-minimal", E.OSTEMPLATE_NOT_FOUND,
     "no architecture i386"),
])
def test_bad_metadata_is_one_clear_error(tmp_path: Path, files: dict[str, str], name: str,
                                         code: int, words: str) -> None:
    tdir = _local(tmp_path, files)
    with pytest.raises(VzError) as err:
        metadata.load(tdir, name)
    assert err.value.code == code
    assert words in err.value.message


# --- the node's apt sources ---------------------------------------------------------

def test_sources_one_line_and_deb822(tmp_path: Path) -> None:
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list").write_text(
        "# comment\ndeb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://m.example/debian/ bookworm main\n")
    (apt / "sources.list.d" / "sec.sources").write_text(
        "Types: deb deb-src\nURIs: http://s.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\nSigned-By:\n -----BEGIN PGP\n .\n\n"
        "Types: deb\nURIs: http://off.example/debian\nSuites: x\nEnabled: no\n")
    (apt / "sources.list.d" / "ignored.list.disabled").write_text(
        "deb http://other.example/debian x main\n")
    found = sources.read_node_sources(str(apt))
    assert [(s.uri, s.suites) for s in found] == [
        ("http://m.example/debian", ["bookworm"]),
        ("http://s.example/debian-security", ["bookworm-security"])]
    roles = sources.resolve_roles(["debian", "debian-security"], found)
    assert roles == {"debian": "http://m.example/debian",
                     "debian-security": "http://s.example/debian-security"}


def test_roles_overrides_and_missing(tmp_path: Path) -> None:
    found = [sources.AptSource("http://m.example/mirror/debian", ["trixie"]),
             sources.AptSource("http://x.example/sec", ["trixie-security"])]
    # a security archive is also found by its suite
    assert sources.resolve_roles(["debian-security"], found)["debian-security"] == \
        "http://x.example/sec"
    got = sources.resolve_roles(["debian"], found, "debian=http://127.0.0.1:9/debian")
    assert got == {"debian": "http://127.0.0.1:9/debian"}
    with pytest.raises(VzError) as err:
        sources.resolve_roles(["ubuntu"], found)
    assert err.value.code == E.FS_BAD_TMPL and "ubuntu" in err.value.message
    assert sources.resolve_roles(["ubuntu-security"], []) == {}  # only warned about
    with pytest.raises(VzError):
        sources.resolve_roles(["debian"], [sources.AptSource("ftp://x/debian", ["a"])])
    with pytest.raises(VzError):
        sources.resolve_roles(["debian"], [], "debian=http://a b")


def test_this_nodes_sources_name_a_debian_archive() -> None:
    """pyvz writes no mirror: on this node the archive comes from /etc/apt."""
    roles = sources.resolve_roles(["debian"], sources.read_node_sources())
    assert roles["debian"].startswith(("http://", "https://"))


# --- apt output, package arguments --------------------------------------------------

def test_print_uris_and_package_names() -> None:
    out = ("Reading package lists...\n"
           "'http://m.example/debian/pool/main/t/tree/tree_2.1.0-1_amd64.deb' "
           "tree_2.1.0-1_amd64.deb 52464 SHA256:ab12\n")
    assert parse_print_uris(out) == [
        ("http://m.example/debian/pool/main/t/tree/tree_2.1.0-1_amd64.deb",
         "tree_2.1.0-1_amd64.deb", 52464, "SHA256:ab12")]
    assert check_packages(["nginx", "libc6=2.36-9", "cron/bookworm"])
    for bad in ("-o", "--allow-unauthenticated", "a;b", "A", ""):
        with pytest.raises(VzError):
            check_packages([bad])
    assert apt_argv("update", [])[-1] == "dist-upgrade"
    assert apt_argv("update", ["cron"])[-2:] == ["--only-upgrade", "cron"]


def test_classify_apt_failures() -> None:
    err = classify_apt_failure(["Err:1 http://127.0.0.1:9/debian bookworm InRelease",
                                "  Could not connect to 127.0.0.1:9 (127.0.0.1). - connect "
                                "(111: Connection refused)"], "Building x")
    assert err.code == E.SYSTEM and "unreachable" in err.message
    err = classify_apt_failure(["dpkg: error: No space left on device"], "Building x")
    assert err.code == E.FS_NO_DISK_SPACE
    err = classify_apt_failure(["I: x", "E: Unable to locate package nosuch"], "Building x")
    assert "Unable to locate package nosuch" in err.message


# --- the tree fixups ----------------------------------------------------------------

def test_fixups(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    for d in ("etc/ssh/sshd_config.d", "run"):
        (root / d).mkdir(parents=True)
    (root / "etc/hostname").write_text("buildhost\n")
    (root / "run/resolv.conf").write_text("nameserver 10.0.0.1\n")
    (root / "etc/resolv.conf").symlink_to("/run/resolv.conf")  # absolute: inside the tree
    (root / "etc/ssh/sshd_config").write_text("Include /etc/ssh/sshd_config.d/*.conf\n")
    for key in ("ssh_host_rsa_key", "ssh_host_rsa_key.pub"):
        (root / "etc/ssh" / key).write_text("secret")
    (root / "etc/machine-id").write_text("0123456789abcdef\n")
    (root / "etc/inittab").write_text("id:2:initdefault:\n1:2345:respawn:/sbin/getty 38400 "
                                      "tty1\n")
    fixups.apply(str(root), "fallback")
    assert (root / "etc/hostname").read_text() == "localhost\n"
    assert (root / "etc/resolv.conf").read_text() == ""
    assert not list((root / "etc/ssh").glob("ssh_host_*"))
    assert "PermitRootLogin yes" in (root / fixups.SSHD_DROPIN).read_text()
    assert (root / "etc/machine-id").read_text() == ""
    inittab = (root / "etc/inittab").read_text()
    assert "#1:2345:respawn:/sbin/getty 38400 tty1" in inittab
    assert "console" in inittab.splitlines()[-1]
    assert "localhost" in (root / "etc/hosts").read_text()


def test_installed_packages() -> None:
    status = ("Package: a\nStatus: install ok installed\nVersion: 1.0\n\n"
              "Package: b\nStatus: deinstall ok config-files\nVersion: 2\n\n"
              "Package: c\nStatus: install ok installed\nVersion: 3:4~b\nDescription: x\n"
              " Package: fake\n")
    assert fixups.installed_packages(status) == {"a": "1.0", "c": "3:4~b"}


# --- the commands: bad input and broken archives --------------------------------------

def _vzpkg(node: Node, *args: str, timeout: float = 120,
           prog: str = "vzpkg") -> subprocess.CompletedProcess[str]:
    return node.run(prog, *args, timeout=timeout)


def test_cli_bad_input(fresh_node: Node) -> None:
    node = fresh_node
    r = _vzpkg(node, "cache", "debian-12-bogus")
    assert r.returncode == E.INVALID_PARAMETER_VALUE and "Bad OS template name" in r.stderr
    r = _vzpkg(node, "cache", "nosuch-9-x86_64-default")
    assert r.returncode == E.OSTEMPLATE_NOT_FOUND
    assert len(r.stderr.strip().splitlines()) == 1  # one line, no traceback
    r = _vzpkg(node, "cache", "debian-12-x86_64-default", "--init", "upstart")
    assert r.returncode == E.INVALID_PARAMETER_VALUE
    r = _vzpkg(node, "frobnicate")
    assert r.returncode == E.INVALID_PARAMETER_SYNTAX
    r = _vzpkg(node, "install", "101")
    assert r.returncode == E.NOTENOUGHPARAMS
    r = _vzpkg(node, "install", "101", "--oops", "x")
    assert r.returncode == E.INVALID_PARAMETER_SYNTAX
    r = _vzpkg(node, "remove-cache", "debian-12-x86_64-default")
    assert r.returncode == E.OSTEMPLATE_NOT_FOUND
    r = _vzpkg(node, "install", "1234", "tree")
    assert r.returncode == E.NOVECONFIG
    r = _vzpkg(node, "--help")
    assert r.returncode == 0 and "vzpkg cache" in r.stdout
    assert not (node.root / "vz/template/cache").exists() or \
        not list((node.root / "vz/template/cache").glob("*.tar*"))


def test_list_shows_metadata_and_caches(fresh_node: Node) -> None:
    node = fresh_node
    r = _vzpkg(node, "list")
    assert r.returncode == 0
    names = r.stdout.split()
    assert set(SHIPPED) <= set(names)
    assert _vzpkg(node, "-c", prog="vzpkgls").stdout.split() == []
    cache = node.root / "vz/template/cache"
    cache.mkdir(parents=True)
    (cache / "centos-7-x86_64-foreign.tar.gz").write_bytes(b"")
    assert _vzpkg(node, "list", "--cached").stdout.split() == ["centos-7-x86_64-foreign"]
    r = _vzpkg(node, "info", "centos-7-x86_64-foreign")
    assert r.returncode == 0 and "not by vzpkg" in r.stdout
    r = _vzpkg(node, "-r", "centos-7-x86_64-foreign", prog="vzpkgcache")
    assert r.returncode == 0 and not (cache / "centos-7-x86_64-foreign.tar.gz").exists()


def _set_vz_conf(node: Node, **values: str) -> None:
    node.vzctl("status", "101")  # writes the default vz.conf
    conf = node.root / "etc/vz/vz.conf"
    old = conf.read_text() if conf.exists() else ""
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(old + "".join(f'{k}="{v}"\n' for k, v in values.items()))


@pytest.mark.slow
def test_unreachable_archive_leaves_no_cache(fresh_node: Node) -> None:
    """Port 9 on loopback: nothing listens, no packet leaves the machine."""
    node = fresh_node
    _set_vz_conf(node, VZPKG_MIRRORS="debian=http://127.0.0.1:9/debian "
                 "debian-security=http://127.0.0.1:9/debian-security")
    start = time.monotonic()
    r = _vzpkg(node, "cache", "debian-12-x86_64-minimal")
    assert r.returncode == E.SYSTEM, r.stderr
    assert "unreachable" in r.stderr and "127.0.0.1:9" in r.stderr
    assert time.monotonic() - start < 60
    cache = node.root / "vz/template/cache"
    assert sorted(p.name for p in cache.iterdir()) == [".debian-12-x86_64-minimal.lock"]


@pytest.mark.slow
def test_killed_build_leaves_nothing_and_is_repaired(fresh_node: Node) -> None:
    """SIGKILL in the middle: the bootstrap dies with the command; the next run cleans."""
    node = fresh_node
    proc = subprocess.Popen([str(BIN / "vzpkg"), "cache", "debian-12-x86_64-minimal"],
                            env=node.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    cache = node.root / "vz/template/cache"
    build = cache / ".debian-12-x86_64-minimal.build"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (build / "rootfs/var").exists():
        time.sleep(0.2)
    assert (build / "rootfs").exists()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # the bootstrap tree's processes are gone with it (pdeathsig + pid namespace)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _build_processes(build):
        time.sleep(0.1)
    assert not _build_processes(build)
    assert not list(cache.glob("*.tar*")) and not list(cache.glob(".*.manifest"))
    assert build.exists()  # the remains, until the next run
    # the next run (here failing fast on an unreachable archive) removes them first
    _set_vz_conf(node, VZPKG_MIRRORS="debian=http://127.0.0.1:9/debian")
    r = _vzpkg(node, "cache", "debian-12-x86_64-minimal")
    assert r.returncode == E.SYSTEM
    assert not build.exists()
    assert not list(cache.glob("*.tar*"))


def _build_processes(build: Path) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if str(build).encode() in cmdline:
            found.append(int(entry))
    return found


@pytest.mark.slow
def test_full_disk_leaves_no_cache(fresh_node: Node) -> None:
    """TEMPLATE on a 48 MiB tmpfs (this test's own mount): the build runs out of space."""
    node = fresh_node
    template = node.root / "vz/template"
    template.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=755", "pyvz-test-full",
                    str(template)], check=True)
    try:
        r = _vzpkg(node, "cache", "debian-12-x86_64-minimal", timeout=300)
        assert r.returncode == E.FS_NO_DISK_SPACE, r.stdout + r.stderr
        assert "no space left on device" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        cache = template / "cache"
        assert sorted(p.name for p in cache.iterdir()) == [".debian-12-x86_64-minimal.lock"]
    finally:
        subprocess.run(["umount", str(template)], check=True)
