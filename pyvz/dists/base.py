"""Generic Linux setup of a VE from inside it: vzctl's ``default`` distribution.

vzctl runs shell scripts inside the container for these actions (``etc/dists/scripts``);
pyvz does the same job in Python, in a process that has joined the VE's namespaces and
whose root is the VE's root.  So everything here is plain file work relative to ``root``
("/" in production, a scratch directory in tests): nothing is executed, no file outside
the VE is read or written, and symlinks inside the tree are resolved against ``root``, not
against the caller's "/" (an absolute link in a VE means the VE's own file).

Files are replaced atomically (temporary file, fsync, rename) and keep the mode and owner
they had; a file whose content would not change is not rewritten.

Start-path module: only ``os`` and ``pyvz.errors`` at import time.
"""

from __future__ import annotations

import os

from pyvz.errors import E, VzError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import random

    from pyvz.net.netif import Netif

__all__ = [
    "HOSTS_BEGIN",
    "HOSTS_END",
    "Dist",
    "randomize_cron",
    "read_file",
    "resolve",
    "write_file",
]

# pyvz's /etc/hosts entry for the VE's own name sits between these two lines; later calls
# replace the block and leave every other line alone.
HOSTS_BEGIN = "# --- BEGIN PYVZ HOSTNAME (managed by vzctl set --hostname) ---"
HOSTS_END = "# --- END PYVZ HOSTNAME ---"
# vzctl 4.x put this comment above its own hostname line; a VE moved from OpenVZ has it.
_VZCTL_HOSTS_MARK = "# Auto-generated hostname. Please do not remove this comment."
_CRON_SKIP = "VZCTL_POSTCREATE_SKIP"
_MAX_SYMLINKS = 40
# useradd's UID_MIN/UID_MAX (and GID_*): ids for ordinary users.
_ID_MIN, _ID_MAX = 1000, 60000


# --- files under root -------------------------------------------------------------------

def resolve(root: str, rel: str) -> str | None:
    """The path of ``rel`` with every symlink resolved as if ``root`` were "/".

    Returns None if a component is missing or the links loop.  ".." stops at ``root``.
    """
    root = root.rstrip("/")
    todo = [c for c in rel.split("/") if c][::-1]
    done: list[str] = []
    hops = 0
    while todo:
        comp = todo.pop()
        if comp == ".":
            continue
        if comp == "..":
            if done:
                done.pop()
            continue
        path = root + "/" + "/".join([*done, comp])
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if (st.st_mode & 0o170000) == 0o120000:
            hops += 1
            if hops > _MAX_SYMLINKS:
                return None
            target = os.readlink(path)
            if target.startswith("/"):
                done = []
            todo.extend([c for c in target.split("/") if c][::-1])
        else:
            done.append(comp)
    return root + "/" + "/".join(done)


def read_file(root: str, rel: str) -> str | None:
    """The text of a regular file, or None if there is none.

    Bytes that are not UTF-8 (a Latin-1 GECOS field) survive a read/write round trip.
    """
    path = resolve(root, rel)
    if path is None or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        return f.read()


def write_file(root: str, rel: str, text: str, mode: int = 0o644) -> bool:
    """Atomically make ``rel`` hold ``text``; False if it already did.

    An existing file keeps its mode and owner (``mode`` is for new files).  A symlink at
    ``rel`` is replaced by the file, as vzctl's ``mv -f tmp file`` did: following it could
    leave the tree (e.g. resolv.conf -> /run/...).
    """
    head, _, name = rel.strip("/").rpartition("/")
    parent = resolve(root, head)
    if parent is None:
        raise FileNotFoundError(2, "No such directory", f"{root.rstrip('/')}/{head}")
    dest = f"{parent}/{name}"
    data = text.encode("utf-8", errors="surrogateescape")
    owner: tuple[int, int] | None = None
    current = resolve(root, rel)
    if current is not None and os.path.isfile(current):
        st = os.stat(current)
        mode, owner = st.st_mode & 0o7777, (st.st_uid, st.st_gid)
        if current == dest:
            with open(current, "rb") as f:
                if f.read() == data:
                    return False
    tmp = f"{parent}/.{name}.pyvz.{os.getpid()}.{os.urandom(3).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if owner is not None:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.rename(tmp, dest)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return True


