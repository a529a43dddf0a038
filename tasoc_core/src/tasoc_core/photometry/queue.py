"""The master's view of a photometry run over the TODO-file.

Which tasks
    With ``methods`` given (``tasoc run --method a,b``) every selected target gets one task
    per method. Otherwise the rule table picks each target's first method (a forced method
    in the TODO-file wins) and the worker follows the rules from there.

Resuming
    A target is done for a method when the ``photometry`` table has a row for it with a
    final status. Rows left STARTED or ABORT by a killed run are deleted when the queue
    opens, so those targets run again; ERROR rows are kept unless ``retry_errors``. A file
    is only ever written under a temporary name and renamed, so a target is either finished
    (row and file) or re-run.

Skipping
    When a result names fainter stars inside its aperture (``skip_targets``), they are
    marked SKIPPED for the same method, with ``photometry_skipped`` recording which target
    caused it — their own photometry would measure the same pixels. Results of earlier runs
    are kept.

Order
    Results are committed in the order the tasks were handed out (brightest first), however
    the workers finish: a result waits in memory until every earlier task's result has
    arrived. A task skipped while a worker had it is therefore seen as skipped when its
    result comes in; that result is dropped and its file removed. So the TODO-file ends in
    the state of a serial run whatever the backend, the number of workers, or a kill and
    resume in between (what was committed before a kill is always a prefix of that order).
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tasoc_core.config import Config
from tasoc_core.photometry.diagnostics import DIAGNOSTIC_COLUMNS
from tasoc_core.photometry.tasks import AttemptRecord, PhotometryTask, TargetOutcome
from tasoc_core.photometry.worker import utc_now
from tasoc_core.plugins import TasocPluginManager
from tasoc_core.status import Status
from tasoc_core.taskfarm import TaskQueue
from tasoc_core.todo import TodoFile, TodoRow

__all__ = ["PhotometryQueue"]

_COLUMNS = tuple(c for c in DIAGNOSTIC_COLUMNS if c != "errors")
_INSERT = (
    "INSERT OR REPLACE INTO photometry (priority, method, status, rule, plugin, plugin_version, "
    "lightcurve, elaptime, worker_wait_time, started_at, finished_at, errors, extra, "
    + ", ".join(_COLUMNS)
    + ") VALUES ("
    + ", ".join("?" * (13 + len(_COLUMNS)))
    + ")"
)


def _plain(value: Any) -> Any:
    """A value SQLite and JSON accept: Python scalars, NaN as None."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(value) else float(value)
    return value


