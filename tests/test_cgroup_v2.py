"""cgroup v2 code paths, for real.

This machine mounts the v1 controllers (hybrid).  In a private mount namespace the test
unmounts them and mounts only cgroup2 at /sys/fs/cgroup, which is what a pure-v2 host
looks like to pyvz (controllers still bound to v1 stay invisible there, as on a host that
lacks them).  VEs are then created, started, inspected and stopped inside that namespace;
the node's own mounts are never touched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import BIN, Node

SCRIPT = r"""
set -e
umount -R /sys/fs/cgroup
mount -t cgroup2 none /sys/fs/cgroup
vz() { "$BIN/vzctl" "$@"; }
vz create 501 --ostemplate busybox >/dev/null
vz start 501 >/dev/null
"$BIN/pyvz" info | grep cgroups
echo "v1-mounts: $(grep -c ' cgroup ' /proc/self/mountinfo || true)"
echo "procs: $(cat /sys/fs/cgroup/$NODE/501/cgroup.procs | wc -l)"
echo "inside: $(vz exec 501 grep ^0:: /proc/self/cgroup)"
echo "subtree: $(cat /sys/fs/cgroup/$NODE/cgroup.subtree_control)"
echo "available: $(cat /sys/fs/cgroup/$NODE/cgroup.controllers)"
echo "nproc: $("$BIN/vzlist" -H -o numproc 501)"
vz exec 501 'sleep 300 >/dev/null 2>&1 &'
vz stop 501 --fast >/dev/null
echo "after-stop: $(test -d /sys/fs/cgroup/$NODE/501 && echo present || echo gone)"
vz destroy 501 >/dev/null
rmdir /sys/fs/cgroup/$NODE
echo done
"""


def test_ve_on_a_pure_cgroup2_tree(fresh_node: Node) -> None:
    env = dict(fresh_node.env, BIN=str(BIN), NODE=fresh_node.node_name)
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                        SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    out = dict(line.split(": ", 1) for line in r.stdout.splitlines() if ": " in line)
    assert out["cgroups"].strip().startswith("v2:") and "v1:" not in out["cgroups"]
    assert out["v1-mounts"] == "0"
    assert int(out["procs"]) >= 2          # init and its services, in the v2 directory
    assert out["inside"] == "0::/"          # the VE's cgroup namespace root
    # every controller the host lets the node's base have is delegated to its VEs
    assert out["subtree"].split() == out["available"].split()
    assert out["after-stop"] == "gone"      # cgroup.kill ended even the background sleep
    assert r.stdout.strip().endswith("done")
    # and the node's own cgroup mounts were never touched
    assert Path("/sys/fs/cgroup/memory").is_dir() or not Path("/sys/fs/cgroup/unified").exists()
