"""Signal numbers and handlers without the ``signal`` module, whose enums cost more to import
than a whole ``vzctl exec``."""

from __future__ import annotations

import _signal  # type: ignore[import-not-found, unused-ignore]

__all__ = ["SIGHUP", "SIGINT", "SIGKILL", "SIGQUIT", "SIGTERM", "SIGWINCH", "set_handler"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

SIGHUP, SIGINT, SIGQUIT, SIGKILL, SIGTERM, SIGWINCH = 1, 2, 3, 9, 15, 28


def set_handler(signum: int, handler: Callable[[int, object], None]) -> None:
    _signal.signal(signum, handler)
