"""Running every validator on a table of results and deciding which targets are approved."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from astropy.table import Table

from tasoc_core.exceptions import PluginError, SchemaError, TasocError
from tasoc_core.families.validation import ValidationResult, Validator
from tasoc_core.flags import DATAVAL, DATAVAL_REJECT
from tasoc_core.status import Status

__all__ = ["GROUP_COLUMNS", "approve", "validate_table"]

logger = logging.getLogger(__name__)

#: Columns whose distinct value combinations form the groups validators see (``sector``
#: only if the table has it).
GROUP_COLUMNS = ("sector", "method", "cadence")

_ALL_DATAVAL = DATAVAL.mask(flag.name for flag in DATAVAL)


def approve(
    dataval: np.ndarray, status: np.ndarray, *, reject_mask: int = DATAVAL_REJECT
) -> np.ndarray:
    """Which targets may be released: photometry succeeded and no reject bit is set.

    Parameters
    ----------
    dataval
        DATAVAL bits per target.
    status
        Photometry :class:`~tasoc_core.status.Status` per target (integers).
    reject_mask
        DATAVAL bits that withhold a target (default 13408: SmallMask, LargeMask,
        InvalidContamination, InvalidFlux, InvalidNoise).
    """
    dataval = np.asarray(dataval, dtype=np.int64)
    status = np.asarray(status, dtype=np.int64)
    succeeded = np.isin(status, (int(Status.OK), int(Status.WARNING)))
    return succeeded & ((dataval & int(reject_mask)) == 0)


def _group_label(keys: Mapping[str, Any]) -> str:
    parts = []
    if "sector" in keys:
        parts.append(f"s{int(keys['sector']):03d}")
    parts += [str(keys["method"]), f"c{int(keys['cadence']):04d}"]
    return "/".join(parts)


def _check(result: Any, validator: Validator, label: str, nrows: int) -> ValidationResult:
    where = f"validator {validator.name!r} on group {label}"
    if not isinstance(result, ValidationResult):
        raise PluginError(f"{where} returned {type(result).__name__}, not ValidationResult")
    if result.flags.shape != (nrows,):
        raise PluginError(f"{where} returned {result.flags.shape} flags for {nrows} rows")
    bad = result.flags[(result.flags < 0) | (result.flags & ~_ALL_DATAVAL != 0)]
    if bad.size:
        raise PluginError(f"{where} returned {int(bad[0])}, which holds non-DATAVAL bits")
    return result


def validate_table(
    table: Table,
    validators: Sequence[Validator],
    *,
    reject_mask: int = DATAVAL_REJECT,
) -> tuple[np.ndarray, np.ndarray, dict[str, dict[str, dict[str, float]]]]:
    """DATAVAL bits and approval of every row of a results table.

    The rows are split into groups of equal ``sector`` (if present), ``method`` and
    ``cadence``; each validator sees each group on its own (the population relations and
    the zero point are per group) and the bits of all validators are OR-ed.

    Parameters
    ----------
    table
        One row per target and method, with the columns of
        :data:`tasoc_core.families.VALIDATION_COLUMNS`.
    validators
        Validator instances, e.g. every registered one.
    reject_mask
        DATAVAL bits that withhold a target from release.

    Returns
    -------
    dataval : numpy.ndarray
        int64 DATAVAL bits per row.
    approved : numpy.ndarray
        bool per row: photometry OK or WARNING and no bit of ``reject_mask`` set.
    info : dict
        ``{group label: {validator name: info}}`` for validators that returned info, with
        group labels like ``"s001/aperture/c1800"``.

    Raises
    ------
    SchemaError
        If the table lacks ``method``, ``cadence`` or ``status``.
    PluginError
        If a validator fails or returns something other than one DATAVAL value per row
        (the message names the validator and the group).
    """
    missing = [c for c in ("method", "cadence", "status") if c not in table.colnames]
    if missing:
        raise SchemaError(f"validation table has no column {missing[0]!r}")
    nrows = len(table)
    dataval = np.zeros(nrows, dtype=np.int64)
    info: dict[str, dict[str, dict[str, float]]] = {}
    if nrows == 0:
        return dataval, np.zeros(0, dtype=bool), info

    columns = [c for c in GROUP_COLUMNS if c in table.colnames]
    keys = [np.asarray(table[c]).astype(str) for c in columns]
    combined = np.array(["\x1f".join(parts) for parts in zip(*keys)])
    _, group_of = np.unique(combined, return_inverse=True)
    for group in range(int(group_of.max()) + 1):
        rows = np.flatnonzero(group_of == group)
        subset = table[rows]
        label = _group_label({c: subset[c][0] for c in columns})
        for validator in validators:
            try:
                result = validator.validate(subset)
            except TasocError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"validator {validator.name!r} failed on group {label}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            result = _check(result, validator, label, len(rows))
            dataval[rows] |= result.flags
            if result.info:
                info.setdefault(label, {})[validator.name] = dict(result.info)
        logger.info(
            "%s: %d targets, flags %s",
            label,
            len(rows),
            {k: v for k, v in DATAVAL.count(dataval[rows]).items() if v},
        )
    approved = approve(
        dataval, np.ma.filled(np.ma.asarray(table["status"]), 0), reject_mask=reject_mask
    )
    return dataval, approved, info
