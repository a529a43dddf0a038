"""Real SPOC TPFs and TESScut cutouts through the TPF pixel source."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from tasoc_core.data import Target, TargetData
from tasoc_core.data.tpf_source import TPFSource
from tasoc_core.exceptions import InputFileError

DATA = Path(__file__).parent / "data"
SPOC = DATA / "tess25155310-s01-first-cadences.fits.gz"
CUTOUT = DATA / "tess-s0002-4-4_98.89792_-62.63889_10x15_astrocut.fits.gz"


def test_spoc_tpf_geometry_time_and_wcs():
    source = TPFSource(SPOC)
    # 1CRV5P/2CRV5P = 1619/389 (1-based) → 0-based CCD origin (388, 1618).
    assert source.max_stamp.as_tuple() == (388, 399, 1618, 1629)
    assert source.instrument.cadence == 120
    assert source.instrument.num_frm == 60
    assert len(source.timeline) == 5
    np.testing.assert_allclose(source.timeline.time[0], 1325.29525977, atol=1e-8)
    assert source.timeline.quality[0] == 8  # Earth point on the first cadence
    # The target (RA_OBJ/DEC_OBJ) falls near the middle of its 11x11 stamp.
    row, col = source.world_to_pixel(63.37389, -69.226789)
    assert 388 + 3 < row[0] < 388 + 8
    assert 1618 + 3 < col[0] < 1618 + 8
    flags = source.aperture_flags(source.max_stamp)
    assert np.all(flags & 1)  # every pixel collected
    assert not np.any(flags & (2 | 8))  # SPOC's own aperture bits are cleared


def test_spoc_tpf_target_data_has_spoc_background_and_flux():
    source = TPFSource(SPOC)
    target = Target(25155310, 1, 4, 1, 120, "tpf", 10.555, 63.37389, -69.226789)
    data = TargetData(target, source)
    assert data.stamp == source.max_stamp
    assert data.images.shape == (5, 11, 11)
    assert data.backgrounds.max() > 0  # SPOC's FLUX_BKG is kept
    # A Tmag 10.6 star gives ~10^(-0.4(10.555-20.451)) ≈ 9000 e-/s; most of it near the centre.
    total = np.nansum(data.sumimage)
    assert 0.6 * 9000 < total < 1.4 * 9000


def test_tesscut_cutout_gets_a_background_estimate():
    source = TPFSource(CUTOUT)
    assert source.is_cutout
    assert source.instrument.cadence == 1800
    assert len(source.timeline) == 1245
    np.testing.assert_array_equal(source.timeline.cadenceno[:3], [0, 1, 2])
    cubes = source.read(source.max_stamp)
    assert cubes.backgrounds.shape == (1245, 15, 10)
    assert np.nanmedian(cubes.backgrounds) > 10  # sector 2 sky, tens of e-/s
    # After subtraction the faintest quarter of pixels sits at zero on average.
    image = np.nanmedian(cubes.images, axis=0)
    faint = image <= np.nanquantile(image, 0.25)
    assert abs(np.nanmedian(image[faint])) < 2.0
    row, col = source.world_to_pixel(98.89792, -62.63889)
    assert source.max_stamp.contains(row[0], col[0])


def test_bad_files_are_named(tmp_path):
    with pytest.raises(InputFileError, match=r"missing\.fits: file not found"):
        TPFSource(tmp_path / "missing.fits")
    image = tmp_path / "image.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((4, 4)))]).writeto(image)
    with pytest.raises(InputFileError, match=r"image\.fits: extension 1 is not a pixel table"):
        TPFSource(image)
    junk = tmp_path / "junk.fits"
    junk.write_bytes(b"not a fits file at all" * 10)
    with pytest.raises(InputFileError, match=r"junk\.fits"):
        TPFSource(junk)


def test_truncated_tpf_is_named_with_astropys_reason(tmp_path):
    """astropy warns about a truncated file before failing; the warning becomes part of the
    message, also when warnings are errors (as in this test suite)."""
    payload = gzip.decompress(SPOC.read_bytes())
    cut = tmp_path / "cut.fits"
    cut.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(InputFileError, match=r"cut\.fits: .*File may have been truncated"):
        TPFSource(cut)


@pytest.fixture(scope="module")
def real_kernels(tmp_path_factory):
    """SPICE kernels of the real TESS orbit (JPL Horizons, 2018) over sectors 1 and 2."""
    from tasoc_core.timing import SpiceKernels, horizons_ephemeris_to_spk, write_leapseconds_kernel

    ephem = Path(__file__).parents[1] / "src/tasoc_core/data_files/20180720_tess_ephem.csv.bz2"
    d = tmp_path_factory.mktemp("spice")
    write_leapseconds_kernel(d / "leapseconds.tls")
    horizons_ephemeris_to_spk(ephem, d / "tess.bsp", jd_range=(2458325.0, 2458383.0))
    with SpiceKernels(d) as kernels:
        yield kernels


def test_spoc_timecorr_is_reproduced_by_our_barycentring(real_kernels):
    """SPOC's own per-target TIMECORR of WASP-126 (sector 1) against barycentric_delay at
    RA_OBJ/DEC_OBJ with the Horizons orbit: within 5 ms (measured 3.1 ms, constant over the
    cadences — the 2018-07-20 predicted orbit against SPOC's definitive one). SPOC TPFs keep
    SPOC's times when kernels are set."""
    from tasoc_core.timing import barycentric_delay

    source = TPFSource(SPOC)
    source.kernels = real_kernels
    target = Target(25155310, 1, 4, 1, 120, "tpf", 10.555, 63.37389, -69.226789)
    time, timecorr = source.target_times(target)
    np.testing.assert_array_equal(timecorr, source.timeline.timecorr)
    # Only SPOC's offset fix for this release (2.0 s late, staggered readout not for TPFs).
    np.testing.assert_allclose((time - source.timeline.time) * 86400, -1.979, atol=1e-3)
    tess = source.timeline.time - source.timeline.timecorr + 2457000.0
    delay = barycentric_delay(tess, target.ra, target.dec, real_kernels)
    assert np.max(np.abs(delay - source.timeline.timecorr)) * 86400 < 5e-3


def test_tesscut_times_are_barycentred_for_the_target(real_kernels):
    """A cutout carries its FFIs' frame-centre BARYCORR; with kernels the target gets its own
    (the FFI offset fix stays), without kernels the frame's."""
    from tasoc_core.timing import barycentric_delay

    source = TPFSource(CUTOUT)
    target = Target(1, 2, 4, 4, 1800, "tpf", 9.0, 98.89792, -62.63889)
    plain_time, plain_corr = source.target_times(target)
    np.testing.assert_array_equal(plain_corr, source.timeline.timecorr)
    source.kernels = real_kernels
    time, timecorr = source.target_times(target)
    ok = np.isfinite(plain_time)
    tess = plain_time[ok] - plain_corr[ok] + 2457000.0
    expected = barycentric_delay(tess, target.ra, target.dec, real_kernels)
    np.testing.assert_allclose(timecorr[ok], expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(time[ok] - timecorr[ok], tess - 2457000.0, rtol=0, atol=1e-9)
    # The frame-centre correction is wrong for this target by seconds (measured: median
    # 12 s, at most 19 s over the sector).
    shift = np.abs(timecorr[ok] - plain_corr[ok]) * 86400
    assert 2 < np.median(shift) < 60
