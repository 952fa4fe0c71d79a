"""Starting a VE: mount, cgroups, namespaces, the VE's own /dev, /proc and /sys, its init as
PID 1, and a monitor process that outlives the command.

Three processes take part (see docs/architecture.md, "Start"):

* **P**, the command, mounts the private area and creates the cgroups, then waits for a
  one-line report;
* **M**, forked from P (via a short-lived middle process, so M is nobody's child), clones
  the VE's init **I** with new user, pid, net, uts and ipc namespaces, writes its uid map,
  puts it into the VE's cgroups, and prepares the VE's /sys (read-only, of the VE's own
  network namespace), /dev and /dev/console in a mount namespace of its own.  Mounts made
  there by host root are copied into I's mount namespace *locked*: root inside the VE
  cannot unmount or remount them.  After I has exec'd its init, M records the run state,
  reports to P and execs ``pyvz-monitor``, which stays I's parent (to learn, from its wait
  status, whether the VE rebooted or halted) and holds the console;
* **I** unshares its mount and cgroup namespaces, mounts /proc, pivots into the VE root,
  applies the VE's hostname/DNS settings as the VE's root, drops capabilities and execs
  /sbin/init with /dev/console as its stdin, stdout and stderr.

For CRIU (checkpoint issue): I is a session leader in its pid namespace, inherits no host
descriptors, and is placed in its cgroups before it runs any VE code.
"""

from __future__ import annotations

import os
import sys
import time

from pyvz import log
from pyvz.errors import E, VzError
from pyvz.kernel import syscalls as sc
from pyvz.ve import areas
from pyvz.ve.model import VE
from pyvz.ve.runstate import RunState, proc_start_ticks

__all__ = ["cleanup_stopped", "monitor_binary", "start"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.dists.base import Dist

_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
            ("urandom", 1, 9), ("tty", 5, 0))
_INIT_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "TERM": "linux", "container": "pyvz", "HOME": "/"}
_TTY_GID = 5


def monitor_binary() -> str:
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "libexec", "pyvz-monitor")
    if not os.access(path, os.X_OK):
        raise VzError(E.NOSCRIPT, f"Helper {path} not found",
                      hint="build it with 'make' (or reinstall pyvz)")
    return path


class _Plan:
    """Everything M and I need, computed by P before forking (no config reads later)."""

    __slots__ = (
        "areas",
        "binds",
        "caps",
        "cgroups",
        "console_log",
        "ctid",
        "dist",
        "gid",
        "handler",
        "hostname",
        "init",
        "ips",
        "monitor",
        "nameservers",
        "ostemplate",
        "root",
        "run_dir",
        "searchdomains",
        "uid",
        "userns",
    )

    def __init__(self, ve: VE) -> None:
        from pyvz.ve.caps import ve_cap_mask

        conf = ve.conf
        self.ctid = ve.ctid
        self.root = ve.root
        self.run_dir = ve.run_dir
        self.uid = ve.uid
        self.gid = ve.gid
        self.userns = self.uid != 0
        self.hostname = conf.get("HOSTNAME") or ""
        self.caps = ve_cap_mask(conf.get("CAPABILITY"))
        ns = conf.get("NAMESERVER")
        self.nameservers = None if ns in (None, "", "inherit") else (ns or "").split()
        sd = conf.get("SEARCHDOMAIN")
        self.searchdomains = None if sd in (None, "", "inherit") else (sd or "").split()
        self.ostemplate = conf.get("OSTEMPLATE") or ""
        self.ips = [ip.split("/")[0] for ip in conf.get_list("IP_ADDRESS")]
        self.console_log = ve.node.paths.console_log(ve.ctid)
        self.monitor = monitor_binary()
        self.cgroups = ve.cgroups()
        self.handler = reaper_command(ve)
        self.init = "/sbin/init"
        self.areas: list[tuple[object, object]] = []  # filled once the cgroups exist
        self.binds: list[tuple[str, str]] = []
        self.dist: Dist | None = None
        if self.hostname or self.nameservers is not None or self.searchdomains is not None:
            from pyvz.dists import preload

            # I applies it after leaving the node's /, where nothing can be imported
            self.dist = preload(self.ostemplate, addresses=self.nameservers is not None
                                or self.searchdomains is not None)


