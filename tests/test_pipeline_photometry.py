"""`tasoc run` on the simulated ci sector, judged against the injected truth.

The session fixture ``ci_photometry`` is the ci sector after ``tasoc run -j 2`` with the
default rules; tests that change anything work on a copy (``Pipeline.copy``) and restrict
the run to a few targets where they can.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from astropy.io import fits

from tasoc_core.flags import TESS_DEFAULT_BITMASK
from tasoc_core.photometry.queue import PhotometryQueue
from tasoc_core.photometry.tasks import AttemptRecord, TargetOutcome
from tasoc_core.plugins import get_plugin_manager
from tasoc_core.prf import PRFModel
from tasoc_core.status import Status
from tasoc_core.todo import TodoFile

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / "tasoc_core" / "tests" / "data"
FINAL = (Status.OK, Status.ERROR, Status.WARNING, Status.SKIPPED)
SUCCESS = (Status.OK, Status.WARNING)


# -- helpers ------------------------------------------------------------------------------
def query(db: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    """Rows of a read-only query (never blocks a running master: the file is in WAL mode)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def results(pipeline, where: str = "1") -> list[dict[str, Any]]:
    """``photometry`` rows joined with their ``todolist`` rows."""
    sql = f"SELECT * FROM photometry JOIN todolist USING (priority) WHERE {where} ORDER BY priority"
    return [dict(r) for r in query(pipeline.todo, sql)]


def statuses(pipeline) -> dict[tuple[int, str], int]:
    return {
        (r["priority"], r["method"]): r["status"]
        for r in query(pipeline.todo, "SELECT priority, method, status FROM photometry")
    }


def skipped_by(pipeline) -> dict[tuple[int, str], int]:
    return {
        (r["priority"], r["method"]): r["skipped_by"]
        for r in query(pipeline.todo, "SELECT * FROM photometry_skipped")
    }


def light_curve_files(output: Path) -> set[str]:
    """Every raw light curve under ``output`` (paths relative to it)."""
    return {
        p.relative_to(output).as_posix()
        for p in (output / "lightcurves").rglob("*-tasoc_lc.fits.gz")
    }


def temporary_files(output: Path) -> list[Path]:
    return [p for p in output.rglob(".*") if p.name.endswith(".tmp")]


def aperture_pixels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """0-based CCD (rows, cols) of the photometric aperture (APERTURE bit 2) of a file."""
    with fits.open(path) as hdul:
        image = np.asarray(hdul["APERTURE"].data)
        header = hdul["APERTURE"].header
    rows, cols = np.nonzero(image & 2)
    return rows + header["CRVAL2P"] - 1, cols + header["CRVAL1P"] - 1


def truth_pixel(truth, starid: int) -> tuple[int, int]:
    """The CCD pixel holding a star at zero jitter (pixel centres at integers)."""
    star = truth.star(starid)
    return int(np.floor(star["row"] + 0.5)), int(np.floor(star["col"] + 0.5))


