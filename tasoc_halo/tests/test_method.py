"""Halo photometry on synthetic saturated stars with known truth, and its failure modes."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from tasoc_core.config import Config, load_config
from tasoc_core.data import ArraySource, TargetData
from tasoc_core.exceptions import ConfigError, TargetError
from tasoc_core.status import Status
from tasoc_halo import HaloPhotometry
from tasoc_halo.testing import mag_to_flux, saturated_target

from .conftest import good_cadences, sinusoid_amplitude


def saturated_fraction(synth) -> np.ndarray:
    good = good_cadences(synth.data)
    return np.mean(synth.data.images[good] >= synth.full_well[None] - 40.0, axis=0)


def weight_maps(result) -> np.ndarray:
    (hdu,) = result.extra_hdus
    return np.asarray(hdu.data["WEIGHTMAP"])


def on_source_stamp(result, synth, image: np.ndarray) -> np.ndarray:
    """Cut an image of the synthetic source's stamp to the result's (possibly smaller) stamp."""
    src, dst = synth.data.stamp, result.data.stamp
    return image[
        dst.row_min - src.row_min : dst.row_max - src.row_min,
        dst.col_min - src.col_min : dst.col_max - src.col_min,
    ]


# -- the science ------------------------------------------------------------------------------


def test_bleed_columns_run_off_the_stamp(bright_star):
    """Precondition of the science tests: the case aperture photometry cannot handle."""
    assert bright_star.lost_flux > 0.05 * bright_star.flux.mean()
    assert bright_star.saturated[0].any()
    assert bright_star.saturated[-1].any()


def test_oscillation_amplitude_and_flux_scale_are_recovered(bright_star, bright_star_result):
    result = bright_star_result
    good = good_cadences(result.data) & np.isfinite(result.flux)
    assert good.mean() > 0.9
    amplitude = sinusoid_amplitude(result.data.time[good], result.flux[good], period=1.3)
    assert amplitude == pytest.approx(0.01, rel=0.05)
    # The flux scale comes from Tmag (zero point 20.451); the star's true mean flux is that.
    assert np.nanmedian(result.flux) == pytest.approx(bright_star.flux.mean(), rel=0.10)
    assert result.status == Status.OK
    assert result.warnings == ()
    assert "saturated" in result.tags


@pytest.mark.parametrize(
    "options",
    [{"objective": "tv_o2"}, {"lag": 3}, {"objective": "l2v"}, {"parametrisation": "softmax"},
     {"smoothing": 0.0}],
)  # fmt: skip
def test_every_objective_and_parametrisation_recovers_the_oscillation(bright_star, options):
    result = HaloPhotometry(HaloPhotometry.Settings(**options)).photometry(bright_star.data)
    good = good_cadences(result.data) & np.isfinite(result.flux)
    amplitude = sinusoid_amplitude(result.data.time[good], result.flux[good], period=1.3)
    assert amplitude == pytest.approx(0.01, rel=0.05)
    assert result.status == Status.OK


def test_saturated_pixels_left_in_flatten_the_oscillation_away(bright_star):
    """Why the saturation rule matters: TV-min gives flat saturated pixels all the weight."""
    settings = HaloPhotometry.Settings(saturation_tolerance=1e-9, saturation_jump=1e9)
    result = HaloPhotometry(settings).photometry(bright_star.data)
    assert result.headers["HALO_SAT"][0] == 0
    good = good_cadences(result.data)
    amplitude = sinusoid_amplitude(result.data.time[good], result.flux[good], period=1.3)
    assert amplitude < 0.001


def test_tv_min_removes_the_jitter_a_plain_sum_keeps(bright_star, bright_star_result):
    result = bright_star_result
    good = good_cadences(result.data) & np.isfinite(result.flux)
    used = weight_maps(result)[0] > 0
    plain = result.data.images[:, used].sum(axis=1).astype(float)
    half = len(plain) // 2

    def residual(flux):
        out = []
        for part in (slice(0, half), slice(half, None)):
            sel = good[part]
            rel = flux[part][sel] / np.median(flux[part][sel]) - 1.0
            out.append(np.std(rel - bright_star.relative[part][sel]))
        return np.mean(out)

    assert residual(result.flux) < residual(plain) / 3.0


def test_saturated_pixels_get_no_weight(bright_star, bright_star_result):
    result = bright_star_result
    maps = weight_maps(result)
    saturated = on_source_stamp(result, bright_star, saturated_fraction(bright_star) > 0.05)
    assert saturated.sum() > 50
    assert np.all(maps[:, saturated] == 0)
    assert result.headers["HALO_SAT"][0] >= saturated.sum()
    assert result.headers["HALO_WEL"][0] == pytest.approx(1e5, rel=0.03)
    # Nothing outside the 20-px circle is used either.
    rows, cols = np.indices(result.data.stamp.shape)
    r0, c0 = result.data.position_in_stamp
    outside = np.hypot(rows - r0, cols - c0) > 20
    assert np.all(maps[:, outside] == 0)
    np.testing.assert_array_equal(result.aperture, np.any(maps > 0, axis=0))


def test_one_weight_map_per_orbit(bright_star, bright_star_result):
    result = bright_star_result
    (hdu,) = result.extra_hdus
    table = hdu.data
    assert hdu.name == "WEIGHTMAP"
    assert len(table) == 2
    cadenceno = result.data.cadenceno
    half = len(cadenceno) // 2  # the synthetic orbit gap sits in the middle
    assert table["CADENCENO1"].tolist() == [cadenceno[0], cadenceno[half]]
    assert table["CADENCENO2"].tolist() == [cadenceno[half - 1], cadenceno[-1]]
    maps = np.asarray(table["WEIGHTMAP"])
    assert maps.shape == (2, *result.data.stamp.shape)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), 1.0, rtol=1e-6)
    assert np.all(maps >= 0)
    assert hdu.header["TDIM8"] == f"({result.data.stamp.width},{result.data.stamp.height})"
    assert hdu.header["ROW_0"] == result.data.stamp.row_min
    assert hdu.header["COL_0"] == result.data.stamp.col_min
    assert table["SAT_PIXELS"].tolist() == [result.headers["HALO_SAT"][0]] * 2
    assert np.all(table["NPIX"] == np.count_nonzero(maps, axis=(1, 2)))
    # FLUX_RAW = NORM × weighted pixel sum, cadence by cadence.
    images = result.data.images.astype(float)
    for k, (first, last) in enumerate(zip(table["CADENCENO1"], table["CADENCENO2"])):
        sel = (cadenceno >= first) & (cadenceno <= last)
        weighted = np.einsum("trc,rc->t", images[sel], maps[k])
        np.testing.assert_allclose(result.flux[sel], table["NORM"][k] * weighted, rtol=1e-5)


def test_uncertainties_match_the_scatter_of_a_constant_star():
    """|norm|·sqrt(Σ w²σ²) against the light curve's own scatter (no pointing systematics)."""
    synth = saturated_target(tmag=3.0, shape=(41, 41), amplitude=0.0, jitter_rms=0.0, seed=31)
    result = HaloPhotometry().photometry(synth.data)
    good = good_cadences(result.data)
    half = len(result.flux) // 2
    for part in (slice(0, half), slice(half, None)):
        flux, err = result.flux[part][good[part]], result.flux_err[part][good[part]]
        assert np.std(flux) / np.median(err) == pytest.approx(1.0, abs=0.2)


