"""The contents of a TODO-file as column arrays, for reports and comparisons.

:func:`load_results` reads every table a report needs in a few queries (the TODO-file is
opened read-only, so a running task farm is never blocked) and returns a
:class:`RunResults`: the targets, the photometry results joined with their targets and
validation, the corrections joined likewise, the ``runs`` rows, and what is missing for a
complete run (:meth:`RunResults.missing`), so that a report on an empty or partial
TODO-file can say what exists and which command comes next.

Columns are numpy arrays: REAL columns are float64 with NaN for SQL NULL, integer columns
that may be NULL are float64 as well, keys (priority, starid, status, cadence, …) are
int64, text columns are object arrays holding ``str`` or ``None``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from tasoc_core.exceptions import TasocError
from tasoc_core.status import Status
from tasoc_core.todo import TodoFile

__all__ = [
    "CORRECTION_COLUMNS",
    "PHOTOMETRY_COLUMNS",
    "TARGET_COLUMNS",
    "Columns",
    "Missing",
    "RunResults",
    "load_results",
    "select",
    "status_name",
]

logger = logging.getLogger(__name__)

#: A table as column name → numpy array (all of equal length).
Columns = dict[str, np.ndarray]

_INT, _FLOAT, _TEXT = "int", "float", "text"

#: todolist columns read (``decl`` is renamed ``dec``).
TARGET_COLUMNS: Mapping[str, str] = {
    "priority": _INT, "starid": _INT, "sector": _INT, "camera": _INT, "ccd": _INT,
    "cadence": _INT, "datasource": _TEXT, "tmag": _FLOAT, "ra": _FLOAT, "dec": _FLOAT,
    "cbv_area": _INT, "edge_dist": _FLOAT, "tpf_path": _TEXT,
}  # fmt: skip

#: photometry columns read, besides the target columns and the validation result.
PHOTOMETRY_COLUMNS: Mapping[str, str] = {
    "method": _TEXT, "status": _INT, "rule": _TEXT, "plugin": _TEXT, "plugin_version": _TEXT,
    "lightcurve": _TEXT, "elaptime": _FLOAT, "worker_wait_time": _FLOAT,
    "started_at": _TEXT, "finished_at": _TEXT, "mean_flux": _FLOAT, "variance": _FLOAT,
    "variability": _FLOAT, "rms_hour": _FLOAT, "ptp": _FLOAT, "pos_row": _FLOAT,
    "pos_column": _FLOAT, "contamination": _FLOAT, "mask_size": _FLOAT, "edge_flux": _FLOAT,
    "stamp_width": _FLOAT, "stamp_height": _FLOAT, "stamp_resizes": _FLOAT,
    "minimal_mask": _FLOAT, "num_good": _FLOAT, "errors": _TEXT, "extra": _TEXT,
}  # fmt: skip

#: corrections columns read, besides the target columns and the validation result.
CORRECTION_COLUMNS: Mapping[str, str] = {
    "method": _TEXT, "corrector": _TEXT, "status": _INT, "plugin": _TEXT,
    "plugin_version": _TEXT, "lightcurve": _TEXT, "elaptime": _FLOAT,
    "worker_wait_time": _FLOAT, "started_at": _TEXT, "finished_at": _TEXT,
    "variance_before": _FLOAT, "rms_hour_before": _FLOAT, "ptp_before": _FLOAT,
    "variance": _FLOAT, "rms_hour": _FLOAT, "ptp": _FLOAT, "errors": _TEXT, "extra": _TEXT,
}  # fmt: skip

_VALIDATION_COLUMNS: Mapping[str, str] = {"dataval": _FLOAT, "approved": _FLOAT}

_TARGET_SQL = ", ".join(f"t.{'decl' if c == 'dec' else c}" for c in TARGET_COLUMNS)


def status_name(value: int) -> str:
    """Lower-case name of a status code (``"ok"``, ``"error"``, …; ``"status<n>"`` if unknown)."""
    try:
        return Status(int(value)).name.lower()
    except ValueError:
        return f"status{int(value)}"


def _convert(values: Sequence[Any], kind: str) -> np.ndarray:
    if kind == _FLOAT:
        return np.array(values, dtype=np.float64)  # numpy turns None into NaN
    if kind == _INT:
        try:
            return np.array(values, dtype=np.int64)
        except TypeError:  # a NULL among them
            return np.array([-1 if v is None else int(v) for v in values], dtype=np.int64)
    out = np.empty(len(values), dtype=object)
    out[:] = [None if v is None else str(v) for v in values]
    return out


def _fetch(conn: sqlite3.Connection, sql: str, kinds: Mapping[str, str]) -> Columns:
    rows = conn.execute(sql).fetchall()
    columns = list(zip(*rows)) if rows else [() for _ in kinds]
    return {name: _convert(col, kind) for (name, kind), col in zip(kinds.items(), columns)}


def select(columns: Columns, mask: np.ndarray) -> Columns:
    """The rows of ``columns`` where ``mask`` is true (or at the given indices)."""
    return {name: values[mask] for name, values in columns.items()}


def _length(columns: Columns) -> int:
    return len(next(iter(columns.values()))) if columns else 0


@attrs.frozen
class Missing:
    """Something a complete run would have and this TODO-file lacks."""

    #: What is missing, e.g. ``"photometry of 24 of 158 targets"``.
    what: str
    #: What to run to get it, e.g. ``"tasoc run"``.
    hint: str


@attrs.frozen(kw_only=True)
class RunResults:
    """Everything a report or comparison reads from one TODO-file.

    Attributes
    ----------
    path
        The TODO-file.
    output
        The output directory light-curve paths are relative to (the TODO-file's directory).
    schema_version
        ``PRAGMA user_version`` of the file.
    targets
        ``todolist`` rows (:data:`TARGET_COLUMNS`).
    photometry
        ``photometry`` rows joined with their target and their raw-photometry validation
        (``dataval``, ``approved``: NaN where not validated).
    corrections
        ``corrections`` rows joined with their target and the validation of the corrected
        light curve.
    skipped
        ``photometry_skipped`` rows: ``priority``, ``method``, ``skipped_by``.
    runs
        ``runs`` rows as dicts (JSON columns decoded), oldest first.
    """

    path: Path
    output: Path
    schema_version: int
    targets: Columns
    photometry: Columns
    corrections: Columns
    skipped: Columns
    runs: tuple[dict[str, Any], ...]

    @property
    def n_targets(self) -> int:
        return _length(self.targets)

    @property
    def methods(self) -> tuple[str, ...]:
        """Photometry methods with results, sorted."""
        return tuple(sorted(set(self.photometry["method"].tolist())))

    @property
    def correctors(self) -> tuple[str, ...]:
        """Correctors with results, sorted."""
        return tuple(sorted(set(self.corrections["corrector"].tolist())))

    @property
    def cadences(self) -> tuple[int, ...]:
        """Cadences (s) of the targets, sorted."""
        return tuple(sorted(set(self.targets["cadence"].tolist())))

    @property
    def correction_keys(self) -> np.ndarray:
        """``"method/corrector"`` of every row of :attr:`corrections` (object array)."""
        keys = zip(self.corrections["method"], self.corrections["corrector"])
        return np.array([f"{m}/{c}" for m, c in keys], dtype=object)

    def known_methods(self, methods: Sequence[str] | None = None) -> list[str]:
        """``methods`` (default: every one with results), each checked to have results.

        Raises
        ------
        TasocError
            Naming the first method without results and those with results.
        """
        return _known(self, methods, self.methods, "no photometry results of method", "methods")

    def known_correctors(self, correctors: Sequence[str] | None = None) -> list[str]:
        """``correctors`` (default: every one with results), each checked to have results.

        Raises
        ------
        TasocError
            Naming the first corrector without results and those with results.
        """
        return _known(
            self, correctors, self.correctors, "no corrections by corrector", "correctors"
        )

    def succeeded(self, method: str | None = None) -> Columns:
        """Photometry results with status OK or WARNING (of ``method``, default all)."""
        ok = np.isin(self.photometry["status"], [int(Status.OK), int(Status.WARNING)])
        if method is not None:
            ok &= self.photometry["method"] == method
        return select(self.photometry, ok)

    def corrected(self, corrector: str | None = None, method: str | None = None) -> Columns:
        """Corrections with status OK or WARNING (of ``corrector`` and ``method``)."""
        ok = np.isin(self.corrections["status"], [int(Status.OK), int(Status.WARNING)])
        if corrector is not None:
            ok &= self.corrections["corrector"] == corrector
        if method is not None:
            ok &= self.corrections["method"] == method
        return select(self.corrections, ok)

    def status_counts(self, table: str = "photometry") -> dict[str, dict[str, int]]:
        """Rows per status: ``{method: {status: n}}`` (``table="corrections"``:
        ``{"method/corrector": {status: n}}``)."""
        if table == "photometry":
            cols, keys = self.photometry, self.photometry["method"]
        else:
            cols, keys = self.corrections, self.correction_keys
        out: dict[str, dict[str, int]] = {}
        for key in sorted(set(keys.tolist())):
            values, counts = np.unique(cols["status"][keys == key], return_counts=True)
            out[key] = {status_name(v): int(n) for v, n in zip(values, counts)}
        return out

    def missing(self, *, check_files: bool = True) -> list[Missing]:
        """What a complete run would have and this file lacks, with the command to run."""
        out: list[Missing] = []
        n = self.n_targets
        if n == 0:
            return [Missing("targets: the TODO-file has no targets", "tasoc catalog; tasoc todo")]
        phot = self.photometry
        if _length(phot) == 0:
            return [Missing(f"photometry: none of the {n} targets has been processed", "tasoc run")]
        done = set(phot["priority"].tolist())
        not_run = n - len(done & set(self.targets["priority"].tolist()))
        if not_run:
            out.append(Missing(f"photometry of {not_run} of {n} targets", "tasoc run"))
        unfinished = np.isin(phot["status"], [int(Status.STARTED), int(Status.ABORT)])
        if unfinished.any():
            out.append(
                Missing(
                    f"{int(unfinished.sum())} photometry results were started or aborted "
                    "and never finished",
                    "tasoc run (resumes them)",
                )
            )
        good = np.isin(phot["status"], [int(Status.OK), int(Status.WARNING)])
        unvalidated = good & ~np.isfinite(phot["dataval"])
        if unvalidated.any():
            out.append(
                Missing(
                    f"validation of {int(unvalidated.sum())} successful photometry results",
                    "tasoc validate",
                )
            )
        if check_files:
            lost = [
                p
                for p in phot["lightcurve"][good]
                if p is not None and not (self.output / p).is_file()
            ]
            if lost:
                out.append(
                    Missing(
                        f"{len(lost)} light-curve files listed in the TODO-file, e.g. {lost[0]}",
                        "tasoc run --retry-errors after restoring or deleting them",
                    )
                )
        if _length(self.corrections) == 0:
            out.append(Missing("corrections: no light curve has been corrected", "tasoc correct"))
        else:
            unfinished = np.isin(
                self.corrections["status"], [int(Status.STARTED), int(Status.ABORT)]
            )
            if unfinished.any():
                out.append(
                    Missing(
                        f"{int(unfinished.sum())} corrections were started or aborted and "
                        "never finished",
                        "tasoc correct (resumes them)",
                    )
                )
        return out


def _known(
    results: RunResults, asked: Sequence[str] | None, there: Sequence[str], what: str, kind: str
) -> list[str]:
    if not asked:
        return list(there)
    unknown = [name for name in asked if name not in there]
    if unknown:
        raise TasocError(
            f"{results.path}: {what} {unknown[0]!r} "
            f"({kind} with results: {', '.join(there) or 'none'})"
        )
    return list(asked)


def load_results(todo: TodoFile | Path) -> RunResults:
    """Read a TODO-file into a :class:`RunResults`.

    Parameters
    ----------
    todo
        An open TODO-file, or the path of one (opened read-only; a directory means its
        ``todo.sqlite``).

    Raises
    ------
    InputFileError
        If the file does not exist or is not an SQLite database.
    SchemaError
        If it is not a tasoc TODO-file, or its schema is newer than this tasoc-core knows
        or needs migrating (the message says what to do).
    """
    if not isinstance(todo, TodoFile):
        with TodoFile.open(Path(todo), readonly=True) as opened:
            return load_results(opened)
    conn = todo.conn
    targets = _fetch(
        conn,
        f"SELECT {_TARGET_SQL} FROM todolist AS t ORDER BY t.priority",
        TARGET_COLUMNS,
    )
    phot_sql = ", ".join(f"p.{c}" for c in PHOTOMETRY_COLUMNS)
    photometry = _fetch(
        conn,
        f"SELECT {_TARGET_SQL}, {phot_sql}, d.dataval, d.approved "
        "FROM photometry AS p JOIN todolist AS t USING (priority) "
        "LEFT JOIN datavalidation AS d "
        "ON d.priority = p.priority AND d.method = p.method AND d.corrector = '' "
        "ORDER BY p.priority, p.method",
        {**TARGET_COLUMNS, **PHOTOMETRY_COLUMNS, **_VALIDATION_COLUMNS},
    )
    corr_sql = ", ".join(f"c.{col}" for col in CORRECTION_COLUMNS)
    corrections = _fetch(
        conn,
        f"SELECT {_TARGET_SQL}, {corr_sql}, d.dataval, d.approved "
        "FROM corrections AS c JOIN todolist AS t USING (priority) "
        "LEFT JOIN datavalidation AS d "
        "ON d.priority = c.priority AND d.method = c.method AND d.corrector = c.corrector "
        "ORDER BY c.priority, c.method, c.corrector",
        {**TARGET_COLUMNS, **CORRECTION_COLUMNS, **_VALIDATION_COLUMNS},
    )
    skipped = _fetch(
        conn,
        "SELECT priority, method, skipped_by FROM photometry_skipped ORDER BY priority, method",
        {"priority": _INT, "method": _TEXT, "skipped_by": _INT},
    )
    return RunResults(
        path=todo.path,
        output=todo.path.parent,
        schema_version=todo.schema_version,
        targets=targets,
        photometry=photometry,
        corrections=corrections,
        skipped=skipped,
        runs=tuple(todo.runs()),
    )
