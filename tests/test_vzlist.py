"""vzlist on real VEs, through the CLI: vzctl's column formats, field selection, sorting,
filters, JSON (contract: vzctl.md C.1, C.2)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from conftest import Node, VeHandle

HEADER = "      CTID      NPROC STATUS    IP_ADDR         HOSTNAME"
UPTIME = re.compile(r"^\d{3}d\d{2}h:\d{2}m:\d{2}s$")
LAVERAGE = re.compile(r"^\d+\.\d\d/\d+\.\d\d/\d+\.\d\d$")

MakeVe = Callable[..., VeHandle]


def fmt(width: int, text: object) -> str:
    """One cell as vzctl's printf formats it: ``%Ns`` (width > 0) or ``%-Ns``."""
    return f"{text!s:>{width}}" if width > 0 else f"{text!s:<{-width}}"


def line(*cells: str) -> str:
    return " ".join(cells).rstrip()


def default_row(ctid: int, nproc: str, status: str, ip: str, hostname: str) -> str:
    return line(fmt(10, ctid), fmt(10, nproc), fmt(-9, status), fmt(-15, ip), hostname)


def width(field: str) -> int:
    """A column's width in pyvz's table, for fields whose width the contract leaves open."""
    from pyvz.cli.columns import COLUMNS

    return COLUMNS[field].width


def ok(node: Node, *args: str) -> str:
    r = node.vzlist(*args)
    assert r.returncode == 0, r
    assert r.stderr == "", r
    return r.stdout


def shaped(make_ve: MakeVe, *settings: str, start: bool = False) -> VeHandle:
    """A busybox VE with ``vzctl set … --save`` applied (started afterwards if asked)."""
    ve = make_ve(start=False)
    if settings:
        ve.vzctl("set", *settings, "--save", check=True)
    if start:
        ve.vzctl("start", "--wait", check=True)
    return ve


def nproc_of(out: str, ctid: int) -> str:
    """The NPROC cell of a default-format row (columns 12-21)."""
    row = next(r for r in out.splitlines() if r[:10] == fmt(10, ctid))
    return row[11:21].strip()


# -- default output ----------------------------------------------------------------------

def test_empty_node(fresh_node: Node) -> None:
    for args in ((), ("-a",), ("-S",), ("-H",)):
        r = fresh_node.vzlist(*args)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "Container(s) not found\n"), args
    r = fresh_node.vzlist("-j")
    assert r.returncode == 0 and json.loads(r.stdout) == []


def test_default_output_running_only(fresh_node: Node, make_ve: MakeVe) -> None:
    run = make_ve(start=False, on=fresh_node)
    run.vzctl("set", "--hostname", "web.example.com", "--ipadd", "10.77.0.1", "--save",
              check=True)
    run.vzctl("start", "--wait", check=True)
    stopped = make_ve(start=False, on=fresh_node)
    stopped.vzctl("set", "--hostname", "db.example.com", "--ipadd", "10.77.0.2", "--save",
                  check=True)
    bare = make_ve(start=False, on=fresh_node)

    out = ok(fresh_node)
    nproc = nproc_of(out, run.ctid)
    assert nproc.isdigit() and int(nproc) >= 1
    assert out == "\n".join([
        HEADER,
        default_row(run.ctid, nproc, "running", "10.77.0.1", "web.example.com"),
    ]) + "\n"

    out = ok(fresh_node, "-a")
    nproc = nproc_of(out, run.ctid)
    assert out.splitlines() == [
        HEADER,
        default_row(run.ctid, nproc, "running", "10.77.0.1", "web.example.com"),
        default_row(stopped.ctid, "-", "stopped", "10.77.0.2", "db.example.com"),
        default_row(bare.ctid, "-", "stopped", "-", "-"),
    ]
    # the literal layout of vzctl: %10s %10s %-9s %-15s %-32s, trailing blanks trimmed
    assert out.splitlines()[3] == f"{bare.ctid:>10}          - stopped   -               -"

    assert ok(fresh_node, "-S").splitlines() == [
        HEADER,
        default_row(stopped.ctid, "-", "stopped", "10.77.0.2", "db.example.com"),
        default_row(bare.ctid, "-", "stopped", "-", "-"),
    ]
    assert ok(fresh_node, "--stopped", "-H").splitlines() == [
        default_row(stopped.ctid, "-", "stopped", "10.77.0.2", "db.example.com"),
        default_row(bare.ctid, "-", "stopped", "-", "-"),
    ]
    assert ok(fresh_node, "-1").splitlines() == [fmt(10, run.ctid)]
    assert ok(fresh_node, "-1", "-a").splitlines() == \
        [fmt(10, c) for c in (run.ctid, stopped.ctid, bare.ctid)]
    assert ok(fresh_node, "-a", "--no-header", "-o", "ctid") == ok(fresh_node, "-1", "-a")

    # -S: not running includes mounted
    bare.vzctl("mount", check=True)
    try:
        assert ok(fresh_node, "-S", "-H", "-o", "ctid,status").splitlines() == [
            line(fmt(10, stopped.ctid), "stopped"),
            line(fmt(10, bare.ctid), "mounted"),
        ]
    finally:
        bare.vzctl("umount", check=True)


