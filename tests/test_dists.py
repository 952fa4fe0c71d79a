"""Per-distribution in-VE setup, run against real files in a scratch root."""

from __future__ import annotations

import ctypes
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyvz.dists import DISTRIBUTIONS, dist_name, for_template
from pyvz.dists.base import HOSTS_BEGIN, HOSTS_END, Dist, randomize_cron, read_file, resolve
from pyvz.dists.busybox import Busybox
from pyvz.dists.crypt import check_user, crypt_password, parse_userpasswd
from pyvz.dists.debian import Debian
from pyvz.errors import E, VzError

TODAY = str(int(time.time()) // 86400)

PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
SHADOW = """\
root::19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
alice:$6$abc$def:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
"""
GROUP = """\
root:x:0:
daemon:x:1:
users:x:100:
alice:x:1000:
nogroup:x:65534:
"""
GSHADOW = "root:*::\nalice:!::\n"
HOSTS = """\
127.0.0.1\tlocalhost
127.0.1.1\toldname.example.com oldname

# The following lines are desirable for IPv6 capable hosts
::1     localhost ip6-localhost ip6-loopback
10.9.9.9 db.internal db
"""
RESOLV = """\
# written by the template
search old.example
nameserver 9.9.9.9
nameserver 1.1.1.1
options ndots:2 timeout:1
"""
CRONTAB = """\
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

# m h dom mon dow user\tcommand
17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly
25 6\t* * *\troot\ttest -x /usr/sbin/anacron || run-parts --report /etc/cron.daily
47 6\t* * 7\troot\ttest -x /usr/sbin/anacron || run-parts --report /etc/cron.weekly
52 6\t1 * *\troot\ttest -x /usr/sbin/anacron || run-parts --report /etc/cron.monthly
*/5 * * * * root echo five
@reboot root echo boot
"""


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "ve"
    _write(r, "etc/passwd", PASSWD)
    _write(r, "etc/shadow", SHADOW, 0o640)
    _write(r, "etc/group", GROUP)
    _write(r, "etc/gshadow", GSHADOW, 0o640)
    _write(r, "etc/hosts", HOSTS)
    _write(r, "etc/resolv.conf", RESOLV)
    _write(r, "etc/hostname", "oldname\n")
    _write(r, "etc/mailname", "oldname.example.com\n")
    _write(r, "etc/skel/.bashrc", "# bashrc\n")
    _write(r, "etc/skel/.config/app.conf", "x=1\n", 0o600)
    os.symlink(".bashrc", r / "etc/skel/.bashrc-link")
    _write(r, "etc/crontab", CRONTAB)
    _write(r, "usr/bin/bash", "", 0o755)
    os.symlink("usr/bin", r / "bin")
    (r / "home/alice").mkdir(parents=True)
    return r


def _read(root: Path, rel: str) -> str:
    return (root / rel).read_text()


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.is_symlink()}


# --- registry ---------------------------------------------------------------------------

@pytest.mark.parametrize(("ostemplate", "name"), [
    ("debian-12-x86_64-minimal", "debian"),
    ("debian-12-x86_64", "debian"),
    ("debian", "debian"),
    ("Debian-12", "debian"),
    ("ubuntu-22.04-x86_64", "ubuntu"),
    ("busybox", "busybox"),
    ("centos-7-x86_64", "default"),
    ("debianish-12", "default"),
    ("", "default"),
    (None, "default"),
])
def test_dist_name(ostemplate: str | None, name: str) -> None:
    assert dist_name(ostemplate) == name


def test_for_template_classes() -> None:
    assert type(for_template("debian-12-x86_64-minimal")) is Debian
    assert type(for_template("ubuntu-24.04")) is Debian
    assert type(for_template("busybox")) is Busybox
    assert type(for_template("fedora-39")) is Dist
    assert type(for_template(None)) is Dist
    assert for_template("debian-12") is for_template("debian-11")
    assert set(DISTRIBUTIONS) >= {"default", "debian", "ubuntu", "busybox"}


def test_stop_commands() -> None:
    for dist in (Dist(), Debian(), Busybox()):
        assert dist.halt_argv == ["halt"]
        assert dist.reboot_argv == ["reboot"]


