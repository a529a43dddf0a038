"""A small in-memory task queue and worker used by the farm tests (also under MPI)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from tasoc_core.taskfarm import TaskQueue


def square_root_worker():
    """Worker factory: returns sqrt(task); task 13 raises to test error handling."""

    def work(task: int) -> tuple[int, float]:
        if task == 13:
            raise ValueError("unlucky task")
        return task, math.sqrt(task)

    return work


class MemoryQueue(TaskQueue):
    """Tasks 0..n-1; when task k finishes, task k + skip_offset is skipped (like a faint star
    inside a brighter star's aperture)."""

    def __init__(self, n: int, skip_offset: int | None = None) -> None:
        self.todo = list(range(n))
        self.started: set[int] = set()
        self.results: dict[int, object] = {}
        self.skipped: set[int] = set()
        self.skip_offset = skip_offset
        self.batches = 0
        self._total = n

    def next_tasks(self, limit: int) -> list[int]:
        out = []
        while self.todo and len(out) < limit:
            task = self.todo.pop(0)
            if task in self.skipped:
                continue
            self.started.add(task)
            out.append(task)
        return out

    def record(self, results: Sequence[tuple[int, object]]) -> None:
        self.batches += 1
        for task, value in results:
            assert task not in self.results, f"task {task} recorded twice"
            self.results[task] = value
            if self.skip_offset is not None and isinstance(value, float):
                self.skipped.add(task + self.skip_offset)

    def failed(self, task: int, error: BaseException) -> tuple[int, str]:
        return task, f"ERROR {type(error).__name__}: {error}"

    def status_of(self, result: tuple[int, object]) -> str:
        return "error" if isinstance(result[1], str) else "ok"

    @property
    def total(self) -> int:
        return self._total
