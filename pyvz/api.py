"""pyvz as a Python library: the vzctl verbs, called in-process.

A long-running program (a control panel, a test harness, a node agent) pays Python's
start-up and the import of pyvz once, not per command::

    from pyvz.api import Node

    node = Node()                      # VZ_ROOT from the environment, or Node(root="/x")
    node.create(101, ostemplate="busybox", hostname="ve101")
    node.start(101)
    r = node.exec(101, ["cat", "/etc/hostname"])
    print(r.returncode, r.stdout)
    node.stop(101)
    node.destroy(101)

Every verb goes through the very handler the ``vzctl`` command uses (same option names,
validation, locks and rollback), so the two cannot drift apart; a failure raises
``VzError`` with vzctl's exit code in ``.code``.  Options are keyword arguments named
like vzctl's long options (``ipadd="10.0.0.2"``, ``ram="256M"``, ``netif_add="eth0"``); a
list repeats the option, ``True`` gives a bare flag.  Only ``exec`` has its own path: it
captures output instead of using this process's stdio.

The process must be root and single-threaded while a verb runs (verbs fork).
"""

from __future__ import annotations

import os

from pyvz.errors import E, VzError

__all__ = ["ExecResult", "Node", "VzError"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.cli.vzctl import Invocation
    from pyvz.node import Node as _NodeState
    from pyvz.ve.model import Status
    from pyvz.ve.nsexec import Target


class ExecResult:
    """What a command run with :meth:`Node.exec` did."""

    __slots__ = ("returncode", "stderr", "stdout")

    def __init__(self, returncode: int, stdout: bytes, stderr: bytes) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self) -> str:
        return (f"ExecResult(returncode={self.returncode}, stdout={self.stdout!r}, "
                f"stderr={self.stderr!r})")


class Node:
    """One pyvz node (``VZ_ROOT``); cheap to make, holds no resources between calls."""

    def __init__(self, root: str | None = None, *, verbose: int = -1) -> None:
        from pyvz.cli.common import require_root
        from pyvz.paths import Paths

        require_root()
        self._paths = Paths(root) if root is not None else Paths.from_env()
        # vzctl's messages ("Starting container ...") go to the node's log file only,
        # unless the caller asks for them on stdout (verbose >= 0).
        self._verbose = verbose

    # --- the vzctl verbs ------------------------------------------------------------

    def vzctl(self, command: str, ve: int | str, *args: str) -> int:
        """Any vzctl verb with its command-line arguments, e.g. ``vzctl("set", 101,
        "--cpulimit", "25", "--save")``.  Returns the verb's exit code (0, or a code a
        verb returns instead of raising, like exec2's)."""
        from pyvz.cli import vzctl as cli

        handler = cli.command_handler(command)
        inv = self._invocation(command, ve, list(args))
        try:
            return handler(inv)
        finally:
            _end_of_command()

    def create(self, ve: int | str, **options: object) -> None:
        self._verb("create", ve, options)

    def start(self, ve: int | str, *, wait: bool = False, force: bool = False) -> None:
        self._verb("start", ve, {"wait": wait, "force": force})

    def stop(self, ve: int | str, *, fast: bool = False) -> None:
        self._verb("stop", ve, {"fast": fast})

    def restart(self, ve: int | str, *, wait: bool = False, fast: bool = False) -> None:
        self._verb("restart", ve, {"wait": wait, "fast": fast})

    def mount(self, ve: int | str) -> None:
        self._verb("mount", ve, {})

    def umount(self, ve: int | str) -> None:
        self._verb("umount", ve, {})

    def destroy(self, ve: int | str) -> None:
        self._verb("destroy", ve, {})

    def set(self, ve: int | str, *, save: bool = True, **options: object) -> None:
        self._verb("set", ve, {**options, "save": save})

    def status(self, ve: int | str) -> Status:
        """exist / mounted / running / suspended, as ``vzctl status`` reads them."""
        from pyvz.ve.model import VE

        return VE(self._state(), self._ctid(ve)).status()

    def exec(self, ve: int | str, argv: list[str], *, input: bytes | None = None,
             env: dict[str, str] | None = None) -> ExecResult:
        """Run ``argv`` (no shell) in the running VE as its root; stdout and stderr are
        captured.  Like ``vzctl exec3`` but without a terminal: it never touches this
        process's stdio."""
        from pyvz.ve import nsexec
        from pyvz.ve.execute import EXEC_ENV
        from pyvz.ve.model import VE

        if not argv:
            raise VzError(E.INVALID_PARAMETER_SYNTAX, "No command given")
        model = VE(self._state(), self._ctid(ve))
        model.require_config()
        target = nsexec.open_target(model)
        try:
            return _run_captured(target, argv, env or EXEC_ENV, input)
        finally:
            target.close()

    # --- plumbing ---------------------------------------------------------------------

    def _state(self) -> _NodeState:
        from pyvz.node import Node as NodeState

        return NodeState(self._paths)

    def _ctid(self, ve: int | str) -> int:
        from pyvz.cli.common import resolve_ctid

        return resolve_ctid(self._state(), str(ve))

    def _invocation(self, command: str, ve: int | str, args: list[str]) -> Invocation:
        from pyvz import log
        from pyvz.cli import vzctl as cli
        from pyvz.cli.common import setup_logging

        state = self._state()
        setup_logging(state, prog="vzctl", verbose=self._verbose, quiet=self._verbose < 0,
                      verbose_given=True)
        ctid = self._ctid(ve)
        if ctid == 0 and command != "set":
            raise VzError(E.INVALID_PARAMETER_VALUE, "Only set actions are allowed for CT0")
        log.set_ctid(ctid)
        inv = cli.Invocation(state, ctid, command, args, skiplock=False)
        cli.readopt_if_needed(inv)
        return inv

    def _verb(self, command: str, ve: int | str, options: dict[str, object]) -> None:
        code = self.vzctl(command, ve, *option_args(options))
        if code != 0:
            raise VzError(code, f"vzctl {command} failed")


