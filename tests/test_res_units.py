"""Resource logic without a kernel: value parsing, VSwap derivations, the v1/v2 cgroup file
mapping (over an in-memory ``CgroupFiles``), the beancounter file format, vzcfgvalidate's
rules and vzsplit's arithmetic.  The real, kernel-enforced behaviour is in
test_res_limits.py and test_res_v2.py."""

from __future__ import annotations

import errno

import pytest

from pyvz.cgroups.files import CgroupFiles
from pyvz.cgroups.hierarchy import Hierarchies
from pyvz.cgroups.limits import CgroupLimits, shares_for, weight_for
from pyvz.cgroups.ve import VeCgroups
from pyvz.config.layers import VeConfig
from pyvz.config.schema import BY_OPTION
from pyvz.errors import VzError
from pyvz.res import units as u
from pyvz.res.model import Resources
from pyvz.res.ubc import format_file, parse_file
from pyvz.res.validate import ERROR, check

UNL = u.UNLIMITED


class MemFiles(CgroupFiles):
    """Files of cgroup directories in a dict; v1 memory keeps limit <= memsw like the
    kernel does."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = dict(files)
        self.writes: list[tuple[str, str]] = []

    def read(self, directory: str, name: str) -> str:
        try:
            return self.files[f"{directory}/{name}"]
        except KeyError:
            raise FileNotFoundError(name) from None

    def write(self, directory: str, name: str, value: str) -> None:
        path = f"{directory}/{name}"
        if path not in self.files:
            raise FileNotFoundError(name)
        if name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
            lim = self.files.get(f"{directory}/memory.limit_in_bytes", "-1")
            sw = self.files.get(f"{directory}/memory.memsw.limit_in_bytes", "-1")
            new_lim = value if name == "memory.limit_in_bytes" else lim
            new_sw = value if name != "memory.limit_in_bytes" else sw

            def n(x: str) -> int:
                return UNL if x.strip() == "-1" else int(x)
            if n(new_lim) > n(new_sw):
                raise OSError(errno.EINVAL, "Invalid argument")
        self.files[path] = value
        self.writes.append((path, value))

    def exists(self, directory: str, name: str = "") -> bool:
        p = f"{directory}/{name}" if name else directory
        return p in self.files or any(k.startswith(p + "/") for k in self.files)


def _conf(**values: str) -> VeConfig:
    c = VeConfig(101, {}, None)
    c.overrides.update(values)
    return c


@pytest.mark.parametrize(("option", "text", "stored"), [
    ("ram", "256M", "0:65536"), ("ram", "1G", "0:262144"), ("ram", "268435456", "0:65536"),
    ("swap", "512M", "0:131072"), ("ram", "100P", "0:100"),
    ("kmemsize", "14M:16M", "14680064:16777216"), ("kmemsize", "unlimited",
                                                   "unlimited:unlimited"),
    ("privvmpages", "1G:1.5G", "262144:393216"), ("numproc", "240", "240:240"),
    ("cpulimit", "25%", "25"), ("iolimit", "10", "10485760"), ("iolimit", "512K", "524288"),
    ("cpumask", "0,2-3", "0,2-3"), ("cpumask", "auto", "auto"),
    ("meminfo", "pages:100", "pages:100"), ("vm_overcommit", "1.5", "1.5"),
])
def test_values_parse_like_vzctl(option: str, text: str, stored: str) -> None:
    setting, _ = BY_OPTION[option]
    assert setting.kind.parse(text, option) == stored


@pytest.mark.parametrize(("option", "text"), [
    ("numproc", "240K"), ("numproc", "x"), ("ram", "1:2"), ("cpuunits", "5"),
    ("cpuunits", "600000"), ("cpumask", "3-1"), ("ioprio", "8"), ("iolimit", "3G"),
    ("meminfo", "bogus:1"), ("vm_overcommit", "-1"), ("kmemsize", "1.5"),
])
def test_bad_values_are_refused_with_exit_21(option: str, text: str) -> None:
    setting, _ = BY_OPTION[option]
    with pytest.raises(VzError) as e:
        setting.kind.parse(text, option)
    assert e.value.code == 21


def test_vswap_derivations() -> None:
    r = Resources(_conf(PHYSPAGES="0:65536", SWAPPAGES="0:32768", VM_OVERCOMMIT="1.5"))
    assert r.vswap and r.ram_pages == 65536 and r.swap_pages == 32768
    assert r.ubc["lockedpages"] == (65536, UNL)
    assert r.ubc["oomguarpages"] == (65536, UNL)
    assert r.ubc["vmguarpages"] == (98304, UNL)
    assert r.ubc["privvmpages"] == (147456, 147456)
    limit, memsw, low = r.memory_bytes()
    assert (limit, memsw, low) == (256 << 20, 384 << 20, None)


def test_classic_config_caps_memory_at_privvmpages() -> None:
    r = Resources(_conf(PRIVVMPAGES="65536:69632", OOMGUARPAGES="26112:unlimited"))
    assert not r.vswap
    limit, memsw, low = r.memory_bytes()
    assert limit == memsw == 69632 * 4096
    assert low == 26112 * 4096


def test_start_refuses_incomplete_configs_with_exit_28() -> None:
    with pytest.raises(VzError) as e:
        Resources(_conf(SWAPPAGES="0:1000")).check_startable()
    assert e.value.code == 28
    with pytest.raises(VzError) as e:
        Resources(_conf(NUMPROC="10:5")).check_startable()
    assert e.value.code == 1


def test_cpu_cap_takes_the_smaller_of_cpulimit_and_cpus() -> None:
    assert Resources(_conf(CPULIMIT="150", CPUS="1")).cpu_cap() == 100
    assert Resources(_conf(CPUS="2")).cpu_cap() == 200
    assert Resources(_conf()).cpu_cap() is None
    assert shares_for(1000) == 1024 and shares_for(3000) == 3072
    assert weight_for(1000) == 100 and weight_for(8) == 1


def _v1() -> tuple[MemFiles, VeCgroups]:
    d = "/cg/memory/n/101"
    files = {f"{d}/memory.limit_in_bytes": "-1", f"{d}/memory.memsw.limit_in_bytes": "-1",
             f"{d}/memory.soft_limit_in_bytes": "-1", "/cg/pids/n/101/pids.max": "max",
             "/cg/cpu/n/101/cpu.shares": "1024", "/cg/cpu/n/101/cpu.cfs_quota_us": "-1",
             "/cg/cpu/n/101/cpu.cfs_period_us": "100000"}
    io = MemFiles(files)
    hier = Hierarchies({"/cg/memory": frozenset({"memory"}), "/cg/pids": frozenset({"pids"}),
                        "/cg/cpu": frozenset({"cpu"})}, None, frozenset())
    return io, VeCgroups(hier, "n", 101, io)


def _v2() -> tuple[MemFiles, VeCgroups]:
    d = "/cg2/n/101"
    files = {f"{d}/{k}": v for k, v in {
        "memory.max": "max", "memory.swap.max": "max", "memory.low": "0", "pids.max": "max",
        "cpu.weight": "100", "cpu.max": "max 100000", "io.max": "", "io.weight":
        "default 100"}.items()}
    io = MemFiles(files)
    hier = Hierarchies({}, "/cg2", frozenset({"memory", "pids", "cpu", "io"}))
    return io, VeCgroups(hier, "n", 101, io)


def test_v1_mapping_orders_memsw_writes_both_ways() -> None:
    io, cg = _v1()
    lim = CgroupLimits(cg)
    lim.set_memory(256 << 20, 384 << 20, None)
    d = "/cg/memory/n/101"
    assert io.files[f"{d}/memory.limit_in_bytes"] == str(256 << 20)
    assert io.files[f"{d}/memory.memsw.limit_in_bytes"] == str(384 << 20)
    # growing RAM beyond the old memsw needs memsw first: the kernel's EINVAL is handled
    lim.set_memory(512 << 20, 768 << 20, 64 << 20)
    assert io.files[f"{d}/memory.limit_in_bytes"] == str(512 << 20)
    assert io.files[f"{d}/memory.soft_limit_in_bytes"] == str(64 << 20)
    lim.set_memory(None, None, None)
    assert io.files[f"{d}/memory.limit_in_bytes"] == "-1"
    lim.set_pids(30)
    lim.set_cpu_weight(3000)
    lim.set_cpu_limit(25)
    assert io.files["/cg/pids/n/101/pids.max"] == "30"
    assert io.files["/cg/cpu/n/101/cpu.shares"] == "3072"
    assert io.files["/cg/cpu/n/101/cpu.cfs_quota_us"] == "25000"


def test_v2_mapping() -> None:
    io, cg = _v2()
    lim = CgroupLimits(cg)
    lim.set_memory(256 << 20, 384 << 20, 32 << 20)
    d = "/cg2/n/101"
    assert io.files[f"{d}/memory.max"] == str(256 << 20)
    assert io.files[f"{d}/memory.swap.max"] == str(128 << 20)
    assert io.files[f"{d}/memory.low"] == str(32 << 20)
    lim.set_pids(None)
    lim.set_cpu_weight(3000)
    lim.set_cpu_limit(250)
    lim.set_io_caps("254:0", 10 << 20, None)
    assert io.files[f"{d}/pids.max"] == "max"
    assert io.files[f"{d}/cpu.weight"] == "300"
    assert io.files[f"{d}/cpu.max"] == "250000 100000"
    assert io.files[f"{d}/io.max"] == f"254:0 rbps={10 << 20} wbps={10 << 20} riops=max " \
                                      "wiops=max"
    assert lim.set_io_weight(100) == "io.weight"


def test_beancounter_file_round_trip() -> None:
    rows = [("kmemsize", 1, 2, 3, 4, 0), ("numproc", 5, 6, 7, 7, 9)]
    text = format_file([(101, rows), (102, rows[:1])])
    lines = text.splitlines()
    assert lines[0] == "Version: 2.5"
    assert lines[1].split() == ["uid", "resource", "held", "maxheld", "barrier", "limit",
                                "failcnt"]
    assert lines[2].split()[:2] == ["101:", "kmemsize"]
    assert lines[2].index("kmemsize") == lines[3].index("numproc")  # aligned continuation
    assert parse_file(text) == [(101, rows), (102, rows[:1])]
    assert parse_file(text + "            dummy 0 0 0 0 0\n") == [(101, rows), (102, rows[:1])]


def test_validation_rules() -> None:
    bad = check({"NUMPROC": "100:200", "KMEMSIZE": "2097152:1048576",
                 "TCPSNDBUF": "10240:20480", "NUMTCPSOCK": "100:100"},
                vswap=None, host_ram=1 << 30, host_swap=0)
    errors = [f for f in bad if f.severity == ERROR]
    assert any("kmemsize" in f.message for f in errors)
    assert any("tcpsndbuf.bar" in f.message for f in errors)
    assert all(f.fix is not None for f in errors)
    vswap = check({"PHYSPAGES": "0:1048576", "SWAPPAGES": "0:1000"}, vswap=None,
                  host_ram=1 << 30, host_swap=0)
    assert [f.severity for f in vswap].count(ERROR) == 1  # more RAM than the node has


def test_vzsplit_arithmetic() -> None:
    from pyvz.cli.vzsplit import split

    _, values, _ = split(4, ram=4 << 30, lowmem=4 << 30, swap=0, threads_max=100000,
                         disk=None, vswap=True)
    ram_pages = int(values["PHYSPAGES"].split(":")[1])
    assert ram_pages == ((4 << 30) - (50 << 20)) // 4 // 4096
    assert values["SWAPPAGES"] == f"0:{2 * ram_pages}"
    _, classic, _ = split(4, ram=4 << 30, lowmem=4 << 30, swap=0, threads_max=100000,
                          disk=None, vswap=False)
    assert check(classic, vswap=False, host_ram=4 << 30, host_swap=0) is not None
    with pytest.raises(VzError) as e:
        split(1000, ram=1 << 30, lowmem=1 << 30, swap=0, threads_max=1000, disk=None,
              vswap=True)
    assert e.value.code == 1 and "at most" in e.value.message
