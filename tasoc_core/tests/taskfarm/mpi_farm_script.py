"""Run under ``mpiexec -n N``: the farm over MPI; rank 0 writes the results as JSON."""

from __future__ import annotations

import json
import sys

from farm_fixtures import MemoryQueue, square_root_worker

from tasoc_core.taskfarm import run_mpi

if __name__ == "__main__":
    n, out = int(sys.argv[1]), sys.argv[2]
    holder = {}

    def make_queue():
        holder["queue"] = MemoryQueue(n)
        return holder["queue"]

    summary = run_mpi(make_queue, square_root_worker)
    if summary is not None:
        results = {str(k): v for k, v in holder["queue"].results.items()}
        with open(out, "w") as f:
            json.dump({"results": results, "summary": summary.to_dict()}, f)
