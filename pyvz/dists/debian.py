"""Debian and Ubuntu (vzctl's ``debian`` scripts).

Debian differs from generic Linux in two files: /etc/mailname, which mail programs use as
the host's mail name and which should follow the hostname, and the installer's
``127.0.1.1 hostname`` line in /etc/hosts, which the managed hostname line replaces so the
old name does not keep resolving to 127.0.1.1.
"""

from __future__ import annotations

import os

from pyvz.dists.base import Dist, read_file, resolve, write_file
from pyvz.errors import E, VzError

__all__ = ["Debian"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.net.netif import Netif


class Debian(Dist):
    name = "debian"

    def set_hostname(self, root: str, hostname: str, ips: list[str]) -> None:
        super().set_hostname(root, hostname, ips)
        # Only an existing mailname: without a mail system the file means nothing.
        if read_file(root, "etc/mailname") is not None:
            write_file(root, "etc/mailname", hostname + "\n")

    def _is_stale_hosts_line(self, fields: list[str]) -> bool:
        return bool(fields) and fields[0] == self.nameless_ip

    def set_network(self, root: str, ips: list[str], netifs: list[Netif]) -> bool:
        """ifupdown's /etc/network/interfaces (vzctl's debian-add_ip, VZ7's
        debian-set_netif), keeping the ``interfaces.d`` drop-ins of Debian's own file.
        The VE's networking service brings the interfaces up at boot when ifupdown is
        installed; without it the node sets the addresses.  [net area]"""
        drop_ins = resolve(root, "etc/network/interfaces.d")
        self._write_ifupdown(root, ips, netifs, source_dir="/etc/network/interfaces.d"
                             if drop_ins is not None and os.path.isdir(drop_ins) else "")
        return self._has_file(root, "sbin/ifup")

    def postcreate(self, root: str) -> None:
        """vzctl's postcreate, plus ssh host keys of the VE's own.  [templates area]"""
        super().postcreate(root)
        make_ssh_host_keys(root)


def make_ssh_host_keys(root: str) -> bool:
    """Run the VE's ``ssh-keygen -A`` for a tree that has sshd but no host keys.

    A template cache holds none (every VE made from it would share them, and so its
    identity); each VE gets its own when it is created.  Runs wherever ``root`` is the
    VE's root (chrooted as the VE's root at create), so the VE's own program, libraries
    and uid are used; nothing is imported here (no node library inside a VE).
    """
    keygen = resolve(root, "usr/bin/ssh-keygen")
    ssh = resolve(root, "etc/ssh")
    if keygen is None or ssh is None or not os.path.isfile(f"{ssh}/sshd_config"):
        return False
    if any(n.startswith("ssh_host_") and n.endswith("_key") for n in os.listdir(ssh)):
        return False
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(w, 1)
            os.dup2(w, 2)
            os.execve(keygen, ["ssh-keygen", "-A", "-f", root],
                      {"PATH": "/usr/bin:/bin"})
        finally:
            os._exit(127)
    os.close(w)
    output = b""
    while chunk := os.read(r, 4096):
        output += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise VzError(E.SYSTEM, "ssh-keygen -A failed in the container: "
                      + output.decode(errors="replace").strip()[-200:])
    return True
