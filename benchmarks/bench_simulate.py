"""Benchmark of ``tasoc simulate``: seconds per FFI frame and per TPF, and the full profile.

Run: ``python benchmarks/bench_simulate.py [--full-frames N] [--skip-full]``

Figures printed:

1. ci profile end to end (the test suite's sector).
2. Rendering one frame of stars with our Taylor-expanded PRF basis versus photutils'
   ``make_model_image`` with a Gaussian PRF for the same stars on the same image (the
   obvious library alternative), as a ratio.
3. The full profile (whole CCD, ≥ 30 000 stars with Tmag < 15): set-up time, seconds per
   FFI (measured on the first N frames: 1300 full FFIs take ~46 GB) and per TPF, and the
   projected time for all 1300 FFIs against the 15-minute budget on 2 cores, as a ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def bench_ci(workdir: Path) -> None:
    from tasoc_core.simulate import simulate

    t0 = time.perf_counter()
    result = simulate(workdir / "ci", profile="ci", seed=1)
    total = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in (workdir / "ci").rglob("*") if p.is_file()) / 1e6
    print(f"ci profile: {total:.1f} s total, {result.n_ffi} FFIs ({result.ffi_seconds / result.n_ffi * 1e3:.1f} ms/FFI), "
          f"{result.n_tpf} TPFs ({result.tpf_seconds / result.n_tpf:.2f} s/TPF), {size:.0f} MB on disk")  # fmt: skip
    shutil.rmtree(workdir / "ci")


def bench_render(workdir: Path) -> None:
    """Our per-frame star rendering versus photutils make_model_image (Gaussian PRF)."""
    from astropy.table import Table
    from photutils.datasets import make_model_image
    from photutils.psf import CircularGaussianPRF

    from tasoc_core.simulate import _engine
    from tasoc_core.simulate.profiles import Profile

    prof = Profile(name="bench", region_size=(512, 512), orbit_days=0.5, gap_days=0.1, density_t15=210.0,
                   faint_limit=15.0, n_very_bright=0, n_tpf=0, workers=1)  # fmt: skip
    tmp = workdir / "render"
    tmp.mkdir()
    run = _engine._Run(prof, 1, 2, 1, 1, 1800, tmp)
    run.build(tmp / "spice")
    run.kernels.close()
    n = 20
    t0 = time.perf_counter()
    for k in range(n):
        run.render_frame(k)
    ours = (time.perf_counter() - t0) / n
    st = run.stars
    # photutils fails on stars centred just outside the image (astropy overlap_slices with
    # an array model shape), so the reference renders the stars inside it only.
    st = st[(st["row"] >= run.origin[0]) & (st["row"] < run.origin[0] + run.shape[0] - 1)
            & (st["col"] >= run.origin[1]) & (st["col"] < run.origin[1] + run.shape[1] - 1)]  # fmt: skip
    params = Table()
    params["x_0"] = np.asarray(st["col"]) - run.origin[1]
    params["y_0"] = np.asarray(st["row"]) - run.origin[0]
    params["flux"] = np.asarray(st["flux"])
    params["fwhm"] = np.full(len(st), 1.5)
    model = CircularGaussianPRF()
    t0 = time.perf_counter()
    reps = 3
    for _ in range(reps):
        make_model_image(run.shape, model, params, model_shape=(13, 13))
    ref = (time.perf_counter() - t0) / reps
    print(f"render one 512×512 frame, {len(st)} stars (+ background, bleed, noise): ours {ours * 1e3:.1f} ms, "
          f"photutils make_model_image (stars only) {ref * 1e3:.1f} ms, ratio ours/photutils = {ours / ref:.2f}")  # fmt: skip


def bench_full(workdir: Path, frames: int) -> None:
    from tasoc_core.simulate import simulate
    from tasoc_core.simulate.profiles import get_profile

    prof = get_profile("full")
    out = workdir / "full"
    t0 = time.perf_counter()
    result = simulate(out, profile="full", seed=1, max_frames=frames, workers=2)
    total = time.perf_counter() - t0
    info = json.loads((out / "simulation.json").read_text())
    n_bright = int(
        np.sum(np.loadtxt(out / "catalog" / "tic.csv", delimiter=",", skiprows=1, usecols=5) < 15)
    )
    setup = total - result.ffi_seconds - result.tpf_seconds
    per_ffi = result.ffi_seconds / result.n_ffi
    n_total = round(prof.orbit_days * 86400 / 1800) * 2
    projected = setup + n_total * per_ffi + result.tpf_seconds
    budget = 15 * 60
    print(f"full profile: {n_bright} catalog stars with Tmag < 15, {info['n_stars']} rendered in all; "
          f"set-up {setup:.0f} s; {per_ffi:.3f} s per FFI (2 workers, {result.n_ffi} frames measured); "
          f"{result.tpf_seconds / max(result.n_tpf, 1):.1f} s per TPF ({result.n_tpf} TPFs, 2 workers)")  # fmt: skip
    print(f"full profile projected for {n_total} FFIs: {projected / 60:.1f} min; "
          f"budget 15 min on 2 cores; ratio projected/budget = {projected / budget:.2f}")  # fmt: skip
    shutil.rmtree(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--full-frames", type=int, default=40, help="FFIs of the full profile to write (35 MB each)"
    )
    parser.add_argument("--skip-full", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_simulate_") as tmp:
        work = Path(tmp)
        bench_ci(work)
        bench_render(work)
        if not args.skip_full:
            bench_full(work, args.full_frames)


if __name__ == "__main__":
    main()
