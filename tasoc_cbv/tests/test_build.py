"""Building CBVs: the selection steps, the PCA with entropy cleaning, the spike split, files."""

from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.io import fits

from tasoc_cbv import (
    CBVBuildError,
    CBVBuildSettings,
    build_cbv_set,
    build_cbvs,
    read_cbv_fits,
)
from tasoc_cbv._matrix import assemble, correlation_rank, fill_gaps, variability
from tasoc_cbv._pca import clean_pca, pca, weight_entropy
from tasoc_cbv._spikes import segments, split_spikes
from tasoc_core.testing import InMemoryCorrectionContext


def test_correlation_rank_is_the_median_absolute_correlation_with_the_others():
    rng = np.random.default_rng(0)
    common = rng.normal(size=300)
    flux = rng.uniform(-1, 1, (40, 1))[:, :1] * common + rng.normal(0, 0.7, (40, 300))
    r = np.abs(np.corrcoef(flux))
    np.fill_diagonal(r, np.nan)
    expected = np.nanmedian(r, axis=1)
    np.testing.assert_allclose(correlation_rank(flux), expected, rtol=1e-10)
    # Row blocks give the same answer.
    np.testing.assert_allclose(correlation_rank(flux, block_bytes=8 * 40 * 3), expected)


def test_variability_is_scatter_around_a_weighted_cubic_over_the_median_error(sector_sim):
    lcs = sector_sim.light_curves[:30]
    matrix = assemble(lcs)
    var = variability(matrix)
    for i in (0, 7, 19):
        good = np.isfinite(matrix.flux[i])
        t, y, e = matrix.time[good], matrix.flux[i, good], matrix.err[i, good]
        x = (t - matrix.time.min()) / np.ptp(matrix.time) * 2 - 1
        coef = np.polynomial.polynomial.polyfit(x, y, 3, w=1 / e)
        resid = y - np.polynomial.polynomial.polyval(x, coef)
        assert var[i] == pytest.approx(np.std(resid, ddof=1) / np.median(e), rel=1e-6)


def test_assemble_aligns_stars_by_cadence_number(sector_sim):
    a, b = sector_sim.light_curves[:2]
    import attrs

    b_short = attrs.evolve(
        b,
        time=b.time[5:],
        timecorr=b.timecorr[5:],
        cadenceno=b.cadenceno[5:],
        flux=b.flux[5:],
        flux_err=b.flux_err[5:],
        quality=b.quality[5:],
        pixel_quality=b.pixel_quality[5:],
    )
    matrix = assemble([a, b_short])
    assert matrix.flux.shape == (2, len(a))
    assert np.isnan(matrix.flux[1, :5]).all()
    np.testing.assert_allclose(
        matrix.flux[1, 5:], b.flux[5:] / b.meta["mean_flux"] - 1 + np.where(
            (b.pixel_quality[5:] & 170) != 0, np.nan, 0.0)
    )  # fmt: skip
    # Desat cadences (SPOC bit 32) are removed from the build.
    assert np.isnan(matrix.flux[0, sector_sim.dumps]).all()


def test_fill_gaps_interpolates_individual_gaps_only():
    x = np.linspace(0, 6, 200)
    flux = np.vstack([np.sin(x), np.cos(x)])
    holes = flux.copy()
    holes[0, [50, 51, 120]] = np.nan
    filled, count = fill_gaps(holes)
    assert count == 3
    np.testing.assert_allclose(filled, flux, atol=5e-4)


def test_pca_matches_an_uncentred_svd():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 150)) + 3 * np.outer(
        rng.uniform(0.5, 1.5, 60), np.sin(np.arange(150) / 9)
    )
    result = pca(X, 5)
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    np.testing.assert_allclose(result.singular, s[:5], rtol=1e-8)
    for j in range(5):
        assert abs(result.vectors[:, j] @ vt[j]) == pytest.approx(1.0, abs=1e-8)
    # The common mode is the first vector, with positive star weights.
    assert np.median(result.weights[:, 0]) > 0


def test_entropy_flags_a_vector_dominated_by_one_star():
    rng = np.random.default_rng(2)
    gaussian = rng.normal(size=(200, 3))
    assert np.all(np.abs(weight_entropy(gaussian / np.linalg.norm(gaussian, axis=0))) < 0.3)
    dominated = gaussian.copy()
    dominated[17, 1] = 40.0
    h = weight_entropy(dominated / np.linalg.norm(dominated, axis=0))
    assert h[1] < -0.5
    assert h[0] > -0.3


def test_entropy_cleaning_removes_the_star_that_carries_its_own_signal():
    rng = np.random.default_rng(3)
    n, t = 80, 400
    common = np.sin(np.arange(t) / 30.0)
    X = np.outer(rng.uniform(2, 4, n), common) + rng.normal(0, 1, (n, t))
    X[33] += 25 * np.sin(np.arange(t) / 2.3)  # a pulsator that slipped through the cuts
    before = pca(X, 4)
    assert max(abs(np.corrcoef(before.vectors[:, j], np.sin(np.arange(t) / 2.3))[0, 1])
               for j in range(4)) > 0.8  # fmt: skip
    result, removed = clean_pca(X, 4, threshold=-0.5, max_removals=10)
    assert list(removed) == [33]
    assert 33 not in result.kept
    for j in range(4):
        assert abs(np.corrcoef(result.vectors[:, j], np.sin(np.arange(t) / 2.3))[0, 1]) < 0.3