def truth_cadences(truth, row: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per-cadence truth of a TODO row: cadenceno, time, timecorr, relative flux, systematics."""
    if row["datasource"] == "ffi":
        time_ = truth.target_time(row["starid"])
        return {
            "cadenceno": truth.cadenceno,
            "time": time_,
            "timecorr": time_ - truth.ffi_time_tess,
            "relative": truth.relative_flux(row["starid"]),
            "systematics": truth.systematics(row["starid"]),
        }
    primary = row["starid"] if row["datasource"] == "tpf" else int(row["datasource"][4:])
    tpf = truth.tpf_cadences(primary, row["cadence"])
    return {
        "cadenceno": tpf["cadenceno"],
        "time": tpf["time"],
        "timecorr": tpf["timecorr"],
        "relative": truth.relative_flux(row["starid"], row["cadence"]),
        "systematics": truth.systematics(row["starid"], row["cadence"]),
    }


@attrs.frozen
class RenderedStars:
    """Noiseless e-/s images of every simulated star (zero jitter, nominal focus, no bleed).

    Rendered as the simulator renders them: stars brighter than Tmag 15 on 13×13 pixels,
    fainter ones on 7×7, through the sector's PRF files.
    """

    starid: np.ndarray  # (N,)
    pixel: np.ndarray  # (N, P) row * 100000 + col, -1 where unused
    value: np.ndarray  # (N, P) e-/s

    def flux_in(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Flux (e-/s) of each star falling on the given pixels."""
        inside = np.isin(self.pixel, np.asarray(rows) * 100000 + np.asarray(cols))
        return np.where(inside, self.value, 0.0).sum(axis=1)

    def contamination(self, starid: int, rows: np.ndarray, cols: np.ndarray) -> float:
        """True fraction of the flux on these pixels that comes from stars other than one."""
        flux = self.flux_in(rows, cols)
        own = float(flux[self.starid == starid][0])
        return 1.0 - own / float(flux.sum())


@pytest.fixture(scope="module")
def rendered(ci_pipeline) -> RenderedStars:
    return render_stars(ci_pipeline)


def render_stars(pipeline) -> RenderedStars:
    """Every simulated star of a pipeline's sector through its PRF, at zero jitter."""
    truth = pipeline.truth
    stars = truth.stars
    camera, ccd = int(truth.attrs["camera"]), int(truth.attrs["ccd"])
    prf = PRFModel.read(pipeline.sector / "prf", camera, ccd)
    tmag = np.asarray(stars["tmag"])
    n = len(stars)
    pixel = np.full((n, 13 * 13), -1, dtype=np.int64)
    value = np.zeros((n, 13 * 13))
    for sel, size in ((tmag < 15, 13), (tmag >= 15, 7)):
        idx = np.flatnonzero(sel)
        frac, rows, cols = prf.stamps(
            np.asarray(stars["row"])[idx], np.asarray(stars["col"])[idx], size
        )
        pixel[idx, : size * size] = rows * 100000 + cols
        value[idx, : size * size] = frac * np.asarray(stars["flux"])[idx, None]
    return RenderedStars(np.asarray(stars["starid"]), pixel, value)


@attrs.frozen
class Matched:
    """A light curve's good cadences (QUALITY 0, finite time and raw flux) with the truth."""

    time: np.ndarray
    cadenceno: np.ndarray
    flux: np.ndarray  #: FLUX_RAW divided by the star's true multiplicative systematics
    systematics: np.ndarray  #: those systematics
    relative: np.ndarray  #: the star's injected relative flux, F/F̄ − 1
    index: np.ndarray  #: position of each cadence among the truth's cadences of the row

    @property
    def normalised(self) -> np.ndarray:
        """``flux`` over its median, minus 1."""
        return self.flux / np.median(self.flux) - 1.0


def matched(truth, row: dict[str, Any], table: Any) -> Matched:
    """The good cadences of a LIGHTCURVE table next to the truth of its TODO row."""
    true = truth_cadences(truth, row)
    index = np.searchsorted(true["cadenceno"], table["CADENCENO"])
    good = (table["QUALITY"] == 0) & np.isfinite(table["FLUX_RAW"]) & np.isfinite(table["TIME"])
    return Matched(
        time=np.asarray(table["TIME"][good], dtype=float),
        cadenceno=np.asarray(table["CADENCENO"][good]),
        flux=table["FLUX_RAW"][good] / true["systematics"][index][good],
        systematics=true["systematics"][index][good],
        relative=true["relative"][index][good],
        index=index[good],
    )


def amplitude_ratio(truth, row: dict[str, Any], path: Path) -> tuple[float, float]:
    """Least-squares scale of the injected variability in a normalised raw light curve.

    The light curve is divided by the star's true multiplicative systematics, normalised
    by its median and fitted as ``a · relative_flux + b`` over the good cadences. Returns
    ``a`` and its standard error.
    """
    m = matched(truth, row, fits.getdata(path, "LIGHTCURVE"))
    y, x = m.normalised, m.relative
    design = np.column_stack([x, np.ones_like(x)])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    scatter = np.std(y - design @ coef)
    return float(coef[0]), float(scatter / np.std(x) / np.sqrt(x.size))


def local_depth_ratio(
    truth, row: dict[str, Any], path: Path, *, widths: float = 2.5, degree: int = 2
) -> tuple[float, float, int]:
    """Depth of the injected transits in a raw light curve against local baselines.

    As transit depths are measured in practice: every transit of the truth's relative flux
    (a run of cadences below its out-of-transit level) gets a window of ``widths`` transit
    durations on each side, and a polynomial baseline of ``degree`` in time of its own; one
    scale ``a`` of the true transit shape is fitted jointly with the baselines, by least
    squares, on the windows' cadences. The light curve is divided by the star's true
    multiplicative systematics first, as in :func:`amplitude_ratio` (a corrector's job).
    A slow drift (longer than the windows) does not change ``a``; one on the windows' scale
    does. Transits with fewer than 3 out-of-transit cadences on either side (in a gap, at
    an end) are left out.

    Returns
    -------
    tuple
        ``a`` (1: the true depth), its standard error, and the number of transits used.
    """
    m = matched(truth, row, fits.getdata(path, "LIGHTCURVE"))
    y, x, t = m.normalised, m.relative, m.time
    in_transit = x < x.max() - 0.01 * np.ptp(x)
    step = float(np.median(np.diff(t)))
    first = np.flatnonzero(np.diff(t[in_transit]) > 3 * step) + 1
    columns = [x]
    used = np.zeros(t.size, dtype=bool)
    for event in np.split(t[in_transit], first):
        duration = event[-1] - event[0] + step
        centre = 0.5 * (event[0] + event[-1])
        window = np.abs(t - centre) <= (0.5 + widths) * duration
        outside = window & ~in_transit
        if (
            min(np.count_nonzero(outside & (t < centre)), np.count_nonzero(outside & (t > centre)))
            < 3
        ):
            continue
        used |= window
        u = (t - centre) / duration
        columns += [np.where(window, u**d, 0.0) for d in range(degree + 1)]
    design = np.column_stack(columns)[used]
    coef, *_ = np.linalg.lstsq(design, y[used], rcond=None)
    resid = y[used] - design @ coef
    variance = resid @ resid / (resid.size - design.shape[1])
    error = np.sqrt(variance * np.linalg.inv(design.T @ design)[0, 0])
    return float(coef[0]), float(error), (len(columns) - 1) // (degree + 1)


def trend_basis(time: np.ndarray) -> np.ndarray:
    """(N, K) cubic B-spline design in time: knots every day, each orbit (a gap of more than
    half a day) on its own. Fitted alongside a signal it takes out drifts over days."""
    from scipy.interpolate import BSpline

    columns = []
    for part in np.split(np.arange(time.size), np.flatnonzero(np.diff(time) > 0.5) + 1):
        ts = time[part]
        inner = np.linspace(ts[0], ts[-1], max(1, int(np.ceil(ts[-1] - ts[0]))) + 1)
        knots = np.r_[[ts[0]] * 3, inner, [ts[-1]] * 3]
        spline = np.zeros((time.size, knots.size - 4))
        spline[part] = BSpline.design_matrix(ts, knots, 3).toarray()
        columns.extend(spline.T)
    return np.column_stack(columns)


def hourly_noise_ratio(
    y: np.ndarray,
    variance: np.ndarray,
    columns: list[np.ndarray],
    time: np.ndarray,
    per_hour: int,
) -> float:
    """1-hour RMS of what a linear model leaves of ``y``, over the same for white noise.

    ``y`` is fitted by least squares with ``columns`` and a :func:`trend_basis`; the
    residual is averaged over bins of ``per_hour`` consecutive cadences. The mean square
    of the bins is compared with what independent noise of the given per-cadence
    ``variance`` leaves after the same fit and binning, computed exactly
    (``trace(B P Σ P Bᵀ) / bins``, P the projection off the fitted columns, B the binning),
    so the fitted parameters do not flatter the ratio. Every step is linear: a large
    nuisance signal fitted out leaves nothing behind (a running-median high-pass, used
    before, does not commute with the fit: on the demo sector's flaring star it made
    0.97 read as 1.21).
    """
    design = np.column_stack([*columns, trend_basis(time)])
    u, s, _ = np.linalg.svd(design, full_matrices=False)
    basis = u[:, s > s[0] * 1e-9]  # columns that are all zero (a constant star's) drop out
    residual = y - basis @ (basis.T @ y)
    nbins = y.size // per_hour
    used = nbins * per_hour
    bins = residual[:used].reshape(nbins, per_hour).mean(axis=1)
    binning = np.zeros((nbins, y.size))
    binning[np.repeat(np.arange(nbins), per_hour), np.arange(used)] = 1.0 / per_hour
    filtered = binning - (binning @ basis) @ basis.T
    expected = float(np.sum(filtered**2 * variance[None, :])) / nbins
    return float(np.sqrt(np.mean(bins**2) / expected))


# -- 1. files and TODO rows ---------------------------------------------------------------
def test_every_light_curve_opens_with_lightkurve_and_matches_its_todo_row(ci_photometry):
    """Every successful row names a file that lightkurve reads (raw flux, BTJD times equal
    to the target's true times to < 1 ms), whose headers and content agree with the row's
    status, path and diagnostics; failed and skipped rows name no file, and no file exists
    that no row names."""
    import lightkurve as lk

    pipeline = ci_photometry
    truth = pipeline.truth
    rows = results(pipeline)
    assert len(rows) >= 150
    listed = {r["lightcurve"] for r in rows if r["lightcurve"]}
    assert light_curve_files(pipeline.output) == listed
    assert temporary_files(pipeline.output) == []
    dataval = {
        (r["priority"], r["method"]): r["dataval"]
        for r in query(pipeline.todo, "SELECT * FROM datavalidation WHERE corrector = ''")
    }
    checked = 0
    for row in rows:
        status = Status(row["status"])
        assert status in FINAL, row
        if status not in SUCCESS:
            assert row["lightcurve"] is None, row
            continue
        path = pipeline.output / row["lightcurve"]
        assert row["lightcurve"].startswith(f"lightcurves/{row['method']}/c{row['cadence']:04d}/")
        lc = lk.read(path, flux_column="flux_raw")
        assert lc.meta["TICID"] == row["starid"]
        assert (lc.meta["SECTOR"], lc.meta["CAMERA"], lc.meta["CCD"]) == (
            row["sector"],
            row["camera"],
            row["ccd"],
        )
        assert str(lc.flux.unit) == "electron / s"
        assert lc.time.format == "btjd"
        assert lc.time.scale == "tdb"
        with fits.open(path) as hdul:
            primary, header = hdul[0].header, hdul["LIGHTCURVE"].header
            table = hdul["LIGHTCURVE"].data
            mask_size = np.count_nonzero(np.asarray(hdul["APERTURE"].data) & 2)
        np.testing.assert_array_equal(lc.flux.value, table["FLUX_RAW"])
        # Times: the star's own barycentric times (FFI) or SPOC's (TPF), cadence by cadence.
        true = truth_cadences(truth, row)
        index = np.searchsorted(true["cadenceno"], table["CADENCENO"])
        np.testing.assert_array_equal(true["cadenceno"][index], table["CADENCENO"])
        assert np.all(np.isfinite(true["time"][index]))
        assert len(table) == np.count_nonzero(np.isfinite(true["time"]))
        assert np.max(np.abs(lc.time.value - true["time"][index])) * 86400 < 1e-3
        assert np.max(np.abs(table["TIMECORR"] - true["timecorr"][index])) * 86400 < 1e-3
        # The row's diagnostics are the file's.
        assert primary["PHOTMET"] == row["method"]
        assert primary["PHOTRULE"] == row["rule"]
        assert primary["DATASRC"] == row["datasource"]
        assert primary["DATAVAL"] == dataval[(row["priority"], row["method"])]
        good = ((table["PIXEL_QUALITY"] & TESS_DEFAULT_BITMASK) == 0) & np.isfinite(
            table["FLUX_RAW"]
        )
        assert header["NUMGOOD"] == row["num_good"] == np.count_nonzero(good)
        assert np.median(table["FLUX_RAW"][good]) == pytest.approx(row["mean_flux"], rel=1e-12)
        assert header["MEANFLUX"] == pytest.approx(row["mean_flux"], rel=1e-12)
        assert header["RMS_HOUR"] == pytest.approx(row["rms_hour"] * 1e6, rel=1e-9)
        assert header["PTP_MDV"] == pytest.approx(row["ptp"] * 1e6, rel=1e-9)
        assert header["MASKSIZE"] == row["mask_size"] == mask_size
        if row["contamination"] is None:
            assert primary["CONTAM"] is None
        else:
            assert primary["CONTAM"] == pytest.approx(row["contamination"], abs=1e-12)
        if row["method"] == "aperture":  # 1-based flux-weighted centroids in the file
            centroid = (
                np.nanmedian(table["MOM_CENTR2"][good]),
                np.nanmedian(table["MOM_CENTR1"][good]),
            )
            assert centroid[0] - 1 == pytest.approx(row["pos_row"], abs=1e-6)
            assert centroid[1] - 1 == pytest.approx(row["pos_column"], abs=1e-6)
        checked += 1
    assert checked >= 130


# -- 2. rules -----------------------------------------------------------------------------
def test_rules_send_bright_stars_to_halo_and_everything_else_to_aperture(ci_photometry):
    """Default rules: aperture first for every target (no FFI star of the ci sector is at
    Tmag ≤ 2); halo after an aperture attempt with the outcome "edge", for Tmag ≤ 6 only."""
    pm = get_plugin_manager()
    rules = ci_photometry.config.rule_set(pm.method_rules())
    follow = [r for r in rules.rules if r.method == "halo" and r.after == "aperture"]
    assert len(follow) == 1
    assert follow[0].outcome == ("edge",)
    assert follow[0].tmag_max == 6.0
    rows = results(ci_photometry)
    by_target: dict[int, dict[str, dict]] = {}
    for row in rows:
        by_target.setdefault(row["priority"], {})[row["method"]] = row
    assert min(r["tmag"] for r in rows if r["datasource"] == "ffi") > 2.0
    halo_targets = []
    for priority, methods in by_target.items():
        aperture = methods["aperture"]
        assert aperture["rule"] == "fallback: any -> aperture", aperture
        if "halo" not in methods:
            continue
        halo = methods["halo"]
        if halo["status"] == Status.SKIPPED:  # inside a halo target's region, see test 3
            continue
        tags = json.loads(aperture["extra"] or "{}").get("tags", [])
        assert "edge" in tags, aperture
        assert aperture["tmag"] <= 6.0, aperture
        assert halo["rule"] == follow[0].describe()
        assert halo["status"] in SUCCESS
        halo_targets.append(priority)
    # The Tmag 3.2 star's 9×9 TPF cannot hold its aperture: aperture ended in ERROR
    # ("edge") and halo took over. Its FFI aperture grew to hold it and stayed.
    bright = [p for p, m in by_target.items() if m["aperture"]["tmag"] < 4]
    assert halo_targets == [p for p in bright if by_target[p]["aperture"]["datasource"] == "tpf"]
    tpf = by_target[halo_targets[0]]["aperture"]
    assert tpf["status"] == Status.ERROR
    assert "edge of stamp" in tpf["errors"]
    # Every other target with an edge outcome is fainter than the rule's limit.
    for methods in by_target.values():
        tags = json.loads(methods["aperture"]["extra"] or "{}").get("tags", [])
        if "edge" in tags and "halo" not in methods:
            assert methods["aperture"]["tmag"] > 6.0


def test_forced_method_and_the_brightest_ffi_rule(ci_pipeline, tmp_path):
    """A TIC in ``todo.forced_methods`` runs that method (rule "todo.forced_methods"); an
    FFI target at Tmag ≤ 2 goes to halo first (made here by editing a TODO row: the ci
    sector has no star that bright)."""
    pipeline = ci_pipeline.copy(tmp_path)
    forced = query(pipeline.todo, "SELECT * FROM todolist WHERE datasource = 'ffi' AND tmag > 9")
    forced = forced[0]
    text = pipeline.config_path.read_text()
    pipeline.config_path.write_text(
        text + f'\n[todo]\nforced_methods = {{"{forced["starid"]}" = "halo"}}\n'
    )
    pipeline.cli("todo")
    bright = query(pipeline.todo, "SELECT * FROM todolist WHERE datasource = 'ffi' LIMIT 1")[0]
    with sqlite3.connect(pipeline.todo) as conn:
        conn.execute("UPDATE todolist SET tmag = 1.9 WHERE priority = ?", (bright["priority"],))
    conn.close()
    pipeline.cli("run", "--backend", "serial", "--priority", str(forced["priority"]),
                 "--priority", str(bright["priority"]))  # fmt: skip
    got = {(r["priority"], r["method"]): r for r in results(pipeline)}
    row = got[(forced["priority"], "halo")]
    assert row["rule"] == "todo.forced_methods"
    assert row["status"] in SUCCESS
    assert (forced["priority"], "aperture") not in got
    assert query(pipeline.todo, "SELECT forced_method FROM todolist WHERE priority = ?",
                 forced["priority"])[0][0] == "halo"  # fmt: skip
    row = got[(bright["priority"], "halo")]
    assert row["rule"].endswith(": ffi, Tmag<=2 -> halo")
    assert row["status"] in SUCCESS
    assert (bright["priority"], "aperture") not in got
    assert fits.getheader(pipeline.output / row["lightcurve"])["PHOTRULE"] == row["rule"]


# -- 3. skipping --------------------------------------------------------------------------
def _secondary_source(row: dict[str, Any]) -> str:
    """Data source of the stars a result can skip: FFI stars, or the TPF's secondaries."""
    return "ffi" if row["datasource"] == "ffi" else f"tpf:{row['starid']}"


def test_fainter_stars_inside_an_aperture_are_skipped(ci_photometry):
    """Each SKIPPED row has a ``photometry_skipped`` row naming a brighter target with a
    result for the same method, and the truth puts the skipped star on a pixel of that
    target's aperture. Conversely every fainter target of the same data source whose true
    pixel is in a successful aperture was skipped."""
    pipeline = ci_photometry
    truth = pipeline.truth
    rows = {(r["priority"], r["method"]): r for r in results(pipeline)}
    skips = skipped_by(pipeline)
    assert len(skips) >= 15
    assert set(skips) == {k for k, r in rows.items() if r["status"] == Status.SKIPPED}
    apertures = {}
    for key, row in rows.items():
        if row["status"] in SUCCESS:
            r, c = aperture_pixels(pipeline.output / row["lightcurve"])
            apertures[key] = set(zip(r.tolist(), c.tolist(), strict=True))
    for (priority, method), by in skips.items():
        row, skipper = rows[(priority, method)], rows[(by, method)]
        assert skipper["status"] in SUCCESS
        assert skipper["tmag"] < row["tmag"]
        assert row["datasource"] == _secondary_source(skipper)
        assert row["errors"] == (
            f"inside the aperture of TIC {skipper['starid']} (priority {skipper['priority']})"
        )
        assert truth_pixel(truth, row["starid"]) in apertures[(by, method)], (priority, by)
    todo = [dict(r) for r in query(pipeline.todo, "SELECT * FROM todolist")]
    for key, pixels in apertures.items():
        owner = rows[key]
        for other in todo:
            if (
                other["tmag"] > owner["tmag"]
                and other["datasource"] == _secondary_source(owner)
                and other["cadence"] == owner["cadence"]
                and truth_pixel(truth, other["starid"]) in pixels
            ):
                assert skips.get((other["priority"], key[1])) is not None, (other, owner)


def test_results_commit_in_handout_order_whatever_finishes_first(
    ci_pipeline, ci_photometry, tmp_path
):
    """Three tasks out at once, as with parallel workers: two fainter stars inside the
    first one's aperture finish first. Nothing is committed until the first result is in;
    then the two are SKIPPED and their files deleted, as a serial run leaves them."""
    pipeline = ci_pipeline.copy(tmp_path)
    victims: dict[int, list[int]] = {}
    for (priority, method), by in sorted(skipped_by(ci_photometry).items()):
        if method == "aperture":
            victims.setdefault(by, []).append(priority)
    skipper = next(by for by, v in victims.items() if len(v) >= 2)
    priorities = [skipper, *victims[skipper][:2]]
    starid = {r["priority"]: r["starid"] for r in query(pipeline.todo, "SELECT * FROM todolist")}
    faint = tuple(starid[p] for p in priorities[1:])

    def outcome(task, skip: tuple[int, ...] = ()) -> TargetOutcome:
        relpath = f"lightcurves/aperture/{task.target.starid}.fits.gz"
        (pipeline.output / relpath).parent.mkdir(parents=True, exist_ok=True)
        (pipeline.output / relpath).write_bytes(b"light curve")
        attempt = AttemptRecord(
            "aperture", Status.OK, task.rule, 0.1, lightcurve=relpath, skip_targets=skip
        )
        return TargetOutcome(task, (attempt,))

    with TodoFile.open(pipeline.todo) as todo:
        queue = PhotometryQueue(
            todo, pipeline.config, get_plugin_manager(), filters={"priorities": priorities}
        )
        tasks = queue.next_tasks(3)
        assert [t.priority for t in tasks] == priorities
        queue.record([outcome(tasks[2]), outcome(tasks[1])])
        assert set(statuses(pipeline).values()) == {Status.STARTED}
        queue.record([outcome(tasks[0], skip=faint)])
        assert queue.next_tasks(3) == []
    assert statuses(pipeline) == {
        (priorities[0], "aperture"): Status.OK,
        (priorities[1], "aperture"): Status.SKIPPED,
        (priorities[2], "aperture"): Status.SKIPPED,
    }
    assert skipped_by(pipeline) == {(p, "aperture"): priorities[0] for p in priorities[1:]}
    assert [p.name for p in (pipeline.output / "lightcurves/aperture").iterdir()] == [
        f"{starid[skipper]}.fits.gz"
    ]


# -- 4. contamination ---------------------------------------------------------------------
def test_contamination_against_the_rendered_truth(ci_photometry, rendered):
    """With the sector's PRF files (``paths.prf``) the aperture method's contamination is
    the light every catalog star puts on the aperture through the PRF; paper 003's Eq. 2
    (one minus the target's catalog flux over that of the stars whose position falls in
    the aperture: a lower bound, paper 003 §5.1) is kept in the header as AP_CONTC.

    Against the true fraction (every simulated star rendered through the sector's PRF onto
    the aperture pixels), measured on the ci sector, 133 light curves: PRF-based median
    |Δ| 0.003, all within 0.010; Eq. 2 median |Δ| 0.011, 84 % within 0.05, worst 0.99.
    Asserted: every PRF-based value within 0.05 (the issue's tolerance), median ≤ 0.005;
    Eq. 2 never above the PRF-based value by more than 0.02 for ≥ 95 % (a lower bound).
    """
    rows = results(ci_photometry, "method = 'aperture' AND status IN (1, 3)")
    assert len(rows) >= 120
    delta, catalog_excess = [], []
    for row in rows:
        path = ci_photometry.output / row["lightcurve"]
        ap_rows, ap_cols = aperture_pixels(path)
        true = rendered.contamination(row["starid"], ap_rows, ap_cols)
        delta.append(row["contamination"] - true)
        catalog = fits.getheader(path, "LIGHTCURVE")["AP_CONTC"]
        assert fits.getheader(path, "LIGHTCURVE")["AP_CONT"] == pytest.approx(row["contamination"])
        catalog_excess.append(catalog - row["contamination"])
    delta = np.array(delta)
    assert np.abs(delta).max() <= 0.05, np.abs(delta).max()
    assert np.median(np.abs(delta)) <= 0.005, np.median(np.abs(delta))
    assert np.mean(np.array(catalog_excess) <= 0.02) >= 0.95


# -- 4b. noise ----------------------------------------------------------------------------
def test_the_noise_measure_reads_white_noise_as_one_whatever_is_fitted_out():
    """The measure the noise tests use, on light curves made of white noise (σ changing
    with a sky that rises and falls) plus what they fit out: flares, a nuisance quadratic
    in pointing and focus with cross terms, and day-scale drifts. Noise as stated reads
    1 (mean of 40 draws within 1 %, each within its ±2.8 % statistical error × 4);
    noise 15 % above the stated level reads 1.15."""
    rng = np.random.default_rng(5)
    time = np.r_[np.arange(600), np.arange(640, 1250)] / 48.0  # 30-min cadences, two orbits
    n = time.size
    flares = np.zeros(n)
    for start in rng.choice(n - 20, 30, replace=False):
        flares[start : start + 20] += rng.uniform(0.01, 0.3) * np.exp(-np.arange(20) / 3.0)
    pointing = rng.normal(0.0, 0.01, (n, 2))
    focus = 1.0 + 0.01 * np.sin(time / 1.3)
    known = [focus, pointing[:, 0], pointing[:, 1]]
    known += [a * b for i, a in enumerate(known) for b in known[i:]]
    columns = [flares, *known, *(flares * k for k in known)]
    signal = 2e4 * (1 + flares) * (1 + 3 * pointing[:, 1] - 40 * pointing[:, 1] ** 2)
    signal += 300 * np.sin(time / 3.0)  # a slow drift
    sigma = 4.0 * (1.0 + 0.5 * np.sin(time / 2.0) ** 2)
    ratios = [
        hourly_noise_ratio(signal + rng.normal(0.0, sigma), sigma**2, columns, time, 2)
        for _ in range(40)
    ]
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.01)
    assert np.all(np.abs(np.array(ratios) - 1) < 4 * 0.028), ratios
    excess = [
        hourly_noise_ratio(signal + rng.normal(0.0, 1.15 * sigma), sigma**2, columns, time, 2)
        for _ in range(10)
    ]
    assert np.mean(excess) == pytest.approx(1.15, abs=0.02)


