"""``vzctl set`` on a running VE: the changed resource keys go into its cgroups at once.

Only the affected groups are rewritten (a ``--cpuunits`` change does not touch memory).
Parameters the stock kernel cannot enforce are stored and said to be.
"""

from __future__ import annotations

from pyvz import log

__all__ = ["apply", "warn_uncontrolled"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvz.ve.model import VE


def warn_uncontrolled(keys: set[str], values: dict[str, str]) -> None:
    """Tell the user which of ``keys`` have a limit no kernel control enforces."""
    from pyvz.res import units as u
    from pyvz.res.params import ACCOUNTING, BY_NAME, STORED

    for key in sorted(keys):
        ubc = BY_NAME.get(key.lower())
        if ubc is None or ubc.control not in (ACCOUNTING, STORED) or key == "AVNUMPROC":
            continue
        pair = u.parse_pair(values.get(key) or "", ubc.unit)
        if pair is not None and pair[1] < u.UNLIMITED:
            what = "accounting only" if ubc.control == ACCOUNTING else "stored only"
            log.warn(f"{ubc.name}: no kernel control for this limit on a stock kernel; "
                     f"{what}")


def apply(ve: VE, keys: set[str], values: dict[str, str]) -> None:
    from pyvz.config.layers import VeConfig
    from pyvz.res.apply import GROUPS
    from pyvz.res.apply import apply as apply_res
    from pyvz.res.model import Resources

    conf = VeConfig(ve.ctid, ve.conf.global_values, None)
    conf.overrides.update(values)  # the values the VE will have once saved
    res = Resources(conf)
    groups = {g for g, members in GROUPS.items() if members & keys}
    warn_uncontrolled(keys, values)
    if groups:
        apply_res(ve, ve.cgroups(), res, groups)
