"""Registries: the classes plugins registered, one registry per family."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Generic, TypeVar

import attrs

from tasoc_core.exceptions import DuplicateNameError, PluginError, UnknownNameError
from tasoc_core.families import (
    NAME_PATTERN,
    BackgroundEstimator,
    CatalogSource,
    Corrector,
    PhotometryMethod,
    Validator,
)

__all__ = ["FAMILIES", "Registration", "Registries", "Registry"]

T = TypeVar("T")


@attrs.frozen
class Registration(Generic[T]):
    """One registered class and the plugin that registered it."""

    name: str
    cls: type[T]
    plugin: str
    distribution: str | None = None
    version: str | None = None

    def provenance(self) -> str:
        """``plugin (distribution version)`` for messages and headers."""
        if self.distribution:
            return f"{self.plugin} ({self.distribution} {self.version or '?'})"
        return self.plugin


class Registry(Generic[T]):
    """Classes of one family, by name.

    Parameters
    ----------
    family
        Human name of the family, e.g. ``"photometry method"``.
    base
        The abstract base class every registered class must derive from.
    """

    def __init__(self, family: str, base: type[T]) -> None:
        self.family = family
        self.base = base
        self._items: dict[str, Registration[T]] = {}

    def register(
        self,
        cls: type[T],
        *,
        plugin: str,
        distribution: str | None = None,
        version: str | None = None,
    ) -> Registration[T]:
        """Add ``cls``; refuse non-conforming classes and duplicate names."""
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise PluginError(
                f"plugin {plugin!r} registered {cls!r} as a {self.family}, "
                f"but it is not a subclass of {self.base.__module__}.{self.base.__name__}"
            )
        if inspect.isabstract(cls):
            missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
            raise PluginError(
                f"plugin {plugin!r} registered {cls.__name__} as a {self.family}, "
                f"but it does not implement: {missing}"
            )
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise PluginError(
                f"plugin {plugin!r} registered {cls.__name__} with invalid name {name!r}: "
                "names are 1-32 characters of lower-case letters, digits, '-' and '_', "
                "starting with a letter"
            )
        entry = Registration(name, cls, plugin, distribution, version)
        existing = self._items.get(name)
        if existing is not None:
            raise DuplicateNameError(
                f"{self.family} {name!r} is registered by two plugins: "
                f"{existing.provenance()} and {entry.provenance()}; "
                "disable one of them with --disable-plugin or TASOC_DISABLE_PLUGINS",
                plugins=(existing.plugin, entry.plugin),
            )
        self._items[name] = entry
        return entry

    def get(self, name: str) -> Registration[T]:
        """The registration called ``name``; the error lists the known names."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none installed"
            raise UnknownNameError(f"unknown {self.family} {name!r} (installed: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[Registration[T]]:
        return iter(sorted(self._items.values(), key=lambda r: r.name))

    def __len__(self) -> int:
        return len(self._items)


#: (attribute, human name, base class, registration hook) for every family.
FAMILIES: tuple[tuple[str, str, type, str], ...] = (
    (
        "background",
        "background estimator",
        BackgroundEstimator,
        "tasoc_register_background_estimators",
    ),
    ("photometry", "photometry method", PhotometryMethod, "tasoc_register_photometry_methods"),
    ("validators", "validator", Validator, "tasoc_register_validators"),
    ("correctors", "corrector", Corrector, "tasoc_register_correctors"),
    ("catalog_sources", "catalog source", CatalogSource, "tasoc_register_catalog_sources"),
)


class Registries:
    """All family registries of one plugin manager."""

    def __init__(self) -> None:
        self.background: Registry[BackgroundEstimator] = Registry(
            "background estimator", BackgroundEstimator
        )
        self.photometry: Registry[PhotometryMethod] = Registry(
            "photometry method", PhotometryMethod
        )
        self.validators: Registry[Validator] = Registry("validator", Validator)
        self.correctors: Registry[Corrector] = Registry("corrector", Corrector)
        self.catalog_sources: Registry[CatalogSource] = Registry("catalog source", CatalogSource)

    def by_family(self) -> dict[str, Registry]:
        return {attr: getattr(self, attr) for attr, *_ in FAMILIES}

    def registered_by(self, plugin: str) -> dict[str, list[str]]:
        """Names each family holds from ``plugin``."""
        out: dict[str, list[str]] = {}
        for attr, registry in self.by_family().items():
            names = [r.name for r in registry if r.plugin == plugin]
            if names:
                out[attr] = names
        return out