@pytest.mark.parametrize(("tmag", "seed"), [(4.5, 2), (5.0, 3)])
def test_the_ends_of_bleed_runs_get_no_weight(tmag, seed):
    """Bleed runs that end on the stamp: the pixels just past their ends hold the overflow of
    the whole column (a small change of the star's flux changes them many times more).
    Within ``bleed_margin`` rows of a saturating pixel along its column nothing is weighted
    and the oscillation keeps its amplitude; without the margin TV-min weights them (they
    cancel jitter) and the amplitude comes out far too large."""
    from scipy.ndimage import binary_dilation

    synth = saturated_target(
        tmag=tmag, shape=(41, 41), ncadences=600, amplitude=0.01, period=1.3, seed=seed
    )
    ever = synth.ever_saturated
    # The runs end on the stamp.
    assert not ever[0].any()
    assert not ever[-1].any()
    zone = binary_dilation(ever, structure=np.ones((5, 1), dtype=bool))
    result = HaloPhotometry().photometry(synth.data)
    good = good_cadences(result.data)
    maps = weight_maps(result)
    assert np.all(maps[:, on_source_stamp(result, synth, zone)] == 0)
    assert result.headers["HALO_BLD"][0] > 0
    amplitude = sinusoid_amplitude(result.data.time[good], result.flux[good], period=1.3)
    assert amplitude == pytest.approx(0.01, rel=0.05)
    tips = HaloPhotometry(HaloPhotometry.Settings(bleed_margin=0)).photometry(synth.data)
    assert weight_maps(tips)[:, on_source_stamp(tips, synth, zone & ~ever)].sum() > 0.05
    wrong = sinusoid_amplitude(result.data.time[good], tips.flux[good], period=1.3)
    assert wrong > 1.3 * 0.01


