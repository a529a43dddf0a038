"""Task-farm overhead: trivial tasks per second through each backend.

Run: ``python benchmarks/bench_taskfarm.py [N]``. The requirement is ≥ 2000 tasks/s, so the
farm never limits a sector (~10^5 targets of tens of milliseconds each). The reference is a
plain Python loop over the same tasks and the same in-memory queue (the best any farm can do).
MPI is measured when mpiexec is available (``mpiexec -n 3``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tasoc_core" / "tests" / "taskfarm"
sys.path.insert(0, str(TESTS))

from farm_fixtures import MemoryQueue, square_root_worker  # noqa: E402

from tasoc_core.taskfarm import run_processes, run_serial  # noqa: E402


def main(n: int = 20000) -> None:
    work = square_root_worker()
    queue = MemoryQueue(n)
    start = time.perf_counter()
    while tasks := queue.next_tasks(1):
        queue.record([work(t) if t != 13 else (t, "x") for t in tasks])
    loop_rate = n / (time.perf_counter() - start)
    print(f"reference: plain loop over the queue      {loop_rate:12.0f} tasks/s")

    summary = run_serial(MemoryQueue(n), square_root_worker)
    print(
        f"serial backend                            {summary.rate:12.0f} tasks/s  ({summary.rate / loop_rate:.2f}x reference)"
    )
    summary = run_processes(MemoryQueue(n), square_root_worker, workers=2)
    print(
        f"processes backend, 2 workers              {summary.rate:12.0f} tasks/s  ({summary.rate / loop_rate:.2f}x reference)"
    )

    mpiexec = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec")
    if mpiexec:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.json"
            subprocess.run(
                [mpiexec, "-n", "3", sys.executable, str(TESTS / "mpi_farm_script.py"), str(n), str(out)],
                check=True, env={"PYTHONPATH": str(TESTS), "PATH": str(Path(sys.executable).parent)},
            )  # fmt: skip
            rate = json.loads(out.read_text())["summary"]["tasks_per_s"]
        print(
            f"mpi backend, 2 workers (mpiexec -n 3)     {rate:12.0f} tasks/s  ({rate / loop_rate:.2f}x reference)"
        )
    print("requirement: >= 2000 tasks/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