def _noise_ratios(pipeline, rendered) -> list[tuple[int, float, float]]:
    """(priority, Tmag, ratio) of isolated aperture FFI light curves of Tmag 8–13 stars.

    Isolated: not saturated, true contamination of the aperture < 5 %, at least 6 px from
    the edges of the simulated sub-frame (closer, the stamp is cut by the edge of the data
    and pointing jitter moves light across it: 1 % scatter for TIC 101502465).

    Noise is what is left once everything the simulator knows it injected is taken out
    (:func:`hourly_noise_ratio`): the light curve is divided by the star's true
    multiplicative systematics, and fitted with the injected signal, variable neighbours'
    injected signals (up to 3 % of the light on the demo sector: an eclipse there is 50×
    the noise), what follows the true pointing jitter and focus (the simulator renders
    them to second order: linear and quadratic terms, also times the signal) and day-scale
    drifts. Its 1-hour RMS is compared with the simulator's noise model for the same
    aperture, cadence by cadence: photon noise of all the light on its pixels (stars, the
    signal and the true sky) plus the read noise of every co-added 2-s exposure.
    """
    from tasoc_core.simulate.writers import exposure_setup

    truth = pipeline.truth
    cadence = int(truth.attrs["cadence"])
    per_hour = max(1, round(3600 / cadence))
    setup = exposure_setup(cadence)
    r0, r1, c0, c1 = truth.region
    rows = results(
        pipeline,
        "method = 'aperture' AND status IN (1, 3) AND datasource = 'ffi' AND tmag BETWEEN 8 AND 13",
    )
    out = []
    for row in rows:
        star = truth.star(row["starid"])
        edge = min(star["row"] - r0, r1 - star["row"], star["col"] - c0, c1 - star["col"])
        if star["saturated"] or edge < 6:
            continue
        path = pipeline.output / row["lightcurve"]
        ap_rows, ap_cols = aperture_pixels(path)
        if rendered.contamination(row["starid"], ap_rows, ap_cols) >= 0.05:
            continue
        data = fits.getdata(path, "LIGHTCURVE")
        m = matched(truth, row, data)
        on_aperture = rendered.flux_in(ap_rows, ap_cols)
        own = float(on_aperture[rendered.starid == row["starid"]][0])
        neighbours = [
            truth.relative_flux(int(other))[m.index]
            for other in rendered.starid[on_aperture > 1e-3 * on_aperture.sum()]
            if other != row["starid"] and truth.star(int(other))["var_class"] != "constant"
        ]
        jitter = truth.jitter[m.index]
        known = [truth.focus[m.index], jitter[:, 0], jitter[:, 1]]
        known += [a * b for i, a in enumerate(known) for b in known[i:]]
        columns = [m.relative, *neighbours, *known, *(m.relative * k for k in known)]
        sky = truth.background_at(ap_rows, ap_cols)[m.index].sum(axis=1)
        light = own * (1 + m.relative) + (on_aperture.sum() - own) + sky
        sigma = setup.sigma(light, ap_rows.size) / m.systematics  # in units of m.flux
        ratio = hourly_noise_ratio(m.flux, sigma**2, columns, m.time, per_hour)
        out.append((row["priority"], round(float(star["tmag"]), 2), ratio))
    return out


