"""The record of what pyvz made on the node for a running VE: ``RUN/CTID/net``.

Written *before* each object is made (so a crash leaves at worst a record of something
that does not exist, which cleanup skips), read by cleanup, removed last.  Lines::

    gen=<token>            this run's id: its counters are added to the totals once
    table=<nft table>
    link=<host end>
    proxy=<address> <device>
    ip=<address>           a venet address applied (routes, VE address, nft set)
    netif=<NETIF entry>    a veth interface as applied
    rate=<kbit/s>          the shaping applied

No file, nothing to do: a VE without network never loads netlink code to find that out.
"""

from __future__ import annotations

import os

__all__ = ["NetState"]


class NetState:
    __slots__ = ("gen", "ips", "links", "netifs", "path", "proxies", "rate", "table")

    def __init__(self, path: str) -> None:
        self.path = path
        self.gen = ""
        self.table = ""
        self.links: list[str] = []
        self.proxies: list[tuple[str, str]] = []
        self.ips: list[str] = []
        self.netifs: list[str] = []
        self.rate = 0

    @classmethod
    def file(cls, run_dir: str) -> str:
        return f"{run_dir}/net"

    @classmethod
    def load(cls, run_dir: str) -> NetState | None:
        st = cls(cls.file(run_dir))
        try:
            with open(st.path) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key == "gen":
                st.gen = value
            elif key == "table":
                st.table = value
            elif key == "link" and value not in st.links:
                st.links.append(value)
            elif key == "ip" and value not in st.ips:
                st.ips.append(value)
            elif key == "netif" and value not in st.netifs:
                st.netifs.append(value)
            elif key == "rate" and value.isdigit():
                st.rate = int(value)
            elif key == "proxy":
                ip, _, dev = value.partition(" ")
                if (ip, dev) not in st.proxies:
                    st.proxies.append((ip, dev))
        return st

    @classmethod
    def new(cls, run_dir: str, table: str) -> NetState:
        st = cls(cls.file(run_dir))
        st.gen = os.urandom(6).hex()
        st.table = table
        return st

    def save(self) -> None:
        lines = [f"gen={self.gen}", f"table={self.table}"]
        lines += [f"link={name}" for name in self.links]
        lines += [f"proxy={ip} {dev}" for ip, dev in self.proxies]
        lines += [f"ip={ip}" for ip in self.ips]
        lines += [f"netif={text}" for text in self.netifs]
        lines.append(f"rate={self.rate}")
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.rename(tmp, self.path)

    def remove(self) -> None:
        for path in (self.path, f"{self.path}.tmp"):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