def test_import_is_light_and_lazy() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import pyvz.dists\n"
        "assert 'pyvz.dists.debian' not in sys.modules\n"
        "import pyvz.dists.base, pyvz.dists.debian, pyvz.dists.busybox, pyvz.dists.crypt\n"
        "heavy = {'typing', 'dataclasses', 'logging', 'subprocess', 're', 'ctypes', "
        "'random', 'tempfile', 'shutil'}\n"
        "print(sorted((set(sys.modules) - before) & heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# --- files under root -------------------------------------------------------------------

def test_resolve_stays_inside_root(tmp_path: Path) -> None:
    r = tmp_path / "ve"
    (r / "etc").mkdir(parents=True)
    (r / "real").write_text("inside\n")
    os.symlink("/real", r / "etc/abs")          # absolute: means the VE's /real
    os.symlink("../../../../real", r / "etc/up")  # ".." stops at the VE's root
    os.symlink("loop", r / "etc/loop")
    assert resolve(str(r), "etc/abs") == f"{r}/real"
    assert resolve(str(r), "etc/up") == f"{r}/real"
    assert resolve(str(r), "etc/loop") is None
    assert resolve(str(r), "etc/missing") is None
    assert read_file(str(r), "etc/abs") == "inside\n"
    # In production root is "/" (the VE's own root): plain paths come out.
    assert resolve("/", "") == "/"
    assert resolve("/", "proc/self/..") == "/proc"


def test_symlinked_file_is_replaced_not_followed(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-hosts"
    outside.write_text("must not change\n")
    (root / "etc/hosts").unlink()
    # An absolute link to a path that exists on the test host but not in the VE.
    os.symlink(str(outside), root / "etc/hosts")
    Dist().set_hostname(str(root), "web.example.com", ["10.0.0.5"])
    assert outside.read_text() == "must not change\n"
    assert not (root / "etc/hosts").is_symlink()
    assert "10.0.0.5\tweb.example.com web" in _read(root, "etc/hosts")


# --- hostname ---------------------------------------------------------------------------

def test_set_hostname(root: Path) -> None:
    Dist().set_hostname(str(root), "web.example.com", ["10.0.0.5/24", "10.0.0.6"])
    assert _read(root, "etc/hostname") == "web.example.com\n"
    hosts = _read(root, "etc/hosts")
    assert hosts == HOSTS + f"{HOSTS_BEGIN}\n10.0.0.5\tweb.example.com web\n{HOSTS_END}\n"


def test_set_hostname_is_idempotent_and_replaces(root: Path) -> None:
    dist = Dist()
    dist.set_hostname(str(root), "web.example.com", ["10.0.0.5"])
    first = _snapshot(root)
    mtime = os.stat(root / "etc/hosts").st_mtime_ns
    dist.set_hostname(str(root), "web.example.com", ["10.0.0.5"])
    assert _snapshot(root) == first
    assert os.stat(root / "etc/hosts").st_mtime_ns == mtime  # not even rewritten
    dist.set_hostname(str(root), "db2", [])
    hosts = _read(root, "etc/hosts")
    assert hosts.count(HOSTS_BEGIN) == 1 and "web.example.com" not in hosts
    assert f"{HOSTS_BEGIN}\n127.0.1.1\tdb2\n{HOSTS_END}\n" in hosts
    # User lines and localhost lines are all still there.
    for line in HOSTS.splitlines():
        assert line in hosts.splitlines()


def test_set_hostname_keeps_block_position_and_user_edits(root: Path) -> None:
    dist = Dist()
    dist.set_hostname(str(root), "a.example", ["10.0.0.1"])
    with open(root / "etc/hosts", "a") as f:
        f.write("192.168.1.1 router\n")
    dist.set_hostname(str(root), "b.example", ["10.0.0.2"])
    lines = _read(root, "etc/hosts").splitlines()
    assert lines[-1] == "192.168.1.1 router"
    assert lines[-4:-1] == [HOSTS_BEGIN, "10.0.0.2\tb.example b", HOSTS_END]


def test_set_hostname_replaces_vzctl_entry(root: Path) -> None:
    _write(root, "etc/hosts", "127.0.0.1 localhost\n"
           "# Auto-generated hostname. Please do not remove this comment.\n"
           "10.0.0.9 old.example old\n10.9.9.9 db\n")
    Dist().set_hostname(str(root), "new.example", ["10.0.0.9"])
    assert _read(root, "etc/hosts") == (f"127.0.0.1 localhost\n{HOSTS_BEGIN}\n"
                                        f"10.0.0.9\tnew.example new\n{HOSTS_END}\n"
                                        "10.9.9.9 db\n")


def test_set_hostname_localhost_removes_the_entry(root: Path) -> None:
    Dist().set_hostname(str(root), "web", ["10.0.0.5"])
    Dist().set_hostname(str(root), "localhost", ["10.0.0.5"])
    assert _read(root, "etc/hosts") == HOSTS
    assert _read(root, "etc/hostname") == "localhost\n"


def test_set_hostname_preserves_mode_and_owner(root: Path) -> None:
    hosts = root / "etc/hosts"
    os.chown(hosts, 1234, 4321)
    hosts.chmod(0o604)
    Dist().set_hostname(str(root), "web", [])
    st = os.stat(hosts)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1234, 4321, 0o604)
    assert [p.name for p in (root / "etc").iterdir() if ".pyvz." in p.name] == []


