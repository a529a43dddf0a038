"""The ensemble corrector: contract, refusals, the neighbour cache, the growth rule, parts."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

import tasoc_ensemble.plugin
from tasoc_core.config import structure
from tasoc_core.exceptions import ConfigError, InputFileError, TargetError
from tasoc_core.status import Status
from tasoc_core.testing import InMemoryCorrectionContext, assert_conformance
from tasoc_ensemble import (
    EnsembleCorrector,
    EnsembleSettings,
    apply_ensemble,
    ensemble_correct,
    ensemble_curve,
    member_curves,
    prepare_light_curve,
    qualifying,
)
from tasoc_ensemble.ensemble import _aligned


def test_plugin_conforms():
    checked = assert_conformance(tasoc_ensemble.plugin, name="ensemble")
    assert [reg.name for reg in checked] == ["ensemble"]


def test_headers_extension_and_diagnostics(field_corrected):
    i = next(iter(field_corrected.results))
    result = field_corrected.results[i]
    h = result.headers
    assert h["ENS_DLIM"][0] == 1.0
    assert h["ENS_DREL"][0] == 10.0
    assert h["ENS_RLIM"][0] == 0.4
    lc = field_corrected.sim.light_curves[i]
    assert h["ENS_MED"][0] == pytest.approx(np.nanmedian(lc.flux), rel=0.01)
    (hdu,) = result.extra_hdus
    assert hdu.name == "ENSEMBLE"
    assert [c.name for c in hdu.columns] == ["TIC", "BZETA"]
    assert [c.format for c in hdu.columns] == ["K", "E"]
    assert len(hdu.data) == h["ENS_NUM"][0]
    assert np.all(np.isfinite(hdu.data["BZETA"]))
    assert result.diagnostics["ens_num"] == h["ENS_NUM"][0]
    assert result.diagnostics["ens_fom"] > 0
    assert result.status == Status.OK
    flagged = (lc.quality & 3) != 0
    assert np.isnan(result.flux[flagged]).all()
    assert np.isfinite(result.flux[~flagged]).mean() > 0.99
    assert abs(np.nanmedian(result.flux)) < 1.0  # ppm around the star's median
    ratio = result.flux_err[~flagged] / (lc.flux_err[~flagged] / np.nanmedian(lc.flux) * 1e6)
    assert np.nanmedian(ratio) == pytest.approx(1.0, abs=0.02)


def test_refuses_when_fewer_than_five_neighbours_qualify(field):
    lcs = field.light_curves[:5]  # the target and four others
    context = InMemoryCorrectionContext(lcs, "/nonexistent")
    corrector = EnsembleCorrector()
    with pytest.raises(
        TargetError,
        match=r"TIC \d+ .*not enough stars for an ensemble: 4 of 4 neighbours qualify \(need 5",
    ):
        corrector.correct(lcs[0], context)
    assert corrector.correct(lcs[0], InMemoryCorrectionContext(field.light_curves, "/x"))


def test_a_bright_star_among_faint_ones_is_refused(field):
    # drange < 10 × the target's: faint, noisy neighbours cannot correct a bright star.
    bright = field.light_curves[0]
    quiet_bright = attrs.evolve(
        bright,
        flux=np.full(len(bright), 3e6)
        * (1 + 1e-5 * np.random.default_rng(0).normal(size=len(bright))),
        target=attrs.evolve(bright.target, tmag=4.0),
    )
    context = InMemoryCorrectionContext([quiet_bright, *field.light_curves[1:]], "/x")
    with pytest.raises(TargetError, match=r"0 of 100 neighbours qualify .*< 10.0 × the target's 1"):
        EnsembleCorrector().correct(quiet_bright, context)


def test_bad_light_curves_get_a_clear_error(field):
    context = InMemoryCorrectionContext(field.light_curves, "/x")
    lc = field.light_curves[3]
    corrector = EnsembleCorrector()
    with pytest.raises(TargetError, match="flux is NaN on every cadence"):
        corrector.correct(attrs.evolve(lc, flux=np.full(len(lc), np.nan)), context)
    corrector = EnsembleCorrector()
    few = np.where(np.arange(len(lc)) < 20, lc.flux, np.nan)
    with pytest.raises(TargetError, match="only 20 usable cadences"):
        corrector.correct(attrs.evolve(lc, flux=few), context)


def test_an_unreadable_neighbour_is_a_target_error(field):
    class Broken(InMemoryCorrectionContext):
        def candidates(self, lc, *, limit):
            raise InputFileError("raw light curve /data/tess00000042-s01.fits is truncated")

    with pytest.raises(TargetError, match=r"a neighbour could not be read: .*tess00000042"):
        EnsembleCorrector().correct(field.light_curves[0], Broken(field.light_curves, "/x"))


def test_neighbours_are_prepared_once_per_worker(field):
    context = InMemoryCorrectionContext(field.light_curves, "/x")
    corrector = EnsembleCorrector()
    for lc in field.light_curves[:60]:
        corrector.correct(lc, context)
    touched = set()
    for lc in field.light_curves[:60]:
        touched.add(lc.target.starid)
        touched.update(o.target.starid for o in context.candidates(lc, limit=100))
    assert corrector.cache.prepared == len(touched)  # not 60 × 101
    before = corrector.cache.prepared
    corrector.correct(field.light_curves[10], context)
    assert corrector.cache.prepared == before


def test_the_kept_ensemble_is_the_best_one_tried(field):
    # The growth rule: members are added while the scaled length improves, and the result
    # is exactly the ensemble of the first n qualifying members (no state carried over from a
    # rejected trial, reference §15.5).
    settings = EnsembleSettings()
    context = InMemoryCorrectionContext(field.light_curves, "/x")
    checked = 0
    for lc in field.light_curves[:40]:
        target = prepare_light_curve(lc)
        candidates = [prepare_light_curve(o) for o in context.candidates(lc, limit=100)]
        result = ensemble_correct(target, candidates, settings)
        ok = qualifying(target, candidates, settings)
        members = [candidates[j] for j in ok]
        curves, zeta = member_curves(target, _aligned(target, members))

        def fom(n, curves=curves, target=target):
            m = ensemble_curve(curves[:n], settings.clip_sigma)
            return apply_ensemble(target.flux, m, settings.max_offset)

        n = len(result.members)
        assert [m.starid for m in members[:n]] == list(result.members)
        np.testing.assert_allclose(result.zeta, zeta[:n])
        flux, _k, value = fom(n)
        np.testing.assert_allclose(result.flux, flux)
        assert result.fom == value
        for m in range(settings.min_members + 1, n + 1):
            assert fom(m)[2] < fom(m - 1)[2]
        if n < len(members):
            assert fom(n + 1)[2] >= value
            checked += 1
    assert checked > 30


@pytest.mark.parametrize("lpv_amplitude", [0.0, 0.03])
def test_background_offsets_recover_the_injected_scale(lpv_amplitude):
    # Members m + (m + ζ)·sys have relative variations sys once ζ is added back; the target
    # varies by sys too, with or without a long-period variation of its own on top.
    rng = np.random.default_rng(1)
    n = 1200
    t = np.linspace(0, 27, n)
    sys = 3e-3 * np.sin(t / 0.7) + 2e-3 * (t % 3.1 < 0.1)
    lpv = lpv_amplitude * np.sin(2 * np.pi * t / 40)
    target = prepare_light_curve_from(1e4 * (1 + lpv) * (1 + sys) + rng.normal(0, 2, n))
    medians = np.array([5e3, 2e4, 8e3])
    zetas = np.array([-1e3, 4e3, 500.0])
    flux = np.array([m + (m + z) * sys for m, z in zip(medians, zetas)])
    curves, zeta = member_curves(target, flux)
    # The scale 1/(median + ζ); the LPV itself modulates the target's relative systematics by
    # (1 + lpv) / (1 + median lpv), i.e. by up to a few per cent.
    tolerance = 0.01 + 2 * lpv_amplitude
    np.testing.assert_allclose(np.median(flux, axis=1) + zeta, medians + zetas, rtol=tolerance)
    expected = (1 + sys) / np.median(1 + sys)  # members are normalised to their median
    np.testing.assert_allclose(curves, np.tile(expected, (3, 1)), atol=tolerance * 5e-3)


def test_a_member_that_does_not_follow_the_target_is_left_as_it_is():
    rng = np.random.default_rng(4)
    n = 1000
    sys = 3e-3 * np.sin(np.arange(n) / 30.0)
    target = prepare_light_curve_from(1e4 * (1 + sys) + rng.normal(0, 2, n))
    unrelated = 5e3 * (1 + 3e-3 * rng.normal(size=n))
    _, zeta = member_curves(target, unrelated[None, :])
    assert zeta[0] == 0.0


def prepare_light_curve_from(flux):
    from tasoc_core.data import Target
    from tasoc_core.families import LightCurve

    n = len(flux)
    target = Target(starid=1, sector=1, camera=1, ccd=1, cadence=1800, datasource="ffi",
                    tmag=10.0, ra=0.0, dec=0.0)  # fmt: skip
    lc = LightCurve(target=target, method="aperture", time=np.arange(n) / 48,
                    timecorr=np.zeros(n), cadenceno=np.arange(n), flux=flux,
                    flux_err=np.ones(n), quality=np.zeros(n), pixel_quality=np.zeros(n))  # fmt: skip
    return prepare_light_curve(lc)


def test_per_cadence_clipping_ignores_an_outlying_member():
    curves = np.ones((6, 50)) + np.random.default_rng(2).normal(0, 1e-4, (6, 50))
    curves[2, 10] = 1.5
    curves[4, 30] = np.nan
    m = ensemble_curve(curves, 3.0)
    assert abs(m[10] - 1) < 3e-4
    assert np.isfinite(m).all()
    assert np.isnan(ensemble_curve(np.full((5, 3), np.nan), 3.0)).all()


def test_dividing_by_a_perfect_ensemble_flattens_the_target():
    rng = np.random.default_rng(3)
    sys = 1 + 5e-3 * np.sin(np.arange(800) / 40.0)
    flux = 1e4 * sys * (1 + rng.normal(0, 1e-4, 800))
    corrected, k, _ = apply_ensemble(flux, sys, max_offset=0.0)
    assert k == 0.0
    assert np.std(corrected / np.median(corrected) - 1) < 1.5e-4
    assert np.median(corrected) == pytest.approx(np.median(flux))


def test_candidates_are_aligned_by_cadence_number(field):
    a, b = field.light_curves[:2]
    shifted = attrs.evolve(
        b,
        **{name: getattr(b, name)[7:] for name in
           ("time", "timecorr", "cadenceno", "flux", "flux_err", "quality", "pixel_quality")},
    )  # fmt: skip
    aligned = _aligned(prepare_light_curve(a), [prepare_light_curve(shifted)])[0]
    assert np.isnan(aligned[:7]).all()
    np.testing.assert_array_equal(aligned[7:], prepare_light_curve(b).flux[7:])


def test_settings_from_the_run_configuration():
    settings = structure(
        EnsembleSettings, {"min_members": 8, "frange_limit": 0.1}, "correctors.ensemble"
    )
    assert settings.min_members == 8
    assert settings.max_neighbours == 100
    with pytest.raises(
        ConfigError, match=r"correctors\.ensemble: drange_limit must be positive, got -1"
    ):
        structure(EnsembleSettings, {"drange_limit": -1}, "correctors.ensemble")
