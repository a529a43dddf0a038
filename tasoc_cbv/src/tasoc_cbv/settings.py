"""Settings of the CBV build and of the CBV corrector (``[correctors.cbv]`` in the TOML)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

__all__ = ["CBVBuildSettings", "CBVSettings"]


def _at_least(low: float) -> Callable[[object, attrs.Attribute, float], None]:
    def check(instance: object, attribute: attrs.Attribute, value: float) -> None:
        if not value >= low:
            raise ValueError(f"{attribute.name} must be at least {low}, got {value}")

    return check


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


def _fraction(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{attribute.name} must be in (0, 1], got {value}")


@attrs.frozen(kw_only=True)
class CBVBuildSettings:
    """How co-trending basis vectors are built for one CBV area (paper 004 §3.1.1).

    The defaults are those of the original pipeline (reference §15.3). They are written
    into the CBV file's headers (``THR_*``) so a product records how it was made.
    """

    #: Number of principal components (CBVs) computed per area.
    ncomponents: int = attrs.field(default=16, validator=_at_least(1))
    #: Keep stars whose variability is below this multiple of the area's median variability.
    threshold_variability: float = attrs.field(default=1.3, validator=_positive)
    #: Fraction of the (low-variability) stars kept: those most correlated with the others.
    threshold_correlation: float = attrs.field(default=0.5, validator=_fraction)
    #: CBVs whose power ratio std(v)²/std(Δv)² is below this (dB) are not fitted (CBV 1 always is).
    threshold_snrtest: float = 5.0
    #: Entropy-cleaning limit: while a CBV's weight entropy minus the Gaussian's is below
    #: this, its most dominant star is removed and the CBVs recomputed.
    threshold_entropy: float = -0.5
    #: At most this many stars are removed by entropy cleaning.
    max_entropy_removals: int = attrs.field(default=150, validator=_at_least(0))
    #: An area needs at least this many low-variability stars, or it gets no CBVs.
    min_stars: int = attrs.field(default=25, validator=_at_least(2))
    #: Fit every star of the area with all CBVs and store the coefficients (used by the
    #: optional prior of the corrector).
    store_coefficients: bool = True

    def header_cards(self) -> dict[str, tuple[Any, str]]:
        """The settings as FITS cards, recorded in CBV files and compared on reuse."""
        return {
            "NCOMP": (self.ncomponents, "Number of CBVs computed (PCA components)"),
            "THR_VAR": (self.threshold_variability, "Variability threshold (x median)"),
            "THR_COR": (self.threshold_correlation, "Fraction of most correlated stars kept"),
            "THR_SNR": (self.threshold_snrtest, "[dB] SNR threshold of fitted CBVs"),
            "THR_ENT": (self.threshold_entropy, "Entropy-cleaning threshold"),
            "MAX_ENT": (self.max_entropy_removals, "Max stars removed by entropy cleaning"),
            "MIN_STAR": (self.min_stars, "Min low-variability stars for CBVs"),
        }


@attrs.frozen(kw_only=True)
class CBVSettings:
    """Settings of the ``cbv`` corrector (``[correctors.cbv]``; the build's under ``.build``)."""

    #: TASOC data-release version in CBV file names (``-v{version:02d}-``).
    version: int = attrs.field(default=1, validator=_at_least(1))
    #: Choose the number of CBVs by the Bayesian information criterion (else fit all).
    use_bic: bool = True
    #: Residuals beyond this many robust standard deviations are clipped from the fit.
    clip_sigma: float = attrs.field(default=4.0, validator=_positive)
    #: Maximum fit–clip iterations; reaching it gives status WARNING.
    max_iterations: int = attrs.field(default=50, validator=_at_least(1))
    #: Use a prior on the coefficients from neighbouring stars (weighted KDE over CCD
    #: position and Tmag; paper 004 §6). Needs CBV files built with coefficients.
    use_prior: bool = False
    #: Number of nearest stars (in row, column, Tmag) whose coefficients form the prior.
    prior_neighbours: int = attrs.field(default=1000, validator=_at_least(5))
    #: Co-trend with the mission's (SPOC) CBV files in this directory instead of tasoc's.
    spoc_cbv_dir: Path | None = None
    #: Build an area's CBVs in memory when no CBV file exists for it (run ``tasoc cbv
    #: build`` beforehand to build each area once and keep the files).
    build_missing: bool = True
    #: Photometry method whose light curves build CBVs on demand.
    build_method: str = "aperture"
    #: How CBVs are built (``[correctors.cbv.build]``).
    build: CBVBuildSettings = attrs.field(factory=CBVBuildSettings)