def test_isolated_stars_are_photon_and_read_noise_limited(ci_photometry, rendered):
    """Isolated Tmag 8–13 stars' 1-hour noise against the simulator's noise model (see
    ``_noise_ratios``). Measured on the ci sector (7 stars, ~100 hourly bins each, so
    ±7 % statistical): 1.01, 1.07, 1.12, 0.93, 1.03, 0.97, 1.00 for Tmag 8.4–12.9 (with
    the 5σ tile clip: 0.96, 1.07, 1.07, 1.11, 1.05, 0.98, 1.01). The Tmag 8.4 star was at
    1.33 while a glint crossing it went unflagged on one cadence and the background
    followed the scattered light only partly (docs/prepare.md). The same measure on the
    27-day demo sector (119 stars, ~620 hourly bins, ±3 %): all ≤ 1.1, asserted by
    ``test_isolated_stars_meet_the_issue_noise_limit``. Asserted here: ≤ 1.15 each (the
    issue's 1.1 plus the statistical margin) and a median ≤ 1.05."""
    ratios = _noise_ratios(ci_photometry, rendered)
    print("noise ratios (priority, Tmag, 1-h RMS / model):", ratios)
    assert len(ratios) >= 6, ratios
    for priority, tmag, ratio in ratios:
        assert ratio <= 1.15, (priority, tmag, ratio)
    assert np.median([r for *_, r in ratios]) <= 1.05, ratios


