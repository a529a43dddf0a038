"""Fixtures shared by tasoc_core's test directories.

Test directories are not packages: helper modules that tests import by name are loaded
from their files here and registered in ``sys.modules``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent


def load_helper_module(name: str, path: Path) -> ModuleType:
    """Import the file ``path`` as module ``name`` (once per session)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


#: The small sector with known truth of the catalog and TODO-file tests
#: (``import tasoc_tests_sector_fixture as sf``).
sf = load_helper_module("tasoc_tests_sector_fixture", HERE / "catalog" / "sector_fixture.py")
#: The independent reference implementation of the TODO-file rules (todo tests).
load_helper_module("tasoc_tests_reference_todo", HERE / "todo" / "reference_todo.py")


@pytest.fixture(scope="session")
def sector_dir(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The fixture sector directory (written once per session; treat it as read-only)."""
    return sf.build_sector(tmp_path_factory.mktemp("sector") / "s0001")
