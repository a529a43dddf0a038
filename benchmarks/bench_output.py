"""Benchmark: diagnostics and light-curve file of one target.

A Tmag-10 star on a 15×15 FFI stamp with 1300 cadences (a 1800-s sector): time to compute
its diagnostics and to write its complete light-curve file (four HDUs, checksums, gzip,
atomic rename). References run in the same process:

* diagnostics: a straightforward implementation with a Python loop over the hourly bins
  and ``numpy.polyfit`` (how one would write it first);
* file: ``astropy.table.Table.write`` of the same 14 columns to a ``.fits.gz`` file — a
  naive writer with one table and none of the headers, images, checksums or atomicity;
* file: the same complete file built as an astropy ``HDUList`` and written with
  ``writeto(checksum=True)`` (``build_lightcurve_hdus``, how tasoc wrote it before it
  rendered the bytes itself; the output is identical).

Run: ``python benchmarks/bench_output.py``.
"""

from __future__ import annotations

import gzip
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from astropy.table import Table

from tasoc_core.families import PhotometryResult
from tasoc_core.flags import TESS_DEFAULT_BITMASK
from tasoc_core.output import (
    LIGHTCURVE_COLUMNS,
    Provenance,
    build_lightcurve_hdus,
    lightcurve_path,
    write_lightcurve,
)
from tasoc_core.output._atomic import atomic_write_bytes
from tasoc_core.output._reference import hdulist_bytes
from tasoc_core.photometry import compute_diagnostics
from tasoc_core.testing import synthetic_target

REPEATS = 60


def _result() -> PhotometryResult:
    synth = synthetic_target(tmag=10.0, shape=(15, 15), ncadences=1300, seed=1)
    data = synth.data
    r0, c0 = data.position_in_stamp
    rows, cols = np.mgrid[0:15, 0:15]
    aperture = (rows - r0) ** 2 + (cols - c0) ** 2 <= 2.5**2
    pixels = data.images[:, aperture].astype(float)
    centroid = np.column_stack(
        [
            (pixels * rows[aperture]).sum(1) / pixels.sum(1) + data.stamp.row_min,
            (pixels * cols[aperture]).sum(1) / pixels.sum(1) + data.stamp.col_min,
        ]
    )
    return PhotometryResult(
        data=data,
        flux=pixels.sum(1),
        flux_err=np.sqrt((data.images_err[:, aperture].astype(float) ** 2).sum(1)),
        background=data.backgrounds[:, aperture].sum(1),
        centroid=centroid,
        aperture=aperture,
        contamination=0.01,
    )


