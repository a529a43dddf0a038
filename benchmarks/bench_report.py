"""Benchmark of ``tasoc report`` / ``tasoc compare`` building blocks at full-sector scale.

* **TODO-file** — a synthetic full-CCD TODO-file (31 000 FFI targets with aperture results,
  2 000 with halo results as well, every aperture result corrected by two correctors):
  :func:`load_results` (every table a report reads, as column arrays) against
  ``pandas.read_sql_query`` of the same three joins; then :func:`summarize` and
  :func:`compare_results` (no truth) on it.
* **Population figure** — the 1-hour RMS figure of those 31 000 targets rendered to PNG with
  the report's fixed margins against the same figure with matplotlib's constrained layout.
* **Per target** — reading a 1300-cadence light-curve file and computing its power density
  spectrum (:func:`read_lightcurve`, :func:`relative_flux`, :func:`power_density`) against
  ``lightkurve.read`` + ``normalize`` + ``to_periodogram(normalization="psd")`` on the same
  file; and the whole per-target figure.

Run: ``python benchmarks/bench_report.py``.
"""

from __future__ import annotations

import io
import sqlite3
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tasoc_core.compare import compare_results
from tasoc_core.output import Provenance, write_lightcurve
from tasoc_core.photometry import compute_diagnostics
from tasoc_core.report import (
    load_results,
    power_density,
    read_lightcurve,
    relative_flux,
    summarize,
    target_figure,
)
from tasoc_core.report.population import plot_noise
from tasoc_core.todo import TodoFile, TodoRow
from tasoc_core.validation import noise_model

warnings.filterwarnings("ignore", message=".*tpfmodel submodule.*")

N_TARGETS = 31_000
N_HALO = 2_000


def _timed(func: Callable[[], object], repeat: int = 3) -> float:
    """Median wall time in seconds over ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _pair(
    ours: Callable[[], object], reference: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Median times (s) of two callables run alternately, so that machine load hits both."""
    a, b = [], []
    for _ in range(repeat):
        for func, sink in ((ours, a), (reference, b)):
            start = time.perf_counter()
            func()
            sink.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def synthetic_todo(path: Path) -> Path:
    """A full-CCD TODO-file with photometry, validation and corrections rows."""
    rng = np.random.default_rng(5)
    tmag = np.sort(rng.uniform(4, 15, N_TARGETS))
    rows = [
        TodoRow(starid=10_000_000 + i, sector=2, camera=1, ccd=1, cadence=1800, datasource="ffi",
                tmag=float(t), ra=float(rng.uniform(0, 20)), dec=float(rng.uniform(-60, -40)),
                cbv_area=111 + i % 4)
        for i, t in enumerate(tmag)
    ]  # fmt: skip
    todo = TodoFile.create(path, rows)
    expected = noise_model(tmag, 1800, 3600.0).total * 1e-6
    phot, corr, dv = [], [], []
    for i in range(N_TARGETS):
        p = i + 1
        rms = expected[i] * rng.lognormal(0.3, 0.4)
        values = (p, "aperture", 1, rms, rms * 0.8, 10 ** (-0.4 * (tmag[i] - 20.45)), 0.1, 20.0,
                  15, 15, 0, 0.2, f"lightcurves/aperture/{p}.fits.gz")  # fmt: skip
        phot.append(values)
        dv.append((p, "aperture", "", 0, 1))
        for corrector in ("cbv", "ensemble"):
            corr.append((p, "aperture", corrector, 1, rms * 1e6, rms * 1e6 * 0.6, rms * 8e5,
                         rms * 8e5, 1e12 * rms**2, 0.4e12 * rms**2, 0.05))  # fmt: skip
        if i < N_HALO:
            phot.append((p, "halo", 1, rms * 1.1, rms * 0.9, 10 ** (-0.4 * (tmag[i] - 20.45)),
                         0.0, 30.0, 15, 15, 0, 0.3, f"lightcurves/halo/{p}.fits.gz"))  # fmt: skip
    with todo, todo.transaction() as conn:
        conn.executemany(
            "INSERT INTO photometry (priority, method, status, rms_hour, ptp, mean_flux, "
            "contamination, mask_size, stamp_width, stamp_height, stamp_resizes, elaptime, "
            "lightcurve) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            phot,
        )
        conn.executemany("INSERT INTO datavalidation VALUES (?, ?, ?, ?, ?)", dv)
        conn.executemany(
            "INSERT INTO corrections (priority, method, corrector, status, rms_hour_before, "
            "rms_hour, ptp_before, ptp, variance_before, variance, elaptime) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            corr,
        )
    return path


