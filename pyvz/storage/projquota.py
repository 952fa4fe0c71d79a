"""Project quota (ext4 or XFS mounted with ``prjquota``): how the overlay and simfs layouts
enforce DISKSPACE/DISKINODES (soft and hard, with QUOTATIME as grace) without an image.

The VE's own files (its upper layer, or its whole tree) get a project id and the
"inherit" flag on every directory (``chattr -p ID +P``), so whatever the VE writes later is
counted to the same project; ``setquota -P`` sets the limits; ``repquota -P`` reads usage.
The VE's root has no CAP_SYS_RESOURCE in the node's namespace, so the hard limits hold for
it too.  Only a filesystem the admin already mounted with project quota is used: pyvz never
changes the node's mount options.

The id is kept by the files themselves (the top directory's project id); a new one is
derived from the private area's path.
"""

from __future__ import annotations

import os
import zlib

from pyvz.errors import E, VzError
from pyvz.kernel.mountinfo import read_mounts
from pyvz.kernel.proc import run

__all__ = ["apply", "mountpoint_for", "project_of", "usage"]

_PARTIAL = ".partial"


def mountpoint_for(path: str) -> str | None:
    """The mount point holding ``path`` if it has project quota on, else None."""
    path = os.path.realpath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    best = None
    for m in read_mounts():
        t = m.target.rstrip("/") or "/"
        if (path == t or path.startswith(t.rstrip("/") + "/")) and \
                (best is None or len(t) > len(best.target)):
            best = m
    if best is None or best.fstype not in ("ext4", "xfs"):
        return None
    opts = set(best.super_options.split(",")) | set(best.options.split(","))
    if opts & {"prjquota", "pquota", "pqnoenforce"} and "pqnoenforce" not in opts:
        return best.target
    return None


def project_of(data_dir: str) -> int:
    """The project id of ``data_dir`` (0: none)."""
    rc, out, _ = run(["lsattr", "-p", "-d", data_dir], code=E.DQ_SET, check=False)
    if rc != 0:
        return 0
    first = out.decode().split()
    return int(first[0]) if first and first[0].isdigit() else 0


def _new_id(data_dir: str) -> int:
    path = os.path.realpath(data_dir)
    parent, name = os.path.split(path)
    parent = parent[:-len(_PARTIAL)] if parent.endswith(_PARTIAL) else parent
    name = name[:-len(_PARTIAL)] if name.endswith(_PARTIAL) else name
    return (zlib.crc32(os.path.join(parent, name).encode()) & 0x3FFFFFFF) | 0x40000000


def apply(dirs: list[str], space: tuple[int | None, int | None],
          inodes: tuple[int | None, int | None], grace: int) -> int:
    """Tag ``dirs`` (recursively; the first holds the VE's files, the id comes from it) and
    set the project's limits; returns the id.  Every directory the VE's writes pass
    through must carry the id: ext4 refuses (EXDEV) a rename into an inheriting directory
    of another project, and overlayfs copies up through its work directory."""
    data_dir = dirs[0]
    mnt = mountpoint_for(data_dir)
    if mnt is None:
        raise VzError(E.DQ_SET, f"No project quota on the filesystem of {data_dir}")
    pid = project_of(data_dir) or _new_id(data_dir)
    for d in dirs:
        # the id on everything, then "inherit" on the directories (a file refuses that
        # flag, and chattr then skips its id too, hence two passes); -f: symlinks and
        # device nodes take neither (their few blocks stay uncounted)
        run(["chattr", "-R", "-f", "-p", str(pid), d], code=E.DQ_SET, check=False)
        run(["chattr", "-R", "-f", "+P", d], code=E.DQ_SET, check=False)
        if project_of(d) != pid:
            raise VzError(E.DQ_SET, f"Unable to set project {pid} on {d}")
    run(["setquota", "-P", str(pid), str(space[0] or 0), str(space[1] or 0),
         str(inodes[0] or 0), str(inodes[1] or 0), mnt], code=E.DQ_SET, what="setquota")
    if grace:
        run(["setquota", "-T", "-P", str(pid), str(grace), str(grace), mnt], code=E.DQ_SET,
            what="setquota")
    return pid


def usage(data_dir: str) -> tuple[int | None, int | None]:
    mnt = mountpoint_for(data_dir)
    pid = project_of(data_dir) if mnt else 0
    if not mnt or not pid:
        return None, None
    rc, out, _ = run(["repquota", "-P", "-n", "-p", mnt], code=E.GET_QUOTA_USAGE,
                     check=False)
    for line in out.decode().splitlines():
        fields = line.split()
        if rc == 0 and fields and fields[0] == f"#{pid}" and len(fields) >= 7:
            # "#ID -- used soft hard grace used soft hard grace"
            return int(fields[2]), int(fields[6])
    return None, None