def test_ctid_and_name_arguments(make_ve: MakeVe) -> None:
    a = shaped(make_ve, "--name", "listme-a", "--hostname", "a.example.com")
    b = shaped(make_ve, "--name", "listme-b")
    node = a.node
    # named VEs are listed even when stopped; the listing is in CTID order
    out = ok(node, "-H", "-o", "ctid,name,status", "listme-b", str(a.ctid))
    assert out.splitlines() == [
        line(fmt(10, a.ctid), fmt(width("name"), "listme-a"), "stopped"),
        line(fmt(10, b.ctid), fmt(width("name"), "listme-b"), "stopped"),
    ]
    assert ok(node, "-1", str(b.ctid), str(b.ctid)) == fmt(10, b.ctid) + "\n"
    # -n: names instead of CTIDs (smart_name: NAME, else CTID)
    c = shaped(make_ve)
    out = ok(node, "-n", "listme-a", str(c.ctid))
    assert out.splitlines() == [
        " SMARTNAME      NPROC STATUS    IP_ADDR         HOSTNAME",
        line(fmt(10, "listme-a"), fmt(10, "-"), fmt(-9, "stopped"), fmt(-15, "-"),
             "a.example.com"),
        line(fmt(10, c.ctid), fmt(10, "-"), fmt(-9, "stopped"), fmt(-15, "-"), "-"),
    ]
    assert ok(node, "-H", "-o", "smart_name,veid,vpsid", "listme-b") == \
        line(fmt(10, "listme-b"), fmt(10, b.ctid), fmt(10, b.ctid)) + "\n"

    r = node.vzlist("no-such-ve-name")
    assert (r.returncode, r.stdout, r.stderr) == (21, "", "Bad CT ID no-such-ve-name\n")
    missing = node.new_ctid()
    r = node.vzlist(str(missing))
    assert (r.returncode, r.stdout) == (21, "")
    assert r.stderr == f"Container(s) not found: {missing}\n"


# -- selected fields ---------------------------------------------------------------------

FIELDS = ("ctid,name,hostname,ip,status,numproc,ostemplate,private,root,onboot,bootorder,"
          "description,uptime,laverage,layout")


