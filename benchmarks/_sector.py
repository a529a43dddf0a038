"""A simulated sector taken through the pipeline's stages, shared by the end-to-end benchmarks.

Not a benchmark: ``bench_photometry.py`` and ``bench_correct.py`` import it. A sector lives
in a directory laid out like ``tasoc demo``'s::

    DIR/sector/      the simulated sector (``tasoc simulate``)
    DIR/tasoc.toml   the run configuration (outputs in DIR/work)
    DIR/work/        catalog, TODO-file, HDF5 cube, light curves
    DIR/snapshots/   copies of the TODO-file (and state files) after a stage, to re-run
                     the next stage from the same starting point
    DIR/stages.json  seconds each set-up stage took

Every stage runs through the ``tasoc`` command in a subprocess (``python -m tasoc_core``),
as a user would run it. A directory holding a complete sector of the requested profile is
reused (its set-up stages are not run again), so that several benchmarks, or repeated
runs, share one simulation: pass the same directory.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from tasoc_core.demo import existing_sector, write_demo_config

__all__ = [
    "FULL_CADENCES",
    "SETUP_STAGES",
    "PhaseTimer",
    "Sector",
    "prepared_sector",
    "worker_start_seconds",
]

#: Stages run once per sector directory, after the simulation.
SETUP_STAGES = ("catalog", "todo", "prepare")
#: FFI cadences of a sector (two orbits of 200-s FFIs), what the per-target requirements
#: are about.
FULL_CADENCES = 1300


class PhaseTimer:
    """Exclusive wall time per (phase, key): time inside a nested phase is not the parent's."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, str], float] = collections.defaultdict(float)
        self.key = "other"
        self._stack: list[str] = []
        self._mark = 0.0

    def _charge(self, now: float) -> None:
        if self._stack:
            self.totals[(self._stack[-1], self.key)] += now - self._mark
        self._mark = now

    @contextlib.contextmanager
    def phase(self, name: str, key: str | None = None) -> Iterator[None]:
        """Time inside is charged to ``name`` (and to ``key`` if given, else the current key)."""
        self._charge(time.perf_counter())
        outer = self.key
        self.key = key or outer
        self._stack.append(name)
        try:
            yield
        finally:
            self._charge(time.perf_counter())
            self._stack.pop()
            self.key = outer

    def wrap(self, name: str, func: Callable) -> Callable:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return func(*args, **kwargs)

        return timed


