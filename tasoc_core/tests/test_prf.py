"""tasoc_core.prf: the mission's PRF file layouts, interpolation, rendering and its derivatives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from tasoc_core.data import ArraySource, Stars, Target, TargetData, Timeline
from tasoc_core.exceptions import InputFileError
from tasoc_core.prf import (
    GRID_COLS,
    GRID_ROWS,
    OVERSAMPLE,
    PRF_CENTRE,
    PRFModel,
    gaussian_prf_image,
)
from tasoc_core.simulate.prf import analytic_prf_grid
from tasoc_core.testing import synthetic_target

CENTRE = (-500.0, -800.0)


@pytest.fixture(scope="module")
def model() -> PRFModel:
    return PRFModel(analytic_prf_grid(CENTRE), 1, 1)


def write_mission_layout(root: Path, images: np.ndarray, camera: int, ccd: int, start: str,
                         datestring: str, *, header: dict | None = None) -> None:  # fmt: skip
    """PRF files as MAST lays them out: start_sNNNN/camC_ccdD/tess{date}-prf-…fits."""
    out = root / start / f"cam{camera}_ccd{ccd}"
    out.mkdir(parents=True)
    for i, r in enumerate(GRID_ROWS):
        for j, c in enumerate(GRID_COLS):
            hdu = fits.PrimaryHDU(images[i, j].astype(np.float32))
            hdu.header.update({"CDELT1P": 1 / 9, "CDELT2P": 1 / 9, **(header or {})})
            name = (
                f"tess{datestring}-prf-{camera}-{ccd}-row{int(r) + 1:04d}-col{int(c) + 1:04d}.fits"
            )
            hdu.writeto(out / name)


def test_simulator_files_read_back_exactly(model, tmp_path):
    model.write(tmp_path)
    back = PRFModel.read(tmp_path, 1, 1)
    np.testing.assert_allclose(back.images, model.images, rtol=1e-6, atol=1e-9)  # float32 files
    np.testing.assert_array_equal(back.grid_rows, GRID_ROWS)
    np.testing.assert_array_equal(back.grid_cols, GRID_COLS)
    # The files themselves (not their parent) may be given too.
    assert PRFModel.read(tmp_path / "cam1_ccd1", 1, 1).images.shape == (5, 5, 117, 117)


def test_mission_layout_chooses_the_set_of_the_sector(tmp_path):
    early = analytic_prf_grid(CENTRE)
    late = analytic_prf_grid((2500.0, 2500.0))
    write_mission_layout(tmp_path, early, 2, 3, "start_s0001", "2018243163600")
    write_mission_layout(tmp_path, late, 2, 3, "start_s0004", "2019107181901")
    for sector, want in ((1, early), (3, early), (4, late), (30, late), (None, late)):
        got = PRFModel.read(tmp_path, 2, 3, sector=sector)
        np.testing.assert_allclose(got.images, want, rtol=1e-6, atol=1e-9)
        assert (got.camera, got.ccd) == (2, 3)
    with pytest.raises(InputFileError, match=r"no PRF set starts at or before sector 0"):
        PRFModel.read(tmp_path, 2, 3, sector=0)
    with pytest.raises(InputFileError, match=r"no PRF files of camera 1 CCD 1"):
        PRFModel.read(tmp_path, 1, 1, sector=5)


def test_files_in_other_units_are_rescaled(tmp_path):
    images = analytic_prf_grid(CENTRE)
    write_mission_layout(tmp_path, images * 81.0, 1, 1, "start_s0004", "2019107181900")
    got = PRFModel.read(tmp_path, 1, 1)
    phase = got.images[2, 2, PRF_CENTRE % 9 :: 9, PRF_CENTRE % 9 :: 9].sum()
    assert phase == pytest.approx(1.0, abs=3e-3)


def _rewrite(directory: Path, **keys: object) -> None:
    path = directory / "tasoc-sim-prf-1-1-row0001-col0045.fits"
    hdu = fits.PrimaryHDU(fits.getdata(path))
    hdu.header.update(keys)
    hdu.writeto(path, overwrite=True)


def _grid(tmp_path: Path) -> Path:
    PRFModel(analytic_prf_grid(CENTRE), 1, 1).write(tmp_path)
    return tmp_path / "cam1_ccd1"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "tasoc-sim-prf-1-1-row0513-col1069.fits").unlink(),
         r"incomplete: no file for row 513 column 1069"),
        (lambda d: (d / "tasoc-sim-prf-1-1-row0001-col0045.fits").write_bytes(b"not fits"),
         r"row0001-col0045.fits: cannot read PRF"),
        (lambda d: fits.PrimaryHDU(np.zeros((13, 13))).writeto(
            d / "tasoc-sim-prf-1-1-row0001-col0045.fits", overwrite=True),
         r"PRF image is \(13, 13\), not \(117, 117\)"),
        (lambda d: fits.PrimaryHDU(np.full((117, 117), np.nan)).writeto(
            d / "tasoc-sim-prf-1-1-row0001-col0045.fits", overwrite=True),
         r"non-finite values"),
        (lambda d: _rewrite(d, CAMERA=3), r"header CAMERA = 3, expected 1"),
        (lambda d: _rewrite(d, OVERSAMP=5), r"OVERSAMP = 5, expected 9"),
        (lambda d: _rewrite(d, CDELT1P=0.02), r"CDELT1P = 0.02 pixels per sample, expected 1/9"),
        (lambda d: (d / "tess2019107181900-prf-1-1-row0001-col0045.fits").write_bytes(
            (d / "tasoc-sim-prf-1-1-row0001-col0045.fits").read_bytes()),
         r"two PRF files for row 1 column 45"),
    ],
)  # fmt: skip
def test_bad_prf_files_are_named(tmp_path, damage, message):
    directory = _grid(tmp_path)
    damage(directory)
    with pytest.raises(InputFileError, match=message):
        PRFModel.read(tmp_path, 1, 1)


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(InputFileError, match=r"nowhere: PRF directory does not exist"):
        PRFModel.read(tmp_path / "nowhere", 1, 1)


def test_a_star_on_a_sample_phase_is_the_interleaved_samples(model):
    """The format's convention: sample (i, j) ↔ pixel centre − star = ((i − 58)/9, (j − 58)/9)."""
    row, col = float(GRID_ROWS[1]), float(GRID_COLS[2])  # on a grid node: no CCD interpolation
    for pr, pc in ((0, 0), (2, -3), (-4, 4)):
        star_row, star_col = row + pr / OVERSAMPLE, col + pc / OVERSAMPLE
        image = model.for_stars([row], [col]).render(
            [star_row], [star_col], (int(row) - 6, int(col) - 6), (13, 13)
        )[0, 0]
        phase = model.images[1, 2][(PRF_CENTRE - pr) % 9 :: 9, (PRF_CENTRE - pc) % 9 :: 9]
        np.testing.assert_allclose(image, phase, atol=1e-12)
        assert image.sum() == pytest.approx(1.0, abs=3e-3)


