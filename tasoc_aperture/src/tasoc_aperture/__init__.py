"""K2P2 aperture photometry for tasoc: the ``aperture`` photometry method.

The method (:class:`AperturePhotometry`) finds the target's aperture in the stamp's sum
image with the K2P2 algorithm (:func:`create_masks`), grows FFI stamps while the aperture
touches their edge, and sums the aperture pixels of every cadence
(:func:`extract_light_curve`).
"""

from __future__ import annotations

from importlib import metadata

from tasoc_aperture.contamination import contamination, stars_in_aperture
from tasoc_aperture.extraction import ApertureLightCurve, extract_light_curve
from tasoc_aperture.k2p2 import MaskSet, StampStars, create_masks
from tasoc_aperture.method import AperturePhotometry, minimum_aperture, touching_sides
from tasoc_aperture.settings import ApertureSettings
from tasoc_aperture.threshold import Threshold, flux_threshold, kde_mode

__all__ = [
    "ApertureLightCurve",
    "AperturePhotometry",
    "ApertureSettings",
    "MaskSet",
    "StampStars",
    "Threshold",
    "__version__",
    "contamination",
    "create_masks",
    "extract_light_curve",
    "flux_threshold",
    "kde_mode",
    "minimum_aperture",
    "stars_in_aperture",
    "touching_sides",
]

try:
    __version__ = metadata.version("tasoc-aperture")
except metadata.PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
