"""pyvz.api: the vzctl verbs in-process, on a real VE of the test node.

The test process has no VZ_ROOT in its environment (conftest passes it to the commands it
runs), so these tests also show that everything the API starts finds the right node.
"""

from __future__ import annotations

import os
import time

import pytest
from conftest import Node

from pyvz.api import Node as ApiNode
from pyvz.api import option_args
from pyvz.errors import E, VzError


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_option_args() -> None:
    assert option_args({"ipadd": ["10.0.0.1", "10.0.0.2"], "save": True, "fast": False,
                        "hostname": "a", "ram": None, "cpus": 2}) == [
        "--ipadd", "10.0.0.1", "--ipadd", "10.0.0.2", "--save", "--hostname", "a",
        "--cpus", "2"]


def test_lifecycle_in_process(node: Node) -> None:
    assert "VZ_ROOT" not in os.environ
    api = ApiNode(root=str(node.root))
    ctid = node.new_ctid()
    fds = _open_fds()
    try:
        api.create(ctid, ostemplate="busybox", hostname=f"api{ctid}")
        assert node.conf(ctid).exists()
        st = api.status(ctid)
        assert st.exist and not st.running
        api.start(ctid)
        assert api.status(ctid).running

        r = api.exec(ctid, ["cat", "/etc/hostname"])
        assert (r.returncode, r.stdout, r.stderr) == (0, f"api{ctid}\n".encode(), b"")
        r = api.exec(ctid, ["sh", "-c", "cat; echo oops >&2; exit 3"], input=b"x" * 300_000)
        assert r.returncode == 3 and r.stdout == b"x" * 300_000 and r.stderr == b"oops\n"
        # PID 1 is the VE's init, seen from inside through the API as through vzctl
        assert api.exec(ctid, ["cat", "/proc/1/comm"]).stdout == b"init\n"
        with pytest.raises(VzError) as err:
            api.exec(ctid, ["/no/such/program"])
        assert err.value.code == E.EXEC

        api.set(ctid, hostname=f"renamed{ctid}")
        assert api.exec(ctid, ["hostname"]).stdout == f"renamed{ctid}\n".encode()
        assert f'HOSTNAME="renamed{ctid}"' in node.conf(ctid).read_text()
        # the same verbs the CLI has, with its arguments
        assert api.vzctl("exec2", ctid, "exit 4") == 4

        with pytest.raises(VzError) as err:
            api.start(ctid)
        assert err.value.code == E.VE_RUNNING
        api.stop(ctid, fast=True)
        assert not api.status(ctid).running
        with pytest.raises(VzError) as err:
            api.exec(ctid, ["true"])
        assert err.value.code == E.VE_NOT_RUNNING
    finally:
        try:
            api.stop(ctid, fast=True)
        except VzError:
            pass
        api.destroy(ctid)
    assert not node.conf(ctid).exists()
    assert _open_fds() == fds, "the API leaked file descriptors"
    # no zombie or stray child of ours stays behind
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_bad_input_raises_vzctl_codes(node: Node) -> None:
    api = ApiNode(root=str(node.root))
    with pytest.raises(VzError) as err:
        api.start("no-such-name")
    assert err.value.code == E.INVALID_PARAMETER_VALUE
    ctid = node.new_ctid()
    with pytest.raises(VzError) as err:
        api.create(ctid, ostemplate="no-such-template")
    assert not node.conf(ctid).exists() and not node.private(ctid).exists()
    with pytest.raises(VzError) as err:
        api.create(ctid, ipadd="300.1.1.1")
    assert err.value.code == E.BADIP
    with pytest.raises(VzError):
        api.vzctl("frobnicate", ctid)


def test_reboot_of_an_api_started_ve_comes_back(node: Node) -> None:
    """The monitor's reaper gets the node's root as an argument, not from our environment."""
    api = ApiNode(root=str(node.root))
    ctid = node.new_ctid()
    try:
        api.create(ctid, ostemplate="busybox")
        api.start(ctid)
        first = node.state(ctid)["init_pid"]
        api.exec(ctid, ["reboot", "-f"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            st = node.state(ctid) if (node.root / f"run/pyvz/{ctid}/state").exists() else {}
            if st.get("init_pid") not in (None, first) and api.status(ctid).running:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the VE did not come back after reboot")
        assert api.exec(ctid, ["true"]).returncode == 0
    finally:
        node.vzctl("stop", str(ctid), "--fast")
        node.vzctl("destroy", str(ctid))
