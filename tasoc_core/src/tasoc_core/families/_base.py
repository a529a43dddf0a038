"""What every registrable class has in common, whatever its family."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import attrs

__all__ = ["NAME_PATTERN", "NoSettings", "PluginClass"]

#: Names are used on the command line, in TOML keys and in file headers.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@attrs.frozen
class NoSettings:
    """Settings of a class that has nothing to configure."""


class PluginClass:
    """Mixin giving a registrable class its identity and settings.

    Subclasses set :attr:`name` (the short name used in configuration, on the command line
    and in output headers) and may set :attr:`Settings`, a frozen ``attrs`` class whose
    fields are the options read from the class's table in the run configuration.
    """

    #: Short unique name within the family, matching :data:`NAME_PATTERN`.
    name: ClassVar[str]
    #: Frozen attrs class holding this class's configurable options.
    Settings: ClassVar[type] = NoSettings

    def __init__(self, settings: Any = None) -> None:
        if settings is None:
            settings = self.Settings()
        elif not isinstance(settings, self.Settings):
            raise TypeError(
                f"{type(self).__name__} expects settings of type {self.Settings.__name__}, "
                f"got {type(settings).__name__}"
            )
        self.settings = settings

    @classmethod
    def describe(cls) -> str:
        """First line of the class docstring: what the class does, for listings."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""