def test_output_fields(make_ve: MakeVe) -> None:
    ve = shaped(make_ve, "--name", "fields-ve", "--hostname", "fields.example.com",
                "--ipadd", "10.78.0.1", "--description", "Fields test VE", "--onboot", "yes",
                "--bootorder", "42")
    node = ve.node
    private = str(node.private(ve.ctid))
    root = str(node.ve_root(ve.ctid))

    rows = ok(node, "-o", FIELDS, str(ve.ctid)).splitlines()
    assert rows[0] == line(
        fmt(10, "CTID"), fmt(width("name"), "NAME"), fmt(-32, "HOSTNAME"),
        fmt(-15, "IP_ADDR"), fmt(-9, "STATUS"), fmt(10, "NPROC"),
        fmt(width("ostemplate"), "OSTEMPLATE"), fmt(-32, "PRIVATE"), fmt(-32, "ROOT"),
        fmt(width("onboot"), "ONBOOT"), fmt(10, "BOOTORDER"), fmt(-32, "DESCRIPTION"),
        fmt(15, "UPTIME"), fmt(14, "LAVERAGE"), "LAYOUT")
    assert rows[1] == line(
        fmt(10, ve.ctid), fmt(width("name"), "fields-ve"), fmt(-32, "fields.example.com"),
        fmt(-15, "10.78.0.1"), fmt(-9, "stopped"), fmt(10, "-"),
        fmt(width("ostemplate"), "busybox"), fmt(-32, private[:32]), fmt(-32, root[:32]),
        fmt(width("onboot"), "yes"), fmt(10, 42), fmt(-32, "Fields test VE"),
        fmt(15, "-"), fmt(14, "-"), "overlay")
    assert len(rows) == 2

    # a running VE: process count, uptime as DDDdHHh:MMm:SSs, load average a/b/c
    ve.vzctl("start", "--wait", check=True)
    out = ok(node, "-H", "-o", "status,numproc,uptime,laverage,ctid", str(ve.ctid))
    status, nproc, uptime, laverage, ctid = out.split()
    assert (status, ctid) == ("running", str(ve.ctid))
    assert int(nproc) >= 1
    assert UPTIME.match(uptime), uptime
    assert uptime.startswith("000d00h:0")          # just started
    assert LAVERAGE.match(laverage), laverage
    cells = out.rstrip("\n")
    assert cells == line(fmt(-9, "running"), fmt(10, nproc), fmt(15, uptime),
                         fmt(14, laverage), fmt(10, ve.ctid))

    # unset values print '-'; onboot unset prints "no" as vzctl does
    bare = shaped(make_ve)
    out = ok(node, "-H", "-o", "name,hostname,ip,description,bootorder,onboot", str(bare.ctid))
    assert out == line(fmt(width("name"), "-"), fmt(-32, "-"), fmt(-15, "-"), fmt(-32, "-"),
                       fmt(10, "-"), fmt(width("onboot"), "no")).rstrip() + "\n"


def test_trimming_and_lists(make_ve: MakeVe) -> None:
    long_desc = "A description that is longer than thirty-two characters"
    long_host = "a-rather-long-host-name.subdomain.example.com"     # 45 characters
    ve = shaped(make_ve, "--hostname", long_host, "--description", long_desc,
                "--ipadd", "10.79.0.1", "--ipadd", "10.79.0.2", "--ipadd", "10.79.0.3",
                "--nameserver", "10.79.0.53", "--nameserver", "10.79.0.54")
    node = ve.node
    ips = "10.79.0.1 10.79.0.2 10.79.0.3"

    # non-last columns: strings cut to the width, lists show their first item
    out = ok(node, "-H", "-o", "description,hostname,ip,nameserver,ctid", str(ve.ctid))
    assert out == line(long_desc[:32], long_host[:32], fmt(-15, "10.79.0.1"),
                       fmt(-15, "10.79.0.53"), fmt(10, ve.ctid)) + "\n"
    # the last column is never cut, and a list there is shown whole
    assert ok(node, "-H", "-o", "ctid,description", str(ve.ctid)) == \
        line(fmt(10, ve.ctid), long_desc) + "\n"
    assert ok(node, "-H", "-o", "ctid,ip", str(ve.ctid)) == \
        line(fmt(10, ve.ctid), ips) + "\n"
    assert ok(node, "-H", "-o", "ctid,hostname", str(ve.ctid)) == \
        line(fmt(10, ve.ctid), long_host) + "\n"
    # -t: nothing is cut, lists are whole everywhere
    assert ok(node, "-H", "-t", "-o", "description,ip,ctid", str(ve.ctid)) == \
        line(long_desc, fmt(-15, ips), fmt(10, ve.ctid)) + "\n"
    assert ok(node, "-H", "--no-trim", "-o", "ip,hostname,ctid", str(ve.ctid)) == \
        line(fmt(-15, ips), long_host, fmt(10, ve.ctid)) + "\n"
    # default output: first IP only, full host name in the last column
    assert ok(node, str(ve.ctid)).splitlines() == [
        HEADER, default_row(ve.ctid, "-", "stopped", "10.79.0.1", long_host)]
    # headers are not cut either
    assert ok(node, "-o", "origin_sample,ctid", str(ve.ctid)).splitlines()[0] == \
        line(fmt(width("origin_sample"), "ORIGIN_SAMPLE"), fmt(10, "CTID"))
    # a long name in the right-aligned SMARTNAME column (%10s) is cut as well
    ve.vzctl("set", "--name", "name-longer-than-ten", "--save", check=True)
    assert ok(node, "-H", "-o", "smart_name,ctid", str(ve.ctid)) == \
        line("name-longe", fmt(10, ve.ctid)) + "\n"


