"""Node boot/shutdown (the systemd unit's commands) and the system-wide install."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, Node


def _started_order(node: Node) -> list[int]:
    order = []
    for line in (node.root / "var/log/vzctl.log").read_text().splitlines():
        if line.endswith("Starting container..."):
            order.append(int(line.split("CT ")[1].split()[0]))
    return order


def test_boot_starts_onboot_ves_in_bootorder(fresh_node: Node) -> None:
    node = fresh_node
    node.vzctl("status", "1")  # writes vz.conf
    conf = node.root / "etc/vz/vz.conf"
    conf.write_text(conf.read_text() + 'VE_PARALLEL="1"\n')
    wanted = {201: "10", 202: None, 203: "30", 204: "20"}
    for ctid, order in wanted.items():
        node.vzctl("create", str(ctid), "--ostemplate", "busybox", check=True)
        args = ["--onboot", "yes"] + (["--bootorder", order] if order else [])
        node.vzctl("set", str(ctid), *args, "--save", check=True)
    node.vzctl("create", "205", "--ostemplate", "busybox", check=True)  # not ONBOOT
    (node.root / "var/log/vzctl.log").write_text("")
    node.run("pyvz", "boot", check=True)
    assert _started_order(node) == [203, 204, 201, 202]
    for ctid in wanted:
        assert node.vzctl("status", str(ctid)).stdout.split()[-1] == "running"
    assert node.vzctl("status", "205").stdout.split()[-1] == "down"
    # booting again starts nothing twice
    node.run("pyvz", "boot", check=True)
    node.run("pyvz", "shutdown", check=True)
    for ctid in wanted:
        assert node.vzctl("status", str(ctid)).stdout.split()[-1] == "down"


def test_boot_does_nothing_when_virtuozzo_is_no(fresh_node: Node) -> None:
    node = fresh_node
    node.vzctl("create", "301", "--ostemplate", "busybox", check=True)
    node.vzctl("set", "301", "--onboot", "yes", "--save", check=True)
    conf = node.root / "etc/vz/vz.conf"
    conf.write_text(conf.read_text().replace('VIRTUOZZO="yes"', 'VIRTUOZZO="no"'))
    node.run("pyvz", "boot", check=True)
    assert node.vzctl("status", "301").stdout.split()[-1] == "down"


def test_cleanup_removes_node_cgroups_only_when_idle(fresh_node: Node) -> None:
    node = fresh_node
    node.vzctl("create", "311", "--ostemplate", "busybox", check=True)
    node.vzctl("start", "311", check=True)
    assert node.run("pyvz", "cleanup").returncode == 32
    assert any(d.exists() for d in node.cgroup_dirs())
    node.vzctl("stop", "311", check=True)
    node.run("pyvz", "cleanup", check=True)
    assert not any(d.exists() for d in node.cgroup_dirs())


def test_pyvz_info(node: Node) -> None:
    out = node.run("pyvz", "info", check=True).stdout
    assert f"node root:   {node.root}" in out
    assert "monitor:" in out and "missing" not in out


@pytest.mark.slow
def test_system_wide_install(tmp_path: Path) -> None:
    prefix, bindir = tmp_path / "opt/pyvz", tmp_path / "sbin"
    env = dict(os.environ, SYSTEMD_DIR=str(tmp_path / "systemd"),
               SYSCTL_DIR=str(tmp_path / "sysctl.d"))
    r = subprocess.run(["sh", str(REPO / "scripts/install.sh"), str(prefix), str(bindir),
                        "/usr/bin/python3"], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    for cmd in ("vzctl", "vzlist", "pyvz"):
        assert os.readlink(bindir / cmd) == str(prefix / "bin" / cmd)
    out = subprocess.run([str(bindir / "vzctl"), "--version"], capture_output=True, text=True)
    assert out.stdout.startswith("vzctl version")
    monitor = next(prefix.glob("lib/python3*/site-packages/pyvz/libexec/pyvz-monitor"))
    assert os.access(monitor, os.X_OK)
    unit = (tmp_path / "systemd/pyvz.service").read_text()
    assert f"ExecStart={prefix}/bin/pyvz boot" in unit
    assert f"ExecStop={prefix}/bin/pyvz shutdown" in unit
    assert (tmp_path / "sysctl.d/90-pyvz.conf").exists()
    r = subprocess.run(["sh", str(REPO / "scripts/install.sh"), "--uninstall", str(prefix),
                        str(bindir)], env=env, capture_output=True, text=True)
    assert r.returncode == 0
    assert not prefix.exists() and not (bindir / "vzctl").exists()
    assert not (tmp_path / "systemd/pyvz.service").exists()


def test_exit_code_doc_lists_every_code() -> None:
    from pyvz.errors import E

    doc = (REPO / "docs/exit-codes.md").read_text()
    for name, code in vars(E).items():
        if name.isupper():
            assert f"| {code} | `" in doc, name