@attrs.define
class Sector:
    """A sector directory and its configuration.

    Attributes
    ----------
    directory
        DIR (see the module docstring).
    profile
        Simulation profile (``ci`` or ``demo``).
    setup
        Seconds per set-up stage (``simulate``, ``catalog``, ``todo``, ``prepare``, and
        later ones recorded with :meth:`record`), as measured when each first ran.
    reused
        Stages found complete in the directory rather than run now.
    """

    directory: Path
    profile: str
    setup: dict[str, float] = attrs.field(factory=dict)
    reused: list[str] = attrs.field(factory=list)

    @property
    def config_path(self) -> Path:
        return self.directory / "tasoc.toml"

    @property
    def work(self) -> Path:
        return self.directory / "work"

    @property
    def todo(self) -> Path:
        return self.work / "todo.sqlite"

    def tasoc(self, *args: str, env: dict[str, str] | None = None) -> tuple[str, float]:
        """Run ``tasoc -q -c DIR/tasoc.toml ARGS``; its stdout and wall time (seconds).

        Raises
        ------
        RuntimeError
            If the command fails (its output is in the message).
        """
        environ = {k: v for k, v in os.environ.items() if k != "TASOC_CONFIG"}
        environ.update(env or {})
        cmd = [sys.executable, "-m", "tasoc_core", "-q", "-c", str(self.config_path), *args]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=environ, check=False)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(
                f"`tasoc {' '.join(args)}` failed (exit {proc.returncode}):\n"
                f"{proc.stdout[-2000:]}{proc.stderr[-4000:]}"
            )
        return proc.stdout, seconds

    def tasoc_json(self, *args: str) -> tuple[Any, float, float]:
        """Run ``tasoc ARGS --json``: its parsed summary, wall time and the CPU seconds
        of the subprocess (user + system)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out, wall = self.tasoc(*args, "--json")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return json.loads(out), wall, cpu

    @property
    def cadences(self) -> int:
        """FFI cadences in the prepared HDF5 cube (0 before prepare)."""
        import h5py

        files = list((self.work / "prepare").glob("*.hdf5"))
        if not files:
            return 0
        with h5py.File(files[0], "r") as f:
            return int(f["time"].shape[0])

    # -- snapshots of the pipeline state ---------------------------------------------------

    def snapshot(self, name: str, *extra: str) -> None:
        """Save the TODO-file (and ``extra`` paths relative to DIR/work) as ``name``."""
        dest = self.directory / "snapshots" / name
        tmp = dest.with_name(name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        # Through SQLite's backup API: rows a command left in the write-ahead log (a WAL
        # file can outlive the command) are in the copy.
        with (
            contextlib.closing(sqlite3.connect(self.todo)) as src_conn,
            contextlib.closing(sqlite3.connect(tmp / "todo.sqlite")) as dest_conn,
        ):
            src_conn.backup(dest_conn)
        for rel in extra:
            src = self.work / rel
            if src.is_dir():
                shutil.copytree(src, tmp / rel)
            elif src.exists():
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, tmp / rel)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.replace(dest)

    def has_snapshot(self, name: str) -> bool:
        return (self.directory / "snapshots" / name / "todo.sqlite").is_file()

    def restore(self, name: str, *, clear: tuple[str, ...] = ()) -> None:
        """Put snapshot ``name`` back; directories in ``clear`` (relative to DIR/work) go first."""
        src = self.directory / "snapshots" / name
        if not self.has_snapshot(name):
            raise RuntimeError(f"{self.directory}: no snapshot {name!r}")
        for rel in clear:
            shutil.rmtree(self.work / rel, ignore_errors=True)
        # A write-ahead log left by the previous command belongs to the file being replaced:
        # SQLite would replay it onto the restored copy and corrupt it.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{self.todo}{suffix}").unlink(missing_ok=True)
        for item in src.iterdir():
            dest = self.work / item.name
            if item.is_dir():
                shutil.rmtree(dest, ignore_errors=True)
                shutil.copytree(item, dest)
            else:
                # A new file (inode), not the old one overwritten: a connection still open in
                # this process (an in-process run's worker) keeps the old one to itself.
                tmp = dest.with_name(dest.name + ".restoring")
                shutil.copy2(item, tmp)
                tmp.replace(dest)

    def record(self, stage: str, seconds: float) -> None:
        """Remember how long set-up stage ``stage`` took (kept in DIR/stages.json)."""
        self.setup[stage] = seconds
        path = self.directory / "stages.json"
        tmp = path.with_name("stages.json.tmp")
        tmp.write_text(json.dumps({"profile": self.profile, "seconds": self.setup}, indent=1))
        tmp.replace(path)

    def describe_setup(self) -> str:
        """One line: set-up stage times, and which were reused from an earlier run."""
        parts = [f"{name} {self.setup[name]:.1f} s" for name in self.setup]
        text = "set-up (not in the figures): " + ", ".join(parts)
        if self.reused:
            text += f" [reused from an earlier run: {', '.join(self.reused)}]"
        return text


def _saved_setup(directory: Path, profile: str) -> dict[str, float]:
    try:
        info = json.loads((directory / "stages.json").read_text())
    except (OSError, ValueError):
        return {}
    return dict(info.get("seconds", {})) if info.get("profile") == profile else {}


def prepared_sector(profile: str, directory: Path, *, workers: int = 2, seed: int = 1) -> Sector:
    """A sector of ``profile`` in ``directory`` after catalog, todo and prepare.

    The simulation and each set-up stage run only if ``directory`` does not already hold
    them for this profile and seed; the TODO-file right after ``prepare`` is kept as
    snapshot ``prepared``.
    """
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    sector_dir = directory / "sector"
    saved = _saved_setup(directory, profile)
    if existing_sector(sector_dir, profile, seed) and saved:
        sector = Sector(directory, profile, setup=saved)
    else:
        shutil.rmtree(directory / "snapshots", ignore_errors=True)
        shutil.rmtree(directory / "work", ignore_errors=True)
        sector = Sector(directory, profile)
    if sector_dir.is_dir():
        write_demo_config(directory, sector_dir)

    if "simulate" in sector.setup:
        sector.reused.append("simulate")
    else:
        cmd = [sys.executable, "-m", "tasoc_core", "-q", "simulate", str(sector_dir),
               "--profile", profile, "--seed", str(seed), "--workers", str(workers)]  # fmt: skip
        if sector_dir.exists():
            cmd.append("--overwrite")
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"tasoc simulate failed:\n{proc.stderr[-4000:]}")
        sector.record("simulate", time.perf_counter() - start)
        write_demo_config(directory, sector_dir)

    if all(stage in sector.setup for stage in SETUP_STAGES) and sector.has_snapshot("prepared"):
        sector.reused.extend(SETUP_STAGES)
        return sector
    for stage in SETUP_STAGES:
        args: list[Any] = [stage] + (["--workers", str(workers)] if stage == "prepare" else [])
        _, seconds = sector.tasoc(*args)
        sector.record(stage, seconds)
    sector.snapshot("prepared")
    return sector


def worker_start_seconds(module: str) -> float:
    """Wall seconds for a fresh interpreter to import ``module`` and load the plugins.

    What each worker of the ``processes`` backend (spawn start method) pays before its
    first task; on a small sector it dominates that backend's farm time.
    """
    code = (
        f"import {module}; from tasoc_core.plugins import get_plugin_manager; get_plugin_manager()"
    )
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start
