"""The master's side of the task farm: what to do next, and what to do with a result."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import attrs

__all__ = ["FarmSummary", "Progress", "TaskQueue", "WorkerFactory"]

#: Called once in every worker process; returns the function that turns a task into a result.
#: It must be picklable (a module-level function or a picklable callable object).
WorkerFactory = Callable[[], Callable[[Any], Any]]

#: Progress callback: (tasks finished so far, tasks known at the start).
Progress = Callable[[int, int], None]


class TaskQueue(ABC):
    """The work of one run, as the master sees it.

    Only the master process talks to the queue, so an implementation backed by a database
    is a single writer. The farm calls :meth:`next_tasks` whenever workers are idle and
    :meth:`record` with every batch of results that has arrived; an implementation commits
    each batch in one transaction and may change what :meth:`next_tasks` returns afterwards
    (for example skip fainter stars found inside a brighter star's aperture).
    """

    @abstractmethod
    def next_tasks(self, limit: int) -> list[Any]:
        """Up to ``limit`` tasks to hand out, marked as started; empty when done."""

    @abstractmethod
    def record(self, results: Sequence[Any]) -> None:
        """Store finished results (in one transaction)."""

    def failed(self, task: Any, error: BaseException) -> Any:
        """The result to record for ``task`` when its worker raised ``error``.

        The default re-raises: worker functions are expected to catch per-task failures and
        return a result saying so.
        """
        raise error

    def status_of(self, result: Any) -> str:
        """A short status label of a result, for the summary counts."""
        return str(getattr(result, "status", "done"))

    @property
    def total(self) -> int:
        """Tasks known at the start (for progress bars); 0 if unknown."""
        return 0


@attrs.define
class FarmSummary:
    """What a farm run did."""

    backend: str
    workers: int
    tasks: int = 0
    counts: Counter = attrs.field(factory=Counter)
    started: float = attrs.field(factory=time.monotonic)
    elapsed: float = 0.0
    interrupted: bool = False

    def add(self, labels: Sequence[str]) -> None:
        self.tasks += len(labels)
        self.counts.update(labels)

    def finish(self) -> FarmSummary:
        self.elapsed = time.monotonic() - self.started
        return self

    @property
    def rate(self) -> float:
        """Tasks per second."""
        return self.tasks / self.elapsed if self.elapsed > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "workers": self.workers,
            "tasks": self.tasks,
            "counts": dict(self.counts),
            "elapsed_s": round(self.elapsed, 3),
            "tasks_per_s": round(self.rate, 1),
            "interrupted": self.interrupted,
        }
