"""Settings of the ``aperture`` method (the ``[methods.aperture]`` table of the run configuration)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["ApertureSettings"]


def _positive(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


def _non_negative(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must not be negative, got {value}")


def _at_least(low: int) -> Callable[[Any, attrs.Attribute, int], None]:
    def check(instance: Any, attribute: attrs.Attribute, value: int) -> None:
        if value < low:
            raise ValueError(f"{attribute.name} must be at least {low}, got {value}")

    return check


def _fraction(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0 <= value < 1:
        raise ValueError(f"{attribute.name} must be in [0, 1), got {value}")


def _share(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"{attribute.name} must be in (0, 1], got {value}")


def _odd(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if value < 1 or value % 2 == 0:
        raise ValueError(f"{attribute.name} must be a positive odd integer, got {value}")


@attrs.frozen(kw_only=True)
class ApertureSettings:
    """Every parameter of K2P2 aperture photometry.

    Defaults are those the original pipeline ran with (reference §10.1), except where the
    package README explains a departure. The ``KP_*`` names are the light-curve header
    keywords the values are written to.
    """

    #: Threshold above the mode, in units of the standardised MAD below the mode (KP_THRES).
    thresh: float = attrs.field(default=0.8, validator=_non_negative)
    #: Candidate pixels must also exceed the mode by this many σ of the sum image (0: off).
    noise_floor: float = attrs.field(default=3.0, validator=_non_negative)
    #: Fraction of the brightest pixels left out when estimating mode and MAD.
    kde_trim: float = attrs.field(default=0.15, validator=_fraction)
    #: Pixels at or above this value (e-/s) are left out of the threshold estimate.
    kde_max_flux: float = attrs.field(default=70000.0, validator=_positive)
    #: Smallest mask kept, in pixels (KP_MIPIX).
    min_pixels: int = attrs.field(default=4, validator=_at_least(1))
    #: DBSCAN ``min_samples``: pixels above threshold within the radius, itself included (KP_MICLS).
    min_for_cluster: int = attrs.field(default=4, validator=_at_least(1))
    #: DBSCAN ``eps`` in pixels; √2 links the 8 neighbours (KP_CLSRA).
    cluster_radius: float = attrs.field(default=math.sqrt(2.0), validator=_positive)
    #: Split clusters with the watershed, one basin per catalog star (KP_WS).
    segmentation: bool = True
    #: Gaussian σ (pixels) of the blur applied before finding local maxima (KP_WSBLR).
    ws_blur: float = attrs.field(default=0.5, validator=_non_negative)
    #: ``peak_local_max`` relative threshold for local maxima (KP_WSTHR).
    ws_threshold: float = attrs.field(default=0.0, validator=_fraction)
    #: Side of the square neighbourhood defining a local maximum (KP_WSFOT).
    ws_footprint: int = attrs.field(default=3, validator=_odd)
    #: Largest star–maximum distance (pixels) for a marker, stars fainter than saturation_limit.
    marker_radius: float = attrs.field(default=2.0 * math.sqrt(2.0), validator=_positive)
    #: The same for stars at or brighter than saturation_limit.
    marker_radius_bright: float = attrs.field(default=5.0 * math.sqrt(2.0), validator=_positive)
    #: Add saturated bleed columns to the masks of saturated stars (KP_EX).
    extend_overflow: bool = True
    #: Combined magnitude of the stars in a mask at or below which it may be extended along
    #: bleed columns; also where marker_radius_bright starts (KP_SATLM).
    saturation_limit: float = 7.0
    #: Trim the target's mask to its best white-noise S/N subset (off: the K2P2 mask as is).
    snr_trim: bool = False
    #: With snr_trim, the smallest fraction of the mask's sum-image flux that is kept.
    min_flux_fraction: float = attrs.field(default=0.95, validator=_share)
    #: Pixels added to each stamp side the aperture touches (FFI targets) (KP_RSTEP).
    resize_step: int = attrs.field(default=10, validator=_at_least(1))
    #: Stamp resizes allowed before giving up with outcome "edge" (KP_RSMAX).
    max_resizes: int = attrs.field(default=5, validator=_at_least(0))
    #: Stamp resizes allowed for stars brighter than bright_tmag.
    max_resizes_bright: int = attrs.field(default=10, validator=_at_least(0))
    #: Magnitude below which max_resizes_bright applies.
    bright_tmag: float = 6.0
    #: Primary targets at or brighter than this stop early ("edge") when the stamp cannot grow.
    haloswitch_tmag: float = 6.0
    #: Flux on the aperture's stamp-edge pixels, as a fraction of the catalog flux, above
    #: which an aperture cut by an edge that cannot move gets the outcome tag "edge" (and a
    #: bright primary stops early, see haloswitch_tmag).
    edge_flux_limit: float = attrs.field(default=0.01, validator=_positive)
    #: Contamination above which the result gets the outcome tag "crowded".
    crowded_limit: float = attrs.field(default=0.5, validator=_fraction)
