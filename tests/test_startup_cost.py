"""The CLI stays cheap to start: commands import only what they use.

Timing belongs in bench/; here we check *what* gets imported, which is what keeps a cold
``vzctl status`` or ``exec`` near Python's own start-up time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import Node, VeHandle

HEAVY_STDLIB = {"subprocess", "json", "dataclasses", "argparse", "logging", "typing",
                "asyncio", "email", "http", "ipaddress", "tarfile", "shutil", "re"}
PYVZ_FORBIDDEN = ("pyvz.templates", "pyvz.net", "pyvz.api", "pyvz.storage.overlay",
                  "pyvz.cli.vzlist", "pyvz.dists")

PROBE = """
import sys
from pyvz.cli import vzctl
code = vzctl.main(sys.argv[1:])
modules = sorted(sys.modules)
import json
json.dump({"code": code, "modules": modules}, open(sys.argv[0], "w"))
"""


def _modules(node: Node, tmp: str, *args: str) -> tuple[int, set[str]]:
    subprocess.run([sys.executable, "-c", PROBE.replace("sys.argv[0]", repr(tmp)), *args],
                   env=node.env, capture_output=True, check=False)
    with open(tmp) as f:
        data = json.load(f)
    mods = set(data["modules"])
    return data["code"], mods


@pytest.mark.parametrize("cmd", [["status"], ["exec", "true"]])
def test_hot_commands_import_little(ve: VeHandle, tmp_path: object, cmd: list[str]) -> None:
    out = str(tmp_path) + "/mods.json"  # type: ignore[operator]
    code, mods = _modules(ve.node, out, cmd[0], str(ve.ctid), *cmd[1:])
    assert code == 0
    bad = sorted(m for m in mods if m.startswith(PYVZ_FORBIDDEN))
    assert not bad, bad
    heavy = sorted(HEAVY_STDLIB & mods)
    assert not heavy, heavy
