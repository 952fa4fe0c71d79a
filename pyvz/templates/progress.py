"""A progress display for long template work (bootstrapping, updating package lists).

The tools' own output is read line by line: phases (mmdebstrap's ``I: ...`` lines) are
shown as they start, and within a phase the packages fetched (``Get:``) and set up
(``Setting up``) are counted.  On a terminal one status line is redrawn in place; otherwise
(a log, a pipe) each phase is one line, so logs stay readable.  Every line of output is
kept for the error message should the tool fail.
"""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["Progress"]

_PHASES = (
    ("running apt-get update", "reading package lists"),
    ("downloading packages", "downloading packages"),
    ("extracting archives", "unpacking the essential packages"),
    ("installing essential packages", "installing the essential packages"),
    ("installing remaining packages", "installing the package set"),
    ("cleaning package lists", "cleaning up"),
)


class Progress:
    def __init__(self, title: str, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.title = title
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.tty = self.stream.isatty() and not quiet
        self.start = time.monotonic()
        self.phase = ""
        self.fetched = 0
        self.set_up = 0
        self.lines: list[str] = []
        self._last_draw = 0.0

    def elapsed(self) -> str:
        return f"{int(time.monotonic() - self.start):4d}s"

    def say(self, text: str) -> None:
        """A line of its own (a phase, a decision)."""
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(f"[{self.elapsed()}] {self.title}: {text}\n")
        self.stream.flush()

    def line(self, line: str) -> None:
        """Feed one line of the tool's output."""
        self.lines.append(line)
        if len(self.lines) > 4000:
            del self.lines[:1000]
        if line.startswith("Get:"):
            self.fetched += 1
        elif line.startswith("Setting up "):
            self.set_up += 1
        elif line.startswith("I: "):
            for marker, words in _PHASES:
                if marker in line and words != self.phase:
                    self.phase = words
                    self.say(words)
        self._draw()

    def _draw(self) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if now - self._last_draw < 0.2:
            return
        self._last_draw = now
        status = f"{self.phase or 'starting'}; {self.fetched} fetched, {self.set_up} set up"
        self.stream.write(f"\r\x1b[K[{self.elapsed()}] {self.title}: {status}")
        self.stream.flush()

    def done(self, text: str) -> None:
        self.say(text)