class PhotometryQueue(TaskQueue):
    """Pending photometry of a TODO-file.

    Parameters
    ----------
    todo
        The open TODO-file (only the master process opens it).
    config
        The run configuration.
    pm
        Plugin manager (for the rule table and method names).
    methods
        Run each of these methods on every selected target; None: use the rules.
    filters
        Target selection, as :meth:`TodoFile.rows` takes it.
    retry_errors
        Run targets again whose earlier attempt ended in ERROR.
    """

    def __init__(
        self,
        todo: TodoFile,
        config: Config,
        pm: TasocPluginManager,
        *,
        methods: Sequence[str] | None = None,
        filters: dict[str, Any] | None = None,
        retry_errors: bool = False,
    ) -> None:
        self.todo = todo
        rows = todo.rows(**(filters or {}))
        self._recover([r.priority for r in rows], retry_errors)
        done = {(p, m) for p, m in todo.conn.execute("SELECT priority, method FROM photometry")}
        rules = None if methods else config.rule_set(pm.method_rules())
        pending = []
        for row in rows:
            if methods:
                pending += [
                    (row, m, "--method", False) for m in methods if (row.priority, m) not in done
                ]
                continue
            if row.forced_method:
                choice = (row.forced_method, "todo.forced_methods")
            else:
                rule = rules.select(row.to_target())
                if rule is None:
                    continue
                choice = (rule.method, rule.describe())
            if (row.priority, choice[0]) not in done:
                pending.append((row, *choice, True))
        self._pending = collections.deque(pending)
        self._total = len(pending)
        self._skipped: set[tuple[int, str]] = set()
        self._done = done
        self._output = Path(config.paths.output)
        # First-attempt keys in hand-out order, and results waiting for earlier ones.
        self._handed_out: collections.deque[tuple[int, str]] = collections.deque()
        self._arrived: dict[tuple[int, str], TargetOutcome] = {}
        self._by_star: dict[int, list[TodoRow]] = collections.defaultdict(list)
        for row in todo.rows():
            self._by_star[row.starid].append(row)

    def _recover(self, priorities: list[int], retry_errors: bool) -> None:
        statuses = [Status.STARTED, Status.ABORT] + ([Status.ERROR] if retry_errors else [])
        marks = ",".join("?" * len(statuses))
        with self.todo.transaction() as conn:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS selected (priority INTEGER PRIMARY KEY)")
            conn.execute("DELETE FROM selected")
            conn.executemany("INSERT INTO selected VALUES (?)", [(p,) for p in priorities])
            conn.execute(
                f"DELETE FROM photometry WHERE status IN ({marks}) AND priority IN (SELECT priority FROM selected)",
                [int(s) for s in statuses],
            )

    @property
    def total(self) -> int:
        return self._total

    def next_tasks(self, limit: int) -> list[PhotometryTask]:
        tasks = []
        while self._pending and len(tasks) < limit:
            row, method, rule, follow = self._pending.popleft()
            if (row.priority, method) in self._skipped:
                continue
            tasks.append(
                PhotometryTask(row.priority, row.to_target(), method, rule, follow, row.tpf_path)
            )
        if tasks:
            self._handed_out.extend((t.priority, t.method) for t in tasks)
            now = utc_now()
            with self.todo.transaction() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO photometry (priority, method, status, rule, started_at) VALUES (?, ?, ?, ?, ?)",
                    [(t.priority, t.method, int(Status.STARTED), t.rule, now) for t in tasks],
                )
        return tasks

    def record(self, results: Sequence[TargetOutcome]) -> None:
        """Commit the results whose earlier tasks have all been committed (see "Order")."""
        for outcome in results:
            self._arrived[(outcome.task.priority, outcome.task.method)] = outcome
        ready = []
        while self._handed_out and self._handed_out[0] in self._arrived:
            ready.append(self._arrived.pop(self._handed_out.popleft()))
        if not ready:
            return
        dropped: list[str] = []
        with self.todo.transaction() as conn:
            for outcome in ready:
                task = outcome.task
                first_skipped = (task.priority, task.method) in self._skipped
                for attempt in outcome.attempts:
                    if first_skipped or (task.priority, attempt.method) in self._skipped:
                        # Skipped while a worker had it: a serial run would not have run it.
                        if attempt.lightcurve:
                            dropped.append(attempt.lightcurve)
                        continue
                    conn.execute(_INSERT, self._row(outcome, attempt))
                    self._done.add((task.priority, attempt.method))
                    if attempt.status.is_success and attempt.skip_targets:
                        self._skip(conn, task, attempt)
        for relpath in dropped:  # after the commit: no row ever names a missing file
            with contextlib.suppress(FileNotFoundError):
                (self._output / relpath).unlink()

    @staticmethod
    def _row(outcome: TargetOutcome, attempt: AttemptRecord) -> tuple:
        diag = dict(attempt.diagnostics or {})
        extra = {k: _plain(v) for k, v in diag.items() if k not in DIAGNOSTIC_COLUMNS}
        if attempt.tags:
            extra["tags"] = list(attempt.tags)
        return (
            outcome.task.priority, attempt.method, int(attempt.status), attempt.rule, attempt.plugin,
            attempt.plugin_version, attempt.lightcurve, attempt.elaptime, outcome.worker_wait_time,
            outcome.started_at, outcome.finished_at, attempt.errors,
            json.dumps(extra) if extra else None,
            *(_plain(diag.get(c)) for c in _COLUMNS),
        )  # fmt: skip

    def _skip(self, conn: Any, task: PhotometryTask, attempt: AttemptRecord) -> None:
        """Mark fainter stars inside this aperture SKIPPED for the same method."""
        t = task.target
        # Stars in an FFI aperture are FFI targets; in a TPF, the TPF's secondary targets.
        datasource = "ffi" if t.is_ffi else f"tpf:{t.primary_starid}"
        for starid in attempt.skip_targets:
            for row in self._by_star.get(int(starid), ()):
                same_place = (row.sector, row.camera, row.ccd, row.cadence) == (
                    t.sector,
                    t.camera,
                    t.ccd,
                    t.cadence,
                )
                key = (row.priority, attempt.method)
                if (
                    not same_place
                    or row.datasource != datasource
                    or row.tmag <= t.tmag
                    or key in self._done
                ):
                    continue
                conn.execute(
                    "INSERT OR REPLACE INTO photometry (priority, method, status, rule, finished_at, errors) VALUES (?, ?, ?, ?, ?, ?)",
                    (row.priority, attempt.method, int(Status.SKIPPED), attempt.rule, utc_now(),
                     f"inside the aperture of TIC {t.starid} (priority {task.priority})"),
                )  # fmt: skip
                conn.execute(
                    "INSERT OR REPLACE INTO photometry_skipped (priority, method, skipped_by) VALUES (?, ?, ?)",
                    (row.priority, attempt.method, task.priority),
                )
                self._skipped.add(key)
                self._done.add(key)

    def failed(self, task: PhotometryTask, error: BaseException) -> TargetOutcome:
        """A worker could not return a result at all (e.g. it could not pickle it)."""
        record = AttemptRecord(
            method=task.method,
            status=Status.ERROR,
            rule=task.rule,
            elaptime=0.0,
            errors=f"worker failed: {type(error).__name__}: {error}",
            tags=("error",),
        )
        return TargetOutcome(
            task, (record,), max(0.0, time.time() - task.handed_out), None, utc_now()
        )

    def status_of(self, result: TargetOutcome) -> str:
        return result.status.name.lower()
