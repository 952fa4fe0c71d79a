"""The built-in busybox template, built from the host's real busybox-static."""

from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
import tarfile
import threading
import time

import pytest

from pyvz.errors import E, VzError
from pyvz.templates import busybox as bb

BUSYBOX = "/bin/busybox"

pytestmark = pytest.mark.skipif(not os.path.isfile(BUSYBOX),
                                reason="busybox-static is not installed")


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> str:
    return bb.build(str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def members(tarball: str) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tarball) as tar:
        return {m.name.removeprefix("./"): m for m in tar.getmembers()}


def _text(tarball: str, name: str) -> str:
    with tarfile.open(tarball) as tar:
        f = tar.extractfile("./" + name)
        assert f is not None
        return f.read().decode()


def _applets() -> list[str]:
    out = subprocess.run([BUSYBOX, "--list-full"], check=True, capture_output=True,
                         text=True).stdout
    return [line for line in out.split() if line]


def test_build_writes_only_the_tarball(tmp_path: str) -> None:
    path = bb.build(str(tmp_path))
    assert path == os.path.join(str(tmp_path), "busybox.tar.gz")
    assert os.listdir(tmp_path) == ["busybox.tar.gz"]
    assert os.stat(path).st_mode & 0o777 == 0o644


def test_build_is_fast_and_reproducible(tmp_path: str) -> None:
    start = time.monotonic()
    a = bb.build(str(tmp_path))
    elapsed = time.monotonic() - start
    with open(a, "rb") as f:
        first = f.read()
    with open(bb.build(str(tmp_path)), "rb") as f:
        assert f.read() == first
    assert elapsed < 1.0


def test_tar_lists_every_member_as_root(tarball: str) -> None:
    out = subprocess.run(["tar", "--numeric-owner", "-tzvf", tarball], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert len(out) > 250
    owners = {line.split()[1] for line in out}
    assert owners == {"0/0"}
    names = {line.split()[5] for line in out}
    for need in ("./sbin/init", "./bin/busybox", "./etc/inittab", "./etc/init.d/rcS",
                 "./etc/init.d/rcK", "./etc/shadow", "./etc/passwd", "./tmp/"):
        assert need in names


def test_busybox_binary_and_applet_links(members: dict[str, tarfile.TarInfo]) -> None:
    binary = members["bin/busybox"]
    assert binary.isreg() and binary.mode == 0o755
    assert binary.size == os.path.getsize(BUSYBOX)
    for applet in _applets():
        if applet in ("bin/busybox", "linuxrc"):
            continue
        m = members[applet]
        assert m.issym(), applet
        # Every link, followed inside the VE, lands on /bin/busybox.
        target = posixpath.normpath(posixpath.join(posixpath.dirname(applet), m.linkname))
        assert target == "bin/busybox", applet
    assert members["sbin/init"].linkname == "../bin/busybox"


def test_directories(members: dict[str, tarfile.TarInfo]) -> None:
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "etc/init.d", "home", "var/log",
              "var/spool/cron/crontabs", "run", "proc", "sys", "dev", "mnt", "opt", "srv",
              "lib"):
        assert members[d].isdir(), d
    assert members["root"].mode == 0o700
    assert members["tmp"].mode == 0o1777
    assert members["var/run"].issym() and members["var/run"].linkname == "../run"
    # Parents come before their children, so plain tar extraction works.
    order = list(members)
    assert order.index("etc") < order.index("etc/init.d") < order.index("etc/init.d/rcS")


def test_inittab(tarball: str) -> None:
    lines = [line for line in _text(tarball, "etc/inittab").splitlines()
             if line and not line.startswith("#")]
    assert "::sysinit:/etc/init.d/rcS" in lines
    assert "::ctrlaltdel:/sbin/reboot" in lines
    assert "::shutdown:/etc/init.d/rcK" in lines
    getty = [line for line in lines if ":respawn:" in line]
    assert len(getty) == 1 and "/sbin/getty" in getty[0] and " console" in getty[0]


def test_rc_scripts_are_executable_posix_sh(tarball: str, members: dict[str, tarfile.TarInfo],
                                            tmp_path: str) -> None:
    for name in ("etc/init.d/rcS", "etc/init.d/rcK"):
        assert members[name].mode == 0o755
        text = _text(tarball, name)
        assert text.startswith("#!/bin/sh\n")
        script = os.path.join(str(tmp_path), os.path.basename(name))
        with open(script, "w") as f:
            f.write(text)
        check = subprocess.run([BUSYBOX, "sh", "-n", script], capture_output=True)
        assert check.returncode == 0, check.stderr
    rcs = _text(tarball, "etc/init.d/rcS")
    for need in ("/etc/hostname", "ip link set lo up", "syslogd", "/var/log/messages",
                 "crond", "/etc/init.d/S??*", "start"):
        assert need in rcs
    assert "stop" in _text(tarball, "etc/init.d/rcK")


def test_syntax_check_catches_errors(tmp_path: str) -> None:
    # The check above would be worthless if busybox sh -n accepted anything.
    bad = os.path.join(str(tmp_path), "bad")
    with open(bad, "w") as f:
        f.write("#!/bin/sh\nif true; then\n  echo x\n")
    assert subprocess.run([BUSYBOX, "sh", "-n", bad], capture_output=True).returncode != 0


