"""Which code made a light curve, and why that code was chosen.

Every light-curve file records the photometry method, the plugin that registered it, that
plugin's distribution and version, and the method-selection rule that picked it, in the
primary header keywords ``PHOTMET``, ``PHOTPLUG``, ``PHOTDIST``, ``PHOTDVER`` and
``PHOTRULE`` (see ``docs/lightcurve-files.md``).
"""

from __future__ import annotations

from typing import Any

import attrs

from tasoc_core.plugins.registry import Registration
from tasoc_core.rules import Rule

__all__ = ["PROVENANCE_KEYWORDS", "Provenance"]

#: Primary-header keyword and comment for each :class:`Provenance` field.
PROVENANCE_KEYWORDS: dict[str, tuple[str, str]] = {
    "method": ("PHOTMET", "Photometric method used"),
    "plugin": ("PHOTPLUG", "tasoc plugin that registered the method"),
    "distribution": ("PHOTDIST", "distribution that provides the plugin"),
    "version": ("PHOTDVER", "version of that distribution"),
    "rule": ("PHOTRULE", "method-selection rule that chose the method"),
}


def _rule_text(value: Rule | str | None) -> str | None:
    if isinstance(value, Rule):
        return value.describe()
    return value


@attrs.frozen(kw_only=True)
class Provenance:
    """Origin of a light curve.

    Attributes
    ----------
    method
        Photometry method name (``PHOTMET``).
    plugin
        Name of the plugin (entry point) that registered the method.
    distribution, version
        The Python distribution providing the plugin and its version; None when the
        plugin was registered by hand (tests, notebooks).
    rule
        The selection rule as :meth:`tasoc_core.rules.Rule.describe` renders it, or a
        short text such as ``"--method aperture"``; None if unknown.
    """

    method: str
    plugin: str
    distribution: str | None = None
    version: str | None = None
    rule: str | None = attrs.field(default=None, converter=_rule_text)

    @classmethod
    def from_registration(
        cls, registration: Registration[Any], rule: Rule | str | None = None
    ) -> Provenance:
        """Provenance of the method in ``registration``, selected by ``rule``."""
        return cls(
            method=registration.name,
            plugin=registration.plugin,
            distribution=registration.distribution,
            version=registration.version,
            rule=rule,
        )

    def cards(self) -> list[tuple[str, str | None, str]]:
        """``(keyword, value, comment)`` for the primary header (None: undefined value)."""
        return [
            (key, getattr(self, field), comment)
            for field, (key, comment) in PROVENANCE_KEYWORDS.items()
        ]