def start(ve: VE, *, force: bool = False, wait: bool = False) -> RunState:
    """Start a stopped VE (the caller holds its lock).  Rolls back on any failure."""
    ve.require_config()
    if ve.conf.get_bool("DISABLED") and not force:
        raise VzError(E.VE_START_DISABLED, "Container start disabled")
    if ve.is_running():
        raise VzError(E.VE_RUNNING, "Container is already running")
    ve.require_private()
    cleanup_stopped(ve, umount=False)  # whatever a crashed run left behind
    plan = _Plan(ve)
    log.info("Starting container...")

    mounted_here = False
    if not ve.is_mounted():
        from pyvz.ve import mount as ve_mount

        ve_mount.mount(ve)
        mounted_here = True
    try:
        _check_root(plan)
        plan.cgroups.create()
        areas.prepare_all(ve, plan.cgroups)
        plan.areas = list(areas.plan_all(ve))
        plan.binds = areas.binds_all(ve)
        st = _launch(plan)
    except BaseException:
        _rollback(ve, plan, mounted_here)
        raise
    ve.forget_runstate()
    log.info("Container start in progress...")
    if wait:
        from pyvz.ve.boot import wait_booted

        wait_booted(ve, st)
    return st


def _check_root(plan: _Plan) -> None:
    """A VE without an init or a shell cannot boot (vzctl's "bad CT", exit 47)."""
    fd = os.open(plan.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for path in (plan.init, "/bin/sh"):
            try:
                os.close(sc.openat2(fd, path, os.O_PATH))
            except OSError:
                raise VzError(E.FS_BAD_TMPL, f"Container is broken: no {path} in {plan.root}") \
                    from None
    finally:
        os.close(fd)


def _rollback(ve: VE, plan: _Plan, mounted_here: bool) -> None:
    try:
        plan.cgroups.kill_all()
        plan.cgroups.remove()
    except OSError as e:
        log.warn(f"Unable to remove cgroups: {e}")
    try:
        areas.cleanup_all(ve)
    except VzError as e:
        log.warn(str(e))
    RunState.remove(plan.run_dir)
    if mounted_here:
        from pyvz.ve import mount as ve_mount

        try:
            ve_mount.umount(ve)
        except VzError as e:
            log.warn(str(e))


def cleanup_stopped(ve: VE, *, umount: bool) -> None:
    """Remove what a VE whose init is gone still holds: processes, cgroups, run state
    (and the mount, if asked)."""
    cg = ve.cgroups()
    if cg.exists():
        cg.kill_all()
        cg.remove()
    areas.cleanup_all(ve)
    RunState.remove(ve.run_dir)
    if umount and ve.is_mounted():
        from pyvz.ve import mount as ve_mount

        ve_mount.umount(ve)


# --- the processes -------------------------------------------------------------------

def _launch(plan: _Plan) -> RunState:
    os.makedirs(plan.run_dir, mode=0o700, exist_ok=True)
    os.makedirs(os.path.dirname(plan.console_log), mode=0o700, exist_ok=True)
    master, slave = os.openpty()
    os.set_inheritable(master, False)
    os.set_inheritable(slave, False)
    # root inside the VE opens /dev/console (this slave): it must own it in its uid range
    os.fchown(slave, plan.uid, plan.gid + _TTY_GID)
    os.fchmod(slave, 0o620)
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    sys.stdout.flush()
    sys.stderr.flush()
    middle = os.fork()
    if middle == 0:
        try:
            os.close(report_r)
            os.setsid()
            if os.fork() == 0:
                _monitor_side(plan, master, slave, report_w)  # never returns
            os._exit(0)
        except BaseException:
            os._exit(1)
    os.close(report_w)
    os.close(master)
    os.close(slave)
    os.waitpid(middle, 0)
    report = b""
    while chunk := os.read(report_r, 4096):
        report += chunk
    os.close(report_r)
    text = report.decode(errors="replace")
    if text.startswith("OK "):
        st = RunState.load(plan.run_dir)
        if st is None:
            raise VzError(E.ENVCREATE, "Container started but its run state is missing")
        return st
    if text.startswith("E"):
        code, _, msg = text[1:].partition(" ")
        raise VzError(int(code) if code.isdigit() else E.ENVCREATE, msg.strip())
    raise VzError(E.ENVCREATE, "Unable to start container: the starter process died")


def _monitor_side(plan: _Plan, master: int, slave: int, report_w: int) -> None:
    """Process M: set up and launch I, then become the monitor.  Never returns."""
    init_pid = 0
    try:
        from pyvz.ve.lock import claim_held_locks

        claim_held_locks("start")  # we hold the VE's lock now, until we exec the monitor
        host_mnt = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        host_net = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        sc.unshare(sc.CLONE_NEWNS)
        # see host mount events, never send ours back to the host
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_SLAVE)
        go_r, go_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        flags = sc.CLONE_NEWPID | sc.CLONE_NEWNET | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC
        if plan.userns:
            flags |= sc.CLONE_NEWUSER
        init_pid = sc.clone(flags)
        if init_pid == 0:
            os.close(go_w)
            os.close(err_r)
            os.close(report_w)
            os.close(master)
            _init_side(plan, slave, go_r, err_w)  # never returns
        os.close(go_r)
        os.close(err_w)
        if plan.userns:
            _write_id_maps(init_pid, plan.uid, plan.gid)
        plan.cgroups.attach(init_pid)
        if not plan.userns:
            plan.cgroups.restrict_devices()
        areas.attach_all(plan.areas, init_pid)  # type: ignore[arg-type]
        _prepare_mounts(plan, init_pid, slave, host_net)
        os.write(go_w, b"g")
        os.close(go_w)
        err = b""
        while chunk := os.read(err_r, 4096):
            err += chunk
        os.close(err_r)
        if err:
            word, _, text = err.decode(errors="replace").partition(" ")
            raise VzError(int(word) if word.isdigit() else E.ENVCREATE, text)
        sc.setns(host_mnt, sc.CLONE_NEWNS)  # drop the setup namespace; the VE keeps its copy
        os.close(host_mnt)
        os.close(host_net)
        start_ticks = proc_start_ticks(init_pid)
        if start_ticks is None:
            raise VzError(E.ENVCREATE, "Container init exited right after start")
        RunState(init_pid=init_pid, init_start=start_ticks, monitor_pid=os.getpid(),
                 started=time.time(), local_uid=plan.uid, local_gid=plan.gid,
                 hostname=plan.hostname, caps=plan.caps).save(plan.run_dir)
        os.write(report_w, f"OK {init_pid}".encode())
        os.close(report_w)
        _exec_monitor(plan, init_pid, master, slave)
    except BaseException as e:
        if init_pid > 0:
            try:
                os.kill(init_pid, 9)
                os.waitpid(init_pid, 0)
            except OSError:
                pass
        code = e.code if isinstance(e, VzError) else E.ENVCREATE
        msg = str(e) if isinstance(e, VzError) else f"Unable to start container: {e}"
        try:
            os.write(report_w, f"E{code} {msg}".encode())
        except OSError:
            pass
        os._exit(1)