# -- sorting -----------------------------------------------------------------------------

def test_sort(make_ve: MakeVe) -> None:
    v2 = shaped(make_ve, "--bootorder", "10", "--hostname", "charlie.example.com")
    v1 = shaped(make_ve, "--bootorder", "2", "--hostname", "bravo.example.com")
    v3 = shaped(make_ve, "--bootorder", "30", "--hostname", "alpha.example.com")
    v0 = shaped(make_ve)              # no bootorder, no hostname: sorts first
    node = v0.node
    ids = [str(v.ctid) for v in (v2, v1, v3, v0)]

    def order(*args: str) -> list[int]:
        return [int(r.split()[0]) for r in ok(node, "-H", "-o", "ctid,bootorder",
                                              *args, *ids).splitlines()]

    # numeric, not textual: 2 < 10 < 30
    assert order("-s", "bootorder") == [v0.ctid, v1.ctid, v2.ctid, v3.ctid]
    assert order("-s", "-bootorder") == [v3.ctid, v2.ctid, v1.ctid, v0.ctid]
    assert order("--sort=-bootorder") == [v3.ctid, v2.ctid, v1.ctid, v0.ctid]
    assert order("-s", "hostname") == [v0.ctid, v3.ctid, v1.ctid, v2.ctid]
    assert order("-s", "-hostname") == [v2.ctid, v1.ctid, v3.ctid, v0.ctid]
    assert order("-s", "-ctid") == sorted((v.ctid for v in (v0, v1, v2, v3)), reverse=True)
    assert order() == sorted(v.ctid for v in (v0, v1, v2, v3))
    out = ok(node, "-H", "-o", "ctid,bootorder", "-s", "bootorder", *ids).splitlines()
    assert out == [line(fmt(10, v0.ctid), fmt(10, "-")),
                   line(fmt(10, v1.ctid), fmt(10, 2)),
                   line(fmt(10, v2.ctid), fmt(10, 10)),
                   line(fmt(10, v3.ctid), fmt(10, 30))]

    # status: running before stopped (vzctl's order), ties by CTID
    v3.vzctl("start", "--wait", check=True)
    assert order("-s", "status") == [v3.ctid, *sorted(v.ctid for v in (v0, v1, v2))]
    # numproc sorts by the process count; stopped VEs count 0
    assert order("-s", "-numproc")[0] == v3.ctid

    r = node.vzlist("-s", "nosuchfield")
    assert (r.returncode, r.stdout) == (20, "")
    assert r.stderr == "Invalid sort field name: nosuchfield\n"


# -- filters -----------------------------------------------------------------------------

