"""Unit tests (no VEs) for the config layer: KEY="value" files edited in place, layering
(built-in defaults → vz.conf → CTID.conf) with $VEID expansion, the settings table and its
value kinds, and the command-line option parser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyvz.cli import opts
from pyvz.config import kinds as k
from pyvz.config.conffile import ConfFile, format_line, parse_line, write_atomic
from pyvz.config.layers import BUILTIN_DEFAULTS, VeConfig, expand_veid
from pyvz.config.schema import BY_KEY, BY_OPTION, SETTINGS, lookup
from pyvz.errors import E, VzError

SAMPLE = (
    "# Configuration of this VE\n"
    "#   second comment line\n"
    "\n"
    'VE_ROOT="/vz/root/$VEID"\n'
    'UNKNOWN_KEY="kept"   \n'          # odd spacing is kept byte for byte
    'HOSTNAME="old.example.com"\n'
    "  # indented comment\n"
    "\t\n"
    'IP_ADDRESS="10.0.0.1 10.0.0.2"\n'
    "not a key line\n"
    "export PATH_LIKE=/a:/b\n"
    'ONBOOT="yes"\n'
)


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


# -- parsing single lines ---------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ('K="v"\n', ("K", "v")),
    ("K=v\n", ("K", "v")),
    ("K='v'\n", ("K", "v")),
    ("export K=v\n", ("K", "v")),
    ('export K="v w"\n', ("K", "v w")),
    ("K=v # a comment\n", ("K", "v")),
    ("K=v   #comment\n", ("K", "v")),
    ("K=v#not-a-comment\n", ("K", "v#not-a-comment")),
    ('K="v # inside quotes"\n', ("K", "v # inside quotes")),
    ("K=\n", ("K", "")),
    ('K=""\n', ("K", "")),
    ('  K="v"  \n', ("K", "v")),
    ('_K1="v"\n', ("_K1", "v")),
    ("K='it has \"double\" quotes'\n", ("K", 'it has "double" quotes')),
    ('K="a=b"\n', ("K", "a=b")),
])
def test_parse_line_quoting_variants(line: str, expected: tuple[str, str]) -> None:
    assert parse_line(line) == expected


@pytest.mark.parametrize("line", [
    "\n", "   \n", "# K=v\n", "  # K=v\n", "no equals sign\n", "1K=v\n", "K-X=v\n",
    "=v\n", 'K="unterminated\n', "K X=v\n",
])
def test_parse_line_ignores_non_assignments(line: str) -> None:
    assert parse_line(line) is None


def test_format_line_always_double_quotes() -> None:
    assert format_line("HOSTNAME", "a.example.com") == 'HOSTNAME="a.example.com"\n'
    assert format_line("K", "") == 'K=""\n'
    assert format_line("K", "a b") == 'K="a b"\n'


# -- reading and editing files -----------------------------------------------------------

def test_values_last_assignment_wins() -> None:
    cf = ConfFile("/nonexistent", 'A="1"\nB="x"\nA="2"\n')
    assert cf.values() == {"A": "2", "B": "x"}
    assert cf.get("A") == "2"
    assert cf.get("MISSING") is None


def test_in_place_edit_keeps_comments_blank_lines_unknown_keys_and_order(
        tmp_path: Path) -> None:
    path = _write(tmp_path / "101.conf", SAMPLE)
    cf = ConfFile.load(path)
    cf.set("HOSTNAME", "new.example.com")
    cf.set("DESCRIPTION", "added")
    assert cf.save() is True
    assert Path(path).read_text() == SAMPLE.replace(
        'HOSTNAME="old.example.com"', 'HOSTNAME="new.example.com"') + 'DESCRIPTION="added"\n'


def test_replacing_a_key_keeps_its_position_and_requotes_only_that_line(tmp_path: Path) -> None:
    text = "# head\nA=1\nB=two # note\nC='3'\n"
    path = _write(tmp_path / "x.conf", text)
    cf = ConfFile.load(path)
    cf.set("B", "2")
    cf.save()
    assert Path(path).read_text() == '# head\nA=1\nB="2"\nC=\'3\'\n'


def test_duplicates_collapse_to_the_last_position(tmp_path: Path) -> None:
    text = 'A="1"\n# one\nB="b"\nA="2"\n# two\nC="c"\nA="3"\n# end\n'
    path = _write(tmp_path / "x.conf", text)
    cf = ConfFile.load(path)
    cf.set("A", "new")
    assert cf.save() is True
    assert Path(path).read_text() == '# one\nB="b"\n# two\nC="c"\nA="new"\n# end\n'


def test_setting_a_duplicated_key_to_its_current_value_still_collapses() -> None:
    cf = ConfFile("/nonexistent", 'A="1"\nB="b"\nA="2"\n')
    cf.set("A", "2")
    assert cf.text() == 'B="b"\nA="2"\n'
    assert cf.changed


def test_remove_key_drops_every_assignment() -> None:
    cf = ConfFile("/nonexistent", '# c\nA="1"\nB="b"\nexport A=2\n')
    cf.set("A", None)
    assert cf.text() == '# c\nB="b"\n'
    cf.set("NOT_THERE", None)
    assert cf.text() == '# c\nB="b"\n'


def test_new_key_is_appended_and_missing_final_newline_is_added() -> None:
    cf = ConfFile("/nonexistent", '# c\nA="1"')
    cf.set("B", "2")
    assert cf.text() == '# c\nA="1"\nB="2"\n'


def test_same_value_in_another_quoting_is_no_change(tmp_path: Path) -> None:
    text = "A=1\nB='x y'\nexport C=3\nD=v # keep me\n"
    path = _write(tmp_path / "x.conf", text)
    cf = ConfFile.load(path)
    for key, value in (("A", "1"), ("B", "x y"), ("C", "3"), ("D", "v")):
        cf.set(key, value)
    assert not cf.changed
    assert cf.text() == text


def test_save_without_changes_does_not_touch_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "101.conf", SAMPLE)
    old = 1_000_000_000
    os.utime(path, (old, old))
    before = os.stat(path)
    cf = ConfFile.load(path)
    cf.set("HOSTNAME", "old.example.com")       # same value
    cf.set("ONBOOT", "yes")
    cf.set("NOT_SET", None)                     # removing an absent key
    assert cf.save() is False
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == \
        (before.st_ino, before.st_mtime_ns, before.st_size)
    assert Path(path).read_text() == SAMPLE
    assert sorted(os.listdir(tmp_path)) == ["101.conf"]


def test_save_twice_writes_once(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.conf", 'A="1"\n')
    cf = ConfFile.load(path)
    cf.set("A", "2")
    assert cf.save() is True
    ino = os.stat(path).st_ino
    assert not cf.changed
    assert cf.save() is False
    assert os.stat(path).st_ino == ino


def test_save_is_atomic_rename(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.conf", 'A="1"\n')
    before = os.stat(path).st_ino
    cf = ConfFile.load(path)
    cf.set("A", "2")
    assert cf.save() is True
    # a new inode renamed over the old name; no temporary file left behind
    assert os.stat(path).st_ino != before
    assert Path(path).read_text() == 'A="2"\n'
    assert sorted(os.listdir(tmp_path)) == ["x.conf"]


def test_failed_write_leaves_the_old_file_intact(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "x.conf", 'A="1"\n')
    cf = ConfFile.load(path)
    cf.set("A", "2")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        cf.save()
    assert Path(path).read_text() == 'A="1"\n'
    assert sorted(os.listdir(tmp_path)) == ["x.conf"]
    assert cf.changed          # still unsaved


def test_write_atomic_mode(tmp_path: Path) -> None:
    target = str(tmp_path / "f")
    old = os.umask(0)
    try:
        write_atomic(target, "X=1\n", 0o600)
    finally:
        os.umask(old)
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert Path(target).read_text() == "X=1\n"


def test_save_to_another_path_and_new_file(tmp_path: Path) -> None:
    cf = ConfFile.load_or_empty(str(tmp_path / "new.conf"))
    assert cf.lines == [] and not cf.changed
    cf.set("A", "1")
    assert cf.save() is True
    assert (tmp_path / "new.conf").read_text() == 'A="1"\n'
    # an unchanged file still goes to a different path when asked
    assert cf.save(str(tmp_path / "copy.conf")) is True
    assert (tmp_path / "copy.conf").read_text() == 'A="1"\n'


def test_save_recreates_a_deleted_unchanged_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.conf", 'A="1"\n')
    cf = ConfFile.load(path)
    os.unlink(path)
    assert cf.save() is True
    assert Path(path).read_text() == 'A="1"\n'


def test_load_missing_file() -> None:
    with pytest.raises(FileNotFoundError):
        ConfFile.load("/nonexistent/dir/x.conf")


@pytest.mark.parametrize("value", ['a"b', "a\nb", '"', "\n"])
def test_values_with_double_quote_or_newline_are_refused(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path / "x.conf", 'A="1"\n')
    cf = ConfFile.load(path)
    with pytest.raises(ValueError):
        cf.set("A", value)
    with pytest.raises(ValueError):
        cf.set("NEW", value)
    assert cf.text() == 'A="1"\n'
    assert cf.save() is False


def test_single_quote_and_specials_round_trip(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.conf", "")
    cf = ConfFile.load(path)
    cf.set("D", "it's # not a comment")
    cf.save()
    assert ConfFile.load(path).get("D") == "it's # not a comment"


def test_non_utf8_bytes_survive(tmp_path: Path) -> None:
    path = tmp_path / "x.conf"
    path.write_bytes(b'# caf\xe9\nA="1"\n')
    cf = ConfFile.load(str(path))
    cf.set("A", "2")
    cf.save()
    assert path.read_bytes() == b'# caf\xe9\nA="2"\n'


# -- layering ----------------------------------------------------------------------------

def test_layering_precedence() -> None:
    global_values = {"HOSTNAME": "global.example.com", "DESCRIPTION": "from vz.conf",
                     "STOP_TIMEOUT": "60"}
    own = ConfFile("/x/101.conf", 'HOSTNAME="own.example.com"\nONBOOT="yes"\n')
    conf = VeConfig(101, global_values, own)
    assert conf.get("HOSTNAME") == "own.example.com"          # CTID.conf wins
    assert conf.get("DESCRIPTION") == "from vz.conf"          # vz.conf default
    assert conf.get("STOP_TIMEOUT") == "60"                   # vz.conf over built-in
    assert conf.get("VE_LAYOUT") == BUILTIN_DEFAULTS["VE_LAYOUT"] == "overlay"
    assert conf.get("NOT_ANYWHERE") is None
    assert conf.get("NOT_ANYWHERE", "dflt") == "dflt"
    assert conf.own() == {"HOSTNAME": "own.example.com", "ONBOOT": "yes"}
    assert conf.exists


def test_empty_value_in_ctid_conf_overrides_global() -> None:
    conf = VeConfig(101, {"HOSTNAME": "global"}, ConfFile("/x", 'HOSTNAME=""\n'))
    assert conf.get("HOSTNAME") == ""


def test_overrides_beat_everything_and_none_unsets() -> None:
    conf = VeConfig(101, {"DESCRIPTION": "g"}, ConfFile("/x", 'HOSTNAME="own"\n'))
    conf.overrides["HOSTNAME"] = "cli"
    conf.overrides["DESCRIPTION"] = None
    assert conf.get("HOSTNAME") == "cli"
    assert conf.get("DESCRIPTION") is None
    assert conf.get("DESCRIPTION", "d") == "d"


def test_missing_ctid_conf() -> None:
    conf = VeConfig(7, {"VE_ROOT": "/vz/root/$VEID"}, None)
    assert not conf.exists
    assert conf.own() == {}
    assert conf.get("VE_ROOT") == "/vz/root/7"


def test_reload_after_edit() -> None:
    cf = ConfFile("/x", 'A="1"\n')
    conf = VeConfig(1, {}, cf)
    cf.set("A", "2")
    assert conf.get("A") == "1"
    conf.reload()
    assert conf.get("A") == "2"


def test_veid_expansion() -> None:
    assert expand_veid("/vz/private/$VEID", 101) == "/vz/private/101"
    assert expand_veid("/vz/${VEID}/x/$VEID", 7) == "/vz/7/x/7"
    assert expand_veid("/vz/root/$VE_ID", 42) == "/vz/root/42"
    assert expand_veid("/no/variable", 42) == "/no/variable"
    g = {"VE_ROOT": "/vz/root/$VEID", "VE_PRIVATE": "/vz/private/${VEID}",
         "DESCRIPTION": "VE $VEID"}
    conf = VeConfig(123, g, ConfFile("/x", ""))
    assert conf.get("VE_ROOT") == "/vz/root/123"
    assert conf.get("VE_PRIVATE") == "/vz/private/123"
    assert conf.get("DESCRIPTION") == "VE $VEID"              # only paths expand
    own = VeConfig(5, g, ConfFile("/x", 'VE_ROOT="/other/$VEID/root"\n'))
    assert own.get("VE_ROOT") == "/other/5/root"


def test_typed_getters() -> None:
    conf = VeConfig(1, {}, ConfFile("/x", 'N="12"\nBAD="x"\nE=""\nB="Yes"\nF="no"\n'
                                          'L="a  b c"\n'))
    assert conf.get_int("N", 0) == 12
    assert conf.get_int("BAD", 3) == 3
    assert conf.get_int("E", 4) == 4
    assert conf.get_int("MISSING", 5) == 5
    assert conf.get_bool("B") is True
    assert conf.get_bool("F", True) is False
    assert conf.get_bool("MISSING", True) is True
    assert conf.get_list("L") == ["a", "b", "c"]
    assert conf.get_list("MISSING") == []


def test_node_layers_vz_conf_and_ctid_conf(tmp_path: Path) -> None:
    from pyvz.node import Node
    from pyvz.paths import Paths

    node = Node(Paths(str(tmp_path)))
    # vz.conf is created with defaults on first use
    assert node.setting("VE_ROOT") == f"{tmp_path}/vz/root/$VEID"
    vz_conf = tmp_path / "etc/vz/vz.conf"
    assert vz_conf.exists()
    with vz_conf.open("a") as f:
        f.write('HOSTNAME="default.example.com"\nDESCRIPTION="everyone"\n')
    _write(tmp_path / "etc/vz/conf/101.conf",
           'HOSTNAME="mine.example.com"\nVE_PRIVATE="/data/$VEID"\n')
    node = Node(Paths(str(tmp_path)))
    conf = node.ve_config(101)
    assert conf.exists
    assert conf.get("HOSTNAME") == "mine.example.com"
    assert conf.get("DESCRIPTION") == "everyone"
    assert conf.get("VE_ROOT") == f"{tmp_path}/vz/root/101"
    assert conf.get("VE_PRIVATE") == "/data/101"
    assert not node.ve_config(102).exists
    assert node.ve_config(102).get("HOSTNAME") == "default.example.com"


# -- the settings table and value kinds --------------------------------------------------

def test_every_option_name_is_unique() -> None:
    seen: dict[str, str] = {}
    for s in SETTINGS:
        for name, _op in s.options:
            canon = opts.canonical(name)          # '-' and '_' are the same option
            assert canon not in seen, f"--{name} of {s.key} clashes with {seen[canon]}"
            seen[canon] = s.key
    assert len(seen) == len(BY_OPTION)
    # vzctl set's own flags are not settings
    assert not {"save", "force", "setmode", "userpasswd"} & set(seen)


def test_every_key_and_column_is_unique() -> None:
    keys = [s.key for s in SETTINGS] + [a for s in SETTINGS for a in s.aliases]
    assert len(keys) == len(set(keys))
    columns = [s.column for s in SETTINGS if s.column]
    assert len(columns) == len(set(columns))


def test_lookup_and_option_table() -> None:
    assert lookup("HOSTNAME") is BY_KEY["HOSTNAME"]
    assert lookup("NO_SUCH_KEY") is None
    assert BY_OPTION["ipadd"] == (BY_KEY["IP_ADDRESS"], "add")
    assert BY_OPTION["ip"] == (BY_KEY["IP_ADDRESS"], "add")
    assert BY_OPTION["ipdel"] == (BY_KEY["IP_ADDRESS"], "del")
    assert BY_OPTION["hostname"] == (BY_KEY["HOSTNAME"], "set")
    assert BY_OPTION["nameserver"] == (BY_KEY["NAMESERVER"], "list")


@pytest.mark.parametrize("key, column, header", [
    ("HOSTNAME", "hostname", "HOSTNAME"), ("IP_ADDRESS", "ip", "IP_ADDR"),
    ("DESCRIPTION", "description", "DESCRIPTION"), ("ONBOOT", "onboot", "ONBOOT"),
    ("BOOTORDER", "bootorder", "BOOTORDER"), ("DISABLED", "disabled", "DISABL"),
    ("VE_PRIVATE", "private", "PRIVATE"), ("VE_ROOT", "root", "ROOT"),
    ("OSTEMPLATE", "ostemplate", "OSTEMPLATE"), ("NAME", "name", "NAME"),
    ("NAMESERVER", "nameserver", "NAMESERVER"), ("SEARCHDOMAIN", "searchdomain",
                                                  "SEARCHDOMAIN"),
])
def test_vzlist_columns_and_headers(key: str, column: str, header: str) -> None:
    s = BY_KEY[key]
    assert (s.column, s.header) == (column, header)


def test_contract_widths_of_default_columns() -> None:
    assert BY_KEY["IP_ADDRESS"].width == -15
    assert BY_KEY["HOSTNAME"].width == -32


# A value each kind must refuse, and the exit code it refuses it with.
_GARBAGE: dict[type[k.Kind], tuple[str, int]] = {
    k.Hostname: ("bad_host!", E.BADHOSTNAME),
    k.IpList: ("300.1.2.3", E.BADIP),
    k.Name: ("bad name!", E.SET_NAME_ERROR),   # vzctl: "invalid name" → 131
    k.Int: ("12abc", E.INVALID_PARAMETER_VALUE),
    k.YesNo: ("maybe", E.INVALID_PARAMETER_VALUE),
    k.Choice: ("no-such-choice", E.INVALID_PARAMETER_VALUE),
    k.Text: ('say "hi"', E.INVALID_PARAMETER_VALUE),
    k.Str: ("two\nlines", E.INVALID_PARAMETER_VALUE),
    k.Words: ("two\nlines", E.INVALID_PARAMETER_VALUE),
    k.PathKind: ("relative/path", E.INVALID_PARAMETER_VALUE),
    k.OnOffList: ("chown:maybe", E.INVALID_PARAMETER_VALUE),
}
# resources issue: the kinds of pyvz/config/settings_res.py
from pyvz.config import settings_res as _res  # noqa: E402

_GARBAGE.update({kind: ("12abc", E.INVALID_PARAMETER_VALUE) for kind in (
    _res.UbcPair, _res.Float, _res.CpuLimit, _res.CpuMask, _res.IoLimit, _res.Meminfo)})
# network issue: the kinds of pyvz/config/settings_net.py
from pyvz.config import settings_net as _net  # noqa: E402
from pyvz.net.netif import NetifKind as _NetifKind  # noqa: E402

_GARBAGE.update({_NetifKind: ("ifname=eth0,mac=zz", E.INVALID_PARAMETER_VALUE),
                 _net.Rate: ("12abc", E.INVALID_PARAMETER_VALUE)})
# disk issue: the kinds of pyvz/config/settings_disk.py
from pyvz.config import settings_disk as _disk  # noqa: E402

_GARBAGE[_disk.DiskPair] = ("12abc:5", E.INVALID_PARAMETER_VALUE)


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.options],
                         ids=lambda s: s.key)
def test_every_settable_kind_rejects_garbage(setting: object) -> None:
    from pyvz.config.schema import Setting

    assert isinstance(setting, Setting)
    text, code = _GARBAGE[type(setting.kind)]
    for option, _op in setting.options:
        with pytest.raises(VzError) as info:
            setting.kind.parse(text, option)
        assert info.value.code == code, (setting.key, option, info.value.message)


@pytest.mark.parametrize("kind, text, code", [
    (k.Hostname(), "", E.BADHOSTNAME),
    (k.Hostname(), "-lead.example.com", E.BADHOSTNAME),
    (k.Hostname(), "a..b", E.BADHOSTNAME),
    (k.Hostname(), "x" * 64 + ".com", E.BADHOSTNAME),
    (k.IpList(), "10.0.0", E.BADIP),
    (k.IpList(), "0.0.0.0", E.BADIP),
    (k.IpList(), "224.0.0.1", E.BADIP),
    (k.IpList(), "10.0.0.1/33", E.BADIP),
    (k.IpList(), "fe80::zz", E.BADIP),
    (k.Int(0, 10), "11", E.INVALID_PARAMETER_VALUE),
    (k.Int(0), "-1", E.INVALID_PARAMETER_VALUE),
    (k.Int(), "", E.INVALID_PARAMETER_VALUE),
    (k.Int(), "0x10", E.INVALID_PARAMETER_VALUE),
    (k.YesNo(), "", E.INVALID_PARAMETER_VALUE),
    (k.YesNo(), "1", E.INVALID_PARAMETER_VALUE),
    (k.Text(), "back\\slash", E.INVALID_PARAMETER_VALUE),
    (k.Text(), "$HOME", E.INVALID_PARAMETER_VALUE),
    (k.Text(), "`id`", E.INVALID_PARAMETER_VALUE),
    (k.Text(), "tab\there", E.INVALID_PARAMETER_VALUE),
    (k.Str(), 'q"uote', E.INVALID_PARAMETER_VALUE),
    (k.Str(), "nul\0", E.INVALID_PARAMETER_VALUE),
    (k.Name(), "123", E.SET_NAME_ERROR),
    (k.Name(), "-lead", E.SET_NAME_ERROR),
    (k.Name(), "", E.SET_NAME_ERROR),
    (k.PathKind(), "", E.INVALID_PARAMETER_VALUE),
    (k.PathKind(), '/a"b', E.INVALID_PARAMETER_VALUE),
    (k.Choice("overlay", "simfs"), "ploop", E.INVALID_PARAMETER_VALUE),
    (k.OnOffList(frozenset({"chown"})), "nosuch:on", E.INVALID_PARAMETER_VALUE),
    (k.OnOffList(frozenset({"chown"})), "chown", E.INVALID_PARAMETER_VALUE),
])
def test_kind_rejections(kind: k.Kind, text: str, code: int) -> None:
    with pytest.raises(VzError) as info:
        kind.parse(text, "opt")
    assert info.value.code == code


def test_bad_value_message() -> None:
    with pytest.raises(VzError) as info:
        k.Int(0, 5).parse("9", "bootorder")
    assert info.value.message == "Bad parameter for --bootorder: 9"


@pytest.mark.parametrize("kind, text, stored", [
    (k.Hostname(), "web.example.com", "web.example.com"),
    (k.IpList(), "10.0.0.1", "10.0.0.1"),
    (k.IpList(), "10.0.0.1/24", "10.0.0.1/24"),
    (k.IpList(), "2001:DB8::1", "2001:db8::1"),
    (k.Int(0), "007", "7"),
    (k.YesNo(), "YES", "yes"),
    (k.YesNo(), "No", "no"),
    (k.Text(), "two words, and 'quotes'", "two words, and 'quotes'"),
    (k.Name(), "web-1.a_b", "web-1.a_b"),
    (k.PathKind(), "/vz//root/$VEID/", "/vz/root/$VEID"),
    (k.Choice("overlay", "simfs"), "simfs", "simfs"),
    (k.OnOffList(frozenset({"chown", "kill"})), "CHOWN:off,kill:on", "chown:off kill:on"),
])
def test_kind_accepts_and_normalises(kind: k.Kind, text: str, stored: str) -> None:
    assert kind.parse(text, "opt") == stored


def test_ipdel_all() -> None:
    assert k.IpList().parse("all", "ipdel") == "all"
    with pytest.raises(VzError) as info:
        k.IpList().parse("all", "ipadd")
    assert info.value.code == E.BADIP


def test_kind_read_back_and_json() -> None:
    assert k.Int().value("5") == 5 and k.Int().to_json("5") == 5
    assert k.Int().to_json(None) is None and k.Int().to_json("") is None
    assert k.YesNo().value("yes") is True and k.YesNo().to_json("no") is False
    assert k.YesNo().to_json(None) is None
    assert k.Words().to_json("a b") == ["a", "b"] and k.Words().to_json(None) == []
    assert k.Str().to_json("") is None and k.Str().to_json("x") == "x"
    assert k.Str().show(None) == "-" and k.Str().show("x") == "x"
    assert k.OnOffList(frozenset({"a", "b"})).value("a:on b:off") == {"a": True, "b": False}
    json_types = {s.kind.json_type for s in SETTINGS}
    assert json_types <= {"string", "integer", "boolean", "array"}


# -- option parser -----------------------------------------------------------------------

_SPEC = {"hostname": True, "save": False, "local-uid": True, "x": True, "f": False}


def test_opts_value_forms() -> None:
    found, rest = opts.parse(["--hostname=a", "--x", "1", "--save"], _SPEC, command="set")
    assert found == {"hostname": ["a"], "x": ["1"], "save": [""]}
    assert rest == []


def test_opts_equals_keeps_everything_after_the_first_equals() -> None:
    found, _ = opts.parse(["--x=a=b", "--hostname="], _SPEC, command="set")
    assert found == {"x": ["a=b"], "hostname": [""]}


def test_opts_dash_underscore_equivalence() -> None:
    a, _ = opts.parse(["--local_uid", "5"], _SPEC, command="create")
    b, _ = opts.parse(["--local-uid=5"], _SPEC, command="create")
    assert a == b == {"local-uid": ["5"]}
    assert opts.canonical("stop_timeout") == "stop-timeout"


def test_opts_repeat_and_value_starting_with_dash() -> None:
    found, _ = opts.parse(["--x", "1", "--x", "-2", "--f", "--f"], _SPEC, command="set")
    assert found == {"x": ["1", "-2"], "f": ["", ""]}


def test_opts_short_options() -> None:
    found, _ = opts.parse(["-x", "1", "-f"], _SPEC, command="set")
    assert found == {"x": ["1"], "f": [""]}


def test_opts_positional() -> None:
    found, rest = opts.parse(["a", "--save", "b"], _SPEC, command="set", positional=None)
    assert found == {"save": [""]} and rest == ["a", "b"]
    found, rest = opts.parse(["--save", "--", "--x", "y"], _SPEC, command="set",
                             positional=None)
    assert found == {"save": [""]} and rest == ["--x", "y"]
    found, rest = opts.parse(["--save", "ls", "-l", "--x"], _SPEC, command="exec",
                             positional=None, stop_at_positional=True)
    assert found == {"save": [""]} and rest == ["ls", "-l", "--x"]
    found, rest = opts.parse(["-"], _SPEC, command="x", positional=1)
    assert rest == ["-"]


@pytest.mark.parametrize("argv, message", [
    (["--bogus"], "Invalid option --bogus for set"),
    (["--bogus=1"], "Invalid option --bogus for set"),
    (["-q"], "Invalid option -q for set"),
    (["--x"], "Option --x requires an argument"),
    (["--save", "--hostname"], "Option --hostname requires an argument"),
    (["--save=yes"], "Option --save does not take an argument"),
    (["extra"], "Invalid syntax: unexpected argument 'extra' for set"),
])
def test_opts_errors_are_code_20(argv: list[str], message: str) -> None:
    with pytest.raises(VzError) as info:
        opts.parse(argv, _SPEC, command="set")
    assert info.value.code == E.INVALID_PARAMETER_SYNTAX == 20
    assert info.value.message == message


def test_opts_positional_limit() -> None:
    _, rest = opts.parse(["a"], _SPEC, command="set", positional=1)
    assert rest == ["a"]
    with pytest.raises(VzError) as info:
        opts.parse(["a", "b"], _SPEC, command="set", positional=1)
    assert info.value.code == 20
