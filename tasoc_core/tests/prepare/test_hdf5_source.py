"""HDF5Source: stamps, times, WCS and jitter of a prepare file, for TargetData."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from tasoc_core.data import HDF5Source, PixelSource, Stamp, Stars, Target, TargetData
from tasoc_core.exceptions import InputFileError, TargetError


def test_reads_the_stamp_of_every_cube(prepared) -> None:
    stamp = Stamp(40, 55, 100, 115)  # CCD coordinates; the cube starts at (0, 44)
    with HDF5Source(prepared.path) as src, h5py.File(prepared.path, "r") as f:
        assert isinstance(src, PixelSource)
        assert src.max_stamp == Stamp(0, 256, 44, 300)
        cubes = src.read(stamp)
        for name in ("images", "images_err", "backgrounds", "pixel_flags"):
            np.testing.assert_array_equal(getattr(cubes, name), f[name][:, 40:55, 56:71])
        assert cubes.images.shape == (24, 15, 15)
        np.testing.assert_array_equal(src.sumimage(stamp), f["sumimage"][40:55, 56:71])
        # What was injected: the flux a stamp holds is the sky-subtracted truth.
        truth = prepared.sector.images[:, 40:55, 56:71] - prepared.sector.sky[:, 40:55, 56:71]
        assert np.abs(np.nanmedian(cubes.images - truth)) < 1.5
        with pytest.raises(TargetError, match="extends beyond"):
            src.read(Stamp(250, 265, 100, 115))


def test_timeline_instrument_wcs_and_jitter(prepared) -> None:
    s = prepared.sector
    with HDF5Source(prepared.path) as src:
        tl = src.timeline
        np.testing.assert_allclose(tl.time, s.times, atol=1e-9)
        np.testing.assert_array_equal(tl.cadenceno, 1000 + np.arange(24))
        assert np.all(tl.timecorr == pytest.approx(0.0005))
        inst = src.instrument
        assert (inst.cadence, inst.num_frm, inst.nreadout, inst.crblksz) == (1800, 900, 720, 10)
        assert inst.gain == pytest.approx(5.2)
        assert inst.readnoise == pytest.approx(10.0)
        # World → pixel round trip through the reference-frame WCS in CCD coordinates.
        ra, dec = src.wcs.all_pix2world([120.0], [33.0], 0)
        row, col = src.world_to_pixel(ra, dec)
        assert row[0] == pytest.approx(33.0, abs=1e-6)
        assert col[0] == pytest.approx(120.0, abs=1e-6)
        assert src.footprint().shape == (4, 2)
        ref = src.reference_frame
        np.testing.assert_allclose(src.jitter(33.0, 120.0), s.jitter - s.jitter[ref], atol=2e-4)
        assert np.allclose(src.jitter(33.0, 120.0)[ref], 0.0, atol=1e-6)


def test_target_data_on_an_hdf5_source(prepared) -> None:
    s = prepared.sector
    k = int(
        np.argmax(
            s.star_flux
            * ((s.star_rows > 20) & (s.star_rows < 230) & (s.star_cols > 20) & (s.star_cols < 230))
        )
    )
    row, col = s.star_rows[k] + s.origin[0], s.star_cols[k] + s.origin[1]
    with HDF5Source(prepared.path) as src:
        ra, dec = src.wcs.all_pix2world([col], [row], 0)
        target = Target(1, 1, 1, 1, 1800, "ffi", 10.0, ra[0], dec[0])
        data = TargetData(target, src)
        assert data.position == pytest.approx((row, col), abs=1e-4)
        assert data.images.shape == (24, 15, 15)
        assert data.stamp.contains(row, col)
        assert len(data.stars) == 0  # no catalog lookup given
        flux = np.nansum(data.images[~(s.flare[:, int(row), int(col) - 44] > 0)], axis=(1, 2))
        assert np.median(flux) == pytest.approx(s.star_flux[k], rel=0.05)


def test_stars_come_from_the_injected_lookup(prepared) -> None:
    calls = []

    def lookup(stamp: Stamp, buffer: float) -> Stars:
        calls.append((stamp, buffer))
        return Stars([7], [10.0], [1.0], [2.0], [stamp.row_min + 1.0], [stamp.col_min + 1.0])

    with HDF5Source(prepared.path, stars_lookup=lookup) as src:
        stars = src.stars(Stamp(10, 20, 60, 70), buffer=3.0)
    assert calls == [(Stamp(10, 20, 60, 70), 3.0)]
    assert list(stars.starid) == [7]
    # The photometry stage attaches its catalog lookup after opening the source.
    src = HDF5Source(prepared.path)
    assert len(src.stars(Stamp(10, 20, 60, 70))) == 0
    src.stars_lookup = lookup
    assert list(src.stars(Stamp(10, 20, 60, 70)).starid) == [7]
    src.close()


def test_pickles_without_its_file_handle(prepared) -> None:
    src = HDF5Source(prepared.path)
    src.read(Stamp(0, 5, 44, 49))
    clone = pickle.loads(pickle.dumps(src))
    np.testing.assert_array_equal(
        clone.read(Stamp(0, 5, 44, 49)).images, src.read(Stamp(0, 5, 44, 49)).images
    )
    src.close()
    clone.close()


def test_refuses_files_it_cannot_trust(prepared, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="cannot open"):
        HDF5Source(tmp_path / "missing.hdf5")
    copy = tmp_path / "copy.hdf5"
    shutil.copy(prepared.path, copy)
    with h5py.File(copy, "r+") as f:
        f.attrs["complete"] = False
    with pytest.raises(InputFileError, match="incomplete"):
        HDF5Source(copy)
    with h5py.File(copy, "r+") as f:
        f.attrs["complete"] = True
        f.attrs["format_version"] = 99
    with pytest.raises(InputFileError, match="format version 99"):
        HDF5Source(copy)
    with h5py.File(copy, "r+") as f:
        f.attrs["format"] = "something else"
    with pytest.raises(InputFileError, match="not a tasoc prepare file"):
        HDF5Source(copy)
