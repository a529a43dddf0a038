"""Quality-flag transfer from TPFs to FFIs, on a real SPOC TPF."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from tasoc_core.flags import FFI_RELEVANT_BITMASK, TESS_QUALITY
from tasoc_core.prepare.quality import bin_quality, transfer_quality

DATA = Path(__file__).resolve().parents[1] / "data"
REAL_TPF = DATA / "tess25155310-s01-first-cadences.fits.gz"
TPF_NAME = "tess2018206045859-s0001-0000000025155310-0120-s_tp.fits.gz"


def _ffi_grid(n: int = 4, t0: float = 1325.29) -> tuple[np.ndarray, np.ndarray]:
    step = 1800 / 86400
    start = t0 + step * np.arange(n)
    return start, start + step


def test_bin_quality_or_within_exposures_and_mask() -> None:
    start, stop = _ffi_grid(3, 0.0)
    step = stop[0] - start[0]
    t = np.array([0.1, 0.5, 0.9, 1.5, 2.2, 5.0, np.nan]) * step
    q = np.array([1, 32, 128, 4096, 2048 | 8, 2, 4])
    got = bin_quality(start, stop, t, q)
    # ManualExclude (128) is not transferred; times outside every FFI or NaN are ignored.
    np.testing.assert_array_equal(got, [1 | 32, 4096, 2048 | 8])
    assert FFI_RELEVANT_BITMASK & TESS_QUALITY["ManualExclude"] == 0
    # Times exactly on an FFI boundary belong to neither (strict inequalities).
    np.testing.assert_array_equal(
        bin_quality(start, stop, np.array([stop[0]]), np.array([1])), [0, 0, 0]
    )


def test_real_tpf_earth_point_reaches_the_covering_ffi(tmp_path: Path) -> None:
    tpf = tmp_path / TPF_NAME
    shutil.copy(REAL_TPF, tpf)
    start, stop = _ffi_grid()
    result = transfer_quality(
        [tpf], camera=4, ccd=1, ffi_start=start, ffi_stop=stop, ffi_barycorr=np.zeros(4)
    )
    # The real TPF's first cadence (TIME 1325.2953, TIMECORR 0.0009) carries EarthPoint (8).
    np.testing.assert_array_equal(result.flags, [8, 0, 0, 0])
    assert result.used == (TPF_NAME,)
    assert result.skipped == ()


def test_tpfs_of_other_ccds_and_broken_tpfs_are_reported_and_skipped(
    tmp_path: Path, caplog
) -> None:
    other = tmp_path / "tess2018206045859-s0001-0000000000000001-0120-s_tp.fits"
    with fits.open(REAL_TPF) as hdul:
        hdul[0].header["CAMERA"] = 2
        hdul.writeto(other)
    broken = tmp_path / "tess2018206045859-s0001-0000000000000002-0120-s_tp.fits"
    broken.write_bytes(other.read_bytes()[:5000])
    good = tmp_path / TPF_NAME
    shutil.copy(REAL_TPF, good)
    start, stop = _ffi_grid()
    with caplog.at_level(logging.INFO, logger="tasoc_core.prepare.quality"):
        result = transfer_quality(
            [other, broken, good, good], camera=4, ccd=1, ffi_start=start, ffi_stop=stop,
            ffi_barycorr=np.zeros(4), limit=1,
        )  # fmt: skip
    assert result.used == (TPF_NAME,)  # the limit stops after one usable TPF
    reasons = {p.file: p.reason for p in result.skipped}
    assert "camera 2, CCD 1, not camera 4, CCD 1" in reasons[other.name]
    assert "cannot read TPF" in reasons[broken.name]
    assert broken.name in caplog.text
    assert other.name in caplog.text
    np.testing.assert_array_equal(result.flags, [8, 0, 0, 0])


@pytest.mark.parametrize("barycorr", [0.0, 0.01])
def test_times_are_compared_in_spacecraft_time(tmp_path: Path, barycorr: float) -> None:
    tpf = tmp_path / TPF_NAME
    shutil.copy(REAL_TPF, tpf)
    start, stop = _ffi_grid(2, 1325.29 + barycorr)
    result = transfer_quality(
        [tpf], camera=4, ccd=1, ffi_start=start, ffi_stop=stop, ffi_barycorr=np.full(2, barycorr)
    )
    np.testing.assert_array_equal(result.flags, [8, 0])