def test_entropy_cleaning_leaves_a_group_systematic_alone():
    # Twenty stars share a local systematic: a real shared signal, no single star dominates.
    rng = np.random.default_rng(4)
    n, t = 200, 400
    X = np.outer(rng.uniform(2, 4, n), np.sin(np.arange(t) / 30.0)) + rng.normal(0, 1, (n, t))
    X[:20] += np.outer(rng.uniform(3, 5, 20), np.cos(np.arange(t) / 7.0))
    _, removed = clean_pca(X, 4, threshold=-0.5, max_removals=150)
    assert len(removed) == 0


def test_spikes_move_to_the_spike_vector():
    t = np.arange(600) * 0.02
    smooth = np.sin(t / 2.0) / 20
    spikes = np.zeros(600)
    positions = [100, 250, 251, 400, 599]
    spikes[positions] = [-0.2, -0.15, -0.1, 0.25, -0.2]
    single, spike = split_spikes((smooth + spikes)[:, None], t, 0.02)
    assert set(np.flatnonzero(np.abs(spike[:, 0]) > 0.05)) == set(positions)
    np.testing.assert_allclose(single[:, 0], smooth, atol=2e-3)
    np.testing.assert_allclose(single[:, 0] + spike[:, 0], smooth + spikes)


def test_a_data_gap_is_not_a_spike():
    t = np.concatenate([np.arange(300), np.arange(340, 640)]) * 0.02
    v = np.where(t < 6.5, np.exp(-t), 0.5 * np.exp(-(t - 6.8)))  # ramps restart at the gap
    assert [(s.start, s.stop) for s in segments(t, 0.02)] == [(0, 300), (300, 600)]
    _, spike = split_spikes(v[:, None], t, 0.02)
    assert np.abs(spike).max() < 1e-3


def test_built_cbvs_span_each_quiet_stars_systematics(sector_sim):
    area = 113
    lcs = [lc for lc in sector_sim.light_curves if lc.cbv_area == area]
    cbvs = build_cbv_set(lcs, sector=1, camera=1, ccd=1, cadence=1800, area=area)
    assert cbvs.single.shape == (len(sector_sim.time), 16)
    assert cbvs.meta["NAREA"][0] == len(lcs)
    assert cbvs.meta["NSTARS"][0] <= cbvs.meta["NCORR"][0] < cbvs.meta["NLOWVAR"][0] < len(lcs)
    use = cbvs.usable(5.0)
    basis = np.column_stack(
        [np.ones(len(sector_sim.time)), cbvs.single[:, use], cbvs.spike[:, use]]
    )
    ok = np.all(np.isfinite(basis), axis=1)
    explained = []
    for i, lc in enumerate(sector_sim.light_curves):
        if lc.cbv_area != area or i not in set(sector_sim.quiet_outside_patches()):
            continue
        truth = (sector_sim.smooth[i] + sector_sim.spikes[i])[ok]
        coef = np.linalg.lstsq(basis[ok], truth, rcond=None)[0]
        explained.append(1 - np.var(truth - basis[ok] @ coef) / np.var(truth))
    assert np.median(explained) > 0.995
    assert cbvs.coefficients is not None
    assert len(cbvs.coefficients) == len(lcs)


def test_an_area_with_too_few_stars_is_refused_with_the_counts(sector_sim):
    lcs = [lc for lc in sector_sim.light_curves if lc.cbv_area == 114][:20]
    with pytest.raises(CBVBuildError, match=r"CBV area 114 .*only 20 stars with light curves"):
        build_cbv_set(lcs, sector=1, camera=1, ccd=1, cadence=1800, area=114)
    lcs = [lc for lc in sector_sim.light_curves if lc.cbv_area == 114][:40]
    settings = CBVBuildSettings(min_stars=35)
    with pytest.raises(
        CBVBuildError, match=r"only \d+ stars below 1.3 × the median variability \(need 35\)"
    ):
        build_cbv_set(lcs, sector=1, camera=1, ccd=1, cadence=1800, area=114, settings=settings)


def test_build_writes_file_and_plot_resumes_and_refuses_other_settings(sector_sim, tmp_path):
    context = InMemoryCorrectionContext(sector_sim.light_curves, tmp_path / "cbv")
    kwargs = dict(sector=1, camera=1, ccd=1, cadence=1800, method="aperture", area=112)
    path = build_cbvs(context, **kwargs)
    assert path.name == "tess-s0001-c1800-a112-v01-tasoc_cbv.fits"
    assert path.with_suffix(".png").stat().st_size > 10_000
    assert sorted(p.name for p in path.parent.iterdir()) == [
        path.name,
        path.with_suffix(".png").name,
    ]
    cbvs = read_cbv_fits(path)
    assert cbvs.area == 112
    assert cbvs.coefficients is not None
    stamp = path.stat().st_mtime_ns
    assert build_cbvs(context, **kwargs) == path  # resume: kept as it is
    assert path.stat().st_mtime_ns == stamp
    other = CBVBuildSettings(threshold_variability=2.0)
    with pytest.raises(CBVBuildError, match=r"THR_VAR = 1\.3, the settings ask for 2\.0"):
        build_cbvs(context, settings=other, **kwargs)
    os.utime(path, ns=(stamp - 10**9, stamp - 10**9))
    build_cbvs(context, settings=other, overwrite=True, plot=False, **kwargs)
    assert fits.getheader(path)["THR_VAR"] == 2.0
