"""--rate: a bulk transfer to the VE (tc shaping on the host end) and one from the VE
(policing in its nft table) run near the set rate, not far above it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_netlib import NODE_IP, NetNode, netnode  # noqa: F401

pytestmark = pytest.mark.slow

IP = "10.213.0.121"
KBITS = 8000  # 1 MB/s
SIZE = 3_000_000


def test_rate_caps_bulk_transfer(netnode: NetNode, tmp_path: Path) -> None:  # noqa: F811
    nn = netnode
    ctid = nn.create("--ipadd", IP, start=False)
    nn.vzctl("set", str(ctid), "--rate", str(KBITS), "--save", check=True)
    nn.vzctl("start", str(ctid), "--wait", check=True)
    rate = KBITS * 1000 / 8
    # to the VE (shaped by tc on the host end): the VE downloads from a node-side server
    srv = tmp_path / "www"
    srv.mkdir()
    (srv / "blob").write_bytes(b"x" * SIZE)
    server = subprocess.Popen(["nsenter", f"--net=/run/netns/{nn.ns}", sys.executable,
                               "-m", "http.server", "-b", NODE_IP, "-d", str(srv), "8000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        t = time.monotonic()
        nn.exec(ctid, f"wget -q -O /dev/null http://{NODE_IP}:8000/blob")
        secs = time.monotonic() - t
    finally:
        server.kill()
        server.wait()
    assert 0.5 * rate < SIZE / secs < 1.15 * rate, SIZE / secs
    # from the VE (policed in its nft table: a policer drops what is over the rate, TCP
    # backs off; coarser than shaping, so the bound is looser)
    nn.serve(ctid, 8080, SIZE)
    size, secs = nn.fetch(nn.ns, f"http://{IP}:8080/blob", timeout=30)
    assert size == SIZE
    assert 0.5 * rate < SIZE / secs < 1.5 * rate, SIZE / secs
    # unlimited again, live
    nn.vzctl("set", str(ctid), "--rate", "0", "--save", check=True)
    size, secs = nn.fetch(nn.ns, f"http://{IP}:8080/blob", timeout=30)
    assert SIZE / secs > 3 * rate
    nn.vzctl("stop", str(ctid), check=True)
    assert nn.leftovers() == ""