def test_pattern_filters(make_ve: MakeVe) -> None:
    a = shaped(make_ve, "--hostname", "web1.pattern.test", "--name", "pat-web1",
               "--description", "front end")
    b = shaped(make_ve, "--hostname", "db1.pattern.test", "--name", "pat-db1",
               "--description", "back end")
    c = shaped(make_ve)               # nothing set: never matches a pattern
    node = a.node
    ids = [str(v.ctid) for v in (a, b, c)]

    def listed(*args: str) -> list[int]:
        return [int(x) for x in ok(node, "-1", *args, *ids).split()]

    assert listed("-h", "web*") == [a.ctid]
    assert listed("--hostname", "*.pattern.test") == [a.ctid, b.ctid]
    assert listed("-h", "*") == [a.ctid, b.ctid]
    assert listed("-h", "?b1.*") == [b.ctid]
    assert listed("-h", "[wx]*") == [a.ctid]
    assert listed("-h", "WEB*") == []                     # case-sensitive
    assert listed("-N", "pat-*") == [a.ctid, b.ctid]
    assert listed("--name_filter", "*db*") == [b.ctid]
    assert listed("-d", "* end") == [a.ctid, b.ctid]
    assert listed("--description", "back*") == [b.ctid]
    assert listed("-d", "front") == []                     # whole-string match
    assert listed("-h", "*", "-N", "*web*") == [a.ctid]    # filters combine
    assert listed() == [a.ctid, b.ctid, c.ctid]


# -- JSON --------------------------------------------------------------------------------

def test_json_all_fields(make_ve: MakeVe) -> None:
    run = shaped(make_ve, "--hostname", "json.example.com", "--ipadd", "10.80.0.1",
                 "--ipadd", "10.80.0.2", "--onboot", "yes", "--bootorder", "7",
                 "--description", "json VE", "--name", "json-run", start=True)
    stopped = shaped(make_ve)
    node = run.node
    r = node.vzlist("-j", str(run.ctid), str(stopped.ctid))
    assert r.returncode == 0 and r.stderr == ""
    data = json.loads(r.stdout)
    assert isinstance(data, list) and len(data) == 2
    one, two = data
    for obj in data:
        assert {"ctid", "name", "hostname", "ip", "status", "numproc", "ostemplate",
                "private", "root", "onboot", "bootorder", "description", "uptime",
                "laverage", "layout", "nameserver", "searchdomain", "smart_name",
                "disabled"} <= set(obj)
        assert not any("." in key for key in obj)          # no suffixed fields
        assert set(obj["numproc"]) == {"held", "maxheld", "barrier", "limit", "failcnt"}

    assert one["ctid"] == run.ctid and type(one["ctid"]) is int
    assert one["status"] == "running"
    assert one["hostname"] == "json.example.com"
    assert one["ip"] == ["10.80.0.1", "10.80.0.2"]
    assert one["nameserver"] == [] and one["searchdomain"] == []
    assert one["onboot"] is True
    assert one["bootorder"] == 7 and type(one["bootorder"]) is int
    assert one["description"] == "json VE"
    assert one["name"] == one["smart_name"] == "json-run"
    assert one["ostemplate"] == "busybox"
    assert one["private"] == str(node.private(run.ctid))
    assert one["root"] == str(node.ve_root(run.ctid))
    assert one["layout"] == "overlay"
    assert one["disabled"] is False
    held = one["numproc"]["held"]
    assert type(held) is int and held >= 1
    assert one["numproc"]["failcnt"] == 0
    assert type(one["uptime"]) is float and 0 <= one["uptime"] < 600
    la = one["laverage"]
    assert isinstance(la, list) and len(la) == 3
    assert all(type(x) in (int, float) and x >= 0 for x in la)

    assert two["ctid"] == stopped.ctid
    assert two["status"] == "stopped"
    assert two["smart_name"] == stopped.ctid                # no name: the CTID, a number
    assert two["name"] is None and two["hostname"] is None and two["description"] is None
    assert two["ip"] == []
    assert two["onboot"] is None                            # unset
    assert two["bootorder"] is None
    assert two["numproc"]["held"] == 0 and two["numproc"]["maxheld"] == 0
    assert two["numproc"]["failcnt"] == 0
    assert two["uptime"] == 0.0 and type(two["uptime"]) is float
    assert two["laverage"] is None

    stopped.vzctl("set", "--onboot", "no", "--save", check=True)
    assert json.loads(ok(node, "-j", "-o", "onboot", str(stopped.ctid))) == \
        [{"onboot": False}]


