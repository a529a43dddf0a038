"""Shared helpers for cross-package tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tasoc_cli():
    """Run ``python -m tasoc_core ARGS`` in a subprocess with extra ``sys.path`` entries."""

    def run(
        *args: str, pythonpath: list[Path] = (), cwd: Path | None = None, env: dict | None = None
    ):
        environ = {
            k: v
            for k, v in os.environ.items()
            if k not in ("TASOC_CONFIG", "TASOC_DISABLE_PLUGINS")
        }
        paths = [str(p) for p in pythonpath] + (
            [environ["PYTHONPATH"]] if environ.get("PYTHONPATH") else []
        )
        if paths:
            environ["PYTHONPATH"] = os.pathsep.join(paths)
        environ.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "tasoc_core", *args],
            capture_output=True, text=True, cwd=cwd, env=environ, timeout=300,
        )  # fmt: skip

    return run


class Pipeline:
    """A simulated sector taken through the pipeline once per session (read-only for tests)."""

    def __init__(self, sector: Path, work: Path) -> None:
        from tasoc_core.config import load_config
        from tasoc_core.simulate import Truth

        self.sector = sector
        self.work = work
        self.config_path = work / "tasoc.toml"
        text = (sector / "tasoc.toml").read_text()
        text = text.replace('input = "."', f'input = "{sector}"')
        text = text.replace('output = "work"', f'output = "{work / "out"}"')
        text = text.replace(
            'catalog = "catalog/tic.csv"', f'catalog = "{sector / "catalog" / "tic.csv"}"'
        )
        text = text.replace('spice_kernels = "spice"', f'spice_kernels = "{sector / "spice"}"')
        text = text.replace('prf = "prf"', f'prf = "{sector / "prf"}"')
        self.config_path.write_text(text)
        self.config = load_config(self.config_path)
        self.output = Path(self.config.paths.output)
        self.truth = Truth(sector)

    @classmethod
    def simulated(cls, sector: Path, work: Path, profile: str, seed: int = 1) -> Pipeline:
        """``tasoc simulate`` a sector of ``profile`` into ``sector``; its pipeline in ``work``."""
        from click.testing import CliRunner

        from tasoc_core.cli import cli

        result = CliRunner().invoke(
            cli, ["-q", "simulate", str(sector), "--profile", profile, "--seed", str(seed)]
        )
        assert result.exit_code == 0, result.output
        work.mkdir(parents=True, exist_ok=True)
        return cls(sector, work)

    def prepare(self) -> Pipeline:
        """Catalog, TODO-file and prepare, as ``tasoc`` runs them before photometry."""
        for stage in ("catalog", "todo", "prepare"):
            self.cli(stage)
        return self

    def cli(self, *args: str):
        """Run a tasoc command on this pipeline's configuration, in-process."""
        from click.testing import CliRunner

        from tasoc_core.cli import cli

        result = CliRunner().invoke(cli, ["-q", "-c", str(self.config_path), *args])
        assert result.exit_code == 0, f"tasoc {' '.join(args)} failed:\n{result.output}"
        return result

    @property
    def todo(self) -> Path:
        return self.output / "todo.sqlite"

    def copy(self, dest: Path) -> Pipeline:
        """An independent copy of the pipeline's state (to run something destructive on)."""
        import shutil

        dest.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.output, dest / "out")
        clone = Pipeline.__new__(Pipeline)
        clone.__dict__.update(self.__dict__)
        clone.work = dest
        clone.config_path = dest / "tasoc.toml"
        clone.config_path.write_text(
            self.config_path.read_text().replace(str(self.output), str(dest / "out"))
        )
        from tasoc_core.config import load_config

        clone.config = load_config(clone.config_path)
        clone.output = dest / "out"
        return clone


@pytest.fixture(scope="session")
def ci_pipeline(ci_sector: Path, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """The ci sector after catalog, todo and prepare (no photometry yet)."""
    return Pipeline(ci_sector, tmp_path_factory.mktemp("ci_pipeline")).prepare()


@pytest.fixture(scope="session")
def ci_photometry(ci_pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """A copy of ``ci_pipeline`` after ``tasoc run`` with the default rules (2 workers)."""
    pipeline = ci_pipeline.copy(tmp_path_factory.mktemp("ci_photometry"))
    pipeline.cli("run", "-j", "2")
    return pipeline


@pytest.fixture(scope="session")
def demo_photometry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """The README's demo sector (``tasoc demo``'s profile and seed: 27 days, 512² px, 1268
    FFIs) after catalog, todo, prepare and ``tasoc run`` on the FFI targets of Tmag ≤ 13
    (~2 min on 2 cores). The sector takes 3.5 GB and the prepared HDF5 4.1 GB: the FFIs
    and TPFs are deleted once prepared (FFI photometry reads the HDF5), and everything
    when the session ends."""
    import shutil

    root = tmp_path_factory.mktemp("demo")
    sector = root / "sector"
    try:
        pipeline = Pipeline.simulated(sector, root / "pipeline", "demo", seed=1).prepare()
        shutil.rmtree(sector / "ffi")
        shutil.rmtree(sector / "tpf")
        pipeline.cli("run", "-j", "2", "--datasource", "ffi", "--tmag-max", "13")
        yield pipeline
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def halo_photometry(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """The ``halo`` profile (a saturated Tmag 3.5 star with two injected δ Scuti modes, on
    a 96-px sub-frame with the full 13-day orbits, so the PSF breathes on its real time
    scale) after catalog, todo, prepare and ``tasoc run --method aperture,halo`` on the
    star's FFI target and its 11×11 120-s TPF (~35 s)."""
    sector = tmp_path_factory.mktemp("halo_sector") / "sector"
    pipeline = Pipeline.simulated(sector, tmp_path_factory.mktemp("halo_pipeline"), "halo")
    pipeline.prepare().cli("run", "--method", "aperture,halo", "--tmag-max", "6")
    return pipeline
