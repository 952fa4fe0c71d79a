"""Debian and Ubuntu (vzctl's ``debian`` scripts).

Debian differs from generic Linux in two files: /etc/mailname, which mail programs use as
the host's mail name and which should follow the hostname, and the installer's
``127.0.1.1 hostname`` line in /etc/hosts, which the managed hostname line replaces so the
old name does not keep resolving to 127.0.1.1.
"""

from __future__ import annotations

from pyvz.dists.base import Dist, read_file, write_file

__all__ = ["Debian"]


class Debian(Dist):
    name = "debian"

    def set_hostname(self, root: str, hostname: str, ips: list[str]) -> None:
        super().set_hostname(root, hostname, ips)
        # Only an existing mailname: without a mail system the file means nothing.
        if read_file(root, "etc/mailname") is not None:
            write_file(root, "etc/mailname", hostname + "\n")

    def _is_stale_hosts_line(self, fields: list[str]) -> bool:
        return bool(fields) and fields[0] == self.nameless_ip