@pytest.mark.slow
def test_isolated_stars_meet_the_issue_noise_limit(demo_photometry):
    """The issue's criterion on the README's simulated sector (the demo profile: 27 days,
    119 isolated Tmag 8–13 stars, ~620 hourly bins each, so ±3 % statistical): every
    isolated star's 1-hour RMS ≤ 1.1× the noise model. Measured: median 1.001, largest
    1.072 (Tmag 12.8). Before the background's median filter worked around a spline
    surface the largest was 1.14 (a Tmag 12.0 star whose background followed the
    scattered light at the orbit starts; 1.069 now, 1.061 with the true background), with
    the 5σ tile clip 1.10, and the median 1.015. The ci sector (above) cannot settle a per-star 1.1: with ~100 hourly bins a
    star exactly at the model exceeds it 8 % of the time."""
    ratios = _noise_ratios(demo_photometry, render_stars(demo_photometry))
    print("noise ratios (priority, Tmag, 1-h RMS / model):", ratios)
    assert len(ratios) >= 100, len(ratios)
    assert max(r for *_, r in ratios) <= 1.1, sorted(ratios, key=lambda r: r[2])[-5:]
    assert np.median([r for *_, r in ratios]) <= 1.03, ratios


# -- 5. amplitudes ------------------------------------------------------------------------
def test_variable_star_amplitudes_are_diluted_only_by_contamination(ci_photometry, rendered):
    """Aperture light curves of variable stars brighter than Tmag 11 with < 5 % true
    contamination: divided by the true systematics and normalised, the injected relative
    flux appears scaled by 1 − C (C: the true contamination of the aperture). Measured on
    the ci sector: ratios to 1 − C of 0.989, 1.000, 1.002, 1.006, 0.990 (FFI, 20 s, 120 s,
    FFI, FFI; statistical errors 0.2–0.6 %). Asserted: within 2 % each (the issue's
    tolerance), ≥ 4 light curves."""
    truth = ci_photometry.truth
    rows = results(ci_photometry, "method = 'aperture' AND status IN (1, 3) AND tmag < 11")
    tested = []
    for row in rows:
        if truth.star(row["starid"])["var_class"] == "constant":
            continue
        path = ci_photometry.output / row["lightcurve"]
        ap_rows, ap_cols = aperture_pixels(path)
        contamination = rendered.contamination(row["starid"], ap_rows, ap_cols)
        if contamination >= 0.05:
            continue
        ratio, error = amplitude_ratio(truth, row, path)
        tested.append((row["priority"], ratio / (1 - contamination), error))
    assert len(tested) >= 4, tested
    for priority, ratio, error in tested:
        assert abs(ratio - 1) < 0.02, (priority, ratio, error)


# -- 6. several methods -------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_methods(ci_pipeline, tmp_path_factory) -> tuple[Any, list[int]]:
    """A copy after ``tasoc run --method aperture,halo`` on the FFI and 120-s TPF targets
    brighter than Tmag 10."""
    pipeline = ci_pipeline.copy(tmp_path_factory.mktemp("two_methods"))
    wanted = [r["priority"] for r in query(pipeline.todo, "SELECT priority FROM todolist "
              "WHERE tmag < 10 AND datasource IN ('ffi', 'tpf') AND cadence != 20")]  # fmt: skip
    options = [x for p in wanted for x in ("--priority", str(p))]
    pipeline.cli("run", "--method", "aperture,halo", "--backend", "serial", *options)
    return pipeline, wanted


def test_two_methods_are_stored_side_by_side(two_methods):
    """``--method aperture,halo``: one row per target and method, files under
    ``lightcurves/<method>/`` with the same name, the same cadences, both validated."""
    pipeline, wanted = two_methods
    assert len(wanted) >= 4
    rows = {(r["priority"], r["method"]): r for r in results(pipeline)}
    for priority in wanted:
        aperture, halo = rows[(priority, "aperture")], rows[(priority, "halo")]
        assert aperture["rule"] == halo["rule"] == "--method"
        assert halo["status"] in SUCCESS, halo
        if aperture["status"] == Status.ERROR:  # the bright star's 9×9 TPF (test 2)
            assert aperture["lightcurve"] is None
            continue
        a_path, h_path = aperture["lightcurve"], halo["lightcurve"]
        assert a_path.startswith("lightcurves/aperture/")
        assert h_path.startswith("lightcurves/halo/")
        assert a_path.split("/", 2)[2] == h_path.split("/", 2)[2]
        assert fits.getheader(pipeline.output / a_path)["PHOTMET"] == "aperture"
        assert fits.getheader(pipeline.output / h_path)["PHOTMET"] == "halo"
        a_table = fits.getdata(pipeline.output / a_path, "LIGHTCURVE")
        h_table = fits.getdata(pipeline.output / h_path, "LIGHTCURVE")
        np.testing.assert_array_equal(a_table["TIME"], h_table["TIME"])
    validated = query(pipeline.todo, "SELECT priority, method FROM datavalidation")
    assert {(r[0], r[1]) for r in validated} == {
        k for k, r in rows.items() if r["status"] in SUCCESS
    }
    # Skips are per method: a star inside the aperture of one target is skipped for
    # aperture only, not for halo.
    for (priority, method), by in skipped_by(pipeline).items():
        assert rows[(priority, method)]["status"] == Status.SKIPPED
        assert (by, method) in rows


def _saturated_halo_rows(pipeline) -> list[dict[str, Any]]:
    rows = results(pipeline, "method = 'halo' AND status IN (1, 3)")
    saturated = [r for r in rows if pipeline.truth.star(r["starid"])["saturated"]]
    assert len(saturated) == 2  # its FFI and its 120-s TPF
    return saturated


