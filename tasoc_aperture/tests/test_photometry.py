"""Science tests of the aperture method on synthetic scenes with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_aperture import AperturePhotometry, ApertureSettings, touching_sides
from tasoc_core.data import TargetData
from tasoc_core.exceptions import TargetError
from tasoc_core.status import Status


def amplitude_ratio(flux: np.ndarray, relative: np.ndarray) -> float:
    """Least-squares scale of the injected relative signal in the measured relative flux."""
    good = np.isfinite(flux)
    rel = flux[good] / np.median(flux[good]) - 1.0
    design = np.column_stack([relative[good], np.ones(good.sum())])
    return float(np.linalg.lstsq(design, rel, rcond=None)[0][0])


def stamp_pixel(data: TargetData, row: float, col: float) -> tuple[int, int]:
    return (
        int(np.floor(row + 0.5)) - data.stamp.row_min,
        int(np.floor(col + 0.5)) - data.stamp.col_min,
    )


@pytest.mark.parametrize("tmag", [8.0, 9.5, 11.0, 12.0, 13.0])
def test_isolated_star_flux_amplitude_centroid_and_errors(scene, tmag):
    sc = scene([(0.0, 0.0, tmag)], ncadences=1300, shape=(31, 31), seed=int(tmag * 10))
    result = AperturePhotometry().photometry(sc.data())
    assert result.status == Status.OK
    assert not result.tags
    assert not result.warnings
    assert result.contamination == 0.0
    assert result.skip_targets == ()
    # The aperture collects ≥ 95 % of the Gaussian PSF, and not much noise: ≤ 100 % + 3 σ.
    captured = float(np.sum(sc.in_stamp(sc.psfs[0], result.data)[result.aperture]))
    assert captured >= 0.95
    # No sky-noise tentacles: every pixel lies within the radius where even a Tmag 8 star's
    # wing has sunk to 3σ of the sum-image noise (≈ 4.6 px for this PSF and noise).
    rows, cols = np.nonzero(result.aperture)
    distance = np.hypot(
        rows + result.data.stamp.row_min - sc.row[0], cols + result.data.stamp.col_min - sc.col[0]
    )
    assert distance.max() <= 4.7
    ratio = np.nanmedian(result.flux) / np.median(sc.flux[:, 0])
    sigma = np.median(result.flux_err) / np.median(sc.flux[:, 0]) / np.sqrt(1300)
    assert captured - 5 * sigma - 0.005 <= ratio <= captured + 5 * sigma + 0.005
    # Injected 1 % sinusoid recovered within 2 %.
    assert amplitude_ratio(result.flux, sc.relative) == pytest.approx(1.0, abs=0.02)
    # Residual scatter matches the propagated errors (errors are neither under- nor overstated).
    residual = result.flux - sc.flux[:, 0] * captured
    pull = np.std(residual) / np.median(result.flux_err)
    assert 0.9 <= pull <= 1.1
    # Flux-weighted centroid within 0.05 px of the truth, 0-based CCD coordinates.
    centroid = np.nanmedian(result.centroid, axis=0)
    assert centroid == pytest.approx([sc.row[0], sc.col[0]], abs=0.05)
    assert result.background == pytest.approx(40.0 * result.aperture.sum(), rel=1e-6)
    assert result.diagnostics["edge_fraction"] == 0.0


def test_two_stars_four_pixels_apart_get_their_own_apertures(scene):
    sc = scene([(0.0, 0.0, 10.0), (0.6, 3.7, 10.5)], ncadences=400)
    method = AperturePhotometry()
    first = method.photometry(sc.data(0))
    second = method.photometry(sc.data(1))
    for res, me, other in ((first, 0, 1), (second, 1, 0)):
        mine = stamp_pixel(res.data, sc.row[me], sc.col[me])
        theirs = stamp_pixel(res.data, sc.row[other], sc.col[other])
        assert res.aperture[mine]
        assert not res.aperture[theirs]
        assert res.skip_targets == ()
        assert res.contamination == 0.0
        assert res.status == Status.OK
        # Each aperture holds most of its own star and little of the other.
        own = float(np.sum(sc.in_stamp(sc.psfs[me], res.data)[res.aperture]))
        leak = float(np.sum(sc.in_stamp(sc.psfs[other], res.data)[res.aperture]))
        assert own >= 0.85
        assert leak <= 0.15
    # The apertures are disjoint on the CCD.
    ccd = np.zeros((2, 41, 41), dtype=bool)
    for k, res in enumerate((first, second)):
        rs, cs = res.data.stamp.slices((500, 600))
        ccd[k, rs, cs] = res.aperture
    assert not np.any(ccd[0] & ccd[1])


def test_diagonal_pair_three_pixels_apart_is_split(scene):
    sc = scene([(0.0, 0.0, 11.0), (-2.2, 2.1, 11.0)], ncadences=300)
    res = AperturePhotometry().photometry(sc.data(0))
    assert not res.aperture[stamp_pixel(res.data, sc.row[1], sc.col[1])]
    assert res.skip_targets == ()


def test_blended_pair_shares_one_aperture_with_true_contamination(scene):
    # A star 1 px away cannot be separated: one aperture, the fainter one is skipped.
    sc = scene([(0.0, 0.0, 10.0), (0.8, 0.7, 11.0)], ncadences=400)
    res = AperturePhotometry().photometry(sc.data(0))
    assert res.skip_targets == (int(sc.starid[1]),)
    inside = [
        float(np.sum(sc.in_stamp(sc.psfs[k], res.data)[res.aperture]) * sc.flux[0, k])
        for k in (0, 1)
    ]
    truth = inside[1] / sum(inside)
    assert res.contamination == pytest.approx(truth, abs=0.05)
    assert res.contamination == pytest.approx(1 / (1 + 10**0.4), rel=1e-9)
    assert res.headers["AP_CONT"][0] == res.contamination
    # The measured flux is that of both stars.
    assert np.nanmedian(res.flux) == pytest.approx(sum(inside), rel=0.01)
    # Measured as the fainter star: the brighter one is reported, not skipped, and the
    # aperture is crowded.
    faint = AperturePhotometry().photometry(sc.data(1))
    assert faint.skip_targets == ()
    assert "crowded" in faint.tags
    assert any(f"TIC {sc.starid[0]}" in w for w in faint.warnings)
    assert faint.contamination == pytest.approx(1 / (1 + 10**-0.4), rel=1e-9)


def test_saturated_star_bleed_columns_are_in_the_aperture(scene):
    # Tmag 5.3 saturating at 2e4 e-/s on a column centre: charge spills ±13 px along the
    # central column, ±6 px along its neighbours; a faint star sits on the bleed and must
    # not split it.
    kwargs = dict(shape=(81, 41), ncadences=60, amplitude=0.0, saturation=2e4, offset=(0.23, 0))
    sc = scene([(0.0, 0.0, 5.3), (5.0, 0.2, 12.0)], **kwargs)
    bleed = sc.model[0] >= 0.999 * 2e4
    assert bleed.sum() >= 15
    assert (bleed.sum(axis=0) > 0).sum() >= 2
    res = AperturePhotometry().photometry(sc.data(0))
    rs, cs = res.data.stamp.slices((500, 600))
    assert bleed[rs, cs].sum() == bleed.sum(), "the stamp must hold the whole bleed"
    assert np.all(res.aperture[bleed[rs, cs]])
    assert "saturated" in res.tags
    assert res.skip_targets == (int(sc.starid[1]),)
    total = sc.flux[0, 0] + sc.flux[0, 1]
    assert np.nanmedian(res.flux) == pytest.approx(total, rel=0.01)
    # Without the overflow rule the single-column bleed tips (not DBSCAN core pixels) are lost.
    plain = AperturePhotometry(ApertureSettings(extend_overflow=False)).photometry(sc.data(0))
    rs, cs = plain.data.stamp.slices((500, 600))
    assert not np.all(plain.aperture[bleed[rs, cs]])


BLEEDING = dict(shape=(81, 41), amplitude=0.0, saturation=5e3)


def test_stamp_grows_until_the_aperture_fits(scene):
    # A Tmag 6.5 star bleeding over 32 rows overflows its 19-row default stamp at both ends.
    sc = scene([(0.0, 0.0, 6.5)], ncadences=60, **BLEEDING)
    data = sc.data()
    assert data.stamp.shape == (19, 19)
    res = AperturePhotometry().photometry(data)
    assert res.data.stamp.shape == (39, 19)  # one resize: 10 rows added below and above
    assert res.data.resizes == 1
    assert touching_sides(res.aperture) == ()
    assert res.status == Status.OK
    assert np.nanmedian(res.flux) == pytest.approx(sc.flux[0, 0], rel=0.01)
    assert res.headers["KP_RSTEP"][0] == 10


def test_edge_after_the_allowed_resizes_raises_with_edge_tag(scene):
    sc = scene([(0.0, 0.0, 6.5)], ncadences=20, **BLEEDING)
    with pytest.raises(TargetError, match=r"TIC 300000001.*down/up edge.*after 1 resizes") as info:
        AperturePhotometry(ApertureSettings(max_resizes=1, resize_step=2)).photometry(sc.data())
    assert info.value.tags == frozenset({"edge"})


def test_aperture_cut_by_the_detector_edge_is_tagged(scene):
    # Only 9 columns exist: the stamp cannot grow sideways.
    sc = scene([(0.0, 0.0, 9.0)], shape=(41, 9), psf_sigma=1.5, ncadences=100)
    res = AperturePhotometry().photometry(sc.data())
    assert res.data.stamp.width == 9
    assert res.status == Status.OK
    assert res.tags == frozenset({"edge"})
    assert any("cannot grow" in w for w in res.warnings)
    assert res.diagnostics["edge_fraction"] > 0.01
    # A narrow PSF puts almost nothing on the edge: a message, but no tag.
    narrow = scene([(0.0, 0.0, 9.0)], shape=(41, 9), psf_sigma=0.8, ncadences=100)
    res = AperturePhotometry().photometry(narrow.data())
    assert touching_sides(res.aperture)
    assert not res.tags
    assert any("cannot grow" in w for w in res.warnings)


def test_bright_star_cut_by_the_detector_edge_breaks_early_for_halo(scene):
    sc = scene([(0.0, 0.0, 5.8)], shape=(61, 9), psf_sigma=1.5, ncadences=50)
    with pytest.raises(TargetError, match="cannot grow") as info:
        AperturePhotometry().photometry(sc.data())
    assert info.value.tags == frozenset({"edge"})


def test_starless_stamp_gets_the_minimum_aperture(scene):
    sc = scene([(0.0, 0.0, 30.0)], ncadences=200)
    data = sc.data()
    res = AperturePhotometry().photometry(data)
    assert res.status == Status.WARNING
    assert res.tags == frozenset({"minimal-aperture"})
    assert any("minimum aperture" in w for w in res.warnings)
    rows, cols = np.nonzero(res.aperture)
    r, c = data.position_in_stamp
    assert sorted(set(rows)) == [int(np.floor(r)), int(np.floor(r)) + 1]
    assert sorted(set(cols)) == [int(np.floor(c)), int(np.floor(c)) + 1]
    assert np.all(np.isfinite(res.flux))
    assert np.all(res.flux_err > 0)
    assert abs(np.mean(res.flux)) < 5 * np.median(res.flux_err) / np.sqrt(200)


def test_target_off_every_mask_gets_the_minimum_aperture(scene):
    # The catalog puts the (non-existent) target 5 px from a bright star's light.
    sc = scene([(0.0, 0.0, 25.0), (0.0, 5.0, 9.0)], ncadences=200)
    res = AperturePhotometry().photometry(sc.data(0))
    assert "minimal-aperture" in res.tags
    assert res.aperture.sum() == 4


def test_nan_pixels_and_cadences(scene):
    sc = scene([(0.0, 0.0, 10.0)], ncadences=200)
    whole = sc.source.read(sc.source.max_stamp)
    images = np.array(whole.images)
    centre = (20, 20)
    images[10] = np.nan  # a lost frame
    images[20, centre[0], centre[1]] = np.nan  # one aperture pixel lost in one cadence
    images[30] = 0.0  # missing data written as zeros
    images[:, centre[0] + 3, :] = np.nan  # a dead row through the star's wings
    sc2 = sc.with_cubes(images)
    res = AperturePhotometry().photometry(sc2.data())
    assert np.isnan(res.flux[[10, 20, 30]]).all()
    assert np.isnan(res.flux_err[[10, 20, 30]]).all()
    assert np.isnan(res.centroid[[10, 20, 30]]).all()
    assert np.isfinite(res.flux).sum() == 197
    rs, _cs = res.data.stamp.slices((500, 600))
    assert not res.aperture[centre[0] + 3 - rs.start].any(), "dead pixels are never used"
    captured = float(np.sum(sc.in_stamp(sc.psfs[0], res.data)[res.aperture]))
    assert np.nanmedian(res.flux) == pytest.approx(sc.flux[0, 0] * captured, rel=0.01)


def test_all_pixels_nan_is_a_target_error(scene):
    sc = scene([(0.0, 0.0, 10.0)], ncadences=20)
    images = np.full(sc.model.shape, np.nan, dtype=np.float32)
    with pytest.raises(TargetError, match=r"TIC 300000001.*no collected pixel"):
        AperturePhotometry().photometry(sc.with_cubes(images).data())


def test_secondary_tpf_target_uses_the_whole_tpf_without_resizing(scene):
    # An 11x11 "TPF" around a Tmag 10 primary; a Tmag 12 secondary sits 3.5 px off, and its
    # aperture reaches the TPF edge.
    sc = scene([(0.0, 0.0, 10.0), (-3.4, 3.6, 12.0)], shape=(11, 11), cadence=120, ncadences=300)
    primary = int(sc.starid[0])
    data = sc.data(1, datasource=f"tpf:{primary}")
    assert data.stamp == sc.source.max_stamp
    res = AperturePhotometry().photometry(data)
    assert res.data.stamp == sc.source.max_stamp
    assert res.data.resizes == 0
    assert res.aperture[stamp_pixel(res.data, sc.row[1], sc.col[1])]
    assert not res.aperture[stamp_pixel(res.data, sc.row[0], sc.col[0])]
    assert res.skip_targets == ()
    own = float(np.sum(sc.in_stamp(sc.psfs[1], res.data)[res.aperture]))
    assert np.nanmedian(res.flux) == pytest.approx(
        own * sc.flux[0, 1]
        + float(np.sum(sc.in_stamp(sc.psfs[0], res.data)[res.aperture])) * sc.flux[0, 0],
        rel=0.03,
    )
    # The primary of the same TPF.
    prim = AperturePhotometry().photometry(sc.data(0, datasource="tpf"))
    assert prim.status == Status.OK
    assert prim.aperture[stamp_pixel(prim.data, sc.row[0], sc.col[0])]


def test_snr_trimming_keeps_95_percent_and_lowers_the_noise(scene):
    sc = scene([(0.0, 0.0, 13.0)], ncadences=1300, shape=(31, 31), seed=13, amplitude=0.0)
    full = AperturePhotometry().photometry(sc.data())
    trimmed = AperturePhotometry(ApertureSettings(snr_trim=True)).photometry(sc.data())
    assert trimmed.aperture.sum() < 0.5 * full.aperture.sum()
    assert not np.any(trimmed.aperture & ~full.aperture)
    assert trimmed.diagnostics["k2p2_mask_pixels"] == full.aperture.sum()
    captured = float(np.sum(sc.in_stamp(sc.psfs[0], trimmed.data)[trimmed.aperture]))
    assert captured >= 0.95
    scatter = [np.std(r.flux / np.mean(r.flux)) for r in (full, trimmed)]
    assert scatter[1] < 0.8 * scatter[0]
    # Its own error bars describe its scatter.
    assert np.std(trimmed.flux) / np.median(trimmed.flux_err) == pytest.approx(1.0, abs=0.1)
    assert trimmed.headers["KP_SNRTR"][0] is True
