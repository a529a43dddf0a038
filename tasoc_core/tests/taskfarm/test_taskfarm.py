"""The task farm: every backend runs every task once and records the same results."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tasoc_core.exceptions import TasocError
from tasoc_core.taskfarm import run_farm, run_processes, run_serial

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # farm_fixtures must be importable by spawned workers too
from farm_fixtures import MemoryQueue, square_root_worker  # noqa: E402


def expected(n: int) -> dict[int, object]:
    return {k: (math.sqrt(k) if k != 13 else "ERROR ValueError: unlucky task") for k in range(n)}


def test_serial_runs_everything_and_turns_exceptions_into_results():
    queue = MemoryQueue(50)
    progress = []
    summary = run_serial(
        queue, square_root_worker, progress=lambda done, total: progress.append((done, total))
    )
    assert queue.results == expected(50)
    assert summary.tasks == 50
    assert summary.counts == {"ok": 49, "error": 1}
    assert progress[-1] == (50, 50)


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_processes_match_serial(chunk):
    queue = MemoryQueue(300)
    summary = run_processes(queue, square_root_worker, workers=2, chunk=chunk)
    assert queue.results == expected(300)
    assert summary.backend == "processes"
    assert summary.counts["error"] == 1
    assert not summary.interrupted


def test_skips_decided_by_the_queue_are_respected():
    queue = MemoryQueue(100, skip_offset=50)
    run_serial(queue, square_root_worker)
    # Tasks 0..49 ran, each skipping task k+50 before it was handed out; task 13 failed, so
    # it skipped nothing and task 63 ran.
    assert set(queue.results) == set(range(50)) | {63}
    assert queue.skipped & set(range(100)) == set(range(50, 100)) - {63}
    parallel = MemoryQueue(100, skip_offset=50)
    run_processes(parallel, square_root_worker, workers=2)
    # With workers in flight a few later tasks may already have started; none runs twice,
    # and every task either ran or was skipped.
    assert set(parallel.results) | parallel.skipped >= set(range(100))
    assert len(parallel.results) < 100


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(TasocError, match="unknown backend 'slurm'"):
        run_farm(lambda: MemoryQueue(1), square_root_worker, backend="slurm")


def test_mpi_backend_needs_two_ranks():
    pytest.importorskip("mpi4py")
    with pytest.raises(TasocError, match="at least 2 ranks"):
        run_farm(lambda: MemoryQueue(1), square_root_worker, backend="mpi")


def mpiexec() -> str | None:
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else shutil.which("mpiexec")


@pytest.mark.mpi
@pytest.mark.skipif(mpiexec() is None, reason="no mpiexec (pip install mpi4py mpich)")
def test_mpi_matches_serial(tmp_path):
    out = tmp_path / "mpi.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    result = subprocess.run(
        [mpiexec(), "-n", "3", sys.executable, str(HERE / "mpi_farm_script.py"), "200", str(out)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(out.read_text())
    got = {int(k): v for k, v in data["results"].items()}
    assert got == expected(200)
    assert data["summary"]["workers"] == 2
