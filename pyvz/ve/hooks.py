"""Action scripts (vzctl's ``vps.<action>`` and ``CTID.<action>`` in the conf directory).

``premount``, ``mount``, ``umount`` and ``postumount`` run on the node with the caller's
environment plus VEID and VE_CONFFILE; ``start`` and ``stop`` run inside the VE.  The
global script runs before the VE's own; a non-zero exit fails the command with exit 79.
"""

from __future__ import annotations

import os

from pyvz.errors import E, VzError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.ve.model import VE

__all__ = ["in_ve_script", "run_host_hooks"]

HOST_ACTIONS = ("premount", "mount", "umount", "postumount")


def _scripts(ve: VE, action: str, global_too: bool) -> list[str]:
    conf_dir = ve.node.paths.conf_dir
    names = ([f"vps.{action}"] if global_too else []) + [f"{ve.ctid}.{action}"]
    return [p for p in (f"{conf_dir}/{n}" for n in names) if os.path.isfile(p)]


def run_host_hooks(ve: VE, action: str) -> None:
    scripts = _scripts(ve, action, global_too=True)
    if not scripts:
        return
    from pyvz.kernel.proc import run

    env = dict(os.environ, VEID=str(ve.ctid), VE_CONFFILE=ve.conf_path,
               VE_ROOT=ve.root, VE_PRIVATE=ve.private)
    for script in scripts:
        argv = [script] if os.access(script, os.X_OK) else ["/bin/sh", script]
        code, _, _ = run(argv, code=E.ACTIONSCRIPT_ERROR, env=env, check=False,
                           capture=False)
        if code != 0:
            raise VzError(E.ACTIONSCRIPT_ERROR,
                          f"Error executing {action} script {script} (exit {code})")


def in_ve_script(ve: VE, action: str) -> str | None:
    """The text of the VE's own ``start``/``stop`` script, if there is one."""
    scripts = _scripts(ve, action, global_too=False)
    if not scripts:
        return None
    with open(scripts[0]) as f:
        return f.read()