def test_json_selected_fields(make_ve: MakeVe) -> None:
    ve = shaped(make_ve, "--hostname", "sel.example.com", "--ipadd", "10.81.0.1",
                "--onboot", "yes", "--name", "json-sel")
    other = shaped(make_ve)
    node = ve.node
    data = json.loads(ok(node, "-j", "-o", "ctid,hostname,ip,onboot,status,name",
                         str(ve.ctid), str(other.ctid)))
    assert data == [
        {"ctid": ve.ctid, "hostname": "sel.example.com", "ip": ["10.81.0.1"],
         "onboot": True, "status": "stopped", "name": "json-sel"},
        {"ctid": other.ctid, "hostname": None, "ip": [], "onboot": None,
         "status": "stopped", "name": None},
    ]
    assert list(data[0]) == ["ctid", "hostname", "ip", "onboot", "status", "name"]
    # the key is the field name as asked for; -s applies; -H and -t change nothing
    assert json.loads(ok(node, "--json", "-H", "-t", "--output=veid", "-s", "-ctid",
                         str(ve.ctid), str(other.ctid))) == \
        [{"veid": other.ctid}, {"veid": ve.ctid}]
    # filters apply to JSON too
    assert json.loads(ok(node, "-j", "-o", "ctid", "-h", "sel.*", str(ve.ctid),
                         str(other.ctid))) == [{"ctid": ve.ctid}]


# -- field list and errors ---------------------------------------------------------------

FIELD_HEADERS = [
    ("ctid", "CTID"), ("veid", "CTID"), ("vpsid", "CTID"), ("smart_name", "SMARTNAME"),
    ("name", "NAME"), ("hostname", "HOSTNAME"), ("description", "DESCRIPTION"),
    ("ostemplate", "OSTEMPLATE"), ("private", "PRIVATE"), ("root", "ROOT"),
    ("origin_sample", "ORIGIN_SAMPLE"), ("ip", "IP_ADDR"), ("nameserver", "NAMESERVER"),
    ("searchdomain", "SEARCHDOMAIN"), ("status", "STATUS"), ("numproc", "NPROC"),
    ("laverage", "LAVERAGE"), ("uptime", "UPTIME"), ("onboot", "ONBOOT"),
    ("bootorder", "BOOTORDER"), ("disabled", "DISABL"), ("layout", "LAYOUT"),
]


def test_field_list(node: Node) -> None:
    out = ok(node, "-L")
    rows = {r.split()[0]: r for r in out.splitlines()}
    for field, header in FIELD_HEADERS:
        assert rows[field] == f"{field:<15} {header}"
    assert out == ok(node, "--list")


def test_every_listed_field_works(make_ve: MakeVe) -> None:
    run = shaped(make_ve, "--hostname", "every.example.com", "--name", "every-field",
                 start=True)
    stopped = shaped(make_ve, "--ipadd", "10.82.0.1", "--onboot", "no")
    node = run.node
    listing = [r.split() for r in ok(node, "-L").splitlines()]
    fields = [f for f, _ in listing]
    ids = (str(run.ctid), str(stopped.ctid))
    out = ok(node, "-t", "-o", ",".join(fields), *ids).splitlines()
    assert len(out) == 3
    assert out[0].split() == [h for _, h in listing]
    data = json.loads(ok(node, "-j", "-o", ",".join(fields), *ids))
    assert [list(obj) for obj in data] == [fields, fields]
    # every field sorts, running and stopped VEs mixed
    for field in fields:
        got = ok(node, "-1", "-s", "-" + field, *ids).split()
        assert sorted(got) == sorted(ids), field


@pytest.mark.parametrize("args, message", [
    (["-o", "nosuchfield"], "Unknown field: nosuchfield"),
    (["-o", "ctid,,status"], "Unknown field: "),
    (["-j", "-o", "ctid,nosuchfield"], "Unknown field: nosuchfield"),
    (["--bogus"], "Invalid option --bogus"),
    (["-q"], "Invalid option -q"),
    (["-o"], "Option -o needs a value"),
])
def test_bad_arguments_exit_20(node: Node, args: list[str], message: str) -> None:
    r = node.vzlist(*args)
    assert (r.returncode, r.stdout) == (20, "")
    assert r.stderr == message + "\n"
