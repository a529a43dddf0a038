"""``tasoc correct``: systematics correction of raw light curves, on any backend.

Tasks are (target, photometry method) pairs; results are stored per target, photometry
method *and* corrector in the ``corrections`` table, so several correctors' results of the
same light curves sit side by side. Photometry results that data validation did not approve
are recorded as SKIPPED for each corrector. A killed run resumes: STARTED rows are re-run,
and files are only ever written under a temporary name and renamed.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from tasoc_core.config import Config
from tasoc_core.correct.context import TodoCorrectionContext, usable_results
from tasoc_core.data.target import Target
from tasoc_core.exceptions import TargetError, TasocError
from tasoc_core.output.corrected import write_corrected_lightcurve
from tasoc_core.photometry.diagnostics import ptp_mdv, rms_timescale
from tasoc_core.plugins import TasocPluginManager, get_plugin_manager
from tasoc_core.status import Status
from tasoc_core.taskfarm import Progress, TaskQueue, run_farm
from tasoc_core.todo import TodoFile, todo_path

__all__ = ["CorrectionOutcome", "CorrectionTask", "run_corrections"]

logger = logging.getLogger(__name__)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


@attrs.frozen
class CorrectionTask:
    """One raw light curve to correct."""

    priority: int
    method: str
    corrector: str
    target: Target
    handed_out: float = attrs.field(factory=time.time)


@attrs.frozen
class CorrectionOutcome:
    """What a worker returns for one task."""

    task: CorrectionTask
    status: Status
    elaptime: float
    worker_wait_time: float
    started_at: str
    finished_at: str
    plugin: str | None = None
    plugin_version: str | None = None
    lightcurve: str | None = None
    before: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    after: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    errors: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)


def _metrics(time_: np.ndarray, rel_ppm: np.ndarray) -> tuple[float, float, float]:
    """(variance, 1-hour RMS, point-to-point MDV) of a relative light curve in ppm."""
    good = np.isfinite(rel_ppm) & np.isfinite(time_)
    if good.sum() < 3:
        return (math.nan, math.nan, math.nan)
    x, t = rel_ppm[good], time_[good]
    return (float(np.var(x, ddof=1)), float(rms_timescale(t, x)), float(ptp_mdv(x)))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class CorrectionQueue(TaskQueue):
    """Pending corrections of one corrector over a TODO-file."""

    def __init__(
        self,
        todo: TodoFile,
        corrector: str,
        *,
        methods: Sequence[str] | None = None,
        filters: dict[str, Any] | None = None,
        retry_errors: bool = False,
    ) -> None:
        self.todo = todo
        self.corrector = corrector
        rows = {row.priority: row for row in todo.rows(**(filters or {}))}
        statuses = [int(Status.STARTED), int(Status.ABORT)] + (
            [int(Status.ERROR)] if retry_errors else []
        )
        with todo.transaction() as conn:
            conn.execute(
                f"DELETE FROM corrections WHERE corrector = ? AND status IN ({','.join('?' * len(statuses))})",
                [corrector, *statuses],
            )
        done = {(p, m) for p, m in todo.conn.execute(
            "SELECT priority, method FROM corrections WHERE corrector = ?", (corrector,))}  # fmt: skip
        pending, refused = [], []
        for (priority, method), info in sorted(usable_results(todo).items()):
            if (
                priority not in rows
                or (methods and method not in methods)
                or (priority, method) in done
            ):
                continue
            if info["approved"] == 0:
                refused.append((priority, method))
            else:
                pending.append(
                    CorrectionTask(priority, method, corrector, rows[priority].to_target())
                )
        if refused:
            with todo.transaction() as conn:
                conn.executemany(
                    "INSERT INTO corrections (priority, method, corrector, status, finished_at, errors) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            p,
                            m,
                            corrector,
                            int(Status.SKIPPED),
                            _now(),
                            "not approved by data validation",
                        )
                        for p, m in refused
                    ],
                )
        self._pending = collections.deque(pending)
        self._total = len(pending)

    @property
    def total(self) -> int:
        return self._total

    def next_tasks(self, limit: int) -> list[CorrectionTask]:
        tasks = []
        while self._pending and len(tasks) < limit:
            tasks.append(attrs.evolve(self._pending.popleft(), handed_out=time.time()))
        if tasks:
            now = _now()
            with self.todo.transaction() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO corrections (priority, method, corrector, status, started_at) VALUES (?, ?, ?, ?, ?)",
                    [(t.priority, t.method, t.corrector, int(Status.STARTED), now) for t in tasks],
                )
        return tasks

    def record(self, results: Sequence[CorrectionOutcome]) -> None:
        with self.todo.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO corrections (priority, method, corrector, status, plugin, plugin_version, "
                "lightcurve, elaptime, worker_wait_time, started_at, finished_at, variance_before, rms_hour_before, "
                "ptp_before, variance, rms_hour, ptp, errors, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (r.task.priority, r.task.method, r.task.corrector, int(r.status), r.plugin, r.plugin_version,
                     r.lightcurve, r.elaptime, r.worker_wait_time, r.started_at, r.finished_at,
                     *(_plain(v) for v in r.before), *(_plain(v) for v in r.after), r.errors,
                     json.dumps({k: _plain(v) for k, v in r.extra.items()}) if r.extra else None)
                    for r in results
                ],
            )  # fmt: skip

    def failed(self, task: CorrectionTask, error: BaseException) -> CorrectionOutcome:
        now = _now()
        return CorrectionOutcome(
            task, Status.ERROR, 0.0, 0.0, now, now, errors=f"worker failed: {error!r}"
        )

    def status_of(self, result: CorrectionOutcome) -> str:
        return result.status.name.lower()


class CorrectionWorker:
    """Picklable worker factory for one corrector."""

    def __init__(self, config: Config, corrector: str, *, disable: tuple[str, ...] = ()) -> None:
        self.config = config
        self.corrector = corrector
        self.disable = disable

    def __call__(self) -> Callable[[CorrectionTask], CorrectionOutcome]:
        return _CorrectionState(self.config, self.corrector, self.disable).process


class _CorrectionState:
    def __init__(self, config: Config, corrector: str, disable: tuple[str, ...]) -> None:
        self.config = config
        self.output = Path(config.paths.output)
        pm = get_plugin_manager(disable=disable)
        self.registration = pm.lookup("correctors", corrector)
        settings = config.settings_for("correctors", corrector, self.registration.cls.Settings)
        self.instance = self.registration.cls(settings)
        self.context = TodoCorrectionContext(
            todo_path(config), self.output, corrector=corrector, sector=config.selection.sector
        )
        self._prepared: str | bool | None = False

    def _prepare(self) -> None:
        if self._prepared is False:
            try:
                self.instance.prepare(self.context)
                self._prepared = None
            except Exception as exc:  # every task of this worker reports it
                self._prepared = (
                    f"{self.registration.name}: preparation failed: {type(exc).__name__}: {exc}"
                )
        if self._prepared:
            raise TasocError(self._prepared)

    def process(self, task: CorrectionTask) -> CorrectionOutcome:
        wait = max(0.0, time.time() - task.handed_out)
        started, start = _now(), time.perf_counter()
        cls = self.registration.cls
        base = {"plugin": self.registration.plugin, "plugin_version": self.registration.version}
        try:
            self._prepare()
            lc = self.context.light_curve(task.priority, task.method)
            result = self.instance.correct(lc, self.context)
            if not np.isfinite(result.flux).any():
                raise TargetError(f"{task.target}: the corrected light curve is all NaN")
            raw_rel = (lc.flux / np.nanmedian(lc.flux) - 1.0) * 1e6
            before, after = _metrics(lc.time, raw_rel), _metrics(lc.time, result.flux)
            raw_path = self.output / lc.meta["lightcurve"]
            path = write_corrected_lightcurve(
                raw_path, result, tag=cls.file_tag or cls.name, method_name=cls.header_name or cls.name,
                plugin=self.registration.plugin, version=self.registration.version,
                compresslevel=self.config.output.compression, fsync=self.config.output.fsync,
            )  # fmt: skip
        except TargetError as exc:
            return CorrectionOutcome(task, Status.ERROR, time.perf_counter() - start, wait, started, _now(),
                                     errors=str(exc), **base)  # fmt: skip
        except Exception as exc:
            text = "".join(traceback.format_exception(exc)).strip()
            return CorrectionOutcome(task, Status.ERROR, time.perf_counter() - start, wait, started, _now(),
                                     errors=text, **base)  # fmt: skip
        return CorrectionOutcome(
            task, result.status, time.perf_counter() - start, wait, started, _now(),
            lightcurve=path.relative_to(self.output).as_posix(), before=before, after=after,
            errors="\n".join(result.warnings) or None, extra=dict(result.diagnostics), **base,
        )  # fmt: skip


def run_corrections(
    config: Config,
    pm: TasocPluginManager,
    correctors: Sequence[str],
    *,
    methods: Sequence[str] | None = None,
    filters: dict[str, Any] | None = None,
    backend: str | None = None,
    workers: int | None = None,
    retry_errors: bool = False,
    disable: tuple[str, ...] = (),
    progress: Progress | None = None,
    command: str | None = None,
) -> dict[str, Any] | None:
    """Run each corrector over the raw light curves; a summary per corrector (None in MPI workers)."""
    for name in correctors:
        pm.lookup("correctors", name)
    backend = backend or config.run.backend
    if backend == "mpi":
        from mpi4py import MPI

        if MPI.COMM_WORLD.Get_rank() != 0:
            for name in correctors:
                run_farm(
                    lambda: None, CorrectionWorker(config, name, disable=disable), backend="mpi"
                )
            return None
    path = todo_path(config)
    if not path.is_file():
        raise TasocError(
            f"TODO-file {path} does not exist (run `tasoc todo` and `tasoc run` first)"
        )
    report: dict[str, Any] = {}
    with TodoFile.open(path) as todo:
        for name in correctors:
            run_id = todo.start_run(f"correct:{name}", command=command, config=config.to_dict())
            summary = run_farm(
                lambda n=name: CorrectionQueue(
                    todo, n, methods=methods, filters=filters, retry_errors=retry_errors
                ),
                CorrectionWorker(config, name, disable=disable),
                backend=backend,
                workers=workers or config.run.workers,
                progress=progress,
            )
            report[name] = summary.to_dict()
            todo.finish_run(
                run_id,
                status="interrupted" if summary.interrupted else "ok",
                counts=report[name]["counts"],
            )
            if summary.interrupted:
                break
    return report
