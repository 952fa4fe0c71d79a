"""``vzmigrate`` — move a VE to another node.  Not built yet: it comes with the migration issue."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    sys.stderr.write("vzmigrate: not available in this pyvz yet (migration issue)\n")
    return 5
