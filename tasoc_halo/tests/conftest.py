"""Shared synthetic data for the tasoc-halo tests (built once per session: they take ~0.5 s)."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_core.flags import TESS_DEFAULT_BITMASK
from tasoc_halo.testing import saturated_target


def sinusoid_amplitude(time: np.ndarray, flux: np.ndarray, period: float) -> float:
    """Semi-amplitude of a sinusoid of known period fitted to flux / median − 1."""
    good = np.isfinite(flux)
    rel = flux[good] / np.median(flux[good]) - 1.0
    t = time[good]
    design = np.column_stack(
        [np.sin(2 * np.pi * t / period), np.cos(2 * np.pi * t / period), np.ones_like(t)]
    )
    coef = np.linalg.lstsq(design, rel, rcond=None)[0]
    return float(np.hypot(coef[0], coef[1]))


def good_cadences(data) -> np.ndarray:
    return (data.quality & TESS_DEFAULT_BITMASK) == 0


@pytest.fixture(scope="session")
def bright_star():
    """Tmag 3 star, 1 % oscillation, 0.05-px jitter, bleed columns running off a 25-row stamp."""
    return saturated_target(tmag=3.0, shape=(25, 45), amplitude=0.01, period=1.3, seed=11)


@pytest.fixture(scope="session")
def bright_star_result(bright_star):
    from tasoc_halo import HaloPhotometry

    return HaloPhotometry().photometry(bright_star.data)


@pytest.fixture(scope="session")
def crowded_star():
    """Tmag 3 star with three visible neighbours inside the halo and one too faint to see."""
    neighbours = [(8.0, -10.0, 8.0), (-9.0, 12.0, 9.5), (4.0, 6.0, 9.0), (-12.0, -14.0, 14.0)]
    return saturated_target(
        tmag=3.0, shape=(41, 41), amplitude=0.01, period=1.3, neighbours=neighbours, seed=12
    )
