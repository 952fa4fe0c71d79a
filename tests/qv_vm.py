"""Run a shell command inside a stock Debian kernel booted by QEMU (TCG), after
/work/shared/reference/qemu-testing.md (recipe B): the node's / shared read-only over 9p
under a tmpfs overlay, a per-run directory shared read-write ($QV_OUT), no network
device.  ``tests/guest/qv-setup.sh`` prepares the kernel and initramfs."""

from __future__ import annotations

import os
import pathlib
import shlex
import shutil
import subprocess
import tempfile

QV_DIR = pathlib.Path(os.environ.get("QV_DIR", "/var/cache/pyvz-qv"))
SETUP = pathlib.Path(__file__).parent / "guest" / "qv-setup.sh"


class VMResult:
    def __init__(self, returncode: int | None, console: str, out_dir: pathlib.Path) -> None:
        self.returncode = returncode   # the command's status; None if it never finished
        self.console = console         # serial console: output and kernel messages
        self.out_dir = out_dir         # $QV_OUT in the guest


def kernel_image() -> pathlib.Path:
    imgs = sorted((QV_DIR / "kernel" / "boot").glob("qv-vmlinux-*"))
    if not imgs:
        raise FileNotFoundError(f"no kernel under {QV_DIR}/kernel/boot")
    return imgs[-1]


def prepare() -> bool:
    """Run the set-up (idempotent); True when a guest can be booted."""
    if not (QV_DIR / ".ready").exists():
        r = subprocess.run(["sh", str(SETUP)], capture_output=True, text=True,
                           env=dict(os.environ, QV_DIR=str(QV_DIR)), timeout=900)
        if r.returncode != 0:
            return False
    return shutil.which("qemu-system-x86_64") is not None and \
        (QV_DIR / "initramfs.cpio.gz").exists()


def run_in_vm(command: str, *, cwd: str, env: dict[str, str] | None = None,
              mem: str = "1G", smp: int = 2, timeout: float = 600) -> VMResult:
    out = pathlib.Path(tempfile.mkdtemp(prefix="pyvz-qv-out.", dir="/tmp"))
    lines = [f"export {k}={shlex.quote(v)}" for k, v in (env or {}).items()]
    lines += [f"cd {shlex.quote(cwd)} || exit 126", command]
    (out / "cmd.sh").write_text("\n".join(lines) + "\n")
    argv = ["qemu-system-x86_64", "-M", "pc", "-accel", "tcg,thread=multi", "-cpu", "max",
            "-smp", str(smp), "-m", mem, "-nodefaults", "-no-reboot",
            "-display", "none", "-monitor", "none", "-serial", "stdio",
            "-kernel", str(kernel_image()), "-initrd", str(QV_DIR / "initramfs.cpio.gz"),
            "-append", f"console=ttyS0 loglevel=3 panic=-1 mitigations=off "
                       f"qv_out={out} qv_kdir={QV_DIR / 'kernel'}",
            "-fsdev", "local,id=qvroot,path=/,security_model=none,readonly=on,"
                      "multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=qvroot,mount_tag=hostroot",
            "-fsdev", f"local,id=qvout,path={out},security_model=none",
            "-device", "virtio-9p-pci,fsdev=qvout,mount_tag=qvout"]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        raw, _ = p.communicate(timeout=timeout)
        note = ""
    except subprocess.TimeoutExpired:
        p.kill()  # only this qemu, by its PID
        raw, _ = p.communicate()
        note = f"\nqv: timed out after {timeout}s\n"
    try:
        rc: int | None = int((out / "rc").read_text())
    except (OSError, ValueError):
        rc = None
    return VMResult(rc, raw.decode(errors="replace") + note, out)
