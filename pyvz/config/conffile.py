"""vzctl's shell-variable config files (``KEY="value"`` lines), read and edited in place.

Saving touches only the lines of keys that changed: comments, blank lines, ordering and
keys pyvz does not know survive, and a file whose content would not change is not written
at all (vzctl's ``vps_merge_conf``).  Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import os

__all__ = ["ConfFile", "format_line", "parse_line"]


def parse_line(line: str) -> tuple[str, str] | None:
    """``KEY=value`` / ``KEY="value"`` / ``KEY='value'`` → (KEY, value); else None."""
    text = line.strip()
    if not text or text.startswith("#") or "=" not in text:
        return None
    if text.startswith("export "):
        text = text[7:].lstrip()
    key, _, value = text.partition("=")
    if not key or not (key[0].isalpha() or key[0] == "_") or \
            not all(c.isalnum() or c == "_" for c in key):
        return None
    value = value.strip()
    if value and value[0] in "\"'":
        end = value.find(value[0], 1)
        rest = value[end + 1:].strip() if end > 0 else ""
        if end < 0 or (rest and not rest.startswith("#")):
            return None  # an unterminated quote or junk after it: not ours to read
        value = value[1:end]
    else:
        # unquoted: a trailing comment ends the value, as in the shell
        hash_at = value.find(" #")
        if hash_at >= 0:
            value = value[:hash_at].rstrip()
    return key, value


def format_line(key: str, value: str) -> str:
    return f'{key}="{value}"\n'


class ConfFile:
    """One config file's lines, with the last assignment of each key being its value."""

    __slots__ = ("_original", "lines", "path")

    def __init__(self, path: str, text: str = "") -> None:
        self.path = path
        self.lines = text.splitlines(keepends=True)
        if self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"
        self._original = "".join(self.lines)

    @classmethod
    def load(cls, path: str) -> ConfFile:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return cls(path, f.read())

    @classmethod
    def load_or_empty(cls, path: str) -> ConfFile:
        try:
            return cls.load(path)
        except FileNotFoundError:
            return cls(path)

    def values(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for line in self.lines:
            kv = parse_line(line)
            if kv is not None:
                result[kv[0]] = kv[1]
        return result

    def get(self, key: str) -> str | None:
        return self.values().get(key)

    def set(self, key: str, value: str | None) -> None:
        """Replace the key's last line in place (dropping earlier duplicates), append a new
        key at the end, or remove the key when ``value`` is None."""
        positions = [i for i, line in enumerate(self.lines)
                     if (kv := parse_line(line)) is not None and kv[0] == key]
        if value is None:
            for i in reversed(positions):
                del self.lines[i]
            return
        if "\n" in value or '"' in value:
            raise ValueError(f"{key}: a value may not contain a newline or a double quote")
        new = format_line(key, value)
        if not positions:
            self.lines.append(new)
            return
        last = positions[-1]
        if parse_line(self.lines[last]) != (key, value):
            self.lines[last] = new
        for i in reversed(positions[:-1]):
            del self.lines[i]

    def text(self) -> str:
        return "".join(self.lines)

    @property
    def changed(self) -> bool:
        return self.text() != self._original

    def save(self, path: str | None = None, mode: int = 0o644) -> bool:
        """Write the file if its content changed (or it goes to a new path); True if written."""
        target = path or self.path
        if target == self.path and not self.changed and os.path.exists(target):
            return False
        write_atomic(target, self.text(), mode)
        if target == self.path:
            self._original = self.text()
        return True


def write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``text`` (temp file, fsync, rename); an existing file keeps its
    mode."""
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        pass
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        try:
            data = text.encode("utf-8", errors="surrogateescape")
            while data:
                data = data[os.write(fd, data):]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
