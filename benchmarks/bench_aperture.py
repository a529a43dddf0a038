"""Benchmark of the ``aperture`` method against lightkurve on the same stamp.

Per-target time of K2P2 aperture photometry on an in-memory 1300-cadence FFI stamp of a
Tmag ≈ 10 star with two neighbours (15×15 default stamp), and, in the same run, lightkurve's
``create_threshold_mask`` + ``to_lightcurve`` on a ``TessTargetPixelFile`` holding exactly the
same pixels. The tasoc figure includes building the TargetData and reading its stamp from
memory, K2P2 mask creation, light-curve extraction, contamination and the result object.

    python benchmarks/bench_aperture.py [--repeat N]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np

from tasoc_aperture import AperturePhotometry
from tasoc_core.data import TargetData
from tasoc_core.testing import synthetic_target

NCADENCES = 1300
# lightkurve announces on import that an optional PRF submodule is unavailable.
warnings.filterwarnings("ignore", message=".*tpfmodel submodule.*")


def best_of(func: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``func`` over ``repeat`` calls, in seconds (after one warm-up)."""
    func()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def lightkurve_tpf(data: TargetData):
    """A TessTargetPixelFile in memory holding the stamp of ``data``."""
    from lightkurve.targetpixelfile import TargetPixelFileFactory

    images, errors, bkg = data.images, data.images_err, data.backgrounds
    factory = TargetPixelFileFactory(
        len(data.time), *data.stamp.shape, target_id=data.target.starid
    )
    for i, t in enumerate(data.time):
        half = data.target.cadence / 2 / 86400.0
        factory.add_cadence(
            frameno=i,
            flux=images[i],
            flux_err=errors[i],
            flux_bkg=bkg[i],
            header={"TSTART": t - half, "TSTOP": t + half, "CADENCEN": int(data.cadenceno[i])},
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return factory.get_tpf(
            hdu0_keywords={"TELESCOP": "TESS", "MISSION": "TESS", "OBJECT": "bench"},
            ext_info={"1CRV5P": data.stamp.col_min + 1, "2CRV5P": data.stamp.row_min + 1},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="timed repetitions (default 50)")
    args = parser.parse_args()

    synth = synthetic_target(
        tmag=10.0,
        shape=(41, 41),
        ncadences=NCADENCES,
        neighbours=[(4.0, -3.5, 12.5), (-5.5, 2.0, 13.0)],
        seed=7,
    )
    method = AperturePhotometry()

    def tasoc_target() -> object:
        # A fresh TargetData per call: the stamp is read and the sum image cut every time.
        data = TargetData(synth.data.target, synth.data.source)
        return method.photometry(data)

    data = TargetData(synth.data.target, synth.data.source)
    result = method.photometry(data)
    warm = TargetData(synth.data.target, synth.data.source)
    _ = warm.images, warm.sumimage, warm.stars
    t_total = best_of(tasoc_target, args.repeat)
    t_mask = best_of(lambda: method.choose_aperture(warm), args.repeat)

    tpf = lightkurve_tpf(data)

    def lightkurve_target() -> object:
        mask = tpf.create_threshold_mask(threshold=3)
        return tpf.to_lightcurve(aperture_mask=mask)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lk_lc = lightkurve_target()
        t_lk = best_of(lightkurve_target, args.repeat)

    ours = np.nanmedian(result.flux)
    theirs = np.nanmedian(np.asarray(lk_lc.flux.value))
    print(f"aperture benchmark: Tmag 10 FFI target, {NCADENCES} cadences, stamp {data.stamp.shape}")
    print(f"  tasoc aperture, per target          {t_total * 1e3:8.2f} ms  (budget 15 ms)")
    print(f"    of which K2P2 mask creation       {t_mask * 1e3:8.2f} ms")
    print(f"  lightkurve threshold mask + SAP LC  {t_lk * 1e3:8.2f} ms  (reference)")
    print(f"  ratio tasoc / lightkurve            {t_total / t_lk:8.2f}")
    print(
        f"  aperture pixels: tasoc {int(result.aperture.sum())}, lightkurve "
        f"{int(tpf.create_threshold_mask(threshold=3).sum())}; median flux / true: tasoc "
        f"{ours / np.median(synth.flux):.4f}, lightkurve {theirs / np.median(synth.flux):.4f}"
    )


if __name__ == "__main__":
    main()