def test_set_hostname_creates_missing_hosts(root: Path) -> None:
    (root / "etc/hosts").unlink()
    Dist().set_hostname(str(root), "web", ["10.0.0.5"])
    assert _read(root, "etc/hosts") == f"{HOSTS_BEGIN}\n10.0.0.5\tweb\n{HOSTS_END}\n"


def test_set_hostname_rejects_bad_names(root: Path) -> None:
    with pytest.raises(VzError) as ei:
        Dist().set_hostname(str(root), "bad name\n10.0.0.1 evil", [])
    assert ei.value.code == E.BADHOSTNAME
    assert _read(root, "etc/hosts") == HOSTS


def test_debian_hostname(root: Path) -> None:
    Debian().set_hostname(str(root), "web.example.com", [])
    hosts = _read(root, "etc/hosts").splitlines()
    # The installer's 127.0.1.1 line is replaced in place by the managed one.
    assert hosts[:4] == ["127.0.0.1\tlocalhost", HOSTS_BEGIN,
                         "127.0.1.1\tweb.example.com web", HOSTS_END]
    assert "oldname" not in "\n".join(hosts)
    assert "10.9.9.9 db.internal db" in hosts
    assert _read(root, "etc/mailname") == "web.example.com\n"
    before = _snapshot(root)
    Debian().set_hostname(str(root), "web.example.com", [])
    assert _snapshot(root) == before


def test_generic_keeps_foreign_127_0_1_1_and_no_mailname(root: Path) -> None:
    (root / "etc/mailname").unlink()
    Debian().set_hostname(str(root), "web", [])
    assert not (root / "etc/mailname").exists()
    _write(root, "etc/hosts", HOSTS)
    Dist().set_hostname(str(root), "web", [])
    assert "127.0.1.1\toldname.example.com oldname" in _read(root, "etc/hosts")


# --- resolver ---------------------------------------------------------------------------

def test_set_dns(root: Path) -> None:
    Dist().set_dns(str(root), ["8.8.8.8", "2001:4860:4860::8888"], ["a.example", "b.example"])
    assert _read(root, "etc/resolv.conf") == (
        "# written by the template\nsearch a.example b.example\nnameserver 8.8.8.8\n"
        "nameserver 2001:4860:4860::8888\noptions ndots:2 timeout:1\n")
    before = _snapshot(root)
    Dist().set_dns(str(root), ["8.8.8.8", "2001:4860:4860::8888"], ["a.example", "b.example"])
    assert _snapshot(root) == before


def test_set_dns_none_leaves_part_alone(root: Path) -> None:
    Dist().set_dns(str(root), ["8.8.8.8"], None)
    text = _read(root, "etc/resolv.conf")
    assert "search old.example" in text and "9.9.9.9" not in text
    Dist().set_dns(str(root), None, ["new.example"])
    assert _read(root, "etc/resolv.conf") == (
        "# written by the template\nsearch new.example\nnameserver 8.8.8.8\n"
        "options ndots:2 timeout:1\n")
    Dist().set_dns(str(root), [], [])
    assert _read(root, "etc/resolv.conf") == (
        "# written by the template\noptions ndots:2 timeout:1\n")


