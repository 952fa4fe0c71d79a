"""Network virtualization of VEs: venet (routed, default) and veth (bridged) devices,
in-VE addressing of veth interfaces, anti-spoofing, traffic accounting and shaping.
See docs/network.md.

Modules, one job each:

* ``netif``      NETIF values (``ifname=..,mac=..,ip=..;…``), MACs, names; the option merge
* ``names``      node-unique host-end device names, aliases and nft table names
* ``netplan``    what a VE's network should look like (built in P from its config)
* ``netlink``    the only pyroute2 user: devices, addresses, routes, proxy neighbours
* ``apply``      bringing the node and the VE to a plan, and back to nothing (cleanup);
                 "address already in use" (exit 78), checked under a per-namespace lock
* ``nft``        the VE's own nft table: anti-spoofing, MAC filter, counters, policing
* ``shaping``    tc on the host ends (``--rate``)
* ``announce``   gratuitous ARP / unsolicited NA for a newly added venet address
* ``ifupdown``   /etc/network/interfaces stanzas (Debian's and busybox's ifup)
* ``guest``      the VE's own network files, written from inside it; its ifup/ifdown
* ``accounting`` running traffic totals across restarts
* ``state``      the record of what was made on the node for a running VE
* ``lifecycle``  the start/cleanup area (plan, attach, cleanup)
* ``live``       ``vzctl set`` changes applied to a running VE
"""
