"""Plugin discovery, loading and registries."""

from __future__ import annotations

from tasoc_core.plugins.manager import (
    DISABLE_ENV,
    BrokenPlugin,
    PluginInfo,
    TasocPluginManager,
    get_plugin_manager,
)
from tasoc_core.plugins.registry import FAMILIES, Registration, Registries, Registry

__all__ = [
    "DISABLE_ENV",
    "FAMILIES",
    "BrokenPlugin",
    "PluginInfo",
    "Registration",
    "Registries",
    "Registry",
    "TasocPluginManager",
    "get_plugin_manager",
]