def test_set_dns_domain_line_and_missing_file(root: Path) -> None:
    _write(root, "etc/resolv.conf", "domain x.example\nnameserver 1.1.1.1\n")
    Dist().set_dns(str(root), None, ["y.example"])
    assert _read(root, "etc/resolv.conf") == "search y.example\nnameserver 1.1.1.1\n"
    (root / "etc/resolv.conf").unlink()
    Dist().set_dns(str(root), ["1.0.0.1"], ["z.example"])
    assert _read(root, "etc/resolv.conf") == "search z.example\nnameserver 1.0.0.1\n"


def test_set_dns_validates(root: Path) -> None:
    with pytest.raises(VzError) as ei:
        Dist().set_dns(str(root), ["8.8.8.8\nnameserver 6.6.6.6"], None)
    assert ei.value.code == E.BADDNSSRV
    with pytest.raises(VzError) as ei:
        Dist().set_dns(str(root), None, ["a.example b"])
    assert ei.value.code == E.BADDNSSEARCH
    assert _read(root, "etc/resolv.conf") == RESOLV


# --- passwords and users ----------------------------------------------------------------

def _verify(password: str, hashed: str) -> bool:
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.crypt.restype = ctypes.c_char_p
    result: bytes = lib.crypt(password.encode(), hashed.encode())
    return result.decode() == hashed


def test_crypt_password() -> None:
    h = crypt_password("s3cret")
    assert h.startswith("$6$") and len(h.split("$")[2]) == 16
    assert _verify("s3cret", h)
    assert not _verify("s3cret!", h)
    assert crypt_password("s3cret") != h  # random salt
    assert crypt_password("pw", "saltsalt") == crypt_password("pw", "$6$saltsalt")
    assert crypt_password("pw", "saltsalt").startswith("$6$saltsalt$")
    rounds = crypt_password("pw", "$6$rounds=6000$abcdefgh")
    assert rounds.startswith("$6$rounds=6000$abcdefgh$") and _verify("pw", rounds)


@pytest.mark.parametrize("bad", ["", "a:b", "a\nb", "a\0b"])
def test_crypt_password_rejects(bad: str) -> None:
    with pytest.raises(VzError) as ei:
        crypt_password(bad)
    assert ei.value.code == E.CHANGEPASS
    assert not bad or bad not in ei.value.message


def test_crypt_password_bad_salt() -> None:
    with pytest.raises(VzError) as ei:
        crypt_password("pw", "bad salt!")
    assert ei.value.code == E.CHANGEPASS


def test_parse_userpasswd() -> None:
    assert parse_userpasswd("root:secret") == ("root", "secret")
    assert parse_userpasswd("web-admin.2:p w") == ("web-admin.2", "p w")
    for bad in ("root", ":pw", "root:", "-root:pw", "bad user:pw", "a" * 33 + ":pw",
                "..:pw", "root:a:b", "root:a\nb", "1000:pw"):
        with pytest.raises(VzError) as ei:
            parse_userpasswd(bad)
        assert ei.value.code == E.INVALID_PARAMETER_VALUE
        assert ei.value.message.startswith("Bad parameter for --userpasswd: ")
        assert "a:b" not in ei.value.message  # the password is not echoed


def test_check_user() -> None:
    assert check_user("a" * 32) == "a" * 32
    assert check_user("_svc.x-1") == "_svc.x-1"
    with pytest.raises(VzError):
        check_user("a" * 33)


def test_set_userpass_existing_user(root: Path) -> None:
    h = crypt_password("newpw")
    Dist().set_userpass(str(root), "alice", h)
    shadow = _read(root, "etc/shadow").splitlines()
    assert shadow[2] == f"alice:{h}:{TODAY}:0:99999:7:::"
    assert shadow[:2] + shadow[3:] == SHADOW.splitlines()[:2] + SHADOW.splitlines()[3:]
    assert _read(root, "etc/passwd") == PASSWD
    assert os.stat(root / "etc/shadow").st_mode & 0o777 == 0o640
    before = _snapshot(root)
    Dist().set_userpass(str(root), "alice", h)
    assert _snapshot(root) == before


