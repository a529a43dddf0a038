"""Benchmark: writing a corrected light-curve file.

A Tmag-10 star with 1300 cadences (a 1800-s sector) is written as a raw light-curve file;
its corrected file is then written as the Ensemble corrector does (FLUX_CORR filled,
QUALITY OR-ed, corrector cards, a 20-row ENSEMBLE table) and as the CBV corrector does
(no extra HDU). Reference run in the same process: the astropy implementation tasoc used
before (``fits.open`` of the raw bytes, column assignment, ``HDUList.writeto(checksum=True)``;
``tasoc_core.output._reference``), which writes the same file.

Run: ``python benchmarks/bench_corrected.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits

from tasoc_core.families.correction import CorrectionResult
from tasoc_core.output import Provenance, write_lightcurve
from tasoc_core.output._reference import write_corrected_lightcurve_astropy
from tasoc_core.output.corrected import write_corrected_lightcurve
from tasoc_core.photometry import compute_diagnostics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_output import REPEATS, _compare_ms, _result


def _ensemble_table(n: int) -> fits.BinTableHDU:
    return fits.BinTableHDU.from_columns(
        [
            fits.Column(name="TICID", format="K", array=np.arange(n) + 100),
            fits.Column(name="WEIGHT", format="D", array=np.linspace(0.5, 1.0, n)),
        ],
        name="ENSEMBLE",
    )


def main() -> None:
    result = _result()
    provenance = Provenance(method="aperture", plugin="aperture", distribution="bench", version="0")
    rng = np.random.default_rng(2)
    with tempfile.TemporaryDirectory() as tmp:
        raw = write_lightcurve(
            result, compute_diagnostics(result), path=Path(tmp), provenance=provenance, version=1
        )
        n = len(fits.getdata(raw, "LIGHTCURVE"))
        flux, flux_err = rng.normal(0, 200, n), np.full(n, 150.0)
        quality = np.where(rng.random(n) < 0.02, 256, 0).astype(np.int32)
        cases = {
            "ensemble (+ENSEMBLE HDU)": (
                "ens",
                "Ensemble",
                lambda: CorrectionResult(flux=flux, flux_err=flux_err, quality=quality, headers={"ENS_NUM": (20, "stars")},
                    extra_hdus=(_ensemble_table(20),),
                ),
            ),
            "cbv (no extra HDU)": (
                "cbv",
                "CBV",
                lambda: CorrectionResult(flux=flux, flux_err=flux_err, quality=quality, headers={"CBV_NUM": (3, "CBVs")}),
            ),
        }  # fmt: skip
        figures = {}
        for label, (tag, method, make) in cases.items():
            options = {"tag": tag, "method_name": method, "plugin": "bench", "version": "0"}
            figures[label] = _compare_ms(
                lambda make=make, options=options: write_corrected_lightcurve(
                    raw, make(), **options
                ),
                lambda make=make, options=options: write_corrected_lightcurve_astropy(
                    raw, make(), **options
                ),
            )
    print(f"bench_corrected: one corrected file, {n} cadences (median of {REPEATS} runs)")
    for label, (ours, reference) in figures.items():
        print(f"  {label:26s} tasoc {ours:7.2f} ms   astropy HDUList {reference:7.2f} ms"
              f"   ratio {ours / reference:5.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