def test_psf_breathing_is_cancelled_by_an_extended_halo():
    """A 0.8 % rms change of the PSF's widths (the simulated sectors' focus): with the
    Moffat halo's wings (pixels brightening and dimming as the PSF widens) the oscillation
    keeps its amplitude and d ln f / d focus stays below 0.5 (the ci sector's halo, cut at
    6 px by the 13×13 PRF, has only brightening pixels and gives 2)."""
    synth = saturated_target(
        tmag=3.0, shape=(25, 45), amplitude=0.01, period=1.3, focus_rms=0.008, seed=11
    )
    result = HaloPhotometry().photometry(synth.data)
    good = good_cadences(result.data)
    rel = result.flux[good] / np.median(result.flux[good]) - 1.0
    design = np.column_stack([synth.relative[good], synth.focus[good] - 1.0, np.ones(good.sum())])
    coef, *_ = np.linalg.lstsq(design, rel, rcond=None)
    assert coef[0] == pytest.approx(1.0, abs=0.05)
    assert abs(coef[1]) < 0.5
    amplitude = sinusoid_amplitude(result.data.time[good], result.flux[good], period=1.3)
    assert amplitude == pytest.approx(0.01, rel=0.05)


def test_neighbours_are_masked_and_the_amplitude_kept(crowded_star):
    result = HaloPhotometry().photometry(crowded_star.data)
    good = good_cadences(result.data)
    amplitude = sinusoid_amplitude(result.data.time[good], result.flux[good], period=1.3)
    assert amplitude == pytest.approx(0.01, rel=0.05)
    maps = weight_maps(result)
    for footprint in crowded_star.neighbour_footprints[:3]:
        assert footprint.any()
        assert np.all(maps[:, on_source_stamp(result, crowded_star, footprint)] == 0)
    assert result.headers["HALO_MSK"][0] > 0
    # Masked neighbours have their own photometry: they are not skipped.
    assert result.skip_targets == ()
    # Without the masking the constant light of the neighbours dilutes the oscillation.
    unmasked = HaloPhotometry(
        HaloPhotometry.Settings(mask_threshold=1e9, mask_contrast=0.0)
    ).photometry(crowded_star.data)
    diluted = sinusoid_amplitude(result.data.time[good], unmasked.flux[good], period=1.3)
    assert diluted < 0.8 * 0.01
    assert unmasked.headers["HALO_MSK"][0] == 0
    # Stars on weighted pixels are skipped (whether TV-min weights a neighbour's own
    # pixel depends on its jitter sensitivity; the dilution above is the science).
    assert set(unmasked.skip_targets) <= set(crowded_star.data.stars.starid[1:].tolist())
    assert (unmasked.contamination > 0) == bool(unmasked.skip_targets)


def test_ffi_stamp_is_cut_to_the_halo_region_and_tpfs_keep_theirs():
    ffi = saturated_target(tmag=5.0, shape=(61, 61), ncadences=300, orbit_gap=0.0, seed=41)
    result = HaloPhotometry().photometry(ffi.data)
    assert result.data.stamp.shape == (41, 41)
    r0, c0 = result.data.position_in_stamp
    assert round(r0) == 20
    assert round(c0) == 20
    tpf = saturated_target(
        tmag=5.0, shape=(61, 61), ncadences=300, orbit_gap=0.0, datasource="tpf", seed=41
    )
    result = HaloPhotometry().photometry(tpf.data)
    assert result.data.stamp == tpf.data.stamp
    assert weight_maps(result).shape == (1, 61, 61)


def test_a_bad_frame_gives_nan_there_only():
    synth = saturated_target(tmag=4.0, shape=(41, 41), ncadences=300, orbit_gap=0.0, seed=42)
    data = synth.data
    images = np.array(data.images)
    images[17] = np.nan  # a whole frame lost
    images[40, 20, 30] = np.nan  # and one pixel of another frame
    stars = data.stars
    source = ArraySource(
        images, data.timeline, data.wcs, stars, origin=(data.stamp.row_min, data.stamp.col_min),
        images_err=data.images_err, backgrounds=data.backgrounds, instrument=data.instrument,
        jitter=data.pos_corr,
    )  # fmt: skip
    result = HaloPhotometry().photometry(TargetData(data.target, source, data.stamp))
    assert np.isnan(result.flux[17])
    assert np.isnan(result.flux_err[17])
    assert np.sum(np.isnan(result.flux)) <= 2
    assert np.all(np.isfinite(result.flux[:17]))


