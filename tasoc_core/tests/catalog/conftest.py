"""Fixtures of the catalog tests: a small sector directory with known truth."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def load_sector_fixture_module() -> ModuleType:
    """Import ``sector_fixture.py`` (test directories are not packages).

    The module is registered as ``tasoc_tests_sector_fixture`` so test modules can import
    it by that name.
    """
    name = "tasoc_tests_sector_fixture"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("sector_fixture.py")
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


sf = load_sector_fixture_module()


@pytest.fixture(scope="session")
def sector_dir(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The fixture sector directory (written once per session; treat it as read-only)."""
    return sf.build_sector(tmp_path_factory.mktemp("sector") / "s0001")
