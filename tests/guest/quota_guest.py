"""Runs inside the QEMU guest (a stock Debian kernel with quota formats), as root: the
ploop layout's second-level quota and online grow, through pyvz's own commands.

Prints ``CHECK <name> ok|FAIL <detail>`` lines and exits non-zero if a required check
failed.  Started by tests/test_quota_qemu.py; not a pytest module (pytest's import alone
takes seconds under TCG)."""

from __future__ import annotations

import os
import subprocess
import sys

BIN = os.path.dirname(sys.executable)
failed: list[str] = []


def check(name: str, ok: bool, detail: str = "", required: bool = True) -> None:
    print(f"CHECK {name} {'ok' if ok else 'FAIL'} {detail}".rstrip(), flush=True)
    if not ok and required:
        failed.append(name)


def sh(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=env)


def main() -> int:
    sh("modprobe", "-a", "loop", "ext4", "quota_v2")
    from pyvz.storage.limits import kernel_quota_formats

    check("kernel_quota_formats", kernel_quota_formats())
    node = "/tmp/pyvz-qv-node"
    os.makedirs(node, exist_ok=True)
    env = dict(os.environ, VZ_ROOT=node)

    def vzctl(*args: str) -> subprocess.CompletedProcess[str]:
        return sh(f"{BIN}/vzctl", *args, env=env)

    r = vzctl("create", "101", "--ostemplate", "busybox", "--layout", "ploop",
              "--diskspace", "64M", "--quotaugidlimit", "100")
    check("create_with_quotaugidlimit", r.returncode == 0, r.stderr.strip()[-300:])
    image = f"{node}/vz/private/101/root.hdd"
    from pyvz.storage.ploop import superblock

    check("image_has_quota_feature", bool(superblock(image)["quota"]))
    r = vzctl("mount", "101")
    check("mount", r.returncode == 0, r.stderr.strip()[-300:])
    root = f"{node}/vz/root/101"
    with open("/proc/self/mountinfo") as f:
        line = next((ln for ln in f if f" {root} " in ln), "")
    check("mounted_with_usrquota", "usrquota" in line and "grpquota" in line, line.strip())
    r = sh("quotaon", "-p", root)
    check("quotaon_reports_on", "is on" in r.stdout, r.stdout.strip().replace("\n", " | "))

    # VE user 1000 is node uid 101000 (LOCAL_UID 100000): limit it, then write as it
    r = sh("setquota", "-u", "101000", "1000", "2000", "0", "0", root)
    check("setquota_node_side", r.returncode == 0, r.stderr.strip())
    os.chmod(root + "/tmp", 0o1777)
    r = sh("setpriv", "--reuid=101000", "--regid=101000", "--clear-groups", "dd",
           "if=/dev/zero", f"of={root}/tmp/big", "bs=1M", "count=5")
    check("edquot_for_the_ve_user", "Disk quota exceeded" in r.stderr, r.stderr.strip())
    r = sh("repquota", "-u", "-n", root)
    row = next((ln for ln in r.stdout.splitlines() if ln.startswith("#101000")), "")
    check("repquota_shows_it", "2000" in row, row)

    # the VE's own root (a user namespace mapped like the VE) may not set quota on a
    # filesystem the node mounted: quotactl wants CAP_SYS_ADMIN in the superblock's
    # (the node's) user namespace
    from pyvz.storage.idmap import nsenter_argv, ve_userns

    with ve_userns(100000, 100000) as ns:
        r = sh(*nsenter_argv(ns, ["setquota", "-u", "1000", "10", "20", "0", "0", root]))
        check("setquota_from_ve_userns_refused", r.returncode != 0,
              r.stderr.strip().replace("\n", " | "), required=False)
        r = sh(*nsenter_argv(ns, ["quota", "-u", "1000"]))
        text = (r.stdout + r.stderr).strip().replace("\n", " | ")
        print(f"INFO quota_from_ve_userns rc={r.returncode} {text}")

    # online grow of a mounted image (ext4's resize ioctl; root here has CAP_SYS_RESOURCE)
    before = os.statvfs(root).f_blocks * os.statvfs(root).f_frsize
    r = vzctl("set", "101", "--diskspace", "128M", "--save")
    after = os.statvfs(root).f_blocks * os.statvfs(root).f_frsize
    check("online_grow", r.returncode == 0 and after > before * 1.8,
          f"rc={r.returncode} {before}->{after} {r.stderr.strip()[-200:]}")
    r = vzctl("umount", "101")
    check("umount", r.returncode == 0, r.stderr.strip())
    r = vzctl("destroy", "101")
    check("destroy", r.returncode == 0, r.stderr.strip())
    project_quota()
    print("QV-QUOTA-DONE failed=" + ",".join(failed), flush=True)
    return 1 if failed else 0