def test_rendering_matches_evaluate_and_its_derivatives_are_exact(model):
    rows = np.array([700.3, 703.7, 696.2])
    cols = np.array([900.1, 898.6, 905.5])
    origin, shape = (692, 892), (15, 17)
    prfs = model.for_stars(rows, cols)
    out = prfs.render(rows, cols, origin, shape, order=2)
    assert out.shape == (6, 3, 15, 17)
    pr, pc = np.mgrid[origin[0] : origin[0] + 15, origin[1] : origin[1] + 17]
    ref = model.evaluate(rows, cols, pr.ravel() - rows[:, None], pc.ravel() - cols[:, None])
    np.testing.assert_allclose(out[0], ref.reshape(3, 15, 17), atol=1e-12)
    h = 1e-4
    for k, (dr, dc) in enumerate(((h, 0.0), (0.0, h))):
        plus = prfs.render(rows + dr, cols + dc, origin, shape)[0]
        minus = prfs.render(rows - dr, cols - dc, origin, shape)[0]
        np.testing.assert_allclose(out[1 + k], (plus - minus) / (2 * h), atol=1e-7)
    h = 1e-3
    for k, (dr, dc) in enumerate(((h, 0.0), (0.0, h))):
        plus = prfs.render(rows + dr, cols + dc, origin, shape)[0]
        minus = prfs.render(rows - dr, cols - dc, origin, shape)[0]
        np.testing.assert_allclose(out[3 + k], (plus - 2 * out[0] + minus) / h**2, atol=1e-5)
    plus = prfs.render(rows, cols + h, origin, shape, order=1)[1]
    minus = prfs.render(rows, cols - h, origin, shape, order=1)[1]
    np.testing.assert_allclose(out[5], (plus - minus) / (2 * h), atol=1e-5)
    # A star's pixels sum to its flux (the stamp holds the whole PRF here).
    inside = prfs.subset([0]).render(rows[:1], cols[:1], (690, 890), (21, 21))[0, 0]
    assert inside.sum() == pytest.approx(1.0, abs=3e-3)


