"""The built-in ``busybox`` OS template: a tiny but real server built from the host's busybox.

It lets pyvz create and start a VE with no network and no downloaded template.  The cache
file has the OpenVZ template-cache form (``CACHE/busybox.tar.gz``: a gzip'd tar of a root
filesystem, members owned by 0:0 numerically), so it goes through the same create path as
every other template.  The tree is described in memory and streamed into the tar: there is
no temporary root tree, nothing depends on the host's umask or file owners, and the output
is byte-for-byte reproducible for one busybox binary.
"""

from __future__ import annotations

import os

from pyvz.errors import E, VzError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from typing import IO

__all__ = ["TARBALL", "build", "ensure"]

TARBALL = "busybox.tar.gz"
_LOCK = ".busybox.lock"
# Every member gets this mtime so two builds from one busybox are identical.
_MTIME = 946684800  # 2000-01-01

_DIRS: list[tuple[str, int]] = [
    ("bin", 0o755), ("sbin", 0o755), ("usr", 0o755), ("usr/bin", 0o755),
    ("usr/sbin", 0o755), ("etc", 0o755), ("etc/init.d", 0o755), ("root", 0o700),
    ("home", 0o755), ("tmp", 0o1777), ("var", 0o755), ("var/log", 0o755),
    ("var/spool", 0o755), ("var/spool/cron", 0o755), ("var/spool/cron/crontabs", 0o700),
    ("run", 0o755), ("proc", 0o555), ("sys", 0o555), ("dev", 0o755), ("mnt", 0o755),
    ("opt", 0o755), ("srv", 0o755), ("lib", 0o755),
]

_SYMLINKS: list[tuple[str, str]] = [
    ("var/run", "../run"),
    # busybox mount/df read the mount table from /etc/mtab.
    ("etc/mtab", "../proc/self/mounts"),
]

_INITTAB = """\
# /etc/inittab for busybox init (see busybox's examples/inittab).
::sysinit:/etc/init.d/rcS

# The VE console; baud rate 0 keeps whatever the console already has.
::respawn:/sbin/getty -L 0 console vt100

::ctrlaltdel:/sbin/reboot
::shutdown:/etc/init.d/rcK
::restart:/sbin/init
"""

_RCS = """\
#!/bin/sh
# Run once by busybox init at boot (::sysinit in /etc/inittab).
PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH

# pyvz normally mounts these before init runs; this keeps a bare start usable.
[ -e /proc/self/stat ] || mount -t proc proc /proc 2>/dev/null
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys 2>/dev/null

# A stopped VE keeps its /run, so pid files of the last boot may still be there.
rm -f /run/*.pid

if [ -r /etc/hostname ]; then
    read -r name < /etc/hostname
    [ -n "$name" ] && hostname "$name"
fi

ip link set lo up

syslogd -O /var/log/messages
crond

# Later features drop numbered scripts here (S10foo, S20bar ...).
for script in /etc/init.d/S??*; do
    [ -x "$script" ] || continue
    "$script" start
done
"""

_RCK = """\
#!/bin/sh
# Run by busybox init on halt/reboot (::shutdown in /etc/inittab).
PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH

# K scripts exist only to stop something, so they run first and in their own order;
# S scripts are stopped in the reverse of the order rcS started them.
for script in /etc/init.d/K??*; do
    [ -x "$script" ] || continue
    "$script" stop
done

reversed=""
for script in /etc/init.d/S??*; do
    [ -x "$script" ] || continue
    reversed="$script $reversed"
done
for script in $reversed; do
    "$script" stop
done

killall crond 2>/dev/null
# syslogd goes last so the messages of everything above are logged.
killall syslogd 2>/dev/null
"""

_PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""