def test_deterministic_and_inputs_untouched(bright_star, bright_star_result):
    before = np.array(bright_star.data.images)
    again = HaloPhotometry().photometry(bright_star.data)
    np.testing.assert_array_equal(again.flux, bright_star_result.flux)
    np.testing.assert_array_equal(again.flux_err, bright_star_result.flux_err)
    np.testing.assert_array_equal(np.asarray(bright_star.data.images), before)


def test_centroid_is_the_catalog_position_moved_by_the_jitter(bright_star, bright_star_result):
    expected = np.asarray(bright_star.data.position) + bright_star.jitter
    np.testing.assert_allclose(bright_star_result.centroid, expected)


# -- bad input ----------------------------------------------------------------------------


def test_no_unsaturated_pixels_is_a_target_error_naming_the_target():
    # A 15×3 TPF entirely inside the bleed column of a Tmag 1 star.
    synth = saturated_target(tmag=1.0, shape=(15, 3), ncadences=200, datasource="tpf", seed=51)
    assert synth.saturated.all()
    with pytest.raises(TargetError, match="no unsaturated pixels") as info:
        HaloPhotometry().photometry(synth.data)
    assert str(synth.data.target) in str(info.value)
    assert "saturated" in info.value.tags


def test_no_catalog_stars_is_a_target_error():
    synth = saturated_target(tmag=3.0, shape=(25, 45), ncadences=200, catalog=False, seed=52)
    with pytest.raises(TargetError, match="no catalog stars in stamp") as info:
        HaloPhotometry().photometry(synth.data)
    assert str(synth.data.target) in str(info.value)


def test_too_few_cadences_is_a_target_error():
    synth = saturated_target(tmag=3.0, shape=(25, 45), ncadences=8, orbit_gap=0.0, seed=53)
    with pytest.raises(TargetError, match="only 8 usable cadences"):
        HaloPhotometry().photometry(synth.data)


def test_nothing_above_the_noise_is_a_target_error():
    synth = saturated_target(tmag=25.0, shape=(41, 41), ncadences=200, seed=54)
    with pytest.raises(TargetError, match="pixels within 20 px have finite flux"):
        HaloPhotometry().photometry(synth.data)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("radius = -1.0", "methods.halo: radius must be positive, got -1.0"),
        ('objective = "l3v"', "methods.halo: objective must be one of tv, tv_o2, l2v, got 'l3v'"),
        ("lag = 0", "methods.halo: lag must be at least 1, got 0"),
        ('parametrisation = "x"', "parametrisation must be one of bounded, softmax, got 'x'"),
        ("saturation_tolerance = 1.5", "saturation_tolerance must be between 0 and 1, got 1.5"),
        ("mask_contrast = -0.1", "mask_contrast must be at least 0 and below 1, got -0.1"),
    ],
)
def test_invalid_settings_name_the_key_and_value(tmp_path, table, message):
    path = tmp_path / "tasoc.toml"
    path.write_text(f"[methods.halo]\n{table}\n")
    config = load_config(path)
    with pytest.raises(ConfigError, match=message):
        config.settings_for("methods", "halo", HaloPhotometry.Settings)


def test_default_settings_round_trip_through_the_configuration():
    config = Config(methods={"halo": {"radius": 15.0, "objective": "tv_o2"}})
    settings = config.settings_for("methods", "halo", HaloPhotometry.Settings)
    assert settings.radius == 15.0
    assert settings.objective == "tv_o2"
    assert settings.pixels_per_cadence == 0.1
    assert settings.zero_point == 20.451


def test_flux_scale_uses_the_configured_zero_point(bright_star, bright_star_result):
    other = HaloPhotometry(HaloPhotometry.Settings(zero_point=20.351)).photometry(bright_star.data)
    ratio = np.nanmedian(other.flux) / np.nanmedian(bright_star_result.flux)
    assert ratio == pytest.approx(10 ** (-0.04), rel=1e-6)
    assert other.headers["HALO_SCL"][0] == pytest.approx(float(mag_to_flux(3.0, 20.351)))


def test_weightmap_survives_a_fits_round_trip(bright_star_result, tmp_path):
    (hdu,) = bright_star_result.extra_hdus
    path = tmp_path / "wm.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    with fits.open(path) as hdul:
        maps = hdul["WEIGHTMAP"].data["WEIGHTMAP"]
        assert maps.shape == (2, *bright_star_result.data.stamp.shape)
        np.testing.assert_array_equal(maps, hdu.data["WEIGHTMAP"])
