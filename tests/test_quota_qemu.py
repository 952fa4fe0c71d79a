"""What needs a kernel with quota formats, booted under QEMU with a stock Debian kernel
(tests/guest/qv-setup.sh prepares it; this node's kernel has none, see
test_storage_refuse): second-level (per user/group) quota and online grow on ploop, and
overlay/simfs limits through ext4 project quota.  One guest boot runs
tests/guest/quota_guest.py."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import qv_vm

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def test_ugid_quota_and_online_grow_under_qemu() -> None:
    if not qv_vm.prepare():
        pytest.skip("QEMU guest kernel could not be prepared (tests/guest/qv-setup.sh)")
    r = qv_vm.run_in_vm(f"{sys.executable} tests/guest/quota_guest.py", cwd=str(REPO),
                        timeout=600)
    try:
        checks = dict(line.split()[1:3] for line in r.console.splitlines()
                      if line.startswith("CHECK "))
        assert r.returncode == 0, r.console[-4000:]
        for name in ("kernel_quota_formats", "create_with_quotaugidlimit",
                     "image_has_quota_feature", "mounted_with_usrquota",
                     "setquota_node_side", "edquot_for_the_ve_user", "repquota_shows_it",
                     "online_grow", "destroy",
                     # overlay and simfs limits through the filesystem's project quota
                     "overlay_create_with_limits", "overlay_edquot_inside",
                     "overlay_usage_shown", "overlay_inode_limit", "overlay_set_grows",
                     "overlay_write_after_set", "simfs_create_with_limits",
                     "simfs_edquot_inside", "simfs_usage_shown", "simfs_inode_limit",
                     "simfs_write_after_set", "overlay_edquot_after_switch",
                     "overlay_edquot_in_clone"):
            assert checks.get(name) == "ok", (name, r.console[-4000:])
    finally:
        shutil.rmtree(r.out_dir, ignore_errors=True)