_GROUP = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
utmp:x:43:
staff:x:50:
users:x:100:
nogroup:x:65534:
"""

# root is locked ("!"); `vzctl set --userpasswd root:...` gives it a password.
_SHADOW = """\
root:!::0:99999:7:::
daemon:*::0:99999:7:::
bin:*::0:99999:7:::
sys:*::0:99999:7:::
nobody:*::0:99999:7:::
"""

_HOSTS = """\
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
"""

_PROFILE = """\
# System-wide profile for busybox ash.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
# \\$ prints '#' for root and '$' for everyone else.
PS1='\\u@\\h:\\w\\$ '
export PS1
umask 022
"""


def _fail(why: str) -> VzError:
    return VzError(E.OSTEMPLATE_NOT_FOUND,
                   f"Cannot build the busybox template: {why} (install busybox-static)")


def _static_elf_problem(path: str) -> str | None:
    """Why ``path`` is not a static ELF executable, or None if it is one.

    A dynamically linked busybox would need the host's libc inside the VE; an ELF has a
    PT_INTERP program header exactly when it needs a dynamic loader.
    """
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 52 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) \
                    or head[5] not in (1, 2):
                return f"{path} is not an ELF executable"
            end = "<" if head[5] == 1 else ">"
            if head[4] == 2:
                phoff, = struct.unpack_from(end + "Q", head, 32)
                phentsize, phnum = struct.unpack_from(end + "HH", head, 54)
            else:
                phoff, = struct.unpack_from(end + "I", head, 28)
                phentsize, phnum = struct.unpack_from(end + "HH", head, 42)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError as e:
        return f"cannot read {path}: {e.strerror}"
    if phentsize < 4 or len(table) < phentsize * phnum:
        return f"{path} is a truncated ELF file"
    pt_interp = 3
    for i in range(phnum):
        if struct.unpack_from(end + "I", table, i * phentsize)[0] == pt_interp:
            return f"{path} is dynamically linked"
    return None


def _probe(busybox: str) -> tuple[str, list[str]]:
    """(version, applet paths) as the binary itself reports them."""
    from pyvz.kernel.proc import run

    try:
        _, out, _ = run([busybox, "--list-full"], code=E.OSTEMPLATE_NOT_FOUND)
        _, banner, _ = run([busybox, "--help"], code=E.OSTEMPLATE_NOT_FOUND)
    except VzError as e:
        raise _fail(e.message) from e
    applets = [p.strip().lstrip("/") for p in out.decode(errors="replace").splitlines()]
    # First line: "BusyBox v1.35.0 (Debian 1:1.35.0-4) multi-call binary."
    words = banner.decode(errors="replace").split()
    version = ""
    if len(words) >= 2 and words[0] == "BusyBox" and words[1].startswith("v"):
        version = words[1][1:]
    if not version or "sbin/init" not in applets:
        raise _fail(f"{busybox} does not look like busybox (no version or no init applet)")
    return version, applets


def _os_release(version: str) -> str:
    return (
        'NAME="BusyBox"\n'
        "ID=busybox\n"
        f"VERSION_ID={version}\n"
        f'PRETTY_NAME="BusyBox {version}"\n'
        'HOME_URL="https://busybox.net/"\n'
    )


def _files(version: str) -> list[tuple[str, int, str]]:
    """(path, mode, content) of every regular file besides the busybox binary."""
    return [
        ("etc/inittab", 0o644, _INITTAB),
        ("etc/init.d/rcS", 0o755, _RCS),
        ("etc/init.d/rcK", 0o755, _RCK),
        ("etc/passwd", 0o644, _PASSWD),
        ("etc/group", 0o644, _GROUP),
        ("etc/shadow", 0o600, _SHADOW),
        ("etc/hostname", 0o644, "localhost\n"),
        ("etc/hosts", 0o644, _HOSTS),
        ("etc/resolv.conf", 0o644, ""),
        ("etc/os-release", 0o644, _os_release(version)),
        ("etc/issue", 0o644, f"BusyBox {version} \\n \\l\n\n"),
        ("etc/shells", 0o644, "/bin/sh\n/bin/ash\n"),
        ("etc/profile", 0o644, _PROFILE),
        ("etc/fstab", 0o644, ""),
    ]


def _applet_links(applets: list[str]) -> list[tuple[str, str]]:
    """(link path, relative target) for each applet, ``bin/busybox`` itself excluded."""
    links = []
    seen = set()
    for path in applets:
        # linuxrc (an initrd entry point) is the only applet living in "/".
        if path in ("bin/busybox", "linuxrc") or "/" not in path or ".." in path.split("/"):
            continue
        if path in seen:
            continue
        seen.add(path)
        up = "../" * path.count("/")
        links.append((path, "busybox" if path.startswith("bin/") and path.count("/") == 1
                      else up + "bin/busybox"))
    return links


def _member(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    import tarfile

    info = tarfile.TarInfo("./" + name if name != "." else ".")
    info.type = kind
    info.mode = mode
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = _MTIME
    return info


def _write_tar(out: IO[bytes], busybox: str, version: str, applets: list[str]) -> None:
    import gzip
    import io
    import tarfile

    # GzipFile with a fixed mtime and no file name keeps the gzip header reproducible.
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0,
                       compresslevel=6) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_member(".", tarfile.DIRTYPE, 0o755))
        dirs = set()
        for path, mode in _DIRS:
            dirs.add(path)
            tar.addfile(_member(path, tarfile.DIRTYPE, mode))
        links = _applet_links(applets)
        # An applet in a directory we do not list (none today) still needs its parents.
        for path, _ in links:
            parent = path.rpartition("/")[0]
            if parent not in dirs:
                parts = parent.split("/")
                for i in range(1, len(parts) + 1):
                    sub = "/".join(parts[:i])
                    if sub not in dirs:
                        dirs.add(sub)
                        tar.addfile(_member(sub, tarfile.DIRTYPE, 0o755))
        with open(busybox, "rb") as f:
            info = _member("bin/busybox", tarfile.REGTYPE, 0o755)
            info.size = os.fstat(f.fileno()).st_size
            tar.addfile(info, f)
        for path, target in sorted(links) + _SYMLINKS:
            info = _member(path, tarfile.SYMTYPE, 0o777)
            info.linkname = target
            tar.addfile(info)
        for path, mode, text in _files(version):
            data = text.encode()
            info = _member(path, tarfile.REGTYPE, mode)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def build(cache_dir: str, busybox: str = "/bin/busybox") -> str:
    """Build ``cache_dir/busybox.tar.gz`` from a static busybox and return its path.

    The tarball appears atomically: it is written to a temporary file in ``cache_dir``,
    synced and renamed, so a failed or interrupted build leaves nothing behind.
    """
    if not os.path.isfile(busybox):
        raise _fail(f"{busybox} not found")
    problem = _static_elf_problem(busybox)
    if problem:
        raise _fail(problem)
    version, applets = _probe(busybox)

    dest = os.path.join(cache_dir, TARBALL)
    tmp = os.path.join(cache_dir, f".{TARBALL}.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise VzError(E.FS_CANTCREATE_DIR if isinstance(e, FileNotFoundError) else E.SYSTEM,
                      f"Cannot build the busybox template: cannot create {tmp}: "
                      f"{e.strerror}") from e
    try:
        with os.fdopen(fd, "wb") as out:
            _write_tar(out, busybox, version, applets)
            out.flush()
            os.fchmod(out.fileno(), 0o644)
            os.fsync(out.fileno())
        os.rename(tmp, dest)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise VzError(E.SYSTEM, f"Cannot build the busybox template: {e}") from e
        raise
    # The rename is only durable once the directory entry is on disk.
    dfd = os.open(cache_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return dest


def ensure(cache_dir: str) -> str:
    """The path of the busybox template cache, built first if it does not exist yet.

    Concurrent callers serialise on an flock so only one of them builds; the others find
    the finished tarball once they get the lock.
    """
    import fcntl

    dest = os.path.join(cache_dir, TARBALL)
    if os.path.isfile(dest):
        return dest
    os.makedirs(cache_dir, mode=0o755, exist_ok=True)
    fd = os.open(os.path.join(cache_dir, _LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.path.isfile(dest):
            return dest
        return build(cache_dir)
    finally:
        os.close(fd)
