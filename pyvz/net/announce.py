"""Telling a segment's neighbours that a VE address now lives behind the node (vzctl's
``arpsend -U`` after adding a venet address): an unsolicited ARP request for IPv4, an
unsolicited neighbour advertisement with the override flag for IPv6, one each, from the
node device's MAC.  Neighbours that still hold the address at another MAC (it was on
another node or VE until now) update their caches at once instead of after their entry
times out; neighbours without an entry ignore it (Linux's default).

The packets are a few bytes built here: ``arping``/``ndsend`` would be a process per
address and device, and neither takes a source address the node does not own.  Sent on
the devices pyvz proxies the address on, and only when the admin chose those devices
(NEIGHBOUR_DEVS ``detect`` or a list; see ``wanted``).
"""

from __future__ import annotations

__all__ = ["announce", "wanted"]

_ETH_P_ARP = 0x0806
_ETH_P_IP = 0x0800
_ARP_REQUEST = 1
_ND_NEIGHBOR_ADVERT = 136
_ND_OVERRIDE = 0x20000000
_ND_OPT_TARGET_LL = 2
_SO_BINDTODEVICE = 25


def wanted(neighbour_devs: str) -> bool:
    """NEIGHBOUR_DEVS ``all`` (the default) takes every device, whatever its network:
    announcing there would send to networks that have nothing to do with the address.
    ``detect`` (devices whose subnet holds the address) and a list are the admin's
    choice of the segments the address belongs to."""
    return neighbour_devs not in ("all", "none")


def _mac_bytes(mac: str) -> bytes:
    return bytes(int(b, 16) for b in mac.split(":"))


def announce(dev: str, ifindex: int, mac: str, ip: str) -> None:
    """One announcement of ``ip`` at ``mac`` on node device ``dev`` (raises OSError)."""
    import socket
    import struct

    hw = _mac_bytes(mac)
    if ":" not in ip:
        addr = socket.inet_aton(ip)
        # Ethernet/IPv4 ARP request whose sender and target are the address itself
        arp = struct.pack("!HHBBH6s4s6s4s", 1, _ETH_P_IP, 6, 4, _ARP_REQUEST, hw, addr,
                          b"\0" * 6, addr)
        with socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                           socket.htons(_ETH_P_ARP)) as s:
            s.sendto(arp, (dev, _ETH_P_ARP, 0, 0, b"\xff" * 6))
        return
    target = socket.inet_pton(socket.AF_INET6, ip)
    # the kernel fills in the checksum of a raw ICMPv6 socket and the device's link-local
    # source address; neighbours accept an advertisement only with hop limit 255
    na = struct.pack("!BBHI16sBB6s", _ND_NEIGHBOR_ADVERT, 0, 0, _ND_OVERRIDE, target,
                     _ND_OPT_TARGET_LL, 1, hw)
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as s:
        s.setsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, dev.encode())
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        s.sendto(na, ("ff02::1", 0, 0, ifindex))