def _lines(text: str | None) -> list[str]:
    lines = (text or "").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def _hosts_fields(line: str) -> list[str]:
    return line.partition("#")[0].split()


# --- passwd / shadow / group ------------------------------------------------------------

def _find(lines: list[str], name: str) -> int:
    for i, line in enumerate(lines):
        if line.split(":", 1)[0] == name:
            return i
    return -1


def _set_field(line: str, index: int, value: str) -> str:
    fields = line.split(":")
    while len(fields) <= index:
        fields.append("")
    fields[index] = value
    return ":".join(fields)


def _ids(lines: list[str], index: int) -> set[int]:
    ids = set()
    for line in lines:
        fields = line.split(":")
        if len(fields) > index and fields[index].isdigit():
            ids.add(int(fields[index]))
    return ids


def _next_id(used: set[int]) -> int:
    """useradd's choice: one above the highest ordinary id in use, so the id of a deleted
    user (whose files may linger) is not handed out again while higher ones exist."""
    ordinary = [i for i in used if _ID_MIN <= i < _ID_MAX]
    candidate = max(ordinary, default=_ID_MIN - 1) + 1
    if candidate < _ID_MAX:
        return candidate
    for i in range(_ID_MIN, _ID_MAX):
        if i not in used:
            return i
    raise VzError(E.CHANGEPASS, "No free user or group id left")


class _PasswdLock:
    """lckpwdf(3)'s lock (an fcntl lock on /etc/.pwd.lock, 15 s), so passwd, useradd and
    chpasswd running inside the VE do not interleave with us."""

    def __init__(self, root: str) -> None:
        etc = resolve(root, "etc")
        if etc is None:
            raise FileNotFoundError(2, "No such directory", f"{root.rstrip('/')}/etc")
        self.path = f"{etc}/.pwd.lock"
        self.fd = -1

    def __enter__(self) -> _PasswdLock:
        import fcntl
        import time

        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                          0o600)
        deadline = time.monotonic() + 15
        while True:
            try:
                fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError:
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    raise VzError(E.CHANGEPASS, "The password files are locked by another "
                                  "process in the container") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def _copy_tree(src: str, dst: str, uid: int, gid: int) -> None:
    """Copy /etc/skel's contents: files, directories and symlinks, owned by the new user."""
    for entry in os.scandir(src):
        target = f"{dst}/{entry.name}"
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
            os.lchown(target, uid, gid)
        elif entry.is_dir(follow_symlinks=False):
            mode = entry.stat(follow_symlinks=False).st_mode & 0o777
            os.mkdir(target, 0o700)
            _copy_tree(entry.path, target, uid, gid)
            os.chown(target, uid, gid)
            os.chmod(target, mode)
        elif entry.is_file(follow_symlinks=False):
            fin = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                fout = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                               | os.O_CLOEXEC, 0o600)
                try:
                    while chunk := os.read(fin, 65536):
                        os.write(fout, chunk)
                    os.fchown(fout, uid, gid)
                    os.fchmod(fout, os.fstat(fin).st_mode & 0o777)
                finally:
                    os.close(fout)
            finally:
                os.close(fin)


# --- cron -------------------------------------------------------------------------------

def randomize_cron(text: str, rng: random.Random) -> str:
    """Move fixed-time entries of a system crontab to a random time (vzctl postcreate).

    Only plain numbers are moved: a minute anywhere in the hour, an hour into the night
    (0-5, as vzctl does) and a day of month into 1-28 so that every month still has it.
    Lists, ranges, steps, @keywords, variables and comments are left as they are, and so is
    the whitespace between fields.
    """
    out = []
    for line in text.split("\n"):
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith(("#", "@")):
            out.append(line)
            continue
        spans: list[tuple[int, int]] = []
        pos = 0
        # min hour dom mon dow user command: a system crontab line has at least 7 fields.
        while len(spans) < 7:
            while pos < len(line) and line[pos] in " \t":
                pos += 1
            start = pos
            while pos < len(line) and line[pos] not in " \t":
                pos += 1
            if start == pos:
                break
            spans.append((start, pos))
        if len(spans) < 7 or "=" in line[spans[0][0]:spans[0][1]]:
            out.append(line)
            continue
        fields = [line[s:e] for s, e in spans[:3]]
        limits = [(60, 0), (24, 0), (32, 1)]
        choices = [(0, 60), (0, 6), (1, 29)]
        for i, field in enumerate(fields):
            top, low = limits[i]
            if field.isdigit() and low <= int(field) < top:
                fields[i] = str(rng.randrange(*choices[i]))
        rebuilt = line[:spans[0][0]]
        for i in range(3):
            rebuilt += fields[i] + line[spans[i][1]:spans[i + 1][0]]
        out.append(rebuilt + line[spans[3][0]:])
    return "\n".join(out)


