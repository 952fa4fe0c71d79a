"""``vzctl clone SRC DST [--name N] [--hostname H]``: a new VE with a copy of SRC's files
and config: a new CT id, new MAC addresses and host interface names, and no IP address
(so the clone can run beside its source without a clash).

The copy is the layout's own (``clone_into``): a subvolume snapshot on btrfs, a copy of
the upper layer on overlay (the template layer stays shared), a reflinked or sparse image
copy on ploop, a full copy on simfs.  A running source is frozen while it is copied.  As
in create, the new private area is built under ``.partial`` and CTID.conf is written
last, so a failed or killed clone leaves nothing that looks like a VE.
"""

from __future__ import annotations

import os
import shutil

from pyvz import log
from pyvz.config.conffile import ConfFile
from pyvz.config.layers import expand_veid
from pyvz.errors import E, VzError
from pyvz.storage.base import get_driver
from pyvz.ve import names
from pyvz.ve.create import CREATING_MARK, PARTIAL_SUFFIX, remove_partial
from pyvz.ve.model import VE

__all__ = ["clone", "fresh_network"]


def clone(src: VE, dst_ctid: int, values: dict[str, str]) -> VE:
    """The caller holds SRC's lock; DST's is taken here."""
    from pyvz.config import kinds as k

    src.require_config()
    src.require_private()
    node = src.node
    dst = VE(node, dst_ctid)
    name = k.Name().parse(values["name"], "name") if values.get("name") else None
    hostname = k.Hostname().parse(values["hostname"], "hostname") \
        if values.get("hostname") else None
    with dst.lock("clone"):
        if dst.conf.exists:
            raise VzError(E.FS_PRVT_AREA_EXIST, f"Container {dst_ctid} already exists")
        if name:
            names.check_free(node, name, dst_ctid)
        own = src.conf.own()
        private_t = _location(values.get("private"), own.get("VE_PRIVATE"),
                              f"{node.paths.private_dir}/$VEID", src.ctid, "private")
        root_t = _location(values.get("root"), own.get("VE_ROOT"),
                           f"{node.paths.root_dir}/$VEID", src.ctid, "root")
        private = expand_veid(private_t, dst_ctid)
        if os.path.lexists(private):
            raise VzError(E.FS_PRVT_AREA_EXIST, f"Private area already exists in {private}")
        driver = get_driver(src.layout, node)
        partial = private + PARTIAL_SUFFIX
        remove_partial(partial)
        log.info(f"Cloning container {src.ctid} into {dst_ctid} ({driver.info.name})")
        running = src.is_running()
        root = src.root if src.is_mounted() else None
        try:
            os.makedirs(os.path.dirname(private), exist_ok=True)
            os.mkdir(partial, 0o755)
            if running:
                from pyvz.ve.snapshot import frozen

                with frozen(src):
                    driver.clone_into(src.private, partial, root)
            else:
                driver.clone_into(src.private, partial, root)
            open(os.path.join(partial, CREATING_MARK), "w").close()
            os.rename(partial, private)
        except BaseException as e:
            driver.snapshot_drop(partial)
            remove_partial(partial)
            if isinstance(e, OSError):
                code = E.FS_NO_DISK_SPACE if e.errno == 28 else E.FS_NEW_VE_PRVT
                raise VzError(code, f"Unable to clone into {private}: {e.strerror}") from e
            raise
        try:
            conf = ConfFile(dst.conf_path, ConfFile.load(src.conf_path).text())
            conf.set("VE_PRIVATE", private_t)
            conf.set("VE_ROOT", root_t)
            conf.set("VEID", None)
            conf.set("NAME", name)
            conf.set("IP_ADDRESS", None)  # two VEs must not share an address
            if hostname:
                conf.set("HOSTNAME", hostname)
            netif = own.get("NETIF")
            if netif:
                conf.set("NETIF", fresh_network(dst, netif))
            os.makedirs(os.path.dirname(dst.conf_path), exist_ok=True)
            conf.save()
            os.unlink(os.path.join(private, CREATING_MARK))
            if name:
                names.link(node, name, dst_ctid)
        except BaseException:
            try:
                os.unlink(dst.conf_path)
            except FileNotFoundError:
                pass
            driver.snapshot_drop(private)
            shutil.rmtree(private, ignore_errors=True)
            raise
        dst.conf = node.ve_config(dst_ctid)
        from pyvz.storage.limits import ve_limits

        driver.set_limits(private, None, ve_limits(dst))  # a new subvolume, project …
    log.info(f"Container {src.ctid} was cloned into {dst_ctid}")
    return dst


def _location(given: str | None, source: str | None, default: str, src_ctid: int,
              option: str) -> str:
    """The clone's VE_PRIVATE/VE_ROOT template: given, or the source's if it names
    ``$VEID`` (so it expands to the new id), or the node's default."""
    from pyvz.config.kinds import PathKind

    if given:
        return PathKind().parse(given, option)
    if source and ("$VEID" in source or "$VE_ID" in source or "${VEID}" in source):
        return source
    return default


def fresh_network(dst: VE, stored: str) -> str | None:
    """NETIF with new MACs and host interface names for ``dst``."""
    from pyvz.net.names import default_veth_name
    from pyvz.net.netif import format_netifs, new_mac, parse_netifs

    netifs = parse_netifs(stored)
    taken: set[str] = set()
    for n in netifs:
        n.mac = new_mac()
        n.host_mac = new_mac()
        n.host_ifname = default_veth_name(dst.node.paths.node_name, dst.ctid, taken)
        taken.add(n.host_ifname)
        n.ips = []  # [net area] static addresses of veth interfaces: not shared either
    return format_netifs(netifs)