def test_set_userpass_moves_hash_to_shadow(root: Path) -> None:
    # A hash left in passwd would win over shadow; the user also lacks a shadow line.
    _write(root, "etc/passwd", PASSWD + "olduser:$1$old$hash:1005:100::/home/o:/bin/sh\n")
    Dist().set_userpass(str(root), "olduser", "$6$n$new")
    assert _read(root, "etc/passwd").splitlines()[-1] == "olduser:x:1005:100::/home/o:/bin/sh"
    assert _read(root, "etc/shadow").splitlines()[-1] == f"olduser:$6$n$new:{TODAY}:0:99999:7:::"
    assert not (root / "home/o").exists()  # only new users get a home made


def test_set_userpass_creates_user(root: Path) -> None:
    h = crypt_password("bobpw")
    Debian().set_userpass(str(root), "bob", h)
    assert _read(root, "etc/passwd") == PASSWD + "bob:x:1001:1001::/home/bob:/bin/bash\n"
    assert _read(root, "etc/group") == GROUP + "bob:x:1001:\n"
    assert _read(root, "etc/gshadow") == GSHADOW + "bob:!::\n"
    assert _read(root, "etc/shadow") == SHADOW + f"bob:{h}:{TODAY}:0:99999:7:::\n"
    home = root / "home/bob"
    st = os.stat(home)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (1001, 1001, 0o755)
    assert (home / ".bashrc").read_text() == "# bashrc\n"
    conf = home / ".config/app.conf"
    assert conf.read_text() == "x=1\n" and os.stat(conf).st_mode & 0o777 == 0o600
    assert os.readlink(home / ".bashrc-link") == ".bashrc"
    for p in (home / ".bashrc", home / ".config", conf, home / ".bashrc-link"):
        st = os.lstat(p)
        assert (st.st_uid, st.st_gid) == (1001, 1001), p
    before = _snapshot(root)
    Debian().set_userpass(str(root), "bob", h)
    assert _snapshot(root) == before


def test_set_userpass_new_user_ids(root: Path) -> None:
    # gid 1001 is taken, so like useradd the group gets one above the highest gid in use;
    # an existing group of the user's name is reused.
    _write(root, "etc/group", GROUP + "devs:x:1001:\ncarol:x:1500:\n")
    Dist().set_userpass(str(root), "dave", "$6$x$y")
    assert "dave:x:1001:1501::/home/dave:/bin/bash" in _read(root, "etc/passwd")
    assert "dave:x:1501:" in _read(root, "etc/group")
    Dist().set_userpass(str(root), "carol", "$6$x$y")
    assert "carol:x:1002:1500::/home/carol:/bin/bash" in _read(root, "etc/passwd")
    assert _read(root, "etc/group").count("carol:") == 1


def test_set_userpass_without_shadow_or_skel(root: Path) -> None:
    for rel in ("etc/shadow", "etc/gshadow", "bin", "usr/bin/bash"):
        os.unlink(root / rel)
    import shutil

    shutil.rmtree(root / "etc/skel")
    shutil.rmtree(root / "home")
    Busybox().set_userpass(str(root), "root", "$6$r$root")
    Busybox().set_userpass(str(root), "eve", "$6$e$eve")
    passwd = _read(root, "etc/passwd").splitlines()
    assert passwd[0] == "root:$6$r$root:0:0:root:/root:/bin/bash"
    assert passwd[-1] == "eve:$6$e$eve:1001:1001::/home/eve:/bin/sh"
    assert os.listdir(root / "home/eve") == []
    assert not (root / "etc/shadow").exists()


def test_set_userpass_errors(root: Path) -> None:
    for user, hashed in (("-x", "$6$a$b"), ("bob", "a:b"), ("bob", ""), ("..", "$6$a$b")):
        with pytest.raises(VzError) as ei:
            Dist().set_userpass(str(root), user, hashed)
        assert ei.value.code == E.CHANGEPASS
    (root / "etc/passwd").unlink()
    with pytest.raises(VzError) as ei:
        Dist().set_userpass(str(root), "alice", "$6$a$b")
    assert ei.value.code == E.CHANGEPASS
    with pytest.raises(VzError) as ei:
        Dist().set_userpass(str(root / "nonexistent"), "alice", "$6$a$b")
    assert ei.value.code == E.CHANGEPASS


