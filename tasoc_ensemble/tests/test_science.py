"""The ensemble corrector on simulated truth: long-period variables kept, local systematics
removed, too few neighbours refused (paper 004 §3.2)."""

from __future__ import annotations

import numpy as np

from tasoc_core.testing.systematics import without_signal


def systematics_left(corrected, stars):
    """Per-star RMS of (corrected − noise − jitter) over RMS of the injected systematics
    (smooth common modes + dump spikes + local patch). Jitter has a random coupling per star,
    which no ensemble of other stars can reproduce; it is treated as noise."""
    sim = corrected.sim
    jitter = sim.common - sim.smooth - sim.spikes
    out = []
    for i in stars:
        flux = corrected.results[i].flux / 1e6
        good = np.isfinite(flux)
        resid = (flux - sim.noise[i] - jitter[i])[good]
        truth = (sim.smooth[i] + sim.spikes[i] + sim.local[i])[good]
        out.append(np.std(resid - np.median(resid)) / np.std(truth - np.median(truth)))
    return np.array(out)


def test_keeps_at_least_80_percent_of_every_long_period_variable(field_corrected):
    sim = field_corrected.sim
    lpvs = np.flatnonzero(sim.kind == "lpv")
    assert len(lpvs) >= 20
    assert not field_corrected.errors
    kept = np.array([field_corrected.kept(i) for i in lpvs])
    assert kept.min() >= 0.8, sorted(kept)[:3]
    assert np.median(kept) >= 0.97
    # … while their systematics are removed too (measured on the signal-free twin).
    jitter = sim.common - sim.smooth - sim.spikes
    left = []
    for i in lpvs:
        twin = field_corrected._twin
        twin_lc = without_signal(sim, i)
        twin.cache.forget(twin_lc)
        flux = twin.correct(twin_lc, field_corrected.context).flux / 1e6
        twin.cache.forget(twin_lc)
        good = np.isfinite(flux)
        resid = (flux - sim.noise[i] - jitter[i])[good]
        truth = (sim.smooth[i] + sim.spikes[i] + sim.local[i])[good]
        left.append(np.std(resid - np.median(resid)) / np.std(truth - np.median(truth)))
    assert np.median(left) <= 0.3


def test_keeps_short_period_signals(field_corrected):
    # Not a target of the method (CBVs are better here), but it must not eat them.
    sim = field_corrected.sim
    kept = np.array([field_corrected.kept(i) for i in np.flatnonzero(sim.kind == "sine")])
    assert kept.min() >= 0.9
    assert np.median(kept) >= 0.99


def test_removes_local_systematics(local_corrected):
    sim = local_corrected.sim
    patch = [i for i in local_corrected.results if sim.kind[i] == "quiet" and sim.in_patch[i]]
    assert len(patch) >= 50
    assert np.median(np.abs(sim.local[patch]).max(axis=1)) > 3e-3  # clearly affected
    left = systematics_left(local_corrected, patch)
    assert np.median(left) <= 0.2, np.median(left)
    assert np.percentile(left, 90) <= 0.35


def test_removes_most_common_mode_systematics(field_corrected):
    sim = field_corrected.sim
    quiet = [i for i in field_corrected.results if sim.kind[i] == "quiet"]
    left = systematics_left(field_corrected, quiet)
    assert np.median(left) <= 0.3


def test_members_are_nearby_quiet_stars(field_corrected):
    sim = field_corrected.sim
    by_tic = {lc.target.starid: k for k, lc in enumerate(sim.light_curves)}
    for i in list(field_corrected.results)[:50]:
        result = field_corrected.results[i]
        (hdu,) = result.extra_hdus
        members = [by_tic[int(tic)] for tic in hdu.data["TIC"]]
        assert len(members) == result.headers["ENS_NUM"][0] >= 5
        assert i not in members
        # Quiet enough (frange < 0.4 admits modest variables; the median copes) and near:
        assert all(np.ptp(np.percentile(sim.relative_raw()[m], [5, 95])) < 0.4 for m in members)
        d = [np.hypot(*np.subtract(sim.light_curves[m].position, sim.light_curves[i].position))
             for m in members]  # fmt: skip
        assert max(d) < 150
