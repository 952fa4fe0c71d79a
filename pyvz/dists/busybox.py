"""The built-in busybox template (pyvz.templates.busybox).

Its files follow the generic layout (passwd, shadow, hosts, resolv.conf) and its init
understands ``halt`` and ``reboot`` (they signal busybox init, which runs
/etc/init.d/rcK), so the generic behaviour applies unchanged, but for the network: busybox
has an ifupdown of its own, which pyvz sets up so that the VE's boot brings its veth
interfaces up (``set_network``).
"""

from __future__ import annotations

import os

from pyvz.dists.base import Dist, read_file, resolve, write_file

__all__ = ["Busybox"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.net.netif import Netif

# [net area] rcS runs /etc/init.d/S??* at boot (and rcK stops them): this one brings up
# the interfaces of /etc/network/interfaces with busybox's ifup
_NET_SCRIPT = "etc/init.d/S10network"
_NET_MARK = "# pyvz: network interfaces (vzctl set --ifname ... --ipadd/--gw/--dhcp)"
_NET_RC = f"""#!/bin/sh
{_NET_MARK}
# Brings up the "auto" interfaces of /etc/network/interfaces at boot.  pyvz rewrites this
# file while this line stays; remove the line to keep your own version.
PATH=/sbin:/bin:/usr/sbin:/usr/bin
SHELL=/bin/sh
export PATH SHELL
case "$1" in
start) ifup -a ;;
stop) ifdown -a ;;
esac
exit 0
"""
# udhcpc (busybox's DHCP client, run by ifup for "inet dhcp") hands each lease to a script
_DHCP_SCRIPT = "/etc/network/udhcpc.script"
_DHCP_RC = """#!/bin/sh
# pyvz: applies the leases of udhcpc (busybox ifup's "inet dhcp") to the interface.
# resolv.conf is left alone: vzctl set --nameserver owns it.
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
bound|renew)
    if ! ip -4 addr show dev "$interface" | grep -q " $ip/${mask:-24} "; then
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
    fi
    for gw in $router; do
        ip route replace default via "$gw" dev "$interface"
        break
    done
    ;;
esac
exit 0
"""


class Busybox(Dist):
    name = "busybox"
    dhcp6 = False  # [net area] its ifup has no "inet6 dhcp" (pyvz.net.guest warns)

    def set_network(self, root: str, ips: list[str], netifs: list[Netif]) -> bool:
        """busybox's ifup reads ifupdown's /etc/network/interfaces; S10network runs it at
        boot.  lo has no stanza: rcS brings it up, and ifup fails on its address.
        [net area]"""
        self._write_ifupdown(root, ips, netifs, loopback=False,
                             dhcp_script=_DHCP_SCRIPT, dhcp6=self.dhcp6)
        if not self._has_file(root, "sbin/ifup"):
            return False  # a busybox without ifup: the node sets the addresses
        net = resolve(root, "etc/network")
        if net is None:
            return False
        # busybox's ifup runs run-parts on these, and fails when one is missing
        for phase in ("if-pre-up.d", "if-up.d", "if-down.d", "if-post-down.d"):
            if not os.path.isdir(f"{net}/{phase}"):
                os.mkdir(f"{net}/{phase}", 0o755)
        current = read_file(root, _NET_SCRIPT)
        if current is None or _NET_MARK in current:  # an admin's own version stays
            write_file(root, _NET_SCRIPT, _NET_RC, mode=0o755)
        if any(n.uses_dhcp(False) for n in netifs):
            write_file(root, _DHCP_SCRIPT.lstrip("/"), _DHCP_RC, mode=0o755)
        return True
