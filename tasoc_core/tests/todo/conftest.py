"""Fixtures of the TODO-file tests: the catalog tests' sector, with catalogs built."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tasoc_core.catalog import make_catalogs
from tasoc_core.config import Config, load_config
from tasoc_core.plugins import get_plugin_manager


def _load_sector_fixture_module() -> ModuleType:
    """Import ``../catalog/sector_fixture.py`` (test directories are not packages)."""
    name = "tasoc_tests_sector_fixture"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "catalog" / "sector_fixture.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


sf = _load_sector_fixture_module()


@pytest.fixture(scope="session")
def sector_dir(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The fixture sector directory (written once per session; treat it as read-only)."""
    return sf.build_sector(tmp_path_factory.mktemp("sector") / "s0001")


@pytest.fixture(scope="session")
def catalogs_built(sector_dir: object, tmp_path_factory: pytest.TempPathFactory) -> Config:
    """Configuration whose output directory holds the catalogs of the fixture sector.

    Tests that write a TODO-file copy this directory first (see ``fresh_output``).
    """
    out = tmp_path_factory.mktemp("todo_catalogs")
    config = load_config(sf.make_config(sector_dir, out))
    make_catalogs(config, get_plugin_manager(entrypoints=False))
    return config


@pytest.fixture
def fresh_output(catalogs_built: Config, sector_dir: object, tmp_path: Path):
    """``make(extra_toml) -> Config`` writing to a fresh output directory with the catalogs."""
    import shutil

    def make(extra: str = "") -> Config:
        out = tmp_path / "out"
        if not out.exists():
            shutil.copytree(Path(catalogs_built.paths.output) / "catalog", out / "catalog")
        return load_config(sf.make_config(sector_dir, out, extra))

    return make


def _load_reference_module() -> ModuleType:
    name = "tasoc_tests_reference_todo"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("reference_todo.py")
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_load_reference_module()
