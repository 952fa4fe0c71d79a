"""``vzpkg`` — OS templates and packages.  Not built yet: it comes with the templates issue."""

from __future__ import annotations

import sys

__all__ = ["main", "main_cache", "main_ls", "main_yum"]


def main(argv: list[str] | None = None) -> int:
    sys.stderr.write("vzpkg: not available in this pyvz yet (templates issue)\n")
    return 5


def main_cache(argv: list[str] | None = None) -> int:
    return main(argv)


def main_ls(argv: list[str] | None = None) -> int:
    return main(argv)


def main_yum(argv: list[str] | None = None) -> int:
    return main(argv)