def _focus(truth, row: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Cadence numbers and PRF width scale (focus) of a TODO row's cadences."""
    if row["datasource"] == "ffi":
        return truth.cadenceno, truth.focus
    tpf = truth.tpf_cadences(row["starid"], row["cadence"])
    return tpf["cadenceno"], np.asarray(tpf["focus"])


def test_halo_of_a_saturated_star_skips_bleed_runs_and_keeps_its_flux_scale(two_methods):
    """The saturated Tmag 3.2 star's halo light curves: no weight within 2 rows (along the
    column) of a saturated pixel, where the ends of the bleed runs carry the column's
    overflow charge; the flux scale within 10 % of the true flux; and, once the PSF width
    changes (the simulator's focus, which every halo pixel follows with the same sign, see
    the xfail below) are regressed out with the truth, the injected transit at its true
    depth within 5 % (or 3 standard errors, the FFI holds 8 in-transit cadences)."""
    from scipy.ndimage import binary_dilation

    pipeline, _ = two_methods
    truth = pipeline.truth
    for row in _saturated_halo_rows(pipeline):
        path = pipeline.output / row["lightcurve"]
        with fits.open(path) as hdul:
            maps = np.asarray(hdul["WEIGHTMAP"].data["WEIGHTMAP"])
            sumimage = np.asarray(hdul["SUMIMAGE"].data, dtype=float)
            data = hdul["LIGHTCURVE"].data
        assert maps.shape[1:] == sumimage.shape
        saturated = sumimage >= 0.95 * np.nanmax(sumimage)
        assert saturated.sum() >= 20, row["datasource"]
        zone = binary_dilation(saturated, structure=np.ones((5, 1), dtype=bool))
        assert np.all(maps[:, zone] == 0), row["datasource"]
        assert np.all(maps.sum(axis=(1, 2)) == pytest.approx(1.0))
        m = matched(truth, row, data)
        star = truth.star(row["starid"])
        assert np.median(m.flux) / star["flux"] == pytest.approx(1.0, rel=0.10)
        cadenceno, focus = _focus(truth, row)
        f = focus[np.searchsorted(cadenceno, m.cadenceno)] - 1.0
        x, y = m.relative, m.normalised
        design = np.column_stack([x, f, np.ones_like(x)])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = np.std(y - design @ coef)
        error = resid / np.std(x) / np.sqrt(x.size)
        assert abs(coef[0] - 1.0) < max(0.05, 3.0 * error), (row["datasource"], coef, error)
        assert coef[1] > 1.0  # the halo brightens when the PSF widens


def test_halo_keeps_the_amplitude_of_variable_stars_with_neighbours_on_their_wings(
    two_methods,
):
    """Halo light curves of the unsaturated variable stars (Tmag 9.7–9.9; δ Scuti on a
    120-s TPF and an FFI, a spotted star on an FFI) carry the injected variability at its
    true amplitude (``amplitude_ratio``) within 5 % or 3 standard errors. TV-min favours
    pixels whose flux is partly another star's constant light (it dilutes the variability):
    the catalog stars' light from the PRF marks them (``mask_contrast``). Before, faint
    stars on the target's wings took them in watershed basins and the light curves kept
    0.91 ± 0.02 (TPF) and 0.22 ± 0.05 (FFI) of the δ Scuti amplitude; now 0.99 ± 0.01,
    0.90 ± 0.12 and 0.98 ± 0.004 (rotation)."""
    pipeline, _ = two_methods
    truth = pipeline.truth
    rows = results(pipeline, "method = 'halo' AND status IN (1, 3)")
    tested = []
    for row in rows:
        star = truth.star(row["starid"])
        if star["saturated"] or star["var_class"] == "constant":
            continue
        ratio, error = amplitude_ratio(truth, row, pipeline.output / row["lightcurve"])
        tested.append((row["datasource"], star["var_class"], ratio, error))
    assert len(tested) >= 3, tested
    for datasource, var_class, ratio, error in tested:
        assert abs(ratio - 1.0) < max(0.05, 3.0 * error), (datasource, var_class, ratio, error)


def test_local_transit_depth_of_the_saturated_star_is_true_in_its_aperture_light_curve(
    two_methods,
):
    """The control for the halo measurement below: the saturated Tmag 3.2 star's FFI
    aperture light curve (its mask holds the bleed columns) gives the injected transit
    depth against local quadratic baselines (``local_depth_ratio``: ±2.5 durations, two
    transits) within 1 %. Measured: 1.001 ± 0.001 (linear baselines: 0.997)."""
    pipeline, _ = two_methods
    rows = results(pipeline, "method = 'aperture' AND status IN (1, 3)")
    rows = [r for r in rows if pipeline.truth.star(r["starid"])["saturated"]]
    assert [r["datasource"] for r in rows] == ["ffi"]  # its 9×9 TPF fails aperture (test 2)
    ratio, error, transits = local_depth_ratio(
        pipeline.truth, rows[0], pipeline.output / rows[0]["lightcurve"]
    )
    assert transits == 2
    assert abs(ratio - 1.0) < 0.01, (ratio, error)
    assert error < 0.005


@pytest.mark.xfail(
    strict=True,
    reason="PSF breathing: the simulator's focus changes (0.8 % rms PRF width) brighten every "
    "unsaturated pixel of the 13x13 PRF together (d ln f / d focus = 1.8-2.3; the loss is in "
    "the saturated core), no positive weighting cancels that, and in the ci sector (2.2-d "
    "orbits, so the focus period is 2.3 d, 19 transit durations) even a local quadratic "
    "baseline keeps part of it: depth 1.07 +- 0.02 on the 9x9 TPF (FFI 1.15 +- 0.09, within "
    "3 standard errors); a global fit gives 2.3x / 2.3x (measured; see tasoc_halo/README.md, "
    "'Measured behaviour')",
)
def test_halo_keeps_the_amplitude_of_a_saturated_star(two_methods):
    """Halo light curves of the saturated star (paper 003 §5.2: halo photometry exists for
    them) carry the injected transit at its true depth, measured as in practice against
    local baselines (``local_depth_ratio``; its control, the aperture light curve, gives
    1.001 ± 0.001), within 5 % (the issue's tolerance) or 3 standard errors where that is
    larger (the FFI holds 8 in-transit cadences).

    Measured (quadratic baselines over ±2.5 durations): 9×9 120-s TPF 1.067 ± 0.017, FFI
    1.151 ± 0.094 (3 σ = 0.28: passes by its error); over ±1.5–3 durations 1.065–1.072
    and 1.07–1.17. With linear baselines 1.24 ± 0.03 and 1.28 ± 0.12. The standard errors
    are for white noise: fake transits of the same shape added to the light curves at 32
    other epochs come back with a spread of 6 % (TPF and FFI; the aperture light curve:
    0.2 %), half of it from the focus alone. A global fit ``a · relative + b`` over the
    sector (``amplitude_ratio``) gives 2.29 ± 0.38 and 2.3 ± 1.3: the documented drift of
    the halo flux with the PSF width. With the true focus regressed out globally: 1.00 and
    1.11 (test above)."""
    pipeline, _ = two_methods
    truth = pipeline.truth
    for row in _saturated_halo_rows(pipeline):
        assert truth.star(row["starid"])["var_class"] == "transit"
        ratio, error, transits = local_depth_ratio(truth, row, pipeline.output / row["lightcurve"])
        assert transits == 2, row["datasource"]
        assert abs(ratio - 1) < max(0.05, 3.0 * error), (row["datasource"], ratio, error)


def oscillation_ratio(truth, row: dict[str, Any], path: Path) -> tuple[float, float]:
    """Scale of the injected oscillation in a light curve, with slow trends allowed.

    How an oscillation amplitude is measured: the light curve, divided by the star's true
    multiplicative systematics and normalised, is fitted as ``a · relative_flux`` plus a
    cubic B-spline in time (knots every day, each orbit on its own), so that drifts over
    days (the PSF breathing) do not enter ``a``. Returns ``a`` and its standard error.
    """
    m = matched(truth, row, fits.getdata(path, "LIGHTCURVE"))
    y = m.normalised
    design = np.column_stack([m.relative, trend_basis(m.time)])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    covariance = np.linalg.pinv(design.T @ design) * np.var(residual)
    return float(coef[0]), float(np.sqrt(covariance[0, 0]))


def test_halo_keeps_an_oscillation_of_a_saturated_star_with_bleed_off_its_stamp(
    halo_photometry,
):
    """The issue's criterion on the ``halo`` profile: a saturated Tmag 3.5 star with two
    δ Scuti modes (4–12 c/d, 0.3–1 %) and its 11×11 120-s TPF, from whose top and bottom
    the bleed columns run off. Halo keeps the oscillation within 5 % and the flux scale
    within 10 %. Measured: amplitude 0.999 ± 0.0003, flux scale 1.000 (the aperture
    method on the star's FFI stamp, which holds the whole bleed: < 1 % off)."""
    pipeline = halo_photometry
    truth = pipeline.truth
    rows = {
        (r["datasource"], r["method"]): r
        for r in results(pipeline, "tmag < 6 AND status IN (1, 3)")
    }
    row = rows[("tpf", "halo")]
    star = truth.star(row["starid"])
    assert star["saturated"]
    assert star["tmag"] < 4.0
    path = pipeline.output / row["lightcurve"]
    with fits.open(path) as hdul:
        sumimage = np.asarray(hdul["SUMIMAGE"].data, dtype=float)
        flux = hdul["LIGHTCURVE"].data["FLUX_RAW"]
    saturated = sumimage >= 0.95 * np.nanmax(sumimage)
    assert saturated[0].any()  # the bleed runs off the stamp, top and bottom
    assert saturated[-1].any()
    ratio, error = oscillation_ratio(truth, row, path)
    assert abs(ratio - 1.0) < 0.05, (ratio, error)
    assert np.nanmedian(flux) / star["flux"] == pytest.approx(1.0, rel=0.10)
    control, _ = oscillation_ratio(
        truth, rows[("ffi", "aperture")], pipeline.output / rows[("ffi", "aperture")]["lightcurve"]
    )
    assert abs(control - 1.0) < 0.01


def test_halo_keeps_an_oscillation_of_a_saturated_star_on_its_ffi_stamp(halo_photometry):
    """The same star's FFI light curve from halo (41×41 stamp, the bleed inside it, 1268
    cadences): within 5 % of the injected oscillation, flux scale within 10 %. Measured:
    0.988 ± 0.002, flux scale 1.000. (With a mode drawn at 2.72 c/d this came out at 0.88: the mode beat
    against the simulator's pointing-jitter line at 0.37 d for the whole sector, and
    halo's few wing pixels follow the jitter; the profile now draws modes at 4–12 c/d.)"""
    pipeline = halo_photometry
    (row,) = results(pipeline, "tmag < 6 AND method = 'halo' AND datasource = 'ffi'")
    ratio, error = oscillation_ratio(pipeline.truth, row, pipeline.output / row["lightcurve"])
    assert abs(ratio - 1.0) < 0.05, (ratio, error)
    flux = fits.getdata(pipeline.output / row["lightcurve"], "LIGHTCURVE")["FLUX_RAW"]
    star = pipeline.truth.star(row["starid"])
    assert np.nanmedian(flux) / star["flux"] == pytest.approx(1.0, rel=0.10)


# -- 7. resume ----------------------------------------------------------------------------
def _cli_environment() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k not in ("TASOC_CONFIG", "TASOC_DISABLE_PLUGINS")
    }


