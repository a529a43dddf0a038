"""The task farm: one master hands tasks to workers (serially, in local processes, or
over MPI) and records their results as they arrive.

Stages (photometry, corrections) provide a :class:`TaskQueue` (the master's view of the
TODO-file) and a picklable worker factory; the farm does the rest.
"""

from __future__ import annotations

from tasoc_core.taskfarm._backends import run_farm, run_mpi, run_processes, run_serial
from tasoc_core.taskfarm._base import FarmSummary, Progress, TaskQueue, WorkerFactory

__all__ = [
    "FarmSummary",
    "Progress",
    "TaskQueue",
    "WorkerFactory",
    "run_farm",
    "run_mpi",
    "run_processes",
    "run_serial",
]
