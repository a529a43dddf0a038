"""Per-target barycentric timestamps: ``tasoc_core.timing`` (SPICE) against astropy.

Run: ``python benchmarks/bench_timing.py [--targets N] [--cadences T] [--reference-targets M]``
(defaults 300 targets, 1300 cadences, 30 reference targets).

The problem: N FFI targets spread over one camera (24°×24° around the sector-1 camera-1
centre), T 30-min cadences of TESS sector 1, FFI times barycentred at the camera centre as
SPOC writes them. Kernels: the real TESS ephemeris shipped with tasoc (JPL Horizons table
of 2018-07-20, converted to an SPK by ``horizons_ephemeris_to_spk``), a leap-seconds
kernel and DE421, all written to a temporary directory; loading them is not timed.

* tasoc, per target: ``rebarycentre(time, timecorr, ra, dec, kernels)`` once per target,
  exactly what ``HDF5Source.target_times`` does for every FFI target of ``tasoc run``
  (undo the frame-centre correction, TESS position from SPICE, Rømer + Sun Shapiro delay).
  The first target on freshly opened kernels queries SPICE (cold); the next ones reuse
  the spacecraft and Sun positions ``SpiceKernels`` keeps for the same frame times. The
  per-target figure is the mean over a CCD of N targets, (cold + (N − 1) cached) / N.
* tasoc, all targets at once: ``barycentric_delay(jd, ra[N], dec[N], kernels)``, (N, T),
  cold, per target.
* Reference: astropy ``Time(jd, scale="tdb", location=TESS).light_travel_time(SkyCoord,
  kind="barycentric")`` per target, the original pipeline's route. astropy has no
  spacecraft ephemeris, so TESS is passed as an ``EarthLocation`` built (once, untimed)
  from the same Horizons table minus astropy's built-in Earth ephemeris (ERFA ``epv00``,
  offline). light_travel_time is the Rømer delay only (no Shapiro term), with the Earth's
  barycentric position from ``epv00`` and the location's GCRS position recomputed per call.

Printed: µs per target per cadence for each, the ratios, and the agreement of the two
timestamps in seconds (expected ≤ 0.15 ms: astropy aberrates the location vector, see
``docs/timing.md``; ours adds the Shapiro delay, a few µs here).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tasoc_core.timing import (
    BTJD_OFFSET,
    SpiceKernels,
    barycentric_delay,
    horizons_ephemeris_to_spk,
    read_horizons_vectors,
    rebarycentre,
    write_leapseconds_kernel,
)

EPHEM = (
    Path(__file__).resolve().parents[1]
    / "tasoc_core/src/tasoc_core/data_files/20180720_tess_ephem.csv.bz2"
)
#: TDB JD range of sector 1 covered by the SPK written here.
SECTOR1 = (2458325.0, 2458353.0)
#: Sector-1 camera-1 centre (RA, Dec) in degrees (SPOC pointing).
CAMERA_CENTRE = (324.566, -33.172)
CADENCE_DAYS = 1800 / 86400
#: First cadence, days after the start of the ephemeris.
START = 0.2
MAX_CADENCES = int((SECTOR1[1] - SECTOR1[0] - 2 * START) / CADENCE_DAYS)


def star_positions(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """N (RA, Dec) uniformly in a 24°×24° field around the camera centre."""
    ra0, dec0 = CAMERA_CENTRE
    dec = dec0 + rng.uniform(-12, 12, n)
    ra = ra0 + rng.uniform(-12, 12, n) / np.cos(np.radians(dec))
    return ra % 360, dec


def astropy_location(jd: np.ndarray):
    """TESS as an astropy ``EarthLocation`` per time, from the Horizons table (not our SPK)."""
    from astropy import units as u
    from astropy.coordinates import (
        GCRS,
        ITRS,
        CartesianRepresentation,
        EarthLocation,
        get_body_barycentric,
    )
    from astropy.time import Time
    from scipy.interpolate import CubicSpline

    tjd, pos, _, _ = read_horizons_vectors(EPHEM)
    tess = CubicSpline(tjd, pos, axis=0)(jd)
    t = Time(jd, format="jd", scale="tdb")
    earth = get_body_barycentric("earth", t).xyz.to_value(u.km).T
    geo = CartesianRepresentation((tess - earth).T * u.km)
    itrs = GCRS(geo, obstime=t).transform_to(ITRS(obstime=t))
    return EarthLocation.from_geocentric(itrs.x, itrs.y, itrs.z)


def per_target(func: Callable[[int], object], n: int, repeat: int = 3) -> tuple[float, float]:
    """Best over ``repeat`` passes of the mean (wall, CPU) seconds per call of ``func(i)``."""
    func(0)  # warm-up
    best = (np.inf, np.inf)
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            func(i)
        elapsed = ((time.perf_counter() - start) / n, (time.process_time() - cpu) / n)
        best = min(best, elapsed)
    return best


def cold(
    func: Callable[[SpiceKernels], object], directory: Path, repeat: int = 3
) -> tuple[float, float]:
    """Best (wall, CPU) seconds of ``func`` on freshly opened kernels (nothing cached yet)."""
    best = (np.inf, np.inf)
    for _ in range(repeat):
        with SpiceKernels(directory) as kernels:
            start, cpu = time.perf_counter(), time.process_time()
            func(kernels)
            best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=300, help="targets (default 300)")
    parser.add_argument("--cadences", type=int, default=1300, help="cadences (default 1300)")
    parser.add_argument(
        "--reference-targets", type=int, default=30, help="targets for astropy (default 30)"
    )
    args = parser.parse_args()
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.time import Time
    from astropy.utils import iers

    iers.conf.auto_download = False  # offline: the bundled IERS tables cover 2018

    ncad = args.cadences
    if START + ncad * CADENCE_DAYS > SECTOR1[1] - SECTOR1[0] - START:
        parser.error(f"--cadences {ncad}: at most {MAX_CADENCES} fit in the ephemeris of sector 1")
    rng = np.random.default_rng(11)
    ra, dec = star_positions(args.targets, rng)
    nref = min(args.reference_targets, args.targets)

    with tempfile.TemporaryDirectory(prefix="bench_timing_") as tmp:
        d = Path(tmp)
        write_leapseconds_kernel(d / "leapseconds.tls")
        horizons_ephemeris_to_spk(EPHEM, d / "tess.bsp", jd_range=SECTOR1)
        with SpiceKernels(d) as kernels:
            # Spacecraft times, then FFI times barycentred at the camera centre (as SPOC does).
            tess_btjd = SECTOR1[0] - BTJD_OFFSET + START + CADENCE_DAYS * np.arange(ncad)
            centre = barycentric_delay(tess_btjd + BTJD_OFFSET, *CAMERA_CENTRE, kernels)
            ffi_time, ffi_timecorr = tess_btjd + centre, centre

            first = cold(lambda k: rebarycentre(ffi_time, ffi_timecorr, ra[0], dec[0], k), d)
            ours = per_target(
                lambda i: rebarycentre(ffi_time, ffi_timecorr, ra[i], dec[i], kernels),
                args.targets,
            )
            batch_t = cold(lambda k: barycentric_delay(tess_btjd + BTJD_OFFSET, ra, dec, k), d)
            batch = barycentric_delay(tess_btjd + BTJD_OFFSET, ra, dec, kernels)
            ours_times = np.array(
                [rebarycentre(ffi_time, ffi_timecorr, ra[i], dec[i], kernels)[0]
                 for i in range(nref)]
            )  # fmt: skip
            romer = barycentric_delay(
                tess_btjd + BTJD_OFFSET, ra[:nref], dec[:nref], kernels, shapiro=False
            )

        location = astropy_location(tess_btjd + BTJD_OFFSET)
        t_obs = Time(tess_btjd + BTJD_OFFSET, format="jd", scale="tdb", location=location)
        stars = [SkyCoord(ra[i] * u.deg, dec[i] * u.deg, frame="icrs") for i in range(nref)]

        def reference(i: int):
            return t_obs.light_travel_time(stars[i], kind="barycentric")

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ERFA "dubious year" never applies here; be quiet
            t_ref = per_target(reference, nref, repeat=1)
            ref_times = np.array([tess_btjd + reference(i).to_value(u.day) for i in range(nref)])

    diff_s = np.abs(ours_times - ref_times) * 86400
    diff_romer_s = np.abs(tess_btjd + romer - ref_times) * 86400
    batch_diff_s = np.abs(batch[:nref] - (ours_times - tess_btjd)) * 86400
    n = args.targets
    ccd = tuple((f + (n - 1) * o) / n for f, o in zip(first, ours))  # a CCD of n targets
    batch_t = tuple(b / n for b in batch_t)
    print(
        f"timing benchmark: {n} FFI targets × {ncad} cadences (sector 1, real TESS "
        f"ephemeris); astropy on {nref} of them. Wall and CPU time per target; µs per "
        "target and cadence (CPU)"
    )

    def line(label: str, wall_cpu: tuple[float, float]) -> None:
        wall, cpu = wall_cpu
        print(f"  {label:<44} {wall * 1e3:9.3f} ms wall {cpu * 1e3:9.3f} ms CPU "
              f"{cpu * 1e6 / ncad:9.3f} µs/target/cadence")  # fmt: skip

    line("tasoc rebarycentre, first target (cold)", first)
    line("tasoc rebarycentre, next targets (cached)", ours)
    line(f"tasoc rebarycentre, mean over {n} targets", ccd)
    line(f"tasoc barycentric_delay, {n} at once (cold)", batch_t)
    line("astropy light_travel_time (reference)", t_ref)
    print(
        f"  ratio tasoc / astropy (CPU): per target over a CCD {ccd[1] / t_ref[1]:.4f} "
        f"({t_ref[1] / ccd[1]:.0f}x faster); first target {first[1] / t_ref[1]:.3f}; "
        f"all at once {batch_t[1] / t_ref[1]:.4f}"
    )
    print(
        f"  agreement with astropy: max {diff_s.max() * 1e3:.3f} ms, median "
        f"{np.median(diff_s) * 1e3:.3f} ms (Rømer only: max {diff_romer_s.max() * 1e3:.3f} ms); "
        f"all-at-once vs per target: max {batch_diff_s.max() * 1e9:.2f} ns"
    )
    spread = np.ptp(batch - centre, axis=0).max()
    print(
        f"  spread of the per-target correction over the field: {spread * 86400:.1f} s "
        "(what SPOC's frame-centre barycentring gets wrong)"
    )


if __name__ == "__main__":
    main()
