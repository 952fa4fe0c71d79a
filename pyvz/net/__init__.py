"""Network virtualization of VEs: venet (routed, default) and veth (bridged) devices,
anti-spoofing, traffic accounting and shaping.  See docs/network.md.

Modules, one job each:

* ``netif``      NETIF values (``ifname=..,mac=..;…``), MACs, interface names (no imports)
* ``names``      node-unique host-end device names, aliases and nft table names
* ``netplan``    what a VE's network should look like (built in P from its config)
* ``netlink``    the only pyroute2 user: devices, addresses, routes, proxy neighbours
* ``nft``        the VE's own nft table: anti-spoofing, MAC filter, counters, policing
* ``shaping``    tc on the host ends (``--rate``)
* ``accounting`` running traffic totals across restarts
* ``state``      the record of what was made on the node for a running VE
* ``lifecycle``  the start/cleanup area (plan, attach, cleanup)
* ``live``       ``vzctl set`` changes applied to a running VE
* ``conflicts``  "address already in use" (exit 78)
"""
