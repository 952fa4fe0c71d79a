"""Traffic totals that survive restarts: ``VZ/traffic/CTID`` holds the bytes and packets
of every earlier run; a running VE adds what its nft counters show now.

Each run's counters are added once: the file remembers the id (``gen``) of the last run
it took in, so a cleanup interrupted after adding and repeated does not count twice.  The
private area's inode is kept too: a VE destroyed and created again under the same CTID
starts from zero.
"""

from __future__ import annotations

import os

__all__ = ["Totals", "totals_path"]


def totals_path(vz_dir: str, ctid: int) -> str:
    return f"{vz_dir}/traffic/{ctid}"


def _private_ino(private: str) -> int:
    try:
        return os.stat(private).st_ino
    except OSError:
        return 0


class Totals:
    __slots__ = ("bytes_in", "bytes_out", "gen", "path", "pkts_in", "pkts_out", "private")

    def __init__(self, path: str, private: str) -> None:
        self.path = path
        self.private = private
        self.bytes_in = self.pkts_in = self.bytes_out = self.pkts_out = 0
        self.gen = ""

    @classmethod
    def load(cls, vz_dir: str, ctid: int, private: str) -> Totals:
        t = cls(totals_path(vz_dir, ctid), private)
        try:
            with open(t.path) as f:
                fields = dict(line.partition("=")[::2] for line in f.read().splitlines())
        except (FileNotFoundError, ValueError):
            return t
        ino = _private_ino(private)
        if fields.get("private_ino", "") != str(ino) and ino:
            return t  # another VE under the same CTID
        try:
            t.bytes_in = int(fields.get("bytes_in", "0"))
            t.pkts_in = int(fields.get("pkts_in", "0"))
            t.bytes_out = int(fields.get("bytes_out", "0"))
            t.pkts_out = int(fields.get("pkts_out", "0"))
        except ValueError:
            return cls(t.path, private)
        t.gen = fields.get("gen", "")
        return t

    def add(self, gen: str, counters: tuple[int, int, int, int]) -> None:
        """Take in the final counters of run ``gen`` (once) and save."""
        if gen and gen == self.gen:
            return
        self.bytes_in += counters[0]
        self.pkts_in += counters[1]
        self.bytes_out += counters[2]
        self.pkts_out += counters[3]
        self.gen = gen
        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as f:
            f.write(f"bytes_in={self.bytes_in}\npkts_in={self.pkts_in}\n"
                    f"bytes_out={self.bytes_out}\npkts_out={self.pkts_out}\n"
                    f"gen={gen}\nprivate_ino={_private_ino(self.private)}\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, self.path)