# --- postcreate -------------------------------------------------------------------------

def test_postcreate_locks_empty_root_and_fixes_files(root: Path) -> None:
    _write(root, "etc/passwd", PASSWD.replace("root:x:", "root::"))
    _write(root, "etc/hosts", "10.9.9.9 db\n")
    (root / "etc/resolv.conf").unlink()
    Dist().postcreate(str(root))
    assert _read(root, "etc/shadow").splitlines()[0] == "root:!!:19000:0:99999:7:::"
    assert _read(root, "etc/passwd").splitlines()[0] == "root:!!:0:0:root:/root:/bin/bash"
    assert _read(root, "etc/hosts") == ("127.0.0.1\tlocalhost\n"
                                        "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                        "10.9.9.9 db\n")
    assert _read(root, "etc/resolv.conf") == ""
    hosts = _read(root, "etc/hosts")
    Dist().postcreate(str(root))
    assert _read(root, "etc/hosts") == hosts


def test_postcreate_leaves_good_files(root: Path) -> None:
    (root / "etc/crontab").unlink()
    os.unlink(root / "etc/resolv.conf")
    os.symlink("../run/systemd/resolve/stub-resolv.conf", root / "etc/resolv.conf")
    _write(root, "etc/shadow", SHADOW.replace("root::", "root:$6$set$hash:"))
    before = _snapshot(root)
    Dist().postcreate(str(root))
    assert _snapshot(root) == before
    assert os.readlink(root / "etc/resolv.conf") == "../run/systemd/resolve/stub-resolv.conf"


def test_postcreate_randomizes_crontabs(root: Path) -> None:
    _write(root, "etc/cron.d/php", "09,39 * * * * root echo php\n30 4 * * * root echo x\n")
    _write(root, "etc/cron.d/keep", "# VZCTL_POSTCREATE_SKIP\n30 4 * * * root echo keep\n")
    Dist().postcreate(str(root))
    assert _read(root, "etc/cron.d/keep") == "# VZCTL_POSTCREATE_SKIP\n30 4 * * * root echo keep\n"
    php = _read(root, "etc/cron.d/php").splitlines()
    assert php[0] == "09,39 * * * * root echo php"
    m, h, rest = php[1].split(" ", 2)
    assert 0 <= int(m) < 60 and 0 <= int(h) < 6 and rest == "* * * root echo x"
    lines = _read(root, "etc/crontab").splitlines()
    orig = CRONTAB.splitlines()
    assert len(lines) == len(orig)
    for new, old in zip(lines, orig, strict=True):
        if old[:1].isdigit():
            nf, of = new.split(None, 5), old.split(None, 5)
            assert 0 <= int(nf[0]) < 60
            assert nf[1] == of[1] == "*" or 0 <= int(nf[1]) < 6
            assert nf[2] == of[2] == "*" or 1 <= int(nf[2]) <= 28
            assert nf[3:] == of[3:]
            assert new.split("root", 1)[1] == old.split("root", 1)[1]
        else:
            assert new == old


def test_randomize_cron_details() -> None:
    text = ("52 6\t1 * *\troot\trun monthly\n"
            "  5 23 31 12 * root spaced\n"
            "5 4 * * * shortline\n"
            "*/10 1-3 * * * root steps\n"
            "MAILTO=x\n")
    out = randomize_cron(text, random.Random(1)).split("\n")
    assert out[0] != "52 6\t1 * *\troot\trun monthly"
    m, h, rest = out[0].split(" ", 1)[0], out[0].split(" ")[1].split("\t")[0], out[0]
    assert 0 <= int(m) < 60 and 0 <= int(h) < 6
    assert rest.endswith(" * *\troot\trun monthly")
    day = int(rest.split("\t")[1].split()[0])
    assert 1 <= day <= 28
    assert out[1].startswith("  ") and out[1].endswith(" 12 * root spaced")
    assert out[2:] == ["5 4 * * * shortline", "*/10 1-3 * * * root steps", "MAILTO=x", ""]
    assert randomize_cron(text, random.Random(1)) == "\n".join(out)
    # Across many VEs the times spread out.
    starts = {randomize_cron("0 0 * * * root x\n", random.Random(i)) for i in range(50)}
    assert len(starts) > 20
