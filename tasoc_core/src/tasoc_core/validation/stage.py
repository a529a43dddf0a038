"""``tasoc validate``: DATAVAL flags for every successful photometry result in a TODO-file.

Validators see whole groups (sector, method, cadence), so the stage always re-validates
every successful result of the methods involved, stores the bits per target and method in
the ``datavalidation`` table (corrector ``''``) and writes them into the light-curve files'
``DATAVAL`` keyword.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from tasoc_core.config import Config
from tasoc_core.flags import DATAVAL
from tasoc_core.output import update_dataval
from tasoc_core.plugins import TasocPluginManager
from tasoc_core.status import Status
from tasoc_core.todo import TodoFile
from tasoc_core.validation.combine import validate_table
from tasoc_core.validation.configured import configured_validators

__all__ = ["validate_photometry"]

logger = logging.getLogger(__name__)

_QUERY = """
SELECT p.priority, t.starid, t.tmag, t.datasource, t.cadence, t.sector, p.method, p.status,
       p.mean_flux, p.rms_hour, p.ptp, p.mask_size, p.contamination, p.minimal_mask,
       t.ra, t.decl, p.lightcurve
FROM photometry AS p JOIN todolist AS t USING (priority)
WHERE p.status IN (?, ?)
"""


def _results_table(todo: TodoFile, methods: Sequence[str] | None) -> Table:
    sql, params = _QUERY, [int(Status.OK), int(Status.WARNING)]
    if methods:
        sql += f" AND p.method IN ({','.join('?' * len(methods))})"
        params += list(methods)
    rows = todo.conn.execute(sql + " ORDER BY p.priority, p.method", params).fetchall()
    names = ["priority", "starid", "tmag", "datasource", "cadence", "sector", "method", "status",
             "mean_flux", "rms_hour", "ptp", "mask_size", "contamination", "minimal_mask",
             "ra", "dec", "lightcurve"]  # fmt: skip
    columns = list(zip(*rows)) if rows else [[] for _ in names]
    table = Table(dict(zip(names, columns)), names=names)
    for name in ("mean_flux", "rms_hour", "ptp", "contamination", "ra", "dec", "tmag"):
        table[name] = np.array([np.nan if v is None else v for v in table[name]], dtype=float)
    table["mask_size"] = np.array([-1 if v is None else v for v in table["mask_size"]], dtype=int)
    table["minimal_mask"] = np.array([bool(v) for v in table["minimal_mask"]], dtype=bool)
    return table


def validate_photometry(
    todo: TodoFile,
    pm: TasocPluginManager,
    config: Config,
    *,
    methods: Sequence[str] | None = None,
    write_files: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Validate every successful photometry result (of ``methods``, default all).

    Returns
    -------
    dict
        ``results`` validated, ``approved`` count, ``flags`` (count per DATAVAL flag),
        ``files_updated`` and ``info`` (per group and validator, e.g. fitted zero points).
    """
    table = _results_table(todo, methods)
    if len(table) == 0:
        return {"results": 0, "approved": 0, "flags": {}, "files_updated": 0, "info": {}}
    validators = configured_validators(pm, config)
    dataval, approved, info = validate_table(
        table, validators, reject_mask=config.validation.reject_mask
    )
    with todo.transaction() as conn:
        conn.executemany(
            "INSERT OR REPLACE INTO datavalidation (priority, method, corrector, dataval, approved) VALUES (?, ?, '', ?, ?)",
            [
                (int(p), str(m), int(d), int(a))
                for p, m, d, a in zip(table["priority"], table["method"], dataval, approved)
            ],
        )
    updated = 0
    if write_files:
        output = Path(config.paths.output)
        for i, (relpath, bits) in enumerate(zip(table["lightcurve"], dataval)):
            if relpath:
                path = output / relpath
                if path.is_file():
                    updated += bool(
                        update_dataval(path, int(bits), compresslevel=config.output.compression)
                    )
                else:
                    logger.warning(
                        "light curve %s is missing; DATAVAL stored in the TODO-file only", path
                    )
            if progress is not None:
                progress(i + 1, len(table))
    return {
        "results": len(table),
        "approved": int(np.count_nonzero(approved)),
        "flags": {k: v for k, v in DATAVAL.count(dataval).items() if v},
        "files_updated": updated,
        "info": info,
    }
