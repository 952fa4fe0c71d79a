"""Reading /proc/self/mountinfo: which paths are mount points, and where cgroupfs lives."""

from __future__ import annotations

__all__ = ["MountEntry", "is_mountpoint", "mounts_under", "read_mounts", "unescape"]


def unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    if "\\" not in field:
        return field
    out = []
    i = 0
    while i < len(field):
        c = field[i]
        if c == "\\" and len(field) >= i + 4 and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(c)
            i += 1
    return "".join(out)


class MountEntry:
    __slots__ = (
        "fstype",
        "mount_id",
        "options",
        "parent_id",
        "root",
        "source",
        "super_options",
        "target",
    )

    def __init__(self, line: str) -> None:
        left, _, right = line.partition(" - ")
        fields = left.split()
        self.mount_id = int(fields[0])
        self.parent_id = int(fields[1])
        self.root = unescape(fields[3])
        self.target = unescape(fields[4])
        self.options = fields[5]
        rfields = right.split()
        self.fstype = rfields[0] if rfields else ""
        self.source = unescape(rfields[1]) if len(rfields) > 1 else ""
        self.super_options = rfields[2] if len(rfields) > 2 else ""


def read_mounts(pid: str = "self") -> list[MountEntry]:
    with open(f"/proc/{pid}/mountinfo") as f:
        return [MountEntry(line) for line in f if line.strip()]


def is_mountpoint(path: str, mounts: list[MountEntry] | None = None) -> bool:
    path = path.rstrip("/") or "/"
    for m in mounts if mounts is not None else read_mounts():
        if m.target == path:
            return True
    return False


def mounts_under(path: str, mounts: list[MountEntry] | None = None) -> list[str]:
    """Mount points at or below ``path``, deepest first (the order to unmount them)."""
    path = path.rstrip("/")
    found = [m.target for m in (mounts if mounts is not None else read_mounts())
             if m.target == path or m.target.startswith(path + "/")]
    return sorted(set(found), key=lambda t: (-t.count("/"), t))
