"""Reading TPF headers, checked on a real SPOC TPF."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tasoc_tests_sector_fixture as sf  # registered by conftest.py
from astropy.io import fits

from tasoc_core.catalog import btjd_to_epoch, propagate_proper_motion, read_tpf_header
from tasoc_core.data import Stamp
from tasoc_core.exceptions import InputFileError


def test_real_tpf_identity_and_geometry() -> None:
    tpf = read_tpf_header(sf.REAL_TPF)
    assert (tpf.starid, tpf.sector, tpf.camera, tpf.ccd, tpf.cadence) == (25155310, 1, 4, 1, 120)
    # 1CRV5P = 1619, 2CRV5P = 389 (1-based) -> 0-based CCD column 1618, row 388; 11 x 11.
    assert tpf.stamp == Stamp(388, 399, 1618, 1629)
    assert tpf.aperture.shape == (11, 11)
    assert tpf.collected.all()
    assert tpf.tmag == pytest.approx(10.555, abs=1e-3)
    assert tpf.tstart == pytest.approx(1325.2937, abs=1e-3)


def test_real_tpf_wcs_is_centred_on_the_proper_motion_propagated_star() -> None:
    """SPOC puts the TPF WCS reference point on the target at the observing epoch.

    So RA_OBJ/DEC_OBJ (J2000) moved by PMRA/PMDEC to the sector must land on the
    reference pixel: this checks our epoch convention, the propagation and the
    image-to-CCD pixel shift against real data (the star moved 1.5 arcsec = 0.07 px).
    """
    tpf = read_tpf_header(sf.REAL_TPF)
    with fits.open(sf.REAL_TPF) as hdul:
        h = hdul["APERTURE"].header
        crpix = (h["CRPIX1"], h["CRPIX2"])
    epoch = btjd_to_epoch(0.5 * (tpf.tstart + tpf.tstop))
    ra, dec = propagate_proper_motion(
        [tpf.ra], [tpf.dec], [tpf.pm_ra], [tpf.pm_dec], epoch - 2000.0
    )
    row, col = tpf.world_to_pixel(ra, dec)
    # FITS CRPIX is 1-based in image pixels; the image starts at CCD (388, 1618).
    assert col[0] == pytest.approx(crpix[0] - 1 + 1618, abs=0.01)
    assert row[0] == pytest.approx(crpix[1] - 1 + 388, abs=0.01)
    # Without the proper motion the position is off by ~0.07 px: the test can tell.
    row0, col0 = tpf.world_to_pixel([tpf.ra], [tpf.dec])
    assert np.hypot(row0[0] - row[0], col0[0] - col[0]) > 0.05


def test_missing_keywords_and_extensions_are_named(tmp_path: Path) -> None:
    path = tmp_path / "tess2018206045859-s0001-0000000025155310-0120-s_tp.fits"
    with fits.open(sf.REAL_TPF) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    del hdul[0].header["TICID"]
    hdul.writeto(path)
    with pytest.raises(InputFileError, match=rf"{path}: primary header keyword TICID is missing"):
        read_tpf_header(path)
    with fits.open(sf.REAL_TPF) as hdul:
        fits.HDUList([hdul[0].copy(), hdul[1].copy()]).writeto(path, overwrite=True)
    with pytest.raises(InputFileError, match=rf"{path}: no APERTURE extension"):
        read_tpf_header(path)
    shutil.copy(sf.REAL_TPF, tmp_path / "copy.fits.gz")
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(b"SIMPLE  =                    T" + b" " * 50)
    with pytest.raises(InputFileError, match=str(truncated)):
        read_tpf_header(truncated)


def test_wcs_falls_back_to_pixel_table_keywords(tmp_path: Path) -> None:
    path = tmp_path / "no_aperture_wcs.fits"
    with fits.open(sf.REAL_TPF) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    for key in ("CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2"):
        del hdul["APERTURE"].header[key]
    hdul.writeto(path)
    ref = read_tpf_header(sf.REAL_TPF)
    got = read_tpf_header(path)
    assert got.wcs is not None
    r1, c1 = ref.world_to_pixel([ref.ra], [ref.dec])
    r2, c2 = got.world_to_pixel([ref.ra], [ref.dec])
    assert abs(r1[0] - r2[0]) < 1e-6
    assert abs(c1[0] - c2[0]) < 1e-6