def test_a_killed_run_resumes_where_it_stopped(ci_pipeline, ci_photometry, tmp_path):
    """SIGKILL ``tasoc run -j 2`` (master and workers) once some results are in; run it
    again (serially: no second pool to start). Results committed before the kill are kept
    as they were, only the rest runs, no STARTED row or temporary file remains, and the
    TODO-file and light curves end exactly as after the uninterrupted ``-j 2`` run
    (results are committed in hand-out order)."""
    pipeline = ci_pipeline.copy(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "tasoc_core", "-q", "-c", str(pipeline.config_path),
         "run", "-j", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_cli_environment(),
        start_new_session=True,
    )  # fmt: skip
    final = 0
    deadline = time.monotonic() + 240
    try:
        while final < 12 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            final = query(
                pipeline.todo, "SELECT COUNT(*) FROM photometry WHERE status IN (1, 2, 3, 5)"
            )[0][0]
        finished_alone = process.poll() is not None
    finally:
        with contextlib.suppress(ProcessLookupError):  # the whole group: master and workers
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert not finished_alone, "the run ended before it could be killed"
    before = {
        (r["priority"], r["method"]): (r["status"], r["elaptime"], r["finished_at"],
                                        r["lightcurve"])
        for r in results(pipeline, "status IN (1, 2, 3, 5)")
    }  # fmt: skip
    assert len(before) >= 12
    assert query(pipeline.todo, "SELECT status FROM runs ORDER BY id")[-1][0] == "running"
    total = len(query(pipeline.todo, "SELECT priority FROM todolist"))
    # What a kill during a file write leaves (rare enough not to happen here by itself).
    name = next(iter(before.values()))[3] or "lightcurves/aperture/x-tasoc_lc.fits.gz"
    leftover = pipeline.output / Path(name).parent / f".{Path(name).name}.k1ll3d.tmp"
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b"half a gzip stream")

    report = json.loads(pipeline.cli("run", "--backend", "serial", "--json").output)
    # Only what was not committed ran again (at most: a skipped task can run before the
    # result that skips it is in, and is then dropped).
    first_attempts_done = {k for k in before if k[1] == "aperture"}
    assert report["photometry"]["tasks"] <= total - len(first_attempts_done)
    after = {
        (r["priority"], r["method"]): (r["status"], r["elaptime"], r["finished_at"],
                                        r["lightcurve"])
        for r in results(pipeline)
    }  # fmt: skip
    assert {k: after[k] for k in before} == before
    assert all(Status(v[0]) in FINAL for v in after.values())
    assert temporary_files(pipeline.output) == []
    assert [r[0] for r in query(pipeline.todo, "SELECT status FROM runs WHERE stage = "
                                "'photometry' ORDER BY id")] == ["interrupted", "ok"]  # fmt: skip
    # The same end state as the uninterrupted run of the ci_photometry fixture.
    assert statuses(pipeline) == statuses(ci_photometry)
    assert skipped_by(pipeline) == skipped_by(ci_photometry)
    listed = {v[3] for v in after.values() if v[3]}
    assert light_curve_files(pipeline.output) == listed
    for relpath in listed:
        with fits.open(pipeline.output / relpath, checksum=True) as ours:
            theirs = fits.getdata(ci_photometry.output / relpath, "LIGHTCURVE")
            np.testing.assert_array_equal(ours["LIGHTCURVE"].data["FLUX_RAW"], theirs["FLUX_RAW"])


# -- 8. MPI -------------------------------------------------------------------------------
def _mpiexec() -> str | None:
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else shutil.which("mpiexec")


