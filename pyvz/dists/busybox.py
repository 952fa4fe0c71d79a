"""The built-in busybox template (pyvz.templates.busybox).

Its files follow the generic layout (passwd, shadow, hosts, resolv.conf) and its init
understands ``halt`` and ``reboot`` (they signal busybox init, which runs
/etc/init.d/rcK), so the generic behaviour applies unchanged; the class exists so the
template has a name of its own to grow into.
"""

from __future__ import annotations

from pyvz.dists.base import Dist

__all__ = ["Busybox"]


class Busybox(Dist):
    name = "busybox"

    def set_network(self, root: str, ips: list[str], ifnames: list[str]) -> bool:
        """busybox's ifup reads ifupdown's /etc/network/interfaces.  [net area]"""
        return self._write_ifupdown(root, ips, ifnames)