def project_quota() -> None:
    """overlay and simfs limits through ext4 project quota (a filesystem mounted with
    prjquota holds the node's VE_PRIVATE and template layers)."""
    img = "/tmp/pyvz-qv-prj.img"
    mnt = "/tmp/pyvz-qv-prj"
    os.makedirs(mnt, exist_ok=True)
    with open(img, "wb") as f:
        f.truncate(300 * 1024 * 1024)
    r = sh("mkfs.ext4", "-q", "-F", "-O", "quota,project", "-E",
           "quotatype=usrquota:grpquota:prjquota", img)
    check("mkfs_project", r.returncode == 0, r.stderr.strip())
    r = sh("mount", "-o", "loop,prjquota", img, mnt)
    check("mount_prjquota", r.returncode == 0, r.stderr.strip())
    env = dict(os.environ, VZ_ROOT=f"{mnt}/node")

    def vzctl(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        if input is not None:  # runscript reads a file (the guest has no /dev/stdin)
            with open("/tmp/pyvz-qv-script.sh", "w") as f:
                f.write(input)
            args = tuple("/tmp/pyvz-qv-script.sh" if a == "/dev/stdin" else a
                         for a in args)
        return subprocess.run([f"{BIN}/vzctl", *args], capture_output=True, text=True,
                              env=env)

    # a stopped VE's runscript has no /dev: the data comes from yes
    write = "yes | head -c 31457280 > /big; echo dd-rc=$?\n"
    for ctid, layout in (("201", "overlay"), ("202", "simfs")):
        r = vzctl("create", ctid, "--ostemplate", "busybox", "--layout", layout,
                  "--diskspace", "8M:10M", "--diskinodes", "400:500", "--quotatime", "60")
        check(f"{layout}_create_with_limits", r.returncode == 0, r.stderr.strip()[-300:])
        r = vzctl("runscript", ctid, "/dev/stdin", input=write)
        check(f"{layout}_edquot_inside", "dd-rc=1" in r.stdout,
              (r.stdout + r.stderr).strip().replace("\n", " | ")[-300:])
        r = subprocess.run([f"{BIN}/vzlist", "-H", "-o", "diskspace,diskspace.h,diskinodes",
                            ctid], capture_output=True, text=True, env=env)
        fields = r.stdout.split()
        check(f"{layout}_usage_shown", len(fields) == 3 and fields[0].isdigit() and
              9000 <= int(fields[0]) <= 10240, r.stdout.strip() + r.stderr.strip())
        r = vzctl("runscript", ctid, "/dev/stdin",
                  input="rm -f /big; mkdir /many && cd /many && seq 1 2000 | xargs touch 2>&1 | "
                        "tail -1; ls /many | wc -l\n")
        last = next((w for w in reversed(r.stdout.split()) if w.isdigit()), "")
        check(f"{layout}_inode_limit", last.isdigit() and int(last) < 500,
              r.stdout.strip().replace("\n", " | ")[-200:])
        vzctl("runscript", ctid, "/dev/stdin", input="rm -rf /many\n")
        r = vzctl("set", ctid, "--diskspace", "60M", "--diskinodes", "5000", "--save")
        check(f"{layout}_set_grows", r.returncode == 0, r.stderr.strip())
        r = vzctl("runscript", ctid, "/dev/stdin", input=write)
        check(f"{layout}_write_after_set", "dd-rc=0" in r.stdout,
              r.stdout.strip().replace("\n", " | ")[-300:])
    vzctl("set", "201", "--diskspace", "10M", "--save")
    vzctl("runscript", "201", "/dev/stdin", input="rm -f /big\n")
    r = vzctl("snapshot", "201")
    sid = next((w for w in r.stdout.split() if w.startswith("{")), "")
    r = vzctl("snapshot-switch", "201", "--id", sid)
    check("overlay_switch", r.returncode == 0, r.stderr.strip())
    r = vzctl("runscript", "201", "/dev/stdin", input=write)
    check("overlay_edquot_after_switch", "dd-rc=1" in r.stdout,
          r.stdout.strip().replace("\n", " | ")[-300:])
    r = vzctl("clone", "201", "203")
    check("overlay_clone", r.returncode == 0, r.stderr.strip())
    r = vzctl("runscript", "203", "/dev/stdin", input=write)
    check("overlay_edquot_in_clone", "dd-rc=1" in r.stdout,
          r.stdout.strip().replace("\n", " | ")[-300:])
    for ctid in ("201", "202", "203"):
        vzctl("destroy", ctid)
    sh("umount", mnt)


if __name__ == "__main__":
    sys.exit(main())
