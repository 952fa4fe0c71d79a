"""cgroup v2, for real.

1. A private mount namespace with only cgroup2 mounted (this machine's v2 tree has no
   memory/pids/cpu: they are bound to v1): pyvz takes the v2 paths, starts a VE without
   limits, and refuses (exit 1, rolled back) a memory limit it cannot apply.
2. A stock Debian kernel booted under QEMU (TCG) with a pure v2 hierarchy: memory.max /
   memory.swap.max, pids.max, cpu.max and cpu.weight are written before init runs, a
   memory hog is OOM-killed inside the VE, a fork bomb stops at numproc, the CPU cap
   holds, ``vzctl set`` changes memory.max live.  The kernel and initramfs are prepared
   by tests/guest/qv-setup.sh through tests/qv_vm.py (cached under /var/cache/pyvz-qv).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import qv_vm
from conftest import BIN, REPO, Node

LOCAL = r"""
set -e
umount -R /sys/fs/cgroup
mount -t cgroup2 none /sys/fs/cgroup
vz() { "$BIN/vzctl" "$@"; }
vz create 502 --ostemplate busybox >/dev/null
vz set 502 --ram 64M --save >/dev/null
set +e
vz start 502 >/dev/null 2>/tmp/pyvz-res-v2-$$.err; echo "limited: $? $(cat /tmp/pyvz-res-v2-$$.err)"
rm -f /tmp/pyvz-res-v2-$$.err
echo "leftover: $(test -d /sys/fs/cgroup/$NODE/502 && echo yes || echo no)"
set -e
vz set 502 --ram unlimited --cpuunits 1000 --save >/dev/null
vz start 502 >/dev/null; echo "plain: $?"
vz stop 502 --fast >/dev/null
vz destroy 502 >/dev/null
rmdir /sys/fs/cgroup/$NODE 2>/dev/null || true
echo "done: yes"
"""


def _kv(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def test_v2_paths_without_controllers_refuse_limits(fresh_node: Node) -> None:
    env = dict(fresh_node.env, BIN=str(BIN), NODE=fresh_node.node_name)
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                        LOCAL], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    out = _kv(r.stdout)
    if "memory" in Path("/sys/fs/cgroup/unified/cgroup.controllers").read_text():
        pytest.skip("this host's v2 tree has the memory controller")
    assert out["limited"].startswith("1 ") and "memory controller" in out["limited"]
    assert out["leftover"] == "no"
    assert out["plain"] == "0"
    assert out["done"] == "yes"


@pytest.mark.slow
def test_limits_on_a_pure_v2_kernel_under_qemu() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not qv_vm.prepare():
        pytest.skip("QEMU guest kernel could not be prepared (tests/guest/qv-setup.sh)")
    r = qv_vm.run_in_vm(f"sh '{REPO / 'tests/helpers/res_v2_guest.sh'}'", cwd=str(REPO),
                        env={"BIN": str(Path(sys.executable).parent)}, timeout=300)
    shutil.rmtree(r.out_dir, ignore_errors=True)
    rc, console = r.returncode, r.console
    assert rc == 0, console[-3000:]
    out = _kv(console)
    assert "v2:" in out["info"] and "memory" in out["info"] and "v1:" not in out["info"]
    assert out["start"].startswith("0"), out["start"]
    assert out["memory.max"] == str(64 << 20)
    assert out["memory.swap.max"] == "0"
    assert out["pids.max"] == "20"
    assert out["cpu.max"] == "25000 100000"
    assert out["cpu.weight"] == "300"
    assert out["meminfo"].split()[1] == str(64 * 1024)
    assert out["hog"] != "0" and int(out["oom_kill"]) >= 1
    assert int(out["pids.events"].split()[1]) > 0          # "max N": forks refused
    numproc = out["ubc-numproc"].split()
    assert numproc[-3:-1] == ["20", "20"] and int(numproc[-1]) > 0
    assert int(out["ubc-oomguarpages"].split()[-1]) >= 1
    # 25% of one CPU: CFS quota is a hard cap (+ one 100 ms period over the ~3 s
    # window); the lower bound is loose because TCG emulation shares 2 host cores
    t0, t1 = (float(x) for x in out["wall"].split())
    share = int(out["cpu-usec"]) / ((t1 - t0) * 1e6)
    assert 0.08 <= share <= 0.29, (share, out["wall"])
    assert int(out["throttled"]) > 0
    assert out["live-memory.max"] == str(96 << 20)
    assert out["stopped"] == "gone"
    assert out["done"] == "yes"
