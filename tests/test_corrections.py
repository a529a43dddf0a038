"""`tasoc correct` over the simulated ci sector: both correctors side by side, resumable."""

from __future__ import annotations

import json
import sqlite3

import lightkurve as lk
import numpy as np
import pytest

from tasoc_core.status import Status


@pytest.fixture(scope="module")
def corrected(ci_photometry, tmp_path_factory):
    pipeline = ci_photometry.copy(tmp_path_factory.mktemp("corrected"))
    pipeline.cli("cbv", "build")
    pipeline.cli("correct", "-m", "cbv,ensemble", "-j", "2")
    return pipeline


def rows(pipeline, sql, *args):
    with sqlite3.connect(pipeline.todo) as conn:
        return conn.execute(sql, args).fetchall()


def test_both_correctors_stored_side_by_side(corrected):
    counts = dict(
        rows(
            corrected,
            "SELECT corrector, COUNT(*) FROM corrections WHERE status IN (1, 3) GROUP BY corrector",
        )
    )
    assert counts["cbv"] > 100
    assert counts["ensemble"] > 100
    both = rows(
        corrected,
        "SELECT a.priority, a.lightcurve, b.lightcurve FROM corrections a JOIN corrections b "
        "ON a.priority = b.priority AND a.method = b.method WHERE a.corrector = 'cbv' AND b.corrector = 'ensemble' "
        "AND a.status = 1 AND b.status = 1",
    )
    assert len(both) > 100
    _, cbv_path, ens_path = both[0]
    assert cbv_path.endswith("-tasoc-cbv_lc.fits.gz")
    assert ens_path.endswith("-tasoc-ens_lc.fits.gz")
    for path in (cbv_path, ens_path):
        lc = lk.read(corrected.output / path)
        assert lc.meta["AUTHOR"] == "TASOC"
        assert str(lc.flux.unit) == "ppm"
        assert np.isfinite(lc.flux.value).mean() > 0.9
        assert abs(np.nanmedian(lc.flux.value)) < 1e4  # relative to the star's mean
    from astropy.io import fits

    with fits.open(corrected.output / ens_path) as hdul:
        assert hdul["LIGHTCURVE"].header["CORRMET"] == "Ensemble"
        assert hdul["LIGHTCURVE"].header["ENS_NUM"] >= 5
        assert len(hdul["ENSEMBLE"].data) == hdul["LIGHTCURVE"].header["ENS_NUM"]
    with fits.open(corrected.output / cbv_path) as hdul:
        assert hdul["LIGHTCURVE"].header["CORRMET"] == "CBV"
        assert hdul["LIGHTCURVE"].header["CBV_NUM"] >= 1


def test_correction_diagnostics_before_and_after(corrected):
    for corrector in ("cbv", "ensemble"):
        values = rows(
            corrected,
            "SELECT variance_before, variance, rms_hour_before, rms_hour, ptp FROM corrections "
            "WHERE corrector = ? AND status = 1",
            corrector,
        )
        arr = np.array(values, dtype=float)
        assert np.all(np.isfinite(arr))
        # Co-trending removes variance (long-term trends) far more than it changes the
        # point-to-point scatter (paper 004 §4.1).
        assert np.median(arr[:, 1] / arr[:, 0]) < 1.0


def test_unapproved_photometry_is_skipped_with_a_reason(corrected):
    unapproved = rows(
        corrected,
        "SELECT priority, method FROM datavalidation WHERE approved = 0 AND corrector = ''",
    )
    assert unapproved, "the ci sector should have a few unapproved results"
    for priority, method in unapproved:
        status, errors = rows(
            corrected,
            "SELECT status, errors FROM corrections WHERE priority = ? AND method = ? AND corrector = 'cbv'",
            priority,
            method,
        )[0]
        assert status == Status.SKIPPED
        assert "not approved" in errors


def test_a_rerun_does_nothing_and_retry_errors_redoes_only_errors(corrected):
    before = rows(
        corrected, "SELECT priority, corrector, status, finished_at FROM corrections ORDER BY 1, 2"
    )
    result = corrected.cli("correct", "-m", "cbv,ensemble", "--backend", "serial", "--json")
    report = json.loads(result.output)
    assert report["cbv"]["tasks"] == 0
    assert report["ensemble"]["tasks"] == 0
    assert (
        rows(
            corrected,
            "SELECT priority, corrector, status, finished_at FROM corrections ORDER BY 1, 2",
        )
        == before
    )
    errors = rows(
        corrected, "SELECT COUNT(*) FROM corrections WHERE corrector = 'ensemble' AND status = 2"
    )[0][0]
    result = corrected.cli(
        "correct", "-m", "ensemble", "--backend", "serial", "--retry-errors", "--json"
    )
    assert json.loads(result.output)["ensemble"]["tasks"] == errors


def test_ensemble_refusals_name_the_reason(corrected):
    refused = rows(
        corrected, "SELECT errors FROM corrections WHERE corrector = 'ensemble' AND status = 2"
    )
    for (message,) in refused:
        assert "neighbour" in message or "ensemble" in message.lower()
