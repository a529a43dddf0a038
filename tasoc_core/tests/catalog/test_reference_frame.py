"""Choosing the reference frame among many FFIs without reading every header."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tasoc_tests_sector_fixture as sf  # registered by conftest.py

import tasoc_core.catalog.footprint as footprint_module
from tasoc_core.catalog import select_reference_frame
from tasoc_core.data import Stamp
from tasoc_core.exceptions import CatalogError
from tasoc_core.io import find_ffis
from tasoc_core.sectors import reference_time


def _write(root: Path, n: int, bad: set[int], *, wcs: bool = True) -> list[float]:
    root.mkdir(parents=True, exist_ok=True)
    w = sf.ccd_wcs(1)
    w.sip = None  # plain TAN: quicker to write, enough here
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    starts = [sf.T0 + i * 1800 / 86400 for i in range(n)]
    for i, t in enumerate(starts):
        path = root / sf._ffi_name(t, 1)
        sf.write_ffi(
            path, w, Stamp(500, 504, 600, 604), tstart=t, quality=32 if i in bad else 0, index=i
        )
        if not wcs:
            from astropy.io import fits

            with fits.open(path, mode="update") as hdul:
                del hdul[1].header["CTYPE1"]
    return starts


def test_many_ffis_pick_the_closest_good_frame_reading_few_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 70  # above the limit (64) where all headers are read
    bad = {16, 17, 18}
    starts = _write(tmp_path, n, bad=bad)
    t_ref = reference_time(starts[0], starts[-1] + 1800 / 86400)
    mids = np.array(starts) + 900 / 86400
    good = [i for i in range(n) if i not in bad]
    expected = min(good, key=lambda i: abs(mids[i] - t_ref))
    assert np.argmin(np.abs(mids - t_ref)) in bad  # the closest frames are bad ones

    calls = []
    real = footprint_module.read_ffi_header
    monkeypatch.setattr(footprint_module, "read_ffi_header", lambda p: calls.append(p) or real(p))
    header, got_ref = select_reference_frame(find_ffis(tmp_path))
    assert got_ref == pytest.approx(t_ref, abs=1e-9)
    assert header.tstart == pytest.approx(starts[expected], abs=1e-9)
    assert len(calls) <= 10  # first, last and one batch of candidates


def test_no_usable_wcs_is_an_error_naming_the_files(tmp_path: Path) -> None:
    _write(tmp_path, 3, bad=set(), wcs=False)
    with pytest.raises(
        CatalogError, match=r"no FFI with a usable WCS among 3 files \(first .*s_ffic.fits\)"
    ):
        select_reference_frame(find_ffis(tmp_path))