def test_accounts(tarball: str, members: dict[str, tarfile.TarInfo]) -> None:
    passwd = _text(tarball, "etc/passwd").splitlines()
    assert passwd[0] == "root:x:0:0:root:/root:/bin/sh"
    assert any(line.startswith("nobody:") for line in passwd)
    group = {line.split(":")[0]: line.split(":")[2]
             for line in _text(tarball, "etc/group").splitlines()}
    assert group["root"] == "0" and group["tty"] == "5" and "nogroup" in group
    shadow = _text(tarball, "etc/shadow").splitlines()
    root = shadow[0].split(":")
    assert root[0] == "root" and root[1].startswith("!")
    assert members["etc/shadow"].mode in (0o600, 0o640)
    # Every passwd user has a shadow entry, so a later password goes to shadow.
    assert {p.split(":")[0] for p in passwd} == {s.split(":")[0] for s in shadow}


def test_etc_files(tarball: str) -> None:
    version = subprocess.run([BUSYBOX, "--help"], capture_output=True, text=True) \
        .stdout.split()[1].lstrip("v")
    release = dict(line.split("=", 1) for line in _text(tarball, "etc/os-release").splitlines())
    assert release["ID"] == "busybox"
    assert release["VERSION_ID"] == version
    assert "BusyBox" in _text(tarball, "etc/os-release")
    hosts = _text(tarball, "etc/hosts")
    assert "127.0.0.1\tlocalhost" in hosts and "::1\tlocalhost" in hosts
    assert _text(tarball, "etc/resolv.conf") == ""
    assert _text(tarball, "etc/hostname").strip() in ("", "localhost")
    assert "/bin/sh" in _text(tarball, "etc/shells").split()
    profile = _text(tarball, "etc/profile")
    assert "PATH=" in profile and "PS1=" in profile


def test_not_static_is_refused(tmp_path: str) -> None:
    dynamic = shutil.which("ls")
    assert dynamic is not None
    with pytest.raises(VzError) as ei:
        bb.build(str(tmp_path), busybox=dynamic)
    assert ei.value.code == E.OSTEMPLATE_NOT_FOUND
    assert "dynamically linked" in ei.value.message
    assert ei.value.message.startswith("Cannot build the busybox template:")
    assert ei.value.message.endswith("(install busybox-static)")
    assert os.listdir(tmp_path) == []


def test_missing_or_not_elf_is_refused(tmp_path: str) -> None:
    with pytest.raises(VzError) as ei:
        bb.build(str(tmp_path), busybox=str(tmp_path) + "/nope")
    assert ei.value.code == E.OSTEMPLATE_NOT_FOUND and "not found" in ei.value.message
    script = os.path.join(str(tmp_path), "script")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n")
    with pytest.raises(VzError) as ei:
        bb.build(str(tmp_path), busybox=script)
    assert ei.value.code == E.OSTEMPLATE_NOT_FOUND and "not an ELF" in ei.value.message
    assert os.listdir(tmp_path) == ["script"]


def test_failed_build_leaves_nothing(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(version: str) -> list[tuple[str, int, str]]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bb, "_files", boom)
    with pytest.raises(VzError):
        bb.build(str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_ensure_builds_once(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = os.path.join(str(tmp_path), "cache")
    real_build = bb.build
    calls = []

    def slow_build(cache_dir: str, busybox: str = BUSYBOX) -> str:
        calls.append(cache_dir)
        time.sleep(0.2)
        return real_build(cache_dir, busybox)

    monkeypatch.setattr(bb, "build", slow_build)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(bb.ensure(cache)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [cache]
    assert results == [os.path.join(cache, "busybox.tar.gz")] * 4
    assert bb.ensure(cache) == results[0] and len(calls) == 1


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare")
def test_rc_scripts_run(tarball: str, tmp_path: str) -> None:
    """rcS and rcK really boot and stop services in a throwaway namespace."""
    root = os.path.join(str(tmp_path), "root")
    os.mkdir(root)
    subprocess.run(["tar", "--numeric-owner", "-xpzf", tarball, "-C", root], check=True)
    with open(os.path.join(root, "etc/hostname"), "w") as f:
        f.write("bbtest\n")
    for name in ("S10one", "S20two", "K50kill"):
        path = os.path.join(root, "etc/init.d", name)
        with open(path, "w") as f:
            f.write(f'#!/bin/sh\necho "{name} $1" >> /tmp/order\n')
        os.chmod(path, 0o755)
    script = ("/etc/init.d/rcS; sleep 0.2; hostname; ip -o link show lo; "
              "pidof syslogd >/dev/null && echo syslogd-up; pidof crond >/dev/null && "
              "echo crond-up; /etc/init.d/rcK; sleep 0.2; "
              "pidof syslogd crond || echo all-stopped; cat /tmp/order")
    out = subprocess.run(["unshare", "--fork", "--pid", "--mount", "--uts", "--net",
                          "chroot", root, "/bin/sh", "-c", script], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "bbtest"
    assert ",UP" in lines[1]
    assert lines[2:5] == ["syslogd-up", "crond-up", "all-stopped"]
    assert lines[5:] == ["S10one start", "S20two start", "K50kill stop", "S20two stop",
                         "S10one stop"]