def pandas_load(path: Path) -> None:
    import pandas as pd

    with sqlite3.connect(path) as conn:
        pd.read_sql_query("SELECT * FROM todolist", conn)
        pd.read_sql_query(
            "SELECT * FROM photometry p JOIN todolist t USING (priority) LEFT JOIN datavalidation d "
            "ON d.priority = p.priority AND d.method = p.method AND d.corrector = ''",
            conn,
        )
        pd.read_sql_query(
            "SELECT * FROM corrections c JOIN todolist t USING (priority) LEFT JOIN datavalidation d "
            "ON d.priority = c.priority AND d.method = c.method AND d.corrector = c.corrector",
            conn,
        )


def render(fig) -> None:
    fig.savefig(io.BytesIO(), format="png", dpi=90)


def lightcurve_file(out: Path) -> Path:
    """A raw light-curve file of a Tmag-10 star, 1300 cadences (as bench_output writes it)."""
    from bench_output import _result  # the same synthetic target as the output benchmark

    result = _result()
    provenance = Provenance(method="aperture", plugin="aperture", distribution="bench", version="0")
    return write_lightcurve(result, compute_diagnostics(result), path=out, provenance=provenance,
                            version=1)  # fmt: skip


def ours_spectrum(path: Path) -> None:
    lc = read_lightcurve(path, images=False)
    power_density(lc.time, relative_flux(lc))


def lightkurve_spectrum(path: Path) -> None:
    import lightkurve as lk

    lc = (
        lk.read(path, flux_column="flux_raw", quality_bitmask="default")
        .remove_nans()
        .normalize("ppm")
    )
    lc.to_periodogram(normalization="psd", oversample_factor=2)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        path = synthetic_todo(tmp / "todo.sqlite")
        build = time.perf_counter() - start
        ours, ref = _pair(lambda: load_results(path), lambda: pandas_load(path), 3)
        results = load_results(path)
        t_summary = _timed(lambda: summarize(results), 3)
        t_compare = _timed(lambda: compare_results(results, truth=False), 3)
        print(f"bench_report: synthetic TODO-file, {N_TARGETS} targets, {N_HALO} with a second "
              f"method, 2 correctors (built in {build:.1f} s)")  # fmt: skip
        print(f"  load_results     tasoc {ours:7.2f} s   pandas.read_sql_query {ref:7.2f} s"
              f"   ratio {ours / ref:5.2f}")  # fmt: skip
        print(f"  summarize        tasoc {t_summary:7.2f} s")
        print(f"  compare_results  tasoc {t_compare:7.2f} s (no truth, with per-target rows)")

        rows = results.succeeded("aperture")

        def constrained() -> None:
            fig = plot_noise(rows, kind="rms")
            fig.set_layout_engine("constrained")
            render(fig)

        ours, ref = _pair(lambda: render(plot_noise(rows, kind="rms")), constrained, 3)
        print(f"  RMS figure, {len(rows['priority'])} points: fixed margins {ours:5.2f} s   "
              f"constrained layout {ref:5.2f} s   ratio {ours / ref:5.2f}")  # fmt: skip

        lc_path = lightcurve_file(tmp / "lc")
        ours, ref = _pair(lambda: ours_spectrum(lc_path), lambda: lightkurve_spectrum(lc_path), 10)
        print(f"  read + PSD, 1300 cadences: tasoc {1e3 * ours:6.1f} ms   lightkurve {1e3 * ref:6.1f} ms"
              f"   ratio {ours / ref:5.2f}")  # fmt: skip
        raw = read_lightcurve(lc_path)
        info = {"starid": 1, "tmag": 10.0, "method": "aperture", "status": 1, "dataval": 0.0,
                "rms_hour": 1e-4, "ptp": 1e-4, "contamination": 0.01, "pos_row": np.nan,
                "pos_column": np.nan, "datasource": "ffi", "cadence": 1800}  # fmt: skip
        t_target = _timed(lambda: render(target_figure(raw, {"cbv": raw}, info)), 3)
        print(f"  per-target figure (read excluded): {t_target:5.2f} s")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
