"""Serial, local-process and MPI back-ends sharing one master logic.

The master asks the :class:`TaskQueue` for work, hands tasks to workers in chunks, and
records every batch of results as it arrives. Chunks grow when tasks are quick (so the
farm's own overhead stays small) and stay at one task when tasks take longer than a few
tens of milliseconds (so the queue's skip decisions apply to as much of the work as
possible).
"""

from __future__ import annotations

import logging
import os
import queue as threadqueue
import time
from collections.abc import Callable, Sequence
from typing import Any

from tasoc_core.exceptions import TasocError
from tasoc_core.taskfarm._base import FarmSummary, Progress, TaskQueue, WorkerFactory

__all__ = ["run_farm", "run_mpi", "run_processes", "run_serial"]

logger = logging.getLogger(__name__)

#: How long one chunk of work should take, roughly; quick tasks are grouped up to this.
_TARGET_CHUNK_SECONDS = 0.05
_MAX_CHUNK = 256

_WORK: Callable[[Any], Any] | None = None


class _Chunker:
    """Chooses how many tasks to send at once from the measured time per task."""

    def __init__(self, fixed: int | None) -> None:
        self.fixed = fixed
        self.mean: float | None = None

    def update(self, seconds_per_task: float) -> None:
        self.mean = (
            seconds_per_task if self.mean is None else 0.8 * self.mean + 0.2 * seconds_per_task
        )

    @property
    def size(self) -> int:
        if self.fixed is not None:
            return self.fixed
        if self.mean is None:
            return 1
        return int(min(_MAX_CHUNK, max(1, _TARGET_CHUNK_SECONDS / max(self.mean, 1e-6))))


def _run_chunk(
    work: Callable[[Any], Any], tasks: Sequence[Any]
) -> tuple[list[tuple[bool, Any, Any]], float]:
    """Run tasks; per-task exceptions are returned, not raised. Also returns seconds spent."""
    start = time.perf_counter()
    out = []
    for task in tasks:
        try:
            out.append((True, task, work(task)))
        except Exception as exc:  # one bad task never stops the worker
            out.append((False, task, exc))
    return out, (time.perf_counter() - start) / max(len(tasks), 1)


def _results(queue: TaskQueue, outcomes: Sequence[tuple[bool, Any, Any]]) -> list[Any]:
    return [result if ok else queue.failed(task, result) for ok, task, result in outcomes]


def _record(queue: TaskQueue, summary: FarmSummary, outcomes, progress: Progress | None) -> None:
    results = _results(queue, outcomes)
    queue.record(results)
    summary.add([queue.status_of(r) for r in results])
    if progress is not None:
        progress(summary.tasks, queue.total)


def run_serial(
    queue: TaskQueue, factory: WorkerFactory, *, progress: Progress | None = None
) -> FarmSummary:
    """Run every task in this process, one at a time."""
    work = factory()
    summary = FarmSummary("serial", 1)
    try:
        while tasks := queue.next_tasks(1):
            outcomes, _ = _run_chunk(work, tasks)
            _record(queue, summary, outcomes, progress)
    except KeyboardInterrupt:
        summary.interrupted = True
    return summary.finish()


def _init_worker(factory: WorkerFactory) -> None:
    global _WORK
    _WORK = factory()


def _pool_chunk(tasks: Sequence[Any]) -> tuple[list[tuple[bool, Any, Any]], float]:
    assert _WORK is not None, "worker not initialised"
    return _run_chunk(_WORK, tasks)


def run_processes(
    queue: TaskQueue,
    factory: WorkerFactory,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    chunk: int | None = None,
) -> FarmSummary:
    """Run tasks in ``workers`` local processes (``multiprocess``, spawn start method)."""
    import multiprocess

    workers = workers or os.cpu_count() or 1
    # One BLAS thread per worker: the workers already use every core, and threaded BLAS on
    # the small matrices of one target is slower than single-threaded (measured 3-10x).
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    summary = FarmSummary("processes", workers)
    chunker = _Chunker(chunk)
    arrived: threadqueue.Queue = threadqueue.Queue()
    window = 2 * workers
    in_flight = 0
    context = multiprocess.get_context("spawn")
    pool = context.Pool(workers, initializer=_init_worker, initargs=(factory,))
    try:
        exhausted = False
        while True:
            while in_flight < window and not exhausted:
                tasks = queue.next_tasks(chunker.size)
                if not tasks:
                    exhausted = True
                    break
                pool.apply_async(
                    _pool_chunk,
                    (tasks,),
                    callback=lambda out, _t=tasks: arrived.put((True, _t, out)),
                    error_callback=lambda exc, _t=tasks: arrived.put((False, _t, exc)),
                )
                in_flight += 1
            if in_flight == 0:
                break
            batch = [arrived.get()]
            while True:
                try:
                    batch.append(arrived.get_nowait())
                except threadqueue.Empty:
                    break
            in_flight -= len(batch)
            outcomes = []
            for ok, tasks, payload in batch:
                if ok:
                    chunk_outcomes, per_task = payload
                    chunker.update(per_task)
                    outcomes.extend(chunk_outcomes)
                else:  # the chunk itself failed (e.g. a result that cannot be pickled)
                    outcomes.extend((False, task, payload) for task in tasks)
            _record(queue, summary, outcomes, progress)
            exhausted = False  # recording may have released or added work
        pool.close()
    except KeyboardInterrupt:
        summary.interrupted = True
        pool.terminate()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return summary.finish()


