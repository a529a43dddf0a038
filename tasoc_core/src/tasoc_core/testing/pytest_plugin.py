"""pytest fixtures for plugin authors (loaded automatically when tasoc-core is installed).

Fixtures
--------
tasoc_pm
    An isolated plugin manager: core's own defaults only, no entry points are loaded, so
    tests do not depend on what else is installed.
tasoc_register
    ``tasoc_register(module_or_object, name=None)`` registers a plugin in ``tasoc_pm`` for
    the duration of the test and returns the plugin name.
synthetic_target
    Factory: :func:`tasoc_core.testing.synthetic.synthetic_target`.
ci_sector
    Session-scoped: directory of the simulated ``ci`` sector (``tasoc simulate --profile
    ci --seed 1``), see :mod:`tasoc_core.testing.sector`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tasoc_core.plugins import TasocPluginManager, get_plugin_manager
from tasoc_core.testing import synthetic
from tasoc_core.testing.sector import ci_sector  # noqa: F401  (fixture)


@pytest.fixture
def tasoc_pm() -> TasocPluginManager:
    """Isolated plugin manager with only core's defaults registered."""
    return get_plugin_manager(entrypoints=False)


@pytest.fixture
def tasoc_register(tasoc_pm: TasocPluginManager) -> Iterator[Callable[..., str]]:
    """Register plugins into ``tasoc_pm`` temporarily; they are removed after the test."""
    added: list[str] = []

    def register(plugin: Any, name: str | None = None) -> str:
        plugin_name = name or getattr(plugin, "__name__", f"plugin{len(added)}")
        tasoc_pm.add_plugin(plugin, plugin_name)
        added.append(plugin_name)
        return plugin_name

    yield register
    for name in added:
        tasoc_pm.remove_plugin(name)


@pytest.fixture
def synthetic_target() -> Callable[..., synthetic.SyntheticTarget]:
    """Factory of synthetic targets with known truth (see ``synthetic.synthetic_target``)."""
    return synthetic.synthetic_target
