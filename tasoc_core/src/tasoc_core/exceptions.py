"""The tasoc exception hierarchy.

Every error a user can cause derives from :class:`TasocError`. Messages name the file,
target, plugin or setting involved and the offending value, so that the CLI can print them
as one line without a traceback.
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "ConfigError",
    "DuplicateNameError",
    "EphemerisError",
    "InputFileError",
    "PluginError",
    "PluginLoadError",
    "SchemaError",
    "SimulationError",
    "TargetError",
    "TasocError",
    "UnknownNameError",
]


class TasocError(Exception):
    """Base class of every error tasoc raises on purpose."""


class ConfigError(TasocError):
    """The run configuration is invalid (names the key and the bad value)."""


class PluginError(TasocError):
    """A plugin is missing, broken, or conflicts with another plugin."""


class PluginLoadError(PluginError):
    """A plugin the user asked for could not be imported or failed to register."""


class DuplicateNameError(PluginError):
    """Two plugins registered the same name in one family (names both plugins)."""

    def __init__(self, message: str, *, plugins: tuple[str, ...] = ()):
        super().__init__(message)
        self.plugins = plugins


class UnknownNameError(PluginError):
    """A method, corrector, estimator or source name is not registered (lists the known ones)."""


class InputFileError(TasocError):
    """An input file is missing, truncated, corrupt or of the wrong kind (names the file)."""


class CatalogError(TasocError):
    """A catalog could not be built or queried."""


class EphemerisError(TasocError):
    """SPICE kernels are missing, unreadable, or do not cover the requested times (names the range)."""


class SimulationError(TasocError):
    """A simulation cannot be run with the requested settings (names the setting and value)."""


class SchemaError(TasocError):
    """A TODO-file or other database has an unknown or newer schema version."""


class TargetError(TasocError):
    """Processing one target failed for a target-specific reason (names the target).

    Methods and correctors raise this (or a subclass) for expected per-target failures;
    the task farm records the target as ERROR with the message and carries on.

    Parameters
    ----------
    message
        What went wrong, naming the target.
    tags
        Outcome tags for method-selection rules (for example ``"edge"`` when an aperture
        reached the stamp edge after all allowed resizes).
    """

    def __init__(self, message: str, *, tags: frozenset[str] | set[str] | tuple[str, ...] = ()):
        super().__init__(message)
        self.tags = frozenset(tags)
