"""CBV and Ensemble on the same simulated field: each is better where paper 004 says it is.

Paper 004 §4.2 and §6: the CBV method removes the shared, secular systematics and the
momentum-dump residuals better; the Ensemble method corrects spatially local systematics
and preserves long-period variability that the CBVs partly absorb.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import pytest

from tasoc_cbv import CBVCorrector
from tasoc_core.exceptions import TargetError
from tasoc_core.testing import InMemoryCorrectionContext
from tasoc_core.testing.systematics import signal_kept, simulate_sector, without_signal
from tasoc_ensemble import EnsembleCorrector


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    logging.getLogger("tasoc_cbv.corrector").setLevel(logging.ERROR)
    sim = simulate_sector(nstars=500, seed=7, region=(900, 1700, 1200, 2000), n_patches=4,
                          patch_radius=90, frac_lpv=0.05)  # fmt: skip
    context = InMemoryCorrectionContext(sim.light_curves, tmp_path_factory.mktemp("cmp"))
    out = {}
    for name, corrector, twin in (
        ("cbv", CBVCorrector(), CBVCorrector()),
        ("ensemble", EnsembleCorrector(), EnsembleCorrector()),
    ):
        results = {}
        for i, lc in enumerate(sim.light_curves):
            with contextlib.suppress(TargetError):
                results[i] = corrector.correct(lc, context)
        kept = {}
        for i in np.flatnonzero(sim.kind == "lpv"):
            if i not in results:
                continue
            lc = without_signal(sim, i)
            if name == "ensemble":
                twin.cache.forget(lc)
            other = (corrector if name == "cbv" else twin).correct(lc, context)
            if name == "ensemble":
                twin.cache.forget(lc)
            kept[i] = signal_kept(results[i].flux, other.flux, sim.intrinsic[i])
        out[name] = (results, kept)
    return sim, out


def residual(sim, result, i):
    jitter = sim.common[i] - sim.smooth[i] - sim.spikes[i]
    flux = result.flux / 1e6
    good = np.isfinite(flux)
    resid = (flux - sim.noise[i] - jitter)[good]
    truth = (sim.smooth[i] + sim.spikes[i] + sim.local[i])[good]
    return np.std(resid - np.median(resid)) / np.std(truth - np.median(truth))


def test_both_correct_most_stars(compared):
    sim, out = compared
    for results, _ in out.values():
        assert len(results) >= 0.95 * len(sim.light_curves)


def test_cbv_is_better_for_shared_systematics(compared):
    sim, out = compared
    stars = [i for i in sim.quiet_outside_patches() if all(i in r for r, _ in out.values())]
    cbv = np.median([residual(sim, out["cbv"][0][i], i) for i in stars])
    ens = np.median([residual(sim, out["ensemble"][0][i], i) for i in stars])
    assert cbv < 0.1
    assert cbv < 0.7 * ens


def test_ensemble_is_better_for_local_systematics(compared):
    sim, out = compared
    patch = [i for i in np.flatnonzero((sim.kind == "quiet") & sim.in_patch)
             if all(i in r for r, _ in out.values())]  # fmt: skip
    assert len(patch) >= 30
    cbv = np.median([residual(sim, out["cbv"][0][i], i) for i in patch])
    ens = np.median([residual(sim, out["ensemble"][0][i], i) for i in patch])
    assert ens < 0.8 * cbv


def test_ensemble_preserves_long_period_variables_better(compared):
    _, out = compared
    cbv, ens = out["cbv"][1], out["ensemble"][1]
    common = sorted(set(cbv) & set(ens))
    assert len(common) >= 20
    assert min(ens[i] for i in common) >= 0.8
    assert np.median([ens[i] for i in common]) > np.median([cbv[i] for i in common])