def _write_id_maps(pid: int, uid: int, gid: int) -> None:
    for name, base in (("uid_map", uid), ("gid_map", gid)):
        fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, f"0 {base} 65536\n".encode())
        finally:
            os.close(fd)


def _prepare_mounts(plan: _Plan, init_pid: int, console: int, host_net: int) -> None:
    """In M's private mount namespace, as host root: the VE's /sys, /dev, /dev/console."""
    root = plan.root
    uid, gid = plan.uid, plan.gid
    netns = os.open(f"/proc/{init_pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        # sysfs shows the network devices of the namespace that mounts it: the VE's
        sc.setns(netns, sc.CLONE_NEWNET)
        _ensure_dir(f"{root}/sys")
        sc.mount("sysfs", f"{root}/sys", "sysfs",
                 sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    finally:
        sc.setns(host_net, sc.CLONE_NEWNET)
        os.close(netns)
    dev = f"{root}/dev"
    _ensure_dir(dev)
    sc.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID | sc.MS_NOEXEC,
             f"mode=755,uid={uid},gid={gid},size=4m,nr_inodes=4096")
    for name, major, minor in _DEVICES:
        path = f"{dev}/{name}"
        os.mknod(path, 0o20666, os.makedev(major, minor))
        os.chmod(path, 0o666)
        os.chown(path, uid, gid)
    for name, target in (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"),
                         ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")
        os.lchown(f"{dev}/{name}", uid, gid)
    for name in ("pts", "shm", "mqueue"):
        os.mkdir(f"{dev}/{name}", 0o755)
        os.chown(f"{dev}/{name}", uid, gid)
    sc.mount("devpts", f"{dev}/pts", "devpts", sc.MS_NOSUID | sc.MS_NOEXEC,
             f"newinstance,ptmxmode=0666,mode=0620,gid={gid + _TTY_GID}")
    sc.mount("tmpfs", f"{dev}/shm", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV,
             f"mode=1777,uid={uid},gid={gid}")
    open(f"{dev}/console", "w").close()
    os.chown(f"{dev}/console", uid, gid + _TTY_GID)
    # by path: a bind from the descriptor would name the node's mount, not this namespace's
    sc.mount(os.ttyname(console), f"{dev}/console", None, sc.MS_BIND)


def _ensure_dir(path: str) -> None:
    if not os.path.isdir(path):
        if os.path.lexists(path):
            raise VzError(E.FS_BAD_TMPL, f"Container is broken: {path} is not a directory")
        os.mkdir(path, 0o555)


def _init_side(plan: _Plan, console: int, go_r: int, err_w: int) -> None:
    """Process I: wait for M, finish the VE's view of the world, exec init.  Never returns."""
    err_fd = err_w
    try:
        if os.read(go_r, 1) != b"g":
            os._exit(1)  # M gave up (or died); nothing was started
        os.close(go_r)
        sc.unshare(sc.CLONE_NEWNS)
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
        sc.unshare(sc.CLONE_NEWCGROUP)  # its cgroups (joined by M) become the VE's "/"
        if plan.hostname:
            sc.sethostname(plan.hostname.split(".")[0] if len(plan.hostname) > 64
                           else plan.hostname)
        root = plan.root
        _ensure_dir(f"{root}/proc")
        sc.mount("proc", f"{root}/proc", "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
        if not plan.userns:
            _mask_proc(root)
        for source, target in plan.binds:
            sc.mount(source, f"{root}/{target.lstrip('/')}", None, sc.MS_BIND)
        # a bind of the root onto itself is not locked, so it can be pivoted into
        sc.mount(root, root, None, sc.MS_BIND | sc.MS_REC)
        os.chdir(root)
        sc.pivot_root(".", ".")
        sc.umount(".", sc.MNT_DETACH)
        os.chdir("/")
        # only now become the VE's root: until here paths on the node were looked up with
        # the node root's uid, so VE_ROOT may lie below directories only root can enter
        if plan.userns:
            os.setresgid(0, 0, 0)
            os.setgroups([])
            os.setresuid(0, 0, 0)
        _apply_guest_settings(plan)
        sc.capset_keep(plan.caps)
        # a session leader (as CRIU wants), but without a controlling terminal: the
        # console must stay free for the getty that init starts on it
        os.setsid()
        for fd in (0, 1, 2):
            os.dup2(console, fd)
        # nothing of the host may reach the VE: keep stdio and the CLOEXEC error pipe only
        os.dup2(err_w, 3)
        os.set_inheritable(3, False)
        err_fd = 3
        sc.close_range(4)
        os.umask(0o022)
        os.execve(plan.init, [b"init"], _INIT_ENV)
    except BaseException as e:
        code = e.code if isinstance(e, VzError) else E.ENVCREATE
        try:
            os.write(err_fd, f"{code} Unable to start init: {e}".encode())
        except OSError:
            pass
        os._exit(1)


_MASKED_PROC = ("kcore", "sysrq-trigger", "timer_list", "keys", "kmsg", "sched_debug",
                "latency_stats")


def _mask_proc(root: str) -> None:
    """In a privileged VE, hide /proc entries that reach the node (a userns VE cannot use
    them anyway: they belong to the node's root)."""
    for name in _MASKED_PROC:
        path = f"{root}/proc/{name}"
        if os.path.exists(path):
            sc.mount(f"{root}/dev/null", path, None, sc.MS_BIND)
    # /proc/sys read-only, except its network part (per network namespace): the rw bind of
    # sys/net is copied by the recursive bind, and the read-only remount covers the top only
    sysdir = f"{root}/proc/sys"
    sc.mount(f"{sysdir}/net", f"{sysdir}/net", None, sc.MS_BIND)
    sc.mount(sysdir, sysdir, None, sc.MS_BIND | sc.MS_REC)
    sc.mount(None, sysdir, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID
             | sc.MS_NODEV | sc.MS_NOEXEC)


def _apply_guest_settings(plan: _Plan) -> None:
    """Hostname and resolver files, written as the VE's root from inside the VE."""
    dist = plan.dist
    if dist is None:
        return
    if plan.hostname:
        dist.set_hostname("/", plan.hostname, plan.ips)
    if plan.nameservers is not None or plan.searchdomains is not None:
        dist.set_dns("/", plan.nameservers, plan.searchdomains)


def reaper_command(ve: VE) -> list[str]:
    """What the monitor runs when init is gone (it appends init's wait status).  The node's
    root travels as an argument: the caller may be an API user whose VZ_ROOT is not in the
    environment."""
    return [sys.executable, "-m", "pyvz.ve.reaper", "--root", ve.node.paths.root,
            str(ve.ctid)]


def monitor_common_args(run_dir: str, tasks_file: str, console_log: str) -> list[str]:
    """Options every monitor gets: where it keeps the VE's load average, which threads it
    samples for it, and where its own warnings (and the exit handler's) go."""
    return ["--loadavg", f"{run_dir}/loadavg", "--tasks", tasks_file,
            "--errlog", f"{os.path.dirname(os.path.dirname(console_log))}/monitor.log"]


def _exec_monitor(plan: _Plan, init_pid: int, master: int, slave: int) -> None:
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.dup2(master, 3)
    os.dup2(slave, 4)
    sc.close_range(5)
    argv = [plan.monitor, "--ctid", str(plan.ctid), "--init-pid", str(init_pid),
            "--console-fd", "3", "--console-peer-fd", "4",
            "--socket", f"{plan.run_dir}/console.sock", "--log", plan.console_log,
            *monitor_common_args(plan.run_dir, plan.cgroups.tasks_file(), plan.console_log),
            "--", *plan.handler]
    os.execv(plan.monitor, argv)
