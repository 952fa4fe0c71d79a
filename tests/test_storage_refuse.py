"""Limits a layout cannot enforce are refused at create and at set, with vzctl's exit
code, one message, and nothing made or changed; DISK_QUOTA=no is the explicit way out.
Per-user quota is refused on this kernel (no quota format) with exit 65."""

from __future__ import annotations

import pytest
from conftest import Node, VeHandle

from pyvz.storage.limits import kernel_quota_formats


@pytest.mark.parametrize("layout", ["overlay", "simfs"])
@pytest.mark.parametrize("option", [["--diskspace", "1G"], ["--diskinodes", "1000"]])
def test_create_refuses_unenforceable_limits(node: Node, layout: str,
                                             option: list[str]) -> None:
    ctid = node.new_ctid()
    r = node.vzctl("create", str(ctid), "--ostemplate", "busybox", "--layout", layout,
                   *option)
    assert r.returncode == 62, r.stderr
    assert f"The {layout} layout cannot enforce" in r.stderr.splitlines()[0]
    assert not node.private(ctid).exists() and not node.conf(ctid).exists()


@pytest.mark.slow
def test_set_refuses_and_diskquota_no_is_explicit(make_ve: object) -> None:
    assert callable(make_ve)
    ve: VeHandle = make_ve(start=False)
    before = ve.node.conf(ve.ctid).read_text()
    for running in (False, True):
        r = ve.vzctl("set", "--diskspace", "1G", "--save")
        assert r.returncode == 62, r.stderr
        assert ve.node.conf(ve.ctid).read_text() == before
        if not running:
            ve.vzctl("start", check=True)
    ve.vzctl("set", "--diskquota", "no", "--save", check=True)
    ve.vzctl("set", "--diskspace", "1G", "--save", check=True)
    text = ve.node.conf(ve.ctid).read_text()
    assert 'DISK_QUOTA="no"' in text and f'DISKSPACE="{1024**2}:{1024**2}"' in text


@pytest.mark.skipif(kernel_quota_formats(), reason="this kernel has quota formats")
def test_ugid_quota_detected_missing(node: Node, make_ve: object) -> None:
    ctid = node.new_ctid()
    r = node.vzctl("create", str(ctid), "--ostemplate", "busybox", "--layout", "ploop",
                   "--diskspace", "64M", "--quotaugidlimit", "100")
    assert r.returncode == 65, r.stderr
    assert "no quota format" in r.stderr
    assert not node.private(ctid).exists() and not node.conf(ctid).exists()
    assert callable(make_ve)
    ve: VeHandle = make_ve("--layout", "ploop", "--diskspace", "64M", start=False)
    r = ve.vzctl("set", "--quotaugidlimit", "50", "--save")
    assert r.returncode == 65, r.stderr
    assert "QUOTAUGIDLIMIT" not in ve.node.conf(ve.ctid).read_text()
    r = ve.vzctl("quotaoff")
    assert r.returncode == 66
    ve.vzctl("quotaon", check=True)  # the image's limits are enforced
