"""What a freshly bootstrapped Debian tree needs before it is a template cache.

The tree is the node's own scratch directory (nothing runs in it any more), but its
symlinks are the distribution's: every path is resolved inside the tree
(``pyvz.dists.base.resolve``), never on the node.

* No node identity leaks into the cache: /etc/hostname becomes ``localhost`` and
  /etc/resolv.conf empty (``vzctl set --hostname/--nameserver`` fill them per VE).
* No shared secrets: the ssh host keys made by openssh-server's postinst are removed;
  each VE gets its own at create (``pyvz.dists.debian.Debian.postcreate``).
* ``vzctl set --userpasswd root:...`` then ``ssh root@VE`` works, as in OpenVZ's
  templates: ``PermitRootLogin yes`` in a drop-in (root's password stays locked until one
  is set).
* The VE's apt installs without Recommends, as the cache itself was built (a drop-in in
  /etc/apt/apt.conf.d), so ``vzpkg install`` adds what was asked for, not a mail server.
* With the fallback init (sysvinit), only /dev/console has a getty: a VE has no tty1-6.
"""

from __future__ import annotations

import os

from pyvz.dists.base import read_file, resolve, write_file

__all__ = ["APT_DROPIN", "SSHD_DROPIN", "apply", "installed_packages"]

APT_DROPIN = "etc/apt/apt.conf.d/90pyvz-no-recommends"
SSHD_DROPIN = "etc/ssh/sshd_config.d/pyvz.conf"
_SSHD_TEXT = ("# pyvz: log in as root with the password set by vzctl set --userpasswd\n"
              "PermitRootLogin yes\n")


def apply(rootfs: str, init_kind: str) -> None:
    write_file(rootfs, "etc/hostname", "localhost\n")
    if resolve(rootfs, "etc/resolv.conf") is not None or \
            os.path.lexists(os.path.join(rootfs, "etc/resolv.conf")):
        write_file(rootfs, "etc/resolv.conf", "")
    if read_file(rootfs, "etc/hosts") is None:
        write_file(rootfs, "etc/hosts", "127.0.0.1\tlocalhost\n"
                   "::1\tlocalhost ip6-localhost ip6-loopback\n")
    ssh = resolve(rootfs, "etc/ssh")
    if ssh is not None and os.path.isdir(ssh):
        for name in os.listdir(ssh):
            if name.startswith("ssh_host_") and "_key" in name:
                os.unlink(os.path.join(ssh, name))
        if os.path.isdir(os.path.join(ssh, "sshd_config.d")):
            write_file(rootfs, SSHD_DROPIN, _SSHD_TEXT)
    # the VE's own apt installs as the cache was built: without Recommends
    if resolve(rootfs, "etc/apt/apt.conf.d") is not None:
        write_file(rootfs, APT_DROPIN, "# pyvz: as the template cache was built\n"
                   'APT::Install-Recommends "false";\n')
    machine_id = resolve(rootfs, "etc/machine-id")
    if machine_id is not None and os.path.isfile(machine_id):
        write_file(rootfs, "etc/machine-id", "")  # each VE gets its own at first boot
    if init_kind != "systemd":
        _console_only_getty(rootfs)


def _console_only_getty(rootfs: str) -> None:
    text = read_file(rootfs, "etc/inittab")
    if text is None:
        return
    out = []
    for line in text.split("\n"):
        fields = line.split(":")
        if len(fields) >= 4 and not line.startswith("#") and "getty" in fields[3] and \
                "tty" in fields[3]:
            out.append("#" + line)  # no such terminal in a VE
        else:
            out.append(line)
    out.append("# pyvz: a login prompt on the VE's console (vzctl console)")
    out.append("co:2345:respawn:/sbin/getty -L 115200 console vt100")
    write_file(rootfs, "etc/inittab", "\n".join(out).rstrip("\n") + "\n")


def installed_packages(status_text: str) -> dict[str, str]:
    """Package -> version of everything dpkg's status file says is installed."""
    out: dict[str, str] = {}
    for stanza in status_text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(": ")
            if sep and not line.startswith(" "):
                fields[key] = value
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            out[fields["Package"]] = fields.get("Version", "")
    return out
