"""Settings shared by ``psf`` and ``linpsf`` (each method's ``Settings`` extends these)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["CommonSettings", "at_least", "between", "positive", "positive_or_none"]


def positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


def positive_or_none(instance: object, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be positive (or left out), got {value}")


def at_least(low: float) -> Callable[[object, attrs.Attribute, Any], None]:
    def check(instance: object, attribute: attrs.Attribute, value: float) -> None:
        if not value >= low:
            raise ValueError(f"{attribute.name} must be at least {low}, got {value}")

    return check


def between(low: float, high: float) -> Callable[[object, attrs.Attribute, Any], None]:
    def check(instance: object, attribute: attrs.Attribute, value: float) -> None:
        if not low <= value <= high:
            raise ValueError(f"{attribute.name} must be between {low} and {high}, got {value}")

    return check


@attrs.frozen(kw_only=True)
class CommonSettings:
    """Star selection, jitter handling and the aperture correction (see the README)."""

    #: Catalog stars up to this many pixels outside the stamp are modelled: their light
    #: leaks into the stamp (a PRF image reaches 6.5 px from the star).
    star_buffer: float = attrs.field(default=6.5, validator=at_least(0.0))
    #: Most stars whose flux is fitted, the target included; the others are subtracted at
    #: their catalog flux.
    max_stars: int = attrs.field(default=20, validator=at_least(1))
    #: Fitted stars are at most this many magnitudes fainter than the target.
    max_dmag: float = attrs.field(default=5.0, validator=at_least(0.0))
    #: Fitted stars are at most this many pixels from the target (None: anywhere).
    max_distance: float | None = attrs.field(default=None, validator=positive_or_none)
    #: Fitted stars have at least this fraction of their flux on the stamp.
    min_inside: float = attrs.field(default=0.25, validator=between(0.0, 1.0))
    #: Of two stars closer than this (pixels) only the brighter is fitted: their fluxes
    #: cannot be told apart.
    min_separation: float = attrs.field(default=0.5, validator=at_least(0.0))
    #: Cadences are grouped by pointing offset in steps of this many pixels; within a group
    #: the PRFs follow the jitter by a second-order Taylor expansion.
    jitter_step: float = attrs.field(default=0.05, validator=between(0.001, 0.5))
    #: Fit a common change of the PRF width on every cadence (focus changes): one more
    #: parameter, the width derivative of the model of all stars.
    fit_width: bool = True
    #: Fit a constant background level on every cadence: what the background subtraction
    #: of ``tasoc prepare`` left behind (faint unresolved stars, gradients).
    fit_background: bool = True
    #: Pixels the model cannot describe (bleed columns of saturated stars, stars missing
    #: from the catalog, bad pixels) are left out: those whose median residual over the
    #: cadences exceeds ``outlier_sigma`` times their median uncertainty plus
    #: ``outlier_fraction`` of the model there. None: keep every pixel.
    outlier_sigma: float | None = attrs.field(default=5.0, validator=positive_or_none)
    outlier_fraction: float = attrs.field(default=0.2, validator=at_least(0.0))
    #: Targets brighter than this (Tmag) saturate the detector: their bleed columns are not
    #: described by a PRF, so they are refused (tag "saturated"; use aperture or halo).
    saturation_tmag: float = 6.8
    #: Add the residual flux in the 2x2 pixels around the target (paper 003, §5.3).
    aperture_correction: bool = True
    #: Model contamination above which the result is a WARNING tagged "crowded".
    contamination_warning: float = attrs.field(default=0.1, validator=between(0.0, 1.0))
