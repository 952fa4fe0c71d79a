"""Real Debian VEs from vzpkg-built caches: systemd (or the fallback init) as PID 1, sshd,
cron, syslog and a web server running, ssh logins, and packages installed with vzpkg.

The caches are built once, from the Debian archive the node's apt sources name, into
``/var/cache/pyvz-test/template`` (``PYVZ_TEST_TEMPLATE_DIR``), and reused by later runs:
there ``vzpkg cache`` only checks the archive for updates (a few seconds) and rebuilds
only if it finds some.  Every VE lives on a node of this module's own and is destroyed
at the end; no network traffic leaves a VE (they have no network): ssh is tested on each
VE's own loopback.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Node, VeHandle

from pyvz.errors import E

pytestmark = pytest.mark.slow

SHARED = Path(os.environ.get("PYVZ_TEST_TEMPLATE_DIR", "/var/cache/pyvz-test/template"))
DEFAULT = "debian-12-x86_64-default"
MINIMAL = "debian-12-x86_64-minimal"
PASSWORD = "pyvz-Test-pw1"


def _cache(node: Node, name: str, *args: str) -> str:
    r = node.run("vzpkg", "cache", name, *args, timeout=1500)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _prune_layers() -> None:
    """Drop unpacked layers of caches that were rebuilt since (this directory is the
    tests' own; a layer is only a copy of its cache)."""
    from pyvz.storage.overlay import layer_name

    layers = SHARED / "layers"
    if not layers.is_dir():
        return
    current = {layer_name(str(p), 100000, 100000) for p in (SHARED / "cache").glob("*.tar*")}
    for d in layers.iterdir():
        if d.is_dir() and d.name not in current and not d.name.endswith(".partial") and \
                time.time() - d.stat().st_mtime > 3600:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    if os.geteuid() != 0:
        pytest.skip("real-VE tests need root")
    root = tmp_path_factory.mktemp("debnode")
    node = Node(root)
    node.vzctl("status", "101")  # writes the default vz.conf
    conf = root / "etc/vz/vz.conf"
    conf.write_text(conf.read_text() + f'TEMPLATE="{SHARED}"\n')
    SHARED.mkdir(parents=True, exist_ok=True)
    try:
        _cache(node, DEFAULT)
        _prune_layers()
        yield node
    finally:
        node.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _make(node: Node, template: str = DEFAULT, *args: str, start: bool = True) -> VeHandle:
    ve = VeHandle(node, node.new_ctid())
    r = node.vzctl("create", str(ve.ctid), "--ostemplate", template, *args, timeout=300)
    assert r.returncode == 0, r.stderr
    if start:
        r = ve.vzctl("start", "--wait", timeout=300)
        assert r.returncode == 0, r.stderr
    return ve


@pytest.fixture(scope="module")
def server(deb: Node) -> Iterator[VeHandle]:
    """One running Debian server VE, shared by the read-mostly tests."""
    ve = _make(deb, DEFAULT, "--hostname", "web1.example.org")
    yield ve
    ve.vzctl("stop", "--fast", timeout=120)
    ve.vzctl("destroy", timeout=120)


def _sh(ve: VeHandle, script: str, timeout: float = 120) -> tuple[int, str]:
    r = ve.node.vzctl("exec2", str(ve.ctid), script, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def _poll(ve: VeHandle, script: str, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _sh(ve, script)[0] == 0:
            return True
        time.sleep(0.3)
    return False


# --- caches -------------------------------------------------------------------------

def test_cache_is_only_rebuilt_when_something_changed(deb: Node) -> None:
    cache = SHARED / "cache" / f"{DEFAULT}.tar.gz"
    before = cache.stat().st_mtime_ns
    out = _cache(deb, DEFAULT)
    assert "is up to date" in out
    assert cache.stat().st_mtime_ns == before
    info = deb.run("vzpkg", "info", DEFAULT).stdout
    assert "init:      systemd" in info and "tool:      mmdebstrap" in info
    # the archive address came from the node's own apt sources
    from pyvz.templates.sources import read_node_sources

    assert any(s.uri in info for s in read_node_sources())
    assert DEFAULT in deb.run("vzpkg", "list", "-c").stdout.split()
    # no node identity and no shared secret in the cache
    import subprocess

    names = subprocess.run(["tar", "-tzf", str(cache)], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert not [n for n in names if "ssh_host_" in n]
    assert "./var/lib/apt/lists/" not in [n for n in names if n.endswith("_Packages")]
    hostname = subprocess.run(["tar", "-xzOf", str(cache), "./etc/hostname"],
                              capture_output=True, text=True, check=True).stdout
    assert hostname == "localhost\n"


# --- a Debian server ----------------------------------------------------------------

def test_boots_systemd_with_server_daemons(server: VeHandle) -> None:
    _, out = _sh(server, "readlink /proc/1/exe; systemctl is-system-running; "
                    "systemctl is-active ssh cron rsyslog nginx; hostname")
    lines = out.split()
    assert lines[0].endswith("/systemd"), out
    assert lines[1] == "running", out
    assert lines[2:6] == ["active"] * 4, out
    assert lines[6] == "web1.example.org"


def test_syslog_cron_and_web(server: VeHandle) -> None:
    tag = f"pyvz-{os.getpid()}"
    _sh(server, f"logger -t {tag} hello-from-the-test")
    assert _poll(server, f"grep -q '{tag}.*hello-from-the-test' /var/log/syslog")
    # cron runs @reboot jobs when it starts for the first time in a boot
    _sh(server, "echo '@reboot root echo ran > /tmp/cron-ran' > /etc/cron.d/pyvz-test; "
        "rm -f /run/crond.reboot; systemctl restart cron")
    assert _poll(server, "grep -q ran /tmp/cron-ran")
    r = server.node.vzctl("exec3", str(server.ctid), "/bin/bash", "-c",
                          "exec 3<>/dev/tcp/127.0.0.1/80; "
                          "printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3")
    code, out = r.returncode, r.stdout
    assert code == 0 and "200 OK" in out and "nginx" in out


_SSH = ("printf '#!/bin/sh\\necho %s\\n' > /tmp/askpass; chmod 700 /tmp/askpass; "
        "SSH_ASKPASS=/tmp/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none setsid "
        "ssh -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=/tmp/known "
        "-o PreferredAuthentications=password -o NumberOfPasswordPrompts=1 "
        "root@127.0.0.1 'echo LOGIN-OK $(id -un)' </dev/null")


def test_userpasswd_then_ssh(server: VeHandle) -> None:
    r = server.vzctl("set", "--userpasswd", f"root:{PASSWORD}")
    assert r.returncode == 0, r.stderr
    code, out = _sh(server, _SSH % PASSWORD)
    assert code == 0 and "LOGIN-OK root" in out, out
    code, out = _sh(server, _SSH % "wrong-password")
    assert code != 0 and "LOGIN-OK" not in out and "Permission denied" in out


def test_each_ve_has_its_own_ssh_host_keys(deb: Node, server: VeHandle) -> None:
    other = _make(deb, DEFAULT, start=False)
    try:
        key = "etc/ssh/ssh_host_ed25519_key.pub"
        mine = _sh(server, f"cat /{key}")[1]
        assert mine.startswith("ssh-ed25519 ")
        # the stopped VE's key, read through a mount of its root
        assert other.vzctl("mount").returncode == 0
        theirs = (deb.ve_root(other.ctid) / key).read_text()
        assert theirs.startswith("ssh-ed25519 ") and theirs != mine
        assert other.vzctl("umount").returncode == 0
    finally:
        other.vzctl("destroy")


def test_systemd_gets_a_cgroup_tree_but_not_the_limits(deb: Node, server: VeHandle) -> None:
    code, out = _sh(server, "stat -f -c %T /sys/fs/cgroup; cat /proc/1/cgroup | tail -1; "
                    "mkdir /sys/fs/cgroup/probe && rmdir /sys/fs/cgroup/probe && echo made")
    assert code == 0 and "cgroup2fs" in out and "0::/init.scope" in out and "made" in out
    # the limits stay the node's: files of the VE's own group, and every v1 controller
    code, out = _sh(server, "echo 1 > /sys/fs/cgroup/cgroup.max.descendants 2>&1; "
                    "ls /sys/fs/cgroup/memory 2>&1; echo done")
    assert "Permission denied" in out and "No such file" in out
    unified = [d for d in deb.cgroup_dirs(server.ctid) if "unified" in str(d) or
               d.parent.parent == Path("/sys/fs/cgroup")]
    assert unified and any((d / "init.scope").is_dir() for d in unified)
    for d in deb.cgroup_dirs(server.ctid):
        if d.exists() and d not in unified:
            assert d.stat().st_uid == 0  # v1 directories: not handed over


def test_stop_removes_the_delegated_tree(deb: Node) -> None:
    ve = _make(deb)
    try:
        assert any(d.exists() and any(d.iterdir()) for d in deb.cgroup_dirs(ve.ctid))
        r = ve.vzctl("stop", timeout=180)
        assert r.returncode == 0, r.stderr
        assert not any(d.exists() for d in deb.cgroup_dirs(ve.ctid))
        # and it starts again
        assert ve.vzctl("start", "--wait", timeout=120).returncode == 0
        assert _sh(ve, "systemctl is-system-running")[1].strip() == "running"
    finally:
        ve.vzctl("stop", "--fast", timeout=120)
        ve.vzctl("destroy", timeout=120)


def test_free_and_uptime_show_the_ves_own(deb: Node) -> None:
    """Issue 3's "inside-VE free shows the VE's RAM", with procps (lxcfs's /proc views)."""
    ve = _make(deb, DEFAULT, start=False)
    try:
        r = ve.vzctl("set", "--ram", "256M", "--save")
        assert r.returncode == 0, r.stderr
        assert ve.vzctl("start", "--wait", timeout=120).returncode == 0
        rc, out = _sh(ve, "free -k")
        mem = next(line for line in out.splitlines() if line.startswith("Mem:")).split()
        assert int(mem[1]) == 256 * 1024, out
        rc, out = _sh(ve, "cat /proc/uptime")
        assert float(out.split()[0]) < 120, out   # the VE's uptime, not the node's
        rc, out = _sh(ve, "nproc; uptime")
        assert rc == 0 and "load average" in out, out
    finally:
        ve.vzctl("stop", "--fast", timeout=120)
        ve.vzctl("destroy", timeout=120)


# --- packages -----------------------------------------------------------------------

def test_vzpkg_remove_and_vzyum_install(deb: Node, server: VeHandle) -> None:
    r = deb.run("vzpkg", "remove", str(server.ctid), "cron", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "install ok installed" not in _sh(server, "dpkg-query -W -f='${Status}' cron")[1]
    r = deb.run("vzyum", str(server.ctid), "-y", "install", "cron", timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Setting up cron" in r.stdout
    _, out = _sh(server, "dpkg -s cron | grep Status; systemctl is-active cron; "
                    "grep -c apt/archives /proc/self/mountinfo")
    assert "install ok installed" in out and "active" in out
    assert out.split()[-1] == "0"  # the shared cache was the command's alone
    shared = SHARED / "pkgcache" / "u100000"
    debs = list(shared.glob("cron_*.deb"))
    assert debs and debs[0].stat().st_uid == 100000
    assert deb.run("vzpkgls", str(server.ctid)).stdout.strip() == DEFAULT
    # lists refreshed on the node, then upgrades (none: the cache was just checked)
    r = deb.run("vzpkg", "update", str(server.ctid), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " upgraded, " in r.stdout
    r = deb.run("vzyum", str(server.ctid), "check-update", timeout=600)
    assert r.returncode in (0, 100), r.stderr


def test_vzpkg_errors(deb: Node, server: VeHandle) -> None:
    r = deb.run("vzpkg", "install", str(server.ctid), "no-such-package-pyvz")
    assert r.returncode == E.INSTALL_APPS_ERROR and "no-such-package-pyvz" in r.stderr
    r = deb.run("vzpkg", "install", str(server.ctid), "-o")
    assert r.returncode == E.INVALID_PARAMETER_SYNTAX
    r = deb.run("vzpkg", "install", str(server.ctid), "Bad!")
    assert r.returncode == E.INVALID_PARAMETER_VALUE
    stopped = _make(deb, DEFAULT, start=False)
    try:
        r = deb.run("vzpkg", "install", str(stopped.ctid), "tree")
        assert r.returncode == E.VE_NOT_RUNNING
    finally:
        stopped.vzctl("destroy")
    bb = VeHandle(deb, deb.new_ctid())
    deb.vzctl("create", str(bb.ctid), "--ostemplate", "busybox", check=True)
    try:
        assert bb.vzctl("start", "--wait").returncode == 0
        r = deb.run("vzpkg", "install", str(bb.ctid), "tree")
        assert r.returncode == E.OSTEMPLATE_NOT_FOUND
        assert len(r.stderr.strip().splitlines()) == 1
    finally:
        bb.vzctl("stop", "--fast")
        bb.vzctl("destroy")


# --- the fallback init --------------------------------------------------------------

def test_fallback_init_boots_and_says_so(deb: Node) -> None:
    out = _cache(deb, MINIMAL, "--init", "fallback")
    if "created" in out or "updated" in out:
        assert "init: sysvinit-core" in out
    ve = _make(deb, MINIMAL)
    try:
        _, out = _sh(ve, "readlink /proc/1/exe; ps -eo args")
        assert out.split()[0] == "/usr/sbin/init" or out.split()[0] == "/sbin/init", out
        assert "getty -L 115200 console" in out
        assert "systemd" not in out
        r = ve.vzctl("stop", timeout=180)
        assert r.returncode == 0, r.stderr
    finally:
        ve.vzctl("stop", "--fast", timeout=120)
        ve.vzctl("destroy", timeout=120)


def test_debian_13_boots_systemd(deb: Node) -> None:
    name = "debian-13-x86_64-minimal"
    _cache(deb, name, "--init", "systemd")
    ve = _make(deb, name)
    try:
        _, out = _sh(ve, "readlink /proc/1/exe; systemctl is-system-running; "
                     "cut -d. -f1 /etc/debian_version")
        assert out.split() == ["/usr/lib/systemd/systemd", "running", "13"], out
    finally:
        ve.vzctl("stop", "--fast", timeout=120)
        ve.vzctl("destroy", timeout=120)