# MPI message tags (task-pull protocol).
_READY, _DONE, _EXIT, _START = 1, 2, 3, 4


def run_mpi(
    queue_factory: Callable[[], TaskQueue],
    factory: WorkerFactory,
    *,
    progress: Progress | None = None,
    chunk: int | None = None,
    comm: Any = None,
) -> FarmSummary | None:
    """Run tasks over MPI: rank 0 is the master, every other rank a worker.

    Every rank calls this function (e.g. ``mpiexec -n 4 tasoc run --mpi``). Only rank 0
    creates the queue (so only it opens the TODO-file) and returns a summary; workers return
    None.
    """
    try:
        from mpi4py import MPI
    except ImportError:
        raise TasocError(
            "the MPI backend needs mpi4py: pip install mpi4py (and an MPI, e.g. mpich)"
        ) from None
    comm = comm or MPI.COMM_WORLD
    size, rank = comm.Get_size(), comm.Get_rank()
    if size < 2:
        raise TasocError("the MPI backend needs at least 2 ranks (mpiexec -n N with N >= 2)")
    if rank != 0:
        _mpi_worker(comm, factory, MPI)
        return None
    try:
        return _mpi_master(comm, queue_factory(), size - 1, chunk, progress, MPI)
    except BaseException:
        logger.exception("MPI master failed; aborting all ranks")
        comm.Abort(1)
        raise


def _mpi_master(comm, queue: TaskQueue, workers: int, chunk, progress, MPI) -> FarmSummary:
    summary = FarmSummary("mpi", workers)
    chunker = _Chunker(chunk)
    status = MPI.Status()
    closed = 0
    while closed < workers:
        payload = comm.recv(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status)
        source, tag = status.Get_source(), status.Get_tag()
        if tag == _DONE:
            outcomes, per_task = payload
            chunker.update(per_task)
            _record(queue, summary, outcomes, progress)
        if tag in (_READY, _DONE):
            tasks = queue.next_tasks(chunker.size)
            comm.send(tasks or None, dest=source, tag=_START if tasks else _EXIT)
        elif tag == _EXIT:
            closed += 1
    return summary.finish()


def _mpi_worker(comm, factory: WorkerFactory, MPI) -> None:
    status = MPI.Status()
    try:
        work = factory()
        comm.send(None, dest=0, tag=_READY)
        while True:
            tasks = comm.recv(source=0, tag=MPI.ANY_TAG, status=status)
            if status.Get_tag() != _START:
                break
            comm.send(_run_chunk(work, tasks), dest=0, tag=_DONE)
    finally:
        comm.send(None, dest=0, tag=_EXIT)


def run_farm(
    queue_factory: Callable[[], TaskQueue],
    factory: WorkerFactory,
    *,
    backend: str = "processes",
    workers: int | None = None,
    progress: Progress | None = None,
    chunk: int | None = None,
) -> FarmSummary | None:
    """Run a farm on the named backend (``serial``, ``processes`` or ``mpi``).

    ``queue_factory`` is called only in the master process. Returns the summary in the
    master and None in MPI worker ranks.
    """
    if backend == "serial":
        return run_serial(queue_factory(), factory, progress=progress)
    if backend == "processes":
        return run_processes(
            queue_factory(), factory, workers=workers, progress=progress, chunk=chunk
        )
    if backend == "mpi":
        return run_mpi(queue_factory, factory, progress=progress, chunk=chunk)
    raise TasocError(f"unknown backend {backend!r} (choose serial, processes or mpi)")