def naive_diagnostics(time_: np.ndarray, flux: np.ndarray, err: np.ndarray, quality: np.ndarray):
    good = (quality & TESS_DEFAULT_BITMASK) == 0
    t, f, e = time_[good], flux[good], err[good]
    mean = np.nanmedian(f)
    rel, rel_err = f / mean - 1.0, e / abs(mean)
    variance = np.nanvar(rel, ddof=1)
    bins = []
    start = np.nanmin(t)
    while start <= np.nanmax(t):
        inside = (t >= start) & (t < start + 1 / 24)
        if inside.any():
            bins.append(np.nanmean(rel[inside]))
        start += 1 / 24
    bins = np.array(bins)
    rms = 1.4826 * np.nanmedian(np.abs(bins - np.nanmedian(bins)))
    ptp = np.nanmedian(np.abs(np.diff(rel)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coef = np.polyfit(t - t.min(), rel, 3, w=1 / rel_err)
    variability = np.nanstd(rel - np.polyval(coef, t - t.min())) / np.nanmedian(rel_err)
    return mean, variance, rms, ptp, variability


def naive_write(result: PhotometryResult, path: Path) -> None:
    data = result.data
    n = len(data.time)
    columns = {
        "TIME": data.time,
        "TIMECORR": data.timecorr.astype(np.float32),
        "CADENCENO": data.cadenceno.astype(np.int32),
        "FLUX_RAW": result.flux,
        "FLUX_RAW_ERR": result.flux_err,
        "FLUX_BKG": result.background,
        "FLUX_CORR": np.full(n, np.nan),
        "FLUX_CORR_ERR": np.full(n, np.nan),
        "QUALITY": np.zeros(n, np.int32),
        "PIXEL_QUALITY": data.quality.astype(np.int32),
        "MOM_CENTR1": result.centroid[:, 1] + 1,
        "MOM_CENTR2": result.centroid[:, 0] + 1,
        "POS_CORR1": np.zeros(n),
        "POS_CORR2": np.zeros(n),
    }
    assert list(columns) == list(LIGHTCURVE_COLUMNS)
    Table(columns).write(path, overwrite=True)


def hdulist_write(result: PhotometryResult, diagnostics, out: Path, provenance) -> Path:
    """The complete file through astropy's HDUList, gzip and the atomic rename."""
    data = result.data
    release = data.instrument.data_rel
    path = lightcurve_path(out, data.target, release, 1, method=provenance.method)
    hdus = build_lightcurve_hdus(
        result, diagnostics, provenance=provenance, data_release=release, version=1
    )
    payload = gzip.compress(hdulist_bytes(hdus), compresslevel=6, mtime=0)
    return atomic_write_bytes(path, payload)


def _compare_ms(ours, reference, repeats: int = REPEATS) -> tuple[float, float]:
    """Median times (ms) of two callables, run alternately so that load affects both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for func, sink in ((ours, times[0]), (reference, times[1])):
            start = time.perf_counter()
            func()
            sink.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times[0]), 1e3 * statistics.median(times[1])


def main() -> None:
    result = _result()
    data = result.data
    provenance = Provenance(method="aperture", plugin="aperture", distribution="bench", version="0")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        diagnostics = compute_diagnostics(result)
        path = write_lightcurve(result, diagnostics, path=out, provenance=provenance, version=1)
        size = path.stat().st_size

        ours_diag, ref_diag = _compare_ms(
            lambda: compute_diagnostics(result),
            lambda: naive_diagnostics(data.time, result.flux, result.flux_err, data.quality),
        )
        ours_write, ref_write = _compare_ms(
            lambda: write_lightcurve(
                result, diagnostics, path=out, provenance=provenance, version=1
            ),
            lambda: naive_write(result, out / "naive.fits.gz"),
        )
        ours_file, hdulist_file = _compare_ms(
            lambda: write_lightcurve(
                result, diagnostics, path=out, provenance=provenance, version=1
            ),
            lambda: hdulist_write(result, diagnostics, out, provenance),
        )
        ours_total, ref_total = _compare_ms(
            lambda: write_lightcurve(
                result, compute_diagnostics(result), path=out, provenance=provenance, version=1
            ),
            lambda: (
                naive_diagnostics(data.time, result.flux, result.flux_err, data.quality),
                naive_write(result, out / "naive.fits.gz"),
            ),
        )

    print("bench_output: one target, 1300 cadences, 15x15 stamp (median of", REPEATS, "runs)")
    print(f"  diagnostics      tasoc {ours_diag:8.2f} ms   naive loop+polyfit {ref_diag:8.2f} ms"
          f"   ratio {ours_diag / ref_diag:5.2f}")  # fmt: skip
    print(f"  file (4 HDUs)    tasoc {ours_write:8.2f} ms   Table.write (1 HDU) {ref_write:7.2f} ms"
          f"   ratio {ours_write / ref_write:5.2f}")  # fmt: skip
    print(f"  file (4 HDUs)    tasoc {ours_file:8.2f} ms   astropy HDUList {hdulist_file:11.2f} ms"
          f"   ratio {ours_file / hdulist_file:5.2f}")  # fmt: skip
    print(f"  diagnostics+file tasoc {ours_total:8.2f} ms   naive total {ref_total:15.2f} ms"
          f"   ratio {ours_total / ref_total:5.2f}")  # fmt: skip
    print(
        f"  file size {size / 1024:.1f} KiB; throughput {1000 / ours_total:.0f} targets/s per core"
    )


if __name__ == "__main__":
    main()
