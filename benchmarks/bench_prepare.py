"""``tasoc prepare`` on full-size SPOC FFIs: frames per second, extrapolated to a sector.

Run: ``python benchmarks/bench_prepare.py [frames] [workers]`` (default 48 frames, 2
workers). The requirement is a full CCD of 1300 frames (a 30-min sector) in ≤ 15 minutes on
2 cores. A whole sector would need ~45 GB of FFIs and ~70 GB of output, so the benchmark
writes ``frames`` full 2078×2136 FFIs (real TESS TAN-SIP WCS, 15000 stars, corner glow,
a sky that varies in time), runs ``prepare_ccd`` on them and extrapolates linearly from
the per-frame time (the fixed costs are measured separately). Needs ~90 MB of disk per
frame in the temporary directory (removed afterwards).

The reference, measured in the same run on the same files, is the per-frame work of the
original pipeline's background step at its cheapest: reading the FFI and three photutils
``Background2D`` passes (one per square/radial iteration, its KDE ring modes not counted).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tasoc_core" / "tests" / "prepare"))

from conftest import full_ccd_frame, real_wcs_header  # noqa: E402
from tasoc_core.config import PrepareConfig  # noqa: E402
from tasoc_core.data import HDF5Source, Stamp  # noqa: E402
from tasoc_core.io import read_ffi  # noqa: E402
from tasoc_core.prepare import prepare_ccd  # noqa: E402


def write_full_ffis(directory: Path, n: int) -> list[Path]:
    """``n`` full-size calibrated FFIs of camera 1 / CCD 1 (science pixels at rows 0-2047, cols 44-2091)."""
    image, truth, _radius, _geo = full_ccd_frame(seed=1)
    stars = image - truth
    rng = np.random.default_rng(2)
    wcs_cards = WCS(real_wcs_header(), relax=True).to_header(relax=True)
    directory.mkdir(parents=True, exist_ok=True)
    step = 1800 / 86400
    paths = []
    full = np.zeros((2078, 2136), np.float32)
    for k in range(n):
        sky = truth * (1.0 + 0.1 * np.sin(k / 10.0))
        frame = sky + stars
        full[:2048, 44:2092] = frame + rng.standard_normal(frame.shape).astype(
            np.float32
        ) * np.sqrt(np.maximum(frame, 1) / 1440)
        err = np.full((2078, 2136), 0.3, np.float32)
        primary = fits.PrimaryHDU()
        for key, value in (("TELESCOP", "TESS"), ("CAMERA", 1), ("CCD", 1), ("TSTART", 1325.3 + k * step),
                           ("TSTOP", 1325.3 + (k + 1) * step), ("FFIINDEX", 4697 + k), ("NUM_FRM", 900)):  # fmt: skip
            primary.header[key] = value
        cal = fits.ImageHDU(full, name="CAMERA.CCD 1.1 cal")
        cal.header.update(wcs_cards)
        for key in ("CAMERA", "CCD", "TSTART", "TSTOP"):
            cal.header[key] = primary.header[key]
        cal.header["BARYCORR"] = 0.0005
        cal.header["DQUALITY"] = 0
        path = directory / f"tess{2018206000000 + 100 * k:013d}-s0001-1-1-0120-s_ffic.fits"
        fits.HDUList([primary, cal, fits.ImageHDU(err, name="CAMERA.CCD 1.1 uncert")]).writeto(path)
        paths.append(path)
    return paths


def reference_per_frame(paths: list[Path], count: int = 4) -> float:
    """Seconds per frame: read the FFI, then three photutils Background2D passes."""
    from astropy.stats import SigmaClip
    from photutils.background import Background2D, SExtractorBackground

    times = []
    for path in paths[:count]:
        start = time.perf_counter()
        data = read_ffi(path).image
        for _ in range(3):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                Background2D(data, 64, filter_size=3, exclude_percentile=50,
                             sigma_clip=SigmaClip(sigma=3.0, maxiters=5), bkg_estimator=SExtractorBackground())  # fmt: skip
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(frames: int = 48, workers: int = 2) -> None:
    # Step timings of prepare_ccd (INFO messages of tasoc_core.prepare.run) go to stderr.
    logging.basicConfig(level=logging.WARNING, format="  %(message)s")
    logging.getLogger("tasoc_core.prepare.run").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        paths = write_full_ffis(tmp / "in", frames)
        print(f"wrote {frames} full-size FFIs in {time.perf_counter() - start:.0f} s")
        stages: dict[str, float] = {}

        def progress(stage: str, done: int, total: int) -> None:
            stages.setdefault(stage + " start", time.perf_counter())
            if done == total:
                stages[stage + " end"] = time.perf_counter()

        settings = PrepareConfig(quality_tpfs=0)
        start = time.perf_counter()
        result = prepare_ccd(1, 1, 1, input_dir=tmp / "in", output_dir=tmp / "out", settings=settings,
                             workers=workers, progress=progress)  # fmt: skip
        total = time.perf_counter() - start
        size = result.path.stat().st_size / 1e9
        print(f"prepare_ccd, {workers} workers: {frames} frames in {total:.1f} s "
              f"({frames / total:.2f} frames/s), output {size:.2f} GB")  # fmt: skip
        for stage in ("scan", "backgrounds", "flags"):
            if stage + " end" in stages:
                print(f"  {stage:12s} finished after {stages[stage + ' end'] - start:6.1f} s")
        with HDF5Source(result.path) as src:
            src.read(Stamp(1000, 1015, 1000, 1015))
            t0 = time.perf_counter()
            for r in range(0, 1500, 100):
                src.read(Stamp(r, r + 15, 500 + r, 515 + r))
            print(f"  15x15 stamp read from the full-size file ({frames} cadences): "
                  f"{(time.perf_counter() - t0) / 15 * 1e3:.2f} ms")  # fmt: skip
        # Fixed cost: the same run on 2 frames (pool start-up, file creation, pointing).
        fixed_dir = tmp / "fixed"
        fixed_dir.mkdir()
        for p in paths[:2]:
            os.link(p, fixed_dir / p.name)
        start = time.perf_counter()
        prepare_ccd(
            1,
            1,
            1,
            input_dir=fixed_dir,
            output_dir=tmp / "out2",
            settings=settings,
            workers=workers,
        )
        fixed = time.perf_counter() - start
        per_frame = max((total - fixed) / (frames - 2), 1e-9)
        sector = fixed + 1300 * per_frame
        ref = reference_per_frame(paths)
        print(f"fixed cost {fixed:.1f} s; per frame {per_frame:.3f} s wall on {workers} workers")
        print(f"reference: read + 3 photutils Background2D per frame, 1 core: {ref:.3f} s "
              f"= {ref / workers:.3f} s per frame on {workers} cores")  # fmt: skip
        print(
            f"ratio tasoc prepare / reference (per frame, same cores): {per_frame / (ref / workers):.2f}"
        )
        verdict = "PASS" if sector <= 900 else "FAIL"
        print(f"extrapolated full CCD, 1300 frames: {sector / 60:.1f} min ({verdict}: <= 15 min)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
