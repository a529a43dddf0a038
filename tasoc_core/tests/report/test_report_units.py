"""Building blocks of the report and comparison, on synthetic inputs with known answers."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tasoc_core.cli import cli
from tasoc_core.compare import compare_results, format_comparison, magnitude_bins, text_table
from tasoc_core.exceptions import SchemaError, TasocError
from tasoc_core.report import (
    build_report,
    load_results,
    power_density,
    select_targets,
    summarize,
)
from tasoc_core.report.population import binned_statistic, plot_noise
from tasoc_core.report.targets import aperture_outline
from tasoc_core.status import Status
from tasoc_core.todo import TodoFile, TodoRow
from tasoc_core.validation import noise_model

# --- power density spectrum ------------------------------------------------------------------


def test_power_density_calibration_recovers_the_mode_power():
    rng = np.random.default_rng(3)
    dt = 1800.0 / 86400
    time = np.arange(1300) * dt
    nu0, amplitude = 100e-6, 500.0  # Hz, ppm
    flux = amplitude * np.sin(2 * np.pi * nu0 * time * 86400) + rng.normal(0, 300.0, time.size)
    flux[200:260] = np.nan  # a gap is ignored
    freq, psd = power_density(time, flux)
    df = freq[1] - freq[0]
    resolution = 1e6 / ((time[-1] - time[0]) * 86400)
    assert freq[np.argmax(psd)] == pytest.approx(nu0 * 1e6, abs=df)
    # The power of the mode (integrated over its peak) is its variance A²/2; the noise
    # (300 ppm rms spread over 278 µHz) adds about 2 % of it within ±3 resolutions.
    peak = np.abs(freq - nu0 * 1e6) <= 3 * resolution
    assert np.sum(psd[peak]) * df == pytest.approx(amplitude**2 / 2, rel=0.1)
    nyquist = 1e6 / (2 * 1800)
    assert nyquist - df <= freq[-1] < nyquist


def test_power_density_of_white_noise_is_flat_at_the_expected_level():
    rng = np.random.default_rng(4)
    dt_s = 120.0
    sigma = 200.0
    time = np.arange(20000) * dt_s / 86400
    _, psd = power_density(time, rng.normal(0, sigma, time.size))
    # One-sided white-noise density: sigma² / Nyquist = 2 σ² Δt (per Hz), per µHz ×1e-6.
    assert np.mean(psd) == pytest.approx(2 * sigma**2 * dt_s * 1e-6, rel=0.05)


def test_power_density_needs_points():
    freq, psd = power_density(np.arange(5.0), np.ones(5))
    assert freq.size == psd.size == 0


# --- small helpers ---------------------------------------------------------------------------


def test_aperture_outline_is_the_perimeter():
    single = np.zeros((3, 3), bool)
    single[1, 1] = True
    segments = aperture_outline(single)
    assert len(segments) == 4
    xs = sorted({x for seg in segments for x, _ in seg})
    assert xs == [0.5, 1.5]
    shape = np.zeros((4, 5), bool)
    shape[1, 1:4] = True
    shape[2, 1] = True  # an L: 4 pixels, perimeter 10 edges
    assert len(aperture_outline(shape)) == 10
    assert aperture_outline(np.zeros((2, 2), bool)) == []


def test_binned_statistic_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.uniform(5, 9, 500)
    y = rng.normal(size=500)
    y[::50] = np.nan
    centres, medians, counts = binned_statistic(x, y, bin_width=1.0)
    assert centres.tolist() == [5.5, 6.5, 7.5, 8.5]
    for c, m, n in zip(centres, medians, counts):
        sel = (x >= c - 0.5) & (x < c + 0.5) & np.isfinite(y)
        assert n == sel.sum()
        assert m == pytest.approx(np.median(y[sel]))
    _, p95, _ = binned_statistic(x, y, bin_width=1.0, statistic="percentile")
    sel = (x >= 5) & (x < 6) & np.isfinite(y)
    assert p95[0] == pytest.approx(np.percentile(y[sel], 95))
    assert binned_statistic(x[:2], y[:2], min_count=3)[0].size == 0


def test_magnitude_bins_cover_every_target():
    edges = magnitude_bins(np.array([3.2, 14.999, 15.0]), 1.0)
    assert edges[0] == 3.0
    assert edges[-1] == 16.0
    assert magnitude_bins(np.array([]), 1.0).size == 0
    with pytest.raises(TasocError, match="bin width"):
        magnitude_bins(np.array([1.0]), 0.0)


def test_text_table_aligns():
    text = text_table(["name", "n"], [["a", 1], ["bbb", 22.5], ["c", None]])
    lines = text.splitlines()
    assert lines[0].startswith("name")
    assert lines[2].endswith("  1")
    assert lines[4].endswith("–")


# --- a synthetic TODO-file -------------------------------------------------------------------


def _rows(n: int) -> list[TodoRow]:
    return [
        TodoRow(starid=1000 + i, sector=2, camera=1, ccd=1, cadence=1800, datasource="ffi",
                tmag=6.0 + 8.0 * i / n, ra=10.0, dec=-50.0, cbv_area=111)
        for i in range(n)
    ]  # fmt: skip


def _insert_photometry(todo: TodoFile, priority: int, method: str, status: Status, **values):
    columns = ["priority", "method", "status", *values]
    with todo.transaction() as conn:
        conn.execute(
            f"INSERT INTO photometry ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [priority, method, int(status), *values.values()],
        )


@pytest.fixture
def synthetic_todo(tmp_path: Path) -> Path:
    """40 FFI targets; aperture on all but 4 (2 errors), halo on 10; diagnostics known."""
    path = tmp_path / "out" / "todo.sqlite"
    todo = TodoFile.create(path, _rows(40))
    rng = np.random.default_rng(2)
    with todo:
        for p in range(1, 37):
            tmag = todo.row(p).tmag
            expected = noise_model(tmag, 1800, 3600.0, ra=10.0, dec=-50.0).total[()] * 1e-6
            status = Status.ERROR if p in (5, 6) else Status.OK
            values = {} if status == Status.ERROR else {
                "rms_hour": expected * 2.0, "ptp": expected, "mean_flux": 10 ** (-0.4 * (tmag - 20.4)),
                "contamination": 0.01, "mask_size": 20, "stamp_width": 15, "stamp_height": 15,
                "stamp_resizes": int(p % 3 == 0), "elaptime": 0.5,
            }  # fmt: skip
            errors = "TIC failed: edge" if status == Status.ERROR else None
            _insert_photometry(todo, p, "aperture", status, errors=errors, **values)
            if p <= 10:
                _insert_photometry(todo, p, "halo", Status.OK, rms_hour=expected * rng.uniform(1, 3),
                                   ptp=expected, mean_flux=1e4, contamination=0.0)  # fmt: skip
        with todo.transaction() as conn:
            conn.execute(
                "INSERT INTO datavalidation (priority, method, corrector, dataval, approved) "
                "VALUES (1, 'aperture', '', 512, 1), (2, 'aperture', '', 64, 0)"
            )
    return path


def test_load_results_and_missing(synthetic_todo: Path):
    results = load_results(synthetic_todo)
    assert results.n_targets == 40
    assert results.methods == ("aperture", "halo")
    assert results.status_counts() == {"aperture": {"ok": 34, "error": 2}, "halo": {"ok": 10}}
    assert np.isnan(results.photometry["rms_hour"][results.photometry["status"] == 2]).all()
    what = [m.what for m in results.missing()]
    assert "photometry of 4 of 40 targets" in what
    assert "validation of 42 successful photometry results" in what
    assert any(w.startswith("corrections") for w in what)
    summary = summarize(results)
    assert summary["validation"]["aperture"] == {
        "validated": 2, "approved": 1, "flags": {"LargeMask": 1, "LowRMS": 1},
    }  # fmt: skip
    # rms_hour was set to twice the expected noise: every bin's median ratio is 2.
    assert all(b["rms_ratio"] == pytest.approx(2.0) for b in summary["noise"]["aperture"])
    assert all(b["ptp_ratio"] is not None for b in summary["noise"]["aperture"])


def test_compare_on_synthetic_todo(synthetic_todo: Path):
    result = compare_results(synthetic_todo, truth=False)
    json.dumps(result, allow_nan=False)  # JSON-safe
    phot = result["photometry"]
    assert phot["names"] == ["aperture", "halo"]
    assert phot["status"]["aperture"]["fractions"]["error"] == pytest.approx(2 / 36)
    assert phot["common"]["n"] == 8  # halo on 1-10, aperture failed on 5 and 6
    pair = phot["common"]["pairs"][0]
    conn = sqlite3.connect(synthetic_todo)
    ratios = [
        h / a
        for a, h in conn.execute(
            "SELECT a.rms_hour, h.rms_hour FROM photometry a JOIN photometry h USING (priority) "
            "WHERE a.method = 'aperture' AND h.method = 'halo' AND a.status = 1"
        )
    ]
    assert pair["rms_ratio_median"] == pytest.approx(np.median(ratios))
    assert pair["b_quieter_rms_fraction"] == pytest.approx(np.mean(np.array(ratios) < 1))
    assert len(phot["targets"]) == 36
    text = format_comparison(result)
    assert "halo / aperture" in text
    with pytest.raises(TasocError, match=r"'psf'.*aperture, halo"):
        compare_results(synthetic_todo, methods=["psf"], truth=False)
    with pytest.raises(TasocError, match="corrector 'cbv'"):
        compare_results(synthetic_todo, correctors=["cbv"], truth=False)


def test_compare_refuses_a_bad_sysnoise_naming_the_key(synthetic_todo: Path, tmp_path: Path):
    import attrs

    from tasoc_core.config import Config
    from tasoc_core.exceptions import ConfigError

    bad = attrs.evolve(Config(), validators={"noise": {"sysnoise": "abc"}})
    with pytest.raises(
        ConfigError, match=r"validators\.noise\.sysnoise: expected a number, got 'abc'"
    ):
        compare_results(synthetic_todo, config=bad, truth=False)
    config = tmp_path / "tasoc.toml"
    config.write_text("[validators.noise]\nsysnoise = -1.0\n")
    result = CliRunner().invoke(
        cli, ["-c", str(config), "compare", "--todo", str(synthetic_todo), "--no-truth"]
    )
    assert result.exit_code != 0
    assert "validators.noise: 'sysnoise' must be >= 0.0: -1.0" in result.output
    # A good value is the one used.
    good = attrs.evolve(Config(), validators={"noise": {"sysnoise": 12.5}})
    assert compare_results(synthetic_todo, config=good, truth=False)["sysnoise_ppm"] == 12.5


def test_a_truth_directory_that_is_not_a_simulated_sector_is_refused(
    synthetic_todo: Path, tmp_path: Path
):
    from tasoc_core.compare import resolve_truth

    not_sector = tmp_path / "nothing"
    not_sector.mkdir()
    message = f"{not_sector} is not a simulated sector"
    with pytest.raises(TasocError, match=message):
        compare_results(synthetic_todo, truth=not_sector)
    with pytest.raises(TasocError, match=message):
        build_report(synthetic_todo, out_dir=tmp_path / "rep", truth=not_sector)
    # None looks in the input directory: not a simulated sector there means no truth.
    assert resolve_truth(None, not_sector) is None
    assert resolve_truth(None, None) is None
    assert resolve_truth(False, not_sector) is None


def test_select_targets_spreads_over_magnitude(synthetic_todo: Path):
    results = load_results(synthetic_todo)
    # No light-curve paths in the synthetic file: nothing to draw.
    assert select_targets(results, count=5) == []
    with sqlite3.connect(synthetic_todo) as conn:
        conn.execute("UPDATE photometry SET lightcurve = 'lc/' || priority || method")
    results = load_results(synthetic_todo)
    chosen = select_targets(results, count=4, methods=["aperture"])
    priorities = [c.priority for c in chosen]
    assert priorities[0] == 1  # the brightest
    assert priorities[-1] == 36  # the faintest with a result
    assert len(priorities) == 4
    both = select_targets(results, priorities=[3])
    assert [(c.priority, c.method) for c in both] == [(3, "aperture"), (3, "halo")]


def test_noise_figure_draws_points_and_the_model(synthetic_todo: Path):
    results = load_results(synthetic_todo)
    rows = results.succeeded("aperture")
    fig = plot_noise(rows, kind="rms")
    (ax,) = fig.axes
    offsets = ax.collections[0].get_offsets()
    assert len(offsets) == 34
    np.testing.assert_allclose(np.sort(offsets[:, 1]), np.sort(rows["rms_hour"] * 1e6))
    total = next(line for line in ax.get_lines() if line.get_label() == "total")
    x, y = total.get_data()
    np.testing.assert_allclose(y, noise_model(x, 1800, 3600.0, ra=10.0, dec=-50.0).total)


def test_report_of_a_synthetic_todo_file_without_light_curves(synthetic_todo: Path, tmp_path: Path):
    html = build_report(synthetic_todo, out_dir=tmp_path / "rep", targets=3)
    text = html.read_text()
    assert "photometry of 4 of 40 targets" in text
    assert "Photometry: aperture" in text
    assert "TIC failed: edge" in text  # the error messages
    data = json.loads((html.parent / "report.json").read_text())
    assert data["summary"]["status"]["photometry"]["aperture"] == {"ok": 34, "error": 2}
    assert data["comparison"]["photometry"]["names"] == ["aperture", "halo"]
    for name in data["summary"]["figures"]:
        assert Path(name).is_file()
    # A method without results is refused before anything is written.
    with pytest.raises(TasocError, match=r"no photometry results of method 'psf'.*aperture, halo"):
        build_report(synthetic_todo, out_dir=tmp_path / "rep-psf", methods=["aperture", "psf"])
    assert not (tmp_path / "rep-psf").exists()


def test_newer_schema_is_refused_with_both_versions(synthetic_todo: Path, tmp_path: Path):
    with sqlite3.connect(synthetic_todo) as conn:
        conn.execute("PRAGMA user_version = 7")
    with pytest.raises(SchemaError, match=r"version 7 is newer.*version 1"):
        build_report(synthetic_todo, out_dir=tmp_path / "rep")
    assert not (tmp_path / "rep").exists()
    result = CliRunner().invoke(
        cli, ["report", "--todo", str(synthetic_todo), "-o", str(tmp_path / "r")]
    )
    assert result.exit_code == 1
    assert "newer than this tasoc-core" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = CliRunner().invoke(cli, ["compare", "--todo", str(synthetic_todo)])
    assert result.exit_code == 1
    assert "schema version 7" in result.output


def test_not_a_todo_file(tmp_path: Path):
    bogus = tmp_path / "todo.sqlite"
    bogus.write_text("hello")
    result = CliRunner().invoke(cli, ["report", "--todo", str(bogus)])
    assert result.exit_code == 1
    assert str(bogus) in result.output
    result = CliRunner().invoke(cli, ["compare", "--todo", str(tmp_path / "missing.sqlite")])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_empty_todo_file_report_says_what_is_missing(tmp_path: Path):
    path = tmp_path / "out" / "todo.sqlite"
    TodoFile.create(path, []).close()
    html = build_report(path, out_dir=tmp_path / "rep")
    text = html.read_text()
    assert "The TODO-file holds no targets." in text
    assert "tasoc catalog; tasoc todo" in text
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["summary"]["figures"] == []
    result = compare_results(path, truth=False)
    assert result["photometry"]["names"] == []
    assert "no photometry results" in format_comparison(result)


def test_report_and_compare_help():
    for command in ("report", "compare"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0
        assert "TODO-file" in result.output


def test_json_nan_is_null(synthetic_todo: Path):
    result = compare_results(synthetic_todo, truth=False)
    bins = result["photometry"]["bins"]["halo"]
    # halo has no results fainter than the tenth target: those bins hold no value.
    empty = [b for b in bins if b["n"] == 0]
    assert empty
    assert all(b["rms_hour_ppm"] is None for b in empty)
    assert not any(isinstance(v, float) and math.isnan(v) for b in bins for v in b.values())


def test_comparison_bin_figures_skip_the_legend_of_an_empty_panel():
    """A field without a value in any bin leaves its panel empty, without a legend (and
    without matplotlib's "No artists with labels" warning, an error here)."""
    from tasoc_core.report.compare_figures import plot_correction_ratio, plot_noise_ratio_bins

    bins = [
        {"tmag_min": 8.0, "tmag_max": 9.0, "rms_ratio": 2.0, "ptp_ratio": None,
         "rms_after_over_before": 0.5, "ptp_after_over_before": None},
        {"tmag_min": 9.0, "tmag_max": 10.0, "rms_ratio": 3.0, "ptp_ratio": None,
         "rms_after_over_before": 0.7, "ptp_after_over_before": None},
    ]  # fmt: skip
    result = {
        "photometry": {"names": ["aperture"], "bins": {"aperture": bins}},
        "corrections": {"aperture": {"names": ["aperture/cbv"], "bins": {"aperture/cbv": bins}}},
    }
    for plot, field in ((plot_noise_ratio_bins, "rms_ratio"),
                        (plot_correction_ratio, "rms_after_over_before")):  # fmt: skip
        left, right = plot(result).axes
        lines = [
            line for line in left.get_lines() if line.get_label() in ("aperture", "aperture/cbv")
        ]
        assert lines
        for line in lines:
            np.testing.assert_allclose(line.get_xdata(), [8.5, 9.5])
            np.testing.assert_allclose(line.get_ydata(), [b[field] for b in bins])
        assert left.get_legend() is not None
        assert right.get_legend() is None
        assert not right.get_legend_handles_labels()[0]
    # Nothing in either panel: no figure.
    for b in bins:
        b["rms_ratio"] = b["rms_after_over_before"] = None
    assert plot_noise_ratio_bins(result) is None
    assert plot_correction_ratio(result) is None