def _end_of_command() -> None:
    """Drop what a CLI command keeps until its process exits."""
    import sys

    lxcfs = sys.modules.get("pyvz.res.lxcfs")
    if lxcfs is not None:
        lxcfs.release_user_lock()


def option_args(options: dict[str, object]) -> list[str]:
    """Keyword arguments → vzctl's long options (``ipadd=["a", "b"]`` → ``--ipadd a
    --ipadd b``; ``True`` a bare flag; ``False``/``None`` left out)."""
    args: list[str] = []
    for name, value in options.items():
        flag = "--" + name
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


def _run_captured(target: Target, argv: list[str], env: dict[str, str],
                  input_data: bytes | None) -> ExecResult:
    import select

    from pyvz.ve import nsexec

    in_r, in_w = os.pipe2(os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = nsexec.spawn(target, argv, env, stdin=in_r, stdout=out_w, stderr=err_w)
    except BaseException:
        for fd in (in_w, out_r, err_r):
            os.close(fd)
        raise
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    pending = memoryview(input_data or b"")
    if not pending:
        os.close(in_w)
        in_w = -1
    else:
        os.set_blocking(in_w, False)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    if in_w >= 0:
        poller.register(in_w, select.POLLOUT)
    open_outputs = 2
    try:
        while open_outputs or in_w >= 0:
            for fd, _event in poller.poll():
                if fd == in_w:
                    try:
                        pending = pending[os.write(in_w, pending):]
                    except BrokenPipeError:
                        pending = pending[:0]
                    if not pending:
                        poller.unregister(in_w)
                        os.close(in_w)
                        in_w = -1
                    continue
                data = os.read(fd, 65536)
                if data:
                    chunks[fd].append(data)
                else:
                    poller.unregister(fd)
                    open_outputs -= 1
    finally:
        for fd in (in_w, out_r, err_r):
            if fd >= 0:
                os.close(fd)
    code = nsexec.wait_status(pid)
    return ExecResult(code, b"".join(chunks[out_r]), b"".join(chunks[err_r]))
