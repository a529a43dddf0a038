"""``tasoc run``: photometry of the targets of a TODO-file on any backend."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tasoc_core.config import Config
from tasoc_core.exceptions import TasocError
from tasoc_core.output._atomic import TEMP_SUFFIX
from tasoc_core.photometry.queue import PhotometryQueue
from tasoc_core.photometry.worker import PhotometryWorker
from tasoc_core.plugins import TasocPluginManager
from tasoc_core.taskfarm import Progress, run_farm
from tasoc_core.todo import TodoFile, todo_path
from tasoc_core.validation.stage import validate_photometry

__all__ = ["run_photometry"]

logger = logging.getLogger(__name__)


def _is_mpi_worker() -> bool:
    try:
        from mpi4py import MPI
    except ImportError:
        return False
    return MPI.COMM_WORLD.Get_rank() != 0


def _remove_stale_temporaries(output: Path) -> int:
    """Delete the temporary light-curve files a killed run left behind; returns how many.

    A file is only ever written under ``.<name>.<random>.tmp`` and renamed when complete,
    so these are never results, only garbage from a process killed while writing.
    """
    root = output / "lightcurves"
    if not root.is_dir():
        return 0
    stale = list(root.rglob(f".*-tasoc_lc.fits.gz.*{TEMP_SUFFIX}"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    if stale:
        logger.info("removed %d temporary files left by an interrupted run", len(stale))
    return len(stale)


def _close_stale_runs(todo: TodoFile) -> None:
    """Mark photometry runs still 'running' (their process was killed) as interrupted."""
    with todo.transaction() as conn:
        conn.execute(
            "UPDATE runs SET status = 'interrupted', message = 'never finished (process killed?)' "
            "WHERE stage = 'photometry' AND status = 'running'"
        )


def run_photometry(
    config: Config,
    pm: TasocPluginManager,
    *,
    methods: Sequence[str] | None = None,
    filters: dict[str, Any] | None = None,
    backend: str | None = None,
    workers: int | None = None,
    retry_errors: bool = False,
    validate: bool = True,
    disable: tuple[str, ...] = (),
    progress: Progress | None = None,
    command: str | None = None,
) -> dict[str, Any] | None:
    """Run photometry and return a summary (None in MPI worker ranks).

    Parameters
    ----------
    methods
        Run each of these methods on every selected target (results side by side); None:
        the rule table chooses.
    filters
        Target selection (sector, camera, ccd, cadence, datasource, tmag_min, tmag_max,
        priorities, starid).
    backend, workers
        Task-farm backend and local worker count; default from ``[run]``.
    retry_errors
        Run targets again whose previous attempt ended in ERROR.
    validate
        Compute DATAVAL flags afterwards (all successful results of the methods run).

    Raises
    ------
    UnknownNameError
        If a method is not installed (the message lists the installed ones).
    TasocError
        If the TODO-file does not exist.
    """
    backend = backend or config.run.backend
    path = todo_path(config)
    if methods:
        for name in methods:
            pm.lookup("photometry", name)
    if backend == "mpi" and _is_mpi_worker():
        run_farm(lambda: None, PhotometryWorker(config, disable=disable), backend="mpi")
        return None
    if not Path(path).is_file():
        raise TasocError(f"TODO-file {path} does not exist (run `tasoc todo` first)")
    # One run at a time owns a TODO-file (the queue re-runs STARTED targets), so whatever a
    # killed run left behind can be cleaned up here.
    _remove_stale_temporaries(Path(config.paths.output))
    with TodoFile.open(path) as todo:
        _close_stale_runs(todo)
        run_id = todo.start_run("photometry", command=command, config=config.to_dict())
        try:
            summary = run_farm(
                lambda: PhotometryQueue(
                    todo, config, pm, methods=methods, filters=filters, retry_errors=retry_errors
                ),
                PhotometryWorker(config, disable=disable),
                backend=backend,
                workers=workers or config.run.workers,
                progress=progress,
            )
            report: dict[str, Any] = {"photometry": summary.to_dict()}
            if validate and summary.tasks and not summary.interrupted:
                report["validation"] = validate_photometry(todo, pm, config, methods=methods)
            report["results"] = todo.result_counts()
        except BaseException as exc:
            todo.finish_run(
                run_id,
                status="interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
                message=str(exc),
            )
            raise
        todo.finish_run(
            run_id,
            status="interrupted" if summary.interrupted else "ok",
            counts=report["photometry"]["counts"],
        )
    return report
