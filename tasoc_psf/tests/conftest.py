"""Scenes with known truth, built once per session (each takes well under a second)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tasoc_core.data import ArraySource
from tasoc_psf.testing import PRFScene, SceneStar, prf_scene

#: Periods (days) of the two stars' sinusoids in the pair scene.
PAIR_PERIODS = (1.3, 0.7)


def copy_source(source: ArraySource, **changes: Any) -> ArraySource:
    """An ArraySource holding the same scene as ``source``, with ``images`` or ``stars``
    replaced if given (instrument, jitter and PRF kept)."""
    full = source.read(source.max_stamp)
    stars = changes.get("stars", source.stars(source.max_stamp, buffer=1e3))
    return ArraySource(
        changes.get("images", full.images),
        source.timeline,
        source.wcs,
        stars,
        origin=(source.max_stamp.row_min, source.max_stamp.col_min),
        images_err=full.images_err,
        backgrounds=full.backgrounds,
        instrument=source.instrument,
        jitter=source.jitter(0.0, 0.0),
        prf=source.prf,
    )


def pull(flux: np.ndarray, err: np.ndarray, truth: np.ndarray) -> np.ndarray:
    good = np.isfinite(flux)
    return (flux[good] - truth[good]) / err[good]


@pytest.fixture(scope="session")
def isolated() -> PRFScene:
    """A Tmag 10 star with a 1 % sinusoid, faint neighbours, 0.03-px jitter, no focus change."""
    stars = [
        SceneStar(0.0, 0.0, 10.0, amplitude=0.01, period=1.3),
        SceneStar(4.5, -3.2, 13.5),
        SceneStar(-5.1, 6.3, 14.2),
    ]
    return prf_scene(stars, ncadences=400, jitter_rms=0.03, seed=11)


@pytest.fixture(scope="session")
def pair() -> PRFScene:
    """Two stars 1.5 px apart (Tmag 10 and 10.3) with different sinusoids, 0.02-px jitter."""
    stars = [
        SceneStar(0.0, 0.0, 10.0, amplitude=0.01, period=PAIR_PERIODS[0]),
        SceneStar(1.5 / np.sqrt(2), 1.5 / np.sqrt(2), 10.3, amplitude=0.02, period=PAIR_PERIODS[1]),
    ]
    return prf_scene(stars, ncadences=500, jitter_rms=0.02, seed=12)


@pytest.fixture(scope="session")
def focus_scene() -> PRFScene:
    """A bright star (Tmag 9) and neighbours, 0.05-px jitter, ±1.2 % PRF width change."""
    stars = [
        SceneStar(0.0, 0.0, 9.0),
        SceneStar(2.0, -1.5, 10.5, amplitude=0.02, period=0.7),
        SceneStar(-3.0, 4.0, 11.0),
    ]
    return prf_scene(stars, ncadences=400, jitter_rms=0.05, focus_amplitude=0.012, seed=13)
