"""``vzsplit`` — divide the node into N VEs.  Not built yet: it comes with the resources issue."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    sys.stderr.write("vzsplit: not available in this pyvz yet (resources issue)\n")
    return 5