def test_prf_is_interpolated_bilinearly_across_the_ccd(model):
    row, col = 0.25 * GRID_ROWS[1] + 0.75 * GRID_ROWS[2], 0.5 * (GRID_COLS[3] + GRID_COLS[4])
    want = 0.25 * 0.5 * (model.images[1, 3] + model.images[1, 4]) + 0.75 * 0.5 * (
        model.images[2, 3] + model.images[2, 4]
    )
    np.testing.assert_allclose(model.image_at(row, col), want, atol=1e-15)
    # Beyond the grid the nearest edge PRF is used.
    np.testing.assert_allclose(model.image_at(-50.0, 3000.0), model.images[0, 4], atol=1e-15)


def test_gaussian_model_is_the_pixel_integrated_gaussian():
    image = gaussian_prf_image(0.8)
    assert image[4::9, 4::9].sum() == pytest.approx(1.0, abs=1e-9)
    prf = PRFModel.gaussian(0.8)
    assert "gaussian" in repr(prf)
    star = prf.for_stars([10.3], [20.8]).render([10.3], [20.8], (3, 13), (15, 15))[0, 0]
    from scipy.special import erf

    def frac(centres, pos):
        s = np.sqrt(2) * 0.8
        return 0.5 * (erf((centres + 0.5 - pos) / s) - erf((centres - 0.5 - pos) / s))

    exact = np.outer(frac(np.arange(3, 18), 10.3), frac(np.arange(13, 28), 20.8))
    np.testing.assert_allclose(star, exact, atol=2e-5)
    with pytest.raises(ValueError, match="sigma must be positive"):
        gaussian_prf_image(0.0)


def test_target_data_carries_the_prf_of_its_source():
    synth = synthetic_target(psf_sigma=0.9, ncadences=10)
    assert synth.data.prf is not None
    assert synth.data.prf_error == ""
    assert "sigma=0.9" in synth.data.prf.origin
    bare = ArraySource(
        np.zeros((3, 51, 51)),
        Timeline(np.arange(3.0), np.zeros(3), np.arange(3), np.zeros(3)),
        synth.data.wcs,
        Stars([], [], [], [], [], []),
        origin=(1000, 1000),
    )
    target = Target(1, 1, 1, 1, 1800, "ffi", 10.0, synth.data.target.ra, synth.data.target.dec)
    data = TargetData(target, bare)
    assert data.prf is None
    assert "set paths.prf" in data.prf_error
    bare.prf_error = "/x: PRF directory does not exist"
    assert data.prf_error == "/x: PRF directory does not exist"


def test_stars_near_widens_the_catalog_search():
    # The default stamp of a Tmag 10 FFI target is 15x15: these stars are 3.2 and 8.2 px
    # beyond its right edge.
    synth = synthetic_target(shape=(51, 51), neighbours=[(0.0, 11.0, 9.0), (0.0, 16.0, 9.0)])
    data = synth.data
    assert data.stamp.shape == (15, 15)
    assert len(data.stars) == 1
    assert len(data.stars_near(6.5)) == 2
    assert len(data.stars_near(9.0)) == 3
