"""Logic of disk limits without a VE: value parsing, which layout refuses what, and the
snapshot list's layout.  (Real enforcement is in test_storage_ploop/btrfs/refuse.)"""

from __future__ import annotations

import pytest

from pyvz.errors import E, VzError
from pyvz.storage.base import LAYOUTS, DriverInfo, Limits, get_driver, layout_of
from pyvz.storage.limits import refuse_unenforced
from pyvz.storage.units import UNLIMITED, parse_pair


@pytest.mark.parametrize(("text", "blocks", "want"), [
    ("1000", True, (1000, 1000)),
    ("1G:2G", True, (1024**2, 2 * 1024**2)),
    ("2G:2.2G", True, (2 * 1024**2, int(2.2 * 1024**2))),
    ("100M", True, (102400, 102400)),
    ("unlimited", True, (UNLIMITED, UNLIMITED)),
    ("10:unlimited", False, (10, UNLIMITED)),
    ("131072:144179", False, (131072, 144179)),
    ("5:4", True, None),        # soft above hard
    ("1G", False, None),        # inodes take no suffix
    ("-5", True, None),
    ("abc", True, None),
    ("1:2:3", True, None),
])
def test_parse_pair(text: str, blocks: bool, want: tuple[int, int] | None) -> None:
    assert parse_pair(text, blocks=blocks) == want


def test_diskspace_option_stores_kilobytes() -> None:
    from pyvz.config.schema import BY_OPTION

    setting, _ = BY_OPTION["diskspace"]
    assert setting.kind.parse("1G:1.5G", "diskspace") == f"{1024**2}:{1536 * 1024}"
    with pytest.raises(VzError) as e:
        setting.kind.parse("2G:1G", "diskspace")
    assert e.value.code == E.INVALID_PARAMETER_VALUE


def test_limits_from_values_and_diskquota_no() -> None:
    values = {"DISKSPACE": "100:200", "DISKINODES": "10:20", "QUOTAUGIDLIMIT": "5"}
    lim = Limits.from_values(values.get)
    assert (lim.space_soft, lim.space_hard, lim.inodes_soft, lim.inodes_hard) == \
        (100, 200, 10, 20)
    assert lim.ugidlimit == 5
    off = Limits.from_values({**values, "DISK_QUOTA": "no"}.get)
    assert not off.any_space and not off.any_inodes and off.ugidlimit == 5
    unl = Limits.from_values({"DISKSPACE": "unlimited"}.get)
    assert not unl.any_space


def test_layout_that_cannot_enforce_refuses() -> None:
    plain = DriverInfo("plain")
    with pytest.raises(VzError) as e:
        refuse_unenforced(plain, Limits(space=(10, 10)))
    assert e.value.code == E.DQ_SET and "plain" in e.value.message
    with pytest.raises(VzError) as e:
        refuse_unenforced(plain, Limits(inodes=(10, 10)))
    assert e.value.code == E.DQ_SET
    spaced = DriverInfo("spaced", disk_limits=True)
    refuse_unenforced(spaced, Limits(space=(5, 10)))  # soft is warned about, not refused
    with pytest.raises(VzError):
        refuse_unenforced(spaced, Limits(inodes=(10, 10)))
    refuse_unenforced(plain, Limits())  # no limits: nothing to refuse


def test_ugid_quota_refused_without_support() -> None:
    with pytest.raises(VzError) as e:
        refuse_unenforced(DriverInfo("x"), Limits(ugidlimit=10))
    assert e.value.code == E.ERR_SET_USER_QUOTA


def test_flags_drive_layouts_not_names(tmp_path: object) -> None:
    from pyvz.node import Node
    from pyvz.paths import Paths

    node = Node(Paths(str(tmp_path)))
    infos = {name: get_driver(name, node).info for name in LAYOUTS}
    assert infos["overlay"].shares_template and not infos["overlay"].disk_limits
    assert infos["ploop"].disk_limits and infos["ploop"].inode_limits
    assert infos["btrfs"].disk_limits and not infos["btrfs"].inode_limits
    assert all(infos[n].snapshots for n in ("overlay", "ploop", "btrfs"))
    assert not infos["simfs"].snapshots
    with pytest.raises(VzError) as e:
        get_driver("zfs", node)
    assert e.value.code == E.INVALID_PARAMETER_VALUE


def test_layout_of_reads_the_private_area(tmp_path: object) -> None:
    import pathlib

    p = pathlib.Path(str(tmp_path))
    (p / "a").mkdir()
    (p / "a" / "root.hdd").write_bytes(b"")
    (p / "b").mkdir()
    (p / "b" / "root.subvol").mkdir()
    (p / "c").mkdir()
    (p / "c" / "layer").write_text("x\n")
    assert layout_of(str(p / "a"), "simfs") == "ploop"
    assert layout_of(str(p / "b"), None) == "btrfs"
    assert layout_of(str(p / "c"), "ploop") == "overlay"
    assert layout_of(str(p / "d"), "simfs") == "simfs"


def test_snapshot_ids_are_normalised() -> None:
    from pyvz.ve.snapshot import normalize_id

    assert normalize_id("11111111-2222-3333-4444-555555555555") == \
        "{11111111-2222-3333-4444-555555555555}"
    assert normalize_id("{11111111-2222-3333-4444-555555555555}") == \
        "{11111111-2222-3333-4444-555555555555}"
    with pytest.raises(VzError) as e:
        normalize_id("../../etc")
    assert e.value.code == E.INVALID_PARAMETER_VALUE


def test_project_quota_lets_overlay_and_simfs_enforce() -> None:
    info = DriverInfo("dirlike", project_quota=True)
    with pytest.raises(VzError):
        refuse_unenforced(info, Limits(space=(5, 10)))       # no project quota there
    refuse_unenforced(info, Limits(space=(5, 10), inodes=(1, 2)), fs_quota=True)
    with pytest.raises(VzError) as e:                        # the second level is apart
        refuse_unenforced(info, Limits(space=(5, 10), ugidlimit=3), fs_quota=True)
    assert e.value.code == E.ERR_SET_USER_QUOTA


def test_project_ids_follow_the_final_path(tmp_path: object) -> None:
    from pyvz.storage.projquota import _new_id

    base = str(tmp_path)
    assert _new_id(f"{base}/101.partial/upper") == _new_id(f"{base}/101/upper")
    assert _new_id(f"{base}/101/upper") != _new_id(f"{base}/102/upper")
    assert 0x40000000 <= _new_id(f"{base}/101/upper") < 0x80000000