def _have_mpi4py() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.mpi
@pytest.mark.skipif(not _have_mpi4py(), reason="mpi4py is not installed (pip install mpi4py)")
@pytest.mark.skipif(_mpiexec() is None, reason="no mpiexec on PATH (pip install mpich)")
def test_mpi_run_gives_the_local_results(ci_pipeline, ci_photometry, tmp_path):
    """``mpiexec -n 3 python -m tasoc_core run --mpi`` (a master and two workers) on the
    targets brighter than Tmag 13 (the slower half of the work) ends with the statuses,
    skips and light curves the local ``-j 2`` run gave those targets."""
    pipeline = ci_pipeline.copy(tmp_path)
    result = subprocess.run(
        [_mpiexec(), "-n", "3", sys.executable, "-m", "tasoc_core", "-q", "-c",
         str(pipeline.config_path), "run", "--mpi", "--tmag-max", "13", "--json"],
        capture_output=True, text=True, timeout=300, env=_cli_environment(),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["photometry"]["backend"] == "mpi"
    assert report["photometry"]["workers"] == 2
    ours, local = statuses(pipeline), statuses(ci_photometry)
    selected = {
        r[0] for r in query(pipeline.todo, "SELECT priority FROM todolist WHERE tmag <= 13")
    }
    assert {p for p, _ in ours} >= selected
    assert len(selected) >= 25
    assert {k: local[k] for k in ours} == ours
    skips = skipped_by(pipeline)
    assert {k: skipped_by(ci_photometry)[k] for k in skips} == skips
    mpi_files = {k: r["lightcurve"] for k, r in _by_key(results(pipeline)).items()}
    local_files = _by_key(results(ci_photometry))
    assert mpi_files == {k: local_files[k]["lightcurve"] for k in mpi_files}
    for relpath in filter(None, mpi_files.values()):
        ours = fits.getdata(pipeline.output / relpath, "LIGHTCURVE")
        theirs = fits.getdata(ci_photometry.output / relpath, "LIGHTCURVE")
        for column in ("TIME", "FLUX_RAW", "FLUX_RAW_ERR", "FLUX_BKG", "QUALITY"):
            np.testing.assert_allclose(ours[column], theirs[column], rtol=1e-12, atol=0)


def _by_key(rows: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
    return {(r["priority"], r["method"]): r for r in rows}


# -- 9. one bad target --------------------------------------------------------------------
def test_one_bad_target_never_kills_the_run(ci_pipeline, ci_photometry, tmp_path):
    """An FFI target moved off the CCD and a TPF truncated to half its bytes: those targets
    (and the TPF's secondary) end in ERROR with a message naming the target or file; the
    run exits 0 as documented and the other targets get the results of the full run."""
    pipeline = ci_pipeline.copy(tmp_path)
    todo = {r["priority"]: dict(r) for r in query(pipeline.todo, "SELECT * FROM todolist")}
    off = next(p for p, r in todo.items() if r["datasource"] == "ffi" and r["tmag"] > 9.5)
    tpf_primary = next(
        p for p, r in todo.items()
        if r["datasource"] == "tpf" and any(x["datasource"] == f"tpf:{r['starid']}"
                                            for x in todo.values())
        and r["tmag"] > 10
    )  # fmt: skip
    primary = todo[tpf_primary]
    secondary = next(p for p, r in todo.items() if r["datasource"] == f"tpf:{primary['starid']}")
    good = [p for p, r in todo.items() if r["datasource"] == "ffi" and p not in (off,)][:4]
    bad_tpf = tmp_path / "broken" / Path(primary["tpf_path"]).name
    bad_tpf.parent.mkdir()
    payload = (pipeline.sector / primary["tpf_path"]).read_bytes()
    bad_tpf.write_bytes(payload[: len(payload) // 2])
    with sqlite3.connect(pipeline.todo) as conn:
        conn.execute("UPDATE todolist SET ra = ra + 5.0 WHERE priority = ?", (off,))
        conn.execute(
            "UPDATE todolist SET tpf_path = ? WHERE priority IN (?, ?)",
            (str(bad_tpf), tpf_primary, secondary),
        )
    conn.close()
    selection = [x for p in (off, tpf_primary, secondary, *good) for x in ("--priority", str(p))]
    report = json.loads(pipeline.cli("run", "--backend", "serial", "--json", *selection).output)
    assert report["photometry"]["counts"]["error"] == 3
    rows = {r["priority"]: r for r in results(pipeline, "method = 'aperture'")}
    assert rows[off]["status"] == Status.ERROR
    assert f"TIC {todo[off]['starid']}" in rows[off]["errors"]
    assert "does not overlap the available pixels" in rows[off]["errors"]
    for p in (tpf_primary, secondary):
        assert rows[p]["status"] == Status.ERROR
        assert bad_tpf.name in rows[p]["errors"]
        assert rows[p]["lightcurve"] is None
    reference = {r["priority"]: r for r in results(ci_photometry, "method = 'aperture'")}
    for p in good:
        assert rows[p]["status"] == reference[p]["status"]
        if rows[p]["lightcurve"]:
            ours = fits.getdata(pipeline.output / rows[p]["lightcurve"], "LIGHTCURVE")
            theirs = fits.getdata(ci_photometry.output / reference[p]["lightcurve"], "LIGHTCURVE")
            np.testing.assert_array_equal(ours["FLUX_RAW"], theirs["FLUX_RAW"])


# -- 10. real data ------------------------------------------------------------------------
def _single_star(source, tic: int, tmag: float, ra: float, dec: float) -> Callable:
    """A catalog lookup holding one star, placed through the file's own WCS."""
    from tasoc_core.data import Stars

    row, col = source.world_to_pixel(np.array([ra]), np.array([dec]))

    def lookup(stamp, buffer: float = 2.0) -> Stars:
        return Stars([tic], [tmag], [ra], [dec], row, col)

    return lookup


@pytest.mark.parametrize(
    ("name", "tmag", "offset"),
    [
        # SPOC TPF, TESSMAG in its header
        ("tess25155310-s01-first-cadences.fits.gz", None, -1.979),
        # TESScut cutout of a field without a TIC entry offline: the centre star's magnitude
        # is set from its flux (~1000 e-/s); it only steers the method's edge bookkeeping.
        ("tess-s0002-4-4_98.89792_-62.63889_10x15_astrocut.fits.gz", 13.0, -0.919),
    ],
)
def test_real_pixels_through_the_aperture_method_to_lightkurve(name, tmag, offset, tmp_path):
    """A real SPOC TPF and a real TESScut cutout through TPFSource → the installed
    ``aperture`` plugin → diagnostics → ``write_lightcurve`` → ``lightkurve.read``: the raw
    flux is lightkurve's own sum of the file's pixels over our aperture (minus our
    background estimate for the cutout, whose FLUX is not background-subtracted), on the
    file's own times and cadences."""
    import lightkurve as lk

    from tasoc_core.data import Target, TargetData
    from tasoc_core.data.tpf_source import TPFSource
    from tasoc_core.output import Provenance, write_lightcurve
    from tasoc_core.photometry import compute_diagnostics

    path = REAL / name
    header = fits.getheader(path, 0)
    tic = int(header.get("TICID", 0) or 1)
    tmag = float(header["TESSMAG"]) if tmag is None else tmag
    ra, dec = float(header["RA_OBJ"]), float(header["DEC_OBJ"])
    source = TPFSource(path)
    source.stars_lookup = _single_star(source, tic, tmag, ra, dec)
    target = Target(tic, header["SECTOR"], header["CAMERA"], header["CCD"],
                    source.instrument.cadence, "tpf", tmag, ra, dec)  # fmt: skip
    registration = get_plugin_manager().lookup("photometry", "aperture")
    method = registration.cls(registration.cls.Settings())
    result = method.photometry(TargetData(target, source))
    assert result.status in SUCCESS
    diagnostics = compute_diagnostics(result)
    out = write_lightcurve(
        result, diagnostics, path=tmp_path,
        provenance=Provenance.from_registration(registration, "test"), version=1,
    )  # fmt: skip

    lc = lk.read(out, flux_column="flux_raw")
    assert lc.meta["TICID"] == tic
    assert lc.meta["PHOTMET"] == "aperture"
    with fits.open(out) as hdul:
        table = hdul["LIGHTCURVE"].data
        aperture = (np.asarray(hdul["APERTURE"].data) & 2) > 0
        assert hdul["LIGHTCURVE"].header["NUMGOOD"] == diagnostics.num_good
    assert aperture.sum() == diagnostics.mask_size >= 4
    with fits.open(path) as hdul:
        pixels = hdul[1].data
        assert aperture.shape == pixels["FLUX"].shape[1:]  # the whole stamp, never grown
        finite = np.isfinite(pixels["TIME"])
        # SPOC's time-offset fix for these early releases (tasoc_reference.md §5.1): the
        # TPF's times −2.000 + 0.021 s; the cutout's are FFI times, so the staggered
        # readout of camera 4 (+1.000 s) and CCD 4 (+0.060 s) is added.
        shift = (table["TIME"] - pixels["TIME"][finite]) * 86400
        np.testing.assert_allclose(shift, offset, atol=2e-5)
        cadenceno = pixels["CADENCENO"][finite]
        if source.is_cutout:  # TESScut writes 0 for every cadence; the source numbers them
            assert not cadenceno.any()
            cadenceno = np.arange(finite.sum())
        np.testing.assert_array_equal(table["CADENCENO"], cadenceno)
        np.testing.assert_array_equal(table["PIXEL_QUALITY"], pixels["QUALITY"][finite])
        summed = np.nansum(pixels["FLUX"][finite][:, aperture].astype(np.float64), axis=1)
    assert source.is_cutout == name.endswith("astrocut.fits.gz")
    background = table["FLUX_BKG"] if source.is_cutout else 0.0
    np.testing.assert_allclose(table["FLUX_RAW"] + background, summed, rtol=1e-6)
    theirs = lk.read(path, quality_bitmask="none").to_lightcurve(aperture_mask=aperture)
    np.testing.assert_allclose(theirs.flux.value[finite], summed, rtol=1e-6)
    np.testing.assert_array_equal(lc.flux.value, table["FLUX_RAW"][np.isin(
        table["CADENCENO"], lc.cadenceno.value)])  # fmt: skip
    # A star, not sky: the aperture holds most of the stamp's light above the background.
    assert np.nanmedian(lc.flux.value) > 500
