"""``vzctl create``: a private area from a template cache, and CTID.conf from the layers.

Everything is built under temporary names (``VE_PRIVATE.partial``, ``CTID.conf.tmp``) and
renamed into place at the end, CTID.conf last: a failed or killed create leaves nothing a
later command would take for a VE.  Until CTID.conf is written, the private area carries a
``.pyvz-creating`` mark, so the next create of the same CTID knows the area is the remains
of its own interrupted run (and not an area an admin put there) and removes it.
"""

from __future__ import annotations

import os
import shutil

from pyvz import log
from pyvz.config.conffile import ConfFile
from pyvz.config.layers import expand_veid
from pyvz.errors import E, VzError
from pyvz.storage.base import get_driver
from pyvz.templates.cache import ensure_cache
from pyvz.ve import names
from pyvz.ve.model import VE

__all__ = ["PARTIAL_SUFFIX", "create"]

PARTIAL_SUFFIX = ".partial"
CREATING_MARK = ".pyvz-creating"

# Keys a sample config never decides for a particular VE (vzctl's --applyconfig rule).
_NOT_FROM_SAMPLE = ("HOSTNAME", "IP_ADDRESS", "OSTEMPLATE", "VE_ROOT", "VE_PRIVATE", "NAME")


def create(ve: VE, values: dict[str, str], *, config_name: str | None = None) -> None:
    """Create VE ``ve.ctid``; ``values`` are stored settings from the command line
    (OSTEMPLATE, VE_LAYOUT, HOSTNAME, …).  The caller holds the VE's lock."""
    node = ve.node
    paths = node.paths
    if ve.is_running():
        raise VzError(E.VE_RUNNING, "Container is already running")
    sample_values: dict[str, str] = {}
    config_name = config_name or node.setting("CONFIGFILE")
    if config_name:
        sample = paths.sample_conf(config_name)
        try:
            sample_values = ConfFile.load(sample).values()
        except FileNotFoundError:
            raise VzError(E.APPLY_CONFIG_ERROR,
                          f"Sample config file not found: {sample}") from None
        for key in _NOT_FROM_SAMPLE:
            sample_values.pop(key, None)

    def pick(key: str) -> str | None:
        for layer in (values, sample_values, node.global_values):
            if layer.get(key):
                return layer[key]
        return ve.conf.get(key) if key not in ("VE_PRIVATE", "VE_ROOT") else None

    ostemplate = values.get("OSTEMPLATE") or node.setting("DEF_OSTEMPLATE")
    if not ostemplate:
        raise VzError(E.VE_PKGSET_NOTSET, "OS template is not specified")
    private_t = pick("VE_PRIVATE") or f"{paths.private_dir}/$VEID"
    root_t = pick("VE_ROOT") or f"{paths.root_dir}/$VEID"
    private = expand_veid(private_t, ve.ctid)
    layout = pick("VE_LAYOUT") or "overlay"
    uid = int(pick("LOCAL_UID") or "100000")
    gid = int(pick("LOCAL_GID") or str(uid))
    if "NAME" in values:
        names.check_free(node, values["NAME"], ve.ctid)

    conf_path = ve.conf_path
    if os.path.lexists(private) and not os.path.exists(conf_path) and \
            os.path.exists(os.path.join(private, CREATING_MARK)):
        log.info(f"Removing what an interrupted create left in {private}")
        shutil.rmtree(private)
    if os.path.lexists(private):
        raise VzError(E.FS_PRVT_AREA_EXIST, f"Private area already exists in {private}")
    driver = get_driver(layout, node)
    # [disk area] the layout enforces the limits or refuses them before anything is made
    from pyvz.storage.base import Limits

    limits = Limits.from_values(pick)
    driver.check_limits(private, limits)
    cache = ensure_cache(node.cache_dir, ostemplate)

    partial = private + PARTIAL_SUFFIX
    remove_partial(partial)
    log.info(f"Creating container private area ({ostemplate})")
    try:
        os.makedirs(os.path.dirname(private), exist_ok=True)
        os.mkdir(partial, 0o755)
        driver.create(partial, cache, uid, gid, limits)
        # until CTID.conf exists, this marks the area as ours to remove if we are killed
        open(os.path.join(partial, CREATING_MARK), "w").close()
        os.rename(partial, private)
    except BaseException as e:
        remove_partial(partial)
        if isinstance(e, VzError):
            raise
        if isinstance(e, OSError):
            code = E.FS_NO_DISK_SPACE if e.errno == 28 else E.FS_NEW_VE_PRVT
            raise VzError(code, f"Unable to create private area {private}: {e.strerror}") \
                from e
        raise

    try:
        conf = ConfFile(conf_path, _initial_text(config_name, sample_values))
        settings = {"VE_ROOT": root_t, "VE_PRIVATE": private_t, "OSTEMPLATE": ostemplate,
                    "VE_LAYOUT": layout, "LOCAL_UID": str(uid), "LOCAL_GID": str(gid)}
        if config_name:
            settings["ORIGIN_SAMPLE"] = config_name
        settings.update({k: v for k, v in values.items() if k not in settings})
        for key, value in settings.items():
            conf.set(key, value)
        ve.conf.file = conf
        ve.conf.reload()
        _postcreate(ve, ostemplate)
        os.makedirs(os.path.dirname(conf_path), exist_ok=True)
        conf.save()
        os.unlink(os.path.join(private, CREATING_MARK))
        if "NAME" in values:
            names.link(node, values["NAME"], ve.ctid)
    except BaseException:
        try:
            os.unlink(conf_path)
        except FileNotFoundError:
            pass
        shutil.rmtree(private, ignore_errors=True)
        raise
    log.info("Container private area was created")
    log.info(f"CT configuration saved to {conf_path}")


def _initial_text(config_name: str | None, sample: dict[str, str]) -> str:
    lines = ["# Configuration of this VE (pyvz; vzctl's ctid.conf format).\n"]
    if config_name:
        lines.append(f"# Made from sample '{config_name}'.\n")
    for key, value in sample.items():
        lines.append(f'{key}="{value}"\n')
    return "".join(lines)


def _postcreate(ve: VE, ostemplate: str) -> None:
    """vzctl's postcreate (lock an empty root password, localhost in /etc/hosts, spread
    cron times) plus the hostname and DNS given at create, done as the VE's root."""
    from pyvz.dists import preload
    from pyvz.ve.nsexec import call_in_root

    dist = preload(ostemplate)
    hostname = ve.conf.get("HOSTNAME")
    ips = [ip.split("/")[0] for ip in ve.conf.get_list("IP_ADDRESS")]

    def work() -> None:
        dist.postcreate("/")
        if hostname:
            dist.set_hostname("/", hostname, ips)

    log.info("Performing postcreate actions")
    mounted_here = not ve.is_mounted()
    if mounted_here:
        os.makedirs(ve.root, exist_ok=True)
        get_driver(ve.layout, ve.node).mount(ve.private, ve.root)
    try:
        call_in_root(ve, work)
    finally:
        if mounted_here:
            get_driver(ve.layout, ve.node).umount(ve.root)


def remove_partial(partial: str) -> None:
    if os.path.lexists(partial):
        shutil.rmtree(partial)
