"""PRF-based contamination against exact sums of a Gaussian PRF, and against paper 003's Eq. 2."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

from tasoc_aperture.contamination import contamination, prf_contamination
from tasoc_core.data import Stars
from tasoc_core.prf import PRFModel

SIGMA = 1.0
PRF = PRFModel.gaussian(SIGMA)


def _stars(*entries: tuple[int, float, float, float]) -> Stars:
    columns = zip(*entries) if entries else ((), (), (), ())
    starid, tmag, row, col = (np.array(v, dtype=float) for v in columns)
    zero = np.zeros(len(starid))
    return Stars(starid=starid, tmag=tmag, ra=zero, dec=zero, row=row, col=col)


def _box(r0: int, r1: int, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[r0:r1, c0:c1]
    return rows.ravel(), cols.ravel()


def _light(star_row: float, star_col: float, rows: np.ndarray, cols: np.ndarray) -> float:
    """Exact fraction of a unit star's light on the pixels: the pixel-integrated Gaussian."""

    def frac(centres: np.ndarray, pos: float) -> np.ndarray:
        s = np.sqrt(2.0) * SIGMA
        return 0.5 * (erf((centres + 0.5 - pos) / s) - erf((centres - 0.5 - pos) / s))

    return float(np.sum(frac(rows, star_row) * frac(cols, star_col)))


def test_equal_stars_in_one_symmetric_aperture_share_it_evenly():
    stars = _stars((1, 10.0, 100.0, 100.0), (2, 10.0, 100.0, 103.0))
    rows, cols = _box(97, 104, 97, 107)  # symmetric about col 101.5
    assert prf_contamination(PRF, stars, 1, rows, cols) == pytest.approx(0.5, abs=1e-6)


def test_a_neighbour_outside_the_aperture_still_contaminates_it():
    # Eq. 2 only counts stars whose position is in the aperture: it says 0 here.
    stars = _stars((1, 10.0, 100.0, 100.0), (2, 8.0, 100.0, 103.0))
    rows, cols = _box(99, 102, 99, 102)
    own = _light(100.0, 100.0, rows, cols)
    other = 10 ** (0.4 * 2.0) * _light(100.0, 103.0, rows, cols)
    expected = other / (own + other)
    assert expected > 0.05
    assert prf_contamination(PRF, stars, 1, rows, cols) == pytest.approx(expected, rel=1e-6)
    assert contamination(10.0, np.array([])) == 0.0


def test_far_stars_do_not_count_and_a_lone_star_is_clean():
    rows, cols = _box(98, 103, 98, 103)
    lone = _stars((1, 12.0, 100.0, 100.0), (2, 6.0, 100.0, 130.0))
    assert prf_contamination(PRF, lone, 1, rows, cols) == 0.0
    # The target's light off the aperture: NaN tells the caller to fall back to Eq. 2.
    away = _stars((1, 12.0, 100.0, 140.0))
    assert np.isnan(prf_contamination(PRF, away, 1, rows, cols))
    assert prf_contamination(PRF, _stars(), 1, rows, cols) == 0.0