# --- the distribution -------------------------------------------------------------------

class Dist:
    """Generic Linux; distributions override what they do differently."""

    name = "default"
    # What `vzctl stop` / `vzctl restart` run inside the VE to ask its init to shut down.
    halt_argv: list[str] = ["halt"]
    reboot_argv: list[str] = ["reboot"]
    # The address of the VE's own name when it has no IP (Debian's convention).
    nameless_ip = "127.0.1.1"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    # hostname

    def set_hostname(self, root: str, hostname: str, ips: list[str]) -> None:
        """Write /etc/hostname and the VE's own line in /etc/hosts."""
        from pyvz.validate import check_hostname

        check_hostname(hostname)
        write_file(root, "etc/hostname", hostname + "\n")
        ip = ips[0].partition("/")[0] if ips else self.nameless_ip
        self._update_hosts(root, hostname, ip)

    def _is_stale_hosts_line(self, fields: list[str]) -> bool:
        """Whether an unmarked /etc/hosts line is the distribution's own hostname entry,
        which the managed block replaces.  Generic Linux has no such convention."""
        return False

    def _update_hosts(self, root: str, hostname: str, ip: str) -> None:
        lines = _lines(read_file(root, "etc/hosts"))
        kept: list[str] = []
        at: int | None = None
        i = 0
        while i < len(lines):
            line = lines[i].strip()
            drop = 0
            if line == HOSTS_BEGIN:
                end = next((j for j in range(i + 1, len(lines))
                            if lines[j].strip() in (HOSTS_END, HOSTS_BEGIN)), None)
                # A block whose END line was deleted: drop only the line we would have put.
                drop = end - i + 1 if end is not None and lines[end].strip() == HOSTS_END \
                    else 2
            elif line == HOSTS_END:
                drop = 1
            elif line == _VZCTL_HOSTS_MARK:
                drop = 2
            elif self._is_stale_hosts_line(_hosts_fields(lines[i])):
                drop = 1
            if drop:
                at = len(kept) if at is None else at
                i += drop
            else:
                kept.append(lines[i])
                i += 1
        if hostname not in ("localhost", "localhost.localdomain"):
            names = hostname
            short = hostname.partition(".")[0]
            if short != hostname and short != "localhost":
                names += " " + short
            block = [HOSTS_BEGIN, f"{ip}\t{names}", HOSTS_END]
            at = len(kept) if at is None else at
            kept[at:at] = block
        write_file(root, "etc/hosts", _text(kept))

    # network [net area]

    def set_network(self, root: str, ips: list[str], netifs: list[Netif]) -> bool:
        """In-VE network configuration for the venet addresses ``ips`` and the veth
        interfaces ``netifs`` (``pyvz.net.netif.Netif``, with their addressing).

        Returns True when the VE's own boot brings the veth interfaces' addresses up from
        what was written (its ifup); otherwise the node sets them from outside
        (``pyvz.net``).  Generic Linux has no standard file: nothing, and False."""
        return False

    def _write_ifupdown(self, root: str, ips: list[str], netifs: list[Netif], *,
                        loopback: bool = True, dhcp_script: str = "",
                        source_dir: str = "", dhcp6: bool = True) -> None:
        """/etc/network/interfaces as vzctl's debian scripts make it: regenerated whole,
        with ``interfaces.head`` and ``interfaces.tail`` (the admin's parts) around it;
        the stanzas come from ``pyvz.net.ifupdown`` (see its ``render`` for the options)."""
        from pyvz.net import ifupdown  # loaded by the caller before it entered the VE

        etc = resolve(root, "etc")
        if etc is None:
            return
        if resolve(root, "etc/network") is None:
            os.mkdir(f"{etc}/network", 0o755)
        lines = _lines(read_file(root, "etc/network/interfaces.head"))
        lines += ifupdown.render(ips, netifs, loopback=loopback, dhcp_script=dhcp_script,
                                 source_dir=source_dir, dhcp6=dhcp6)
        tail = _lines(read_file(root, "etc/network/interfaces.tail"))
        if tail:
            lines += ["", *tail]
        write_file(root, "etc/network/interfaces", _text(lines))

    # resolver

    def set_dns(self, root: str, nameservers: list[str] | None,
                searchdomains: list[str] | None) -> None:
        """Replace the ``nameserver`` and/or ``search`` lines of /etc/resolv.conf.

        None leaves that part alone; other lines (options, comments) are kept.  New lines
        go where the old ones were: search first, nameservers at the end, by default.
        """
        from pyvz.validate import check_ip

        servers = [check_ip(s, allow_mask=False, code=E.BADDNSSRV)
                   for s in nameservers or []]
        for domain in searchdomains or []:
            if not domain or not domain.isprintable() or any(c in domain for c in " \t#;"):
                raise VzError(E.BADDNSSEARCH, f"Invalid search domain {domain!r}")
        ns_mark, search_mark = "\0nameserver", "\0search"
        out: list[str] = []
        for line in _lines(read_file(root, "etc/resolv.conf")):
            words = line.split(None, 1)
            key = words[0] if words else ""
            if nameservers is not None and key == "nameserver":
                if ns_mark not in out:
                    out.append(ns_mark)
            elif searchdomains is not None and key in ("search", "domain"):
                # glibc uses whichever of search/domain comes last, so both go.
                if search_mark not in out:
                    out.append(search_mark)
            else:
                out.append(line)
        if searchdomains is not None and search_mark not in out:
            out.insert(0, search_mark)
        if nameservers is not None and ns_mark not in out:
            out.append(ns_mark)
        lines: list[str] = []
        for line in out:
            if line == ns_mark:
                lines.extend(f"nameserver {s}" for s in servers)
            elif line == search_mark:
                if searchdomains:
                    lines.append("search " + " ".join(searchdomains))
            else:
                lines.append(line)
        write_file(root, "etc/resolv.conf", _text(lines))

    # accounts

    def set_userpass(self, root: str, user: str, crypted: str) -> None:
        """Give ``user`` the password hash ``crypted``, creating the user if needed.

        A new user gets what ``useradd -m`` would give: the next free uid, a group of the
        same name, /home/USER filled from /etc/skel.  Failures are exit code 74.
        """
        from pyvz.dists.crypt import check_user

        check_user(user, code=E.CHANGEPASS)
        if not crypted or any(c in crypted for c in ":\n\0"):
            raise VzError(E.CHANGEPASS, f"Invalid password hash for user {user}")
        try:
            with _PasswdLock(root):
                self._set_userpass(root, user, crypted)
        except OSError as e:
            raise VzError(E.CHANGEPASS, f"Unable to change the password of {user}: "
                          f"{e.strerror or e}" + (f": {e.filename}" if e.filename else "")) \
                from e

    def _set_userpass(self, root: str, user: str, crypted: str) -> None:
        import time

        passwd = read_file(root, "etc/passwd")
        if passwd is None:
            raise VzError(E.CHANGEPASS, "Unable to change the password: "
                          "no /etc/passwd in the container")
        shadow = read_file(root, "etc/shadow")
        plines = _lines(passwd)
        today = str(int(time.time()) // 86400)
        new_home: tuple[str, int, int] | None = None
        i = _find(plines, user)
        if i < 0:
            new_home = self._add_user(root, user, plines, shadowed=shadow is not None)
            i = len(plines) - 1
        if shadow is not None:
            slines = _lines(shadow)
            j = _find(slines, user)
            if j < 0:
                slines.append(f"{user}:{crypted}:{today}:0:99999:7:::")
            else:
                slines[j] = _set_field(_set_field(slines[j], 1, crypted), 2, today)
            # glibc and PAM read shadow only when passwd's field says "x".
            plines[i] = _set_field(plines[i], 1, "x")
            write_file(root, "etc/passwd", _text(plines))
            write_file(root, "etc/shadow", _text(slines), mode=0o640)
        else:
            plines[i] = _set_field(plines[i], 1, crypted)
            write_file(root, "etc/passwd", _text(plines))
        if new_home is not None:
            self._make_home(root, *new_home)

    def _add_user(self, root: str, user: str, plines: list[str], shadowed: bool) -> \
            tuple[str, int, int]:
        """Add the group (group, gshadow) and append the passwd line to ``plines``.

        Returns (home, uid, gid) for the home directory made once passwd is written.
        """
        glines = _lines(read_file(root, "etc/group"))
        uid = _next_id(_ids(plines, 2))
        k = _find(glines, user)
        if k >= 0 and len(glines[k].split(":")) > 2 and glines[k].split(":")[2].isdigit():
            gid = int(glines[k].split(":")[2])
        else:
            used = _ids(glines, 2)
            gid = uid if uid not in used else _next_id(used)
            glines.append(f"{user}:x:{gid}:")
            write_file(root, "etc/group", _text(glines))
            gshadow = read_file(root, "etc/gshadow")
            if gshadow is not None:
                gslines = _lines(gshadow)
                if _find(gslines, user) < 0:
                    gslines.append(f"{user}:!::")
                    write_file(root, "etc/gshadow", _text(gslines), mode=0o640)
        shell = "/bin/bash" if self._has_file(root, "bin/bash") else "/bin/sh"
        home = f"/home/{user}"
        plines.append(f"{user}:{'x' if shadowed else '*'}:{uid}:{gid}::{home}:{shell}")
        return home, uid, gid

    @staticmethod
    def _has_file(root: str, rel: str) -> bool:
        path = resolve(root, rel)
        return path is not None and os.path.isfile(path)

    @staticmethod
    def _make_home(root: str, home: str, uid: int, gid: int) -> None:
        """mkdir the home directory from /etc/skel; an existing one is left as it is
        (useradd -m does the same and only warns)."""
        parent_rel, _, name = home.strip("/").rpartition("/")
        parent = resolve(root, parent_rel)
        if parent is None:
            os.makedirs(f"{root.rstrip('/')}/{parent_rel}", 0o755)
            parent = f"{root.rstrip('/')}/{parent_rel}"
        path = f"{parent}/{name}"
        if os.path.lexists(path):
            return
        os.mkdir(path, 0o700)
        skel = resolve(root, "etc/skel")
        if skel is not None and os.path.isdir(skel):
            _copy_tree(skel, path, uid, gid)
        os.chown(path, uid, gid)
        os.chmod(path, 0o755)

    # postcreate

    def postcreate(self, root: str) -> None:
        """One-time fixes of a freshly created VE (vzctl's postcreate.sh)."""
        self._lock_empty_root(root)
        self._ensure_localhost(root)
        etc = resolve(root, "etc")
        # A dangling link (to a resolver's file under /run) counts: it is filled at boot.
        if etc is not None and not os.path.lexists(f"{etc}/resolv.conf"):
            write_file(root, "etc/resolv.conf", "")
        self._randomize_crontabs(root)

    @staticmethod
    def _lock_empty_root(root: str) -> None:
        """An empty root password would let anyone in; "!!" locks the account instead."""
        for rel in ("etc/shadow", "etc/passwd"):
            text = read_file(root, rel)
            if text is None:
                continue
            lines = _lines(text)
            changed = [("root:!!:" + line[6:]) if line.startswith("root::") else line
                       for line in lines]
            if changed != lines:
                write_file(root, rel, _text(changed))

    @staticmethod
    def _ensure_localhost(root: str) -> None:
        text = read_file(root, "etc/hosts")
        lines = _lines(text)
        have = {f[0] for f in map(_hosts_fields, lines) if len(f) > 1 and "localhost" in f[1:]}
        missing = [entry for addr, entry in (("127.0.0.1", "127.0.0.1\tlocalhost"),
                                             ("::1", "::1\tlocalhost ip6-localhost "
                                                     "ip6-loopback"))
                   if addr not in have]
        if missing or text is None:
            write_file(root, "etc/hosts", _text(missing + lines))

    @staticmethod
    def _randomize_crontabs(root: str) -> None:
        import random

        rng = random.Random()
        names = ["etc/crontab"]
        crond = resolve(root, "etc/cron.d")
        if crond is not None and os.path.isdir(crond):
            names += [f"etc/cron.d/{n}" for n in sorted(os.listdir(crond))
                      if not n.startswith(".")]
        for rel in names:
            path = resolve(root, rel)
            if path is None or not os.path.isfile(path):
                continue
            text = read_file(root, rel)
            if text is None or _CRON_SKIP in text:
                continue
            write_file(root, rel, randomize_cron(text, rng))
