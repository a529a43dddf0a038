"""Real TESS pixels: π Men's saturated FFI core, and a real sector's orbit gap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tasoc_core.data import Stamp, Stars, Target, TargetData
from tasoc_core.data.tpf_source import TPFSource
from tasoc_core.exceptions import TargetError
from tasoc_core.flags import TESS_DEFAULT_BITMASK
from tasoc_halo import HaloPhotometry, split_segments
from tasoc_halo.testing import mag_to_flux

DATA = Path(__file__).parent / "data"
PI_MEN = DATA / "tess-s0001-4-2_84.291190_-80.469170_6x6_astrocut.fits"
SECTOR2 = (
    Path(__file__).parents[2]
    / "tasoc_core/tests/data/tess-s0002-4-4_98.89792_-62.63889_10x15_astrocut.fits.gz"
)
PI_MEN_TIC, PI_MEN_TMAG, PI_MEN_RA, PI_MEN_DEC = 261136679, 5.105, 84.29119, -80.46917


@pytest.fixture(scope="module")
def pi_men() -> TargetData:
    source = TPFSource(PI_MEN)

    def lookup(stamp, buffer):
        row, col = source.world_to_pixel(np.array([PI_MEN_RA]), np.array([PI_MEN_DEC]))
        return Stars([PI_MEN_TIC], [PI_MEN_TMAG], [PI_MEN_RA], [PI_MEN_DEC], row, col)

    source = TPFSource(PI_MEN, stars_lookup=lookup)
    target = Target(PI_MEN_TIC, 1, 4, 2, 1800, "tpf", PI_MEN_TMAG, PI_MEN_RA, PI_MEN_DEC)
    return TargetData(target, source)


def test_pi_men_saturated_pixels_are_the_ones_at_full_well(pi_men):
    """The eight pixels of the two bleed columns sit at 0.99–1.03e5 e-/s; they are discarded and
    every other pixel that has flux keeps a say."""
    result = HaloPhotometry().photometry(pi_men)
    level = np.nanmedian(pi_men.images, axis=0)
    at_well = level > 9e4
    assert at_well.sum() == 8
    (hdu,) = result.extra_hdus
    assert hdu.data["SAT_PIXELS"][0] == 8
    weights = hdu.data["WEIGHTMAP"][0]
    assert np.all(weights[at_well] == 0)
    assert result.headers["HALO_WEL"][0] == pytest.approx(np.median(level[at_well]), rel=0.02)
    assert "saturated" in result.tags
    # 50 half-hour cadences: one segment; flux on the Tmag scale with finite errors.
    assert len(hdu.data) == 1
    good = (pi_men.quality & TESS_DEFAULT_BITMASK) == 0
    assert np.all(np.isfinite(result.flux[good]))
    assert np.nanmedian(result.flux[good]) == pytest.approx(float(mag_to_flux(PI_MEN_TMAG)))
    rel_err = np.median(result.flux_err[good] / result.flux[good])
    assert 1e-6 < rel_err < 1e-3


def test_real_sector_splits_at_its_orbit_gap():
    """Sector 2's data-downlink gap (BTJD 1367.14–1368.61; the original pipeline split this
    sector at 1368.0 by hand) is found from the timestamps alone."""
    source = TPFSource(SECTOR2)
    time = source.timeline.time
    good = (source.timeline.quality & TESS_DEFAULT_BITMASK) == 0
    segment = split_segments(time, good)
    assert segment.max() == 1
    assert time[segment == 0].max() < 1367.2
    assert time[segment == 1].min() > 1368.5
    assert np.all(np.diff(segment) >= 0)


def test_a_stamp_holding_only_pi_men_s_bleed_columns_is_refused(pi_men):
    """Only the eight full-well pixels: no unsaturated pixel left, a clear per-target error."""
    core = TargetData(pi_men.target, pi_men.source, Stamp(258, 262, 1629, 1631))
    assert np.all(np.nanmedian(core.images, axis=0) > 9e4)
    with pytest.raises(TargetError, match="no unsaturated pixels") as info:
        HaloPhotometry(HaloPhotometry.Settings(min_pixels=4)).photometry(core)
    assert "TIC 261136679" in str(info.value)
    assert "8 of 8 usable pixels are saturated" in str(info.value)
