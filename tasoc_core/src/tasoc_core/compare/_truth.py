"""Recovery of the injected truth of a simulated sector, per light curve.

For a raw light curve the expected relative flux is the simulator's noiseless flux (star ×
intrinsic variability × systematics) over its median; for a corrected one it is the
intrinsic variability alone — what a perfect corrector returns. Per light curve:

* ``residual_ppm``: robust standard deviation (1.4826 × median absolute deviation) of
  measured − expected over the usable cadences: trends left in the light curve count,
  isolated outlying cadences do not;
* ``residual_std_ppm``: the plain standard deviation of the same, outliers included;
* ``white_ppm``: the simulator's own white noise per cadence for the star's best aperture
  (:meth:`~tasoc_core.simulate.Truth.expected_noise` over ``flux × ap_star_fraction``);
* ``excess``: ``residual_ppm / white_ppm`` — 1 for a light curve limited by the photon and
  read noise of the best aperture, larger where systematics are left (or noise added);
* ``signal_ppm``: standard deviation of the expected relative flux;
* ``amplitude``: least-squares scale of the expected signal in the measured one (1: the
  signal is kept at full amplitude; contamination and over-fitting lower it), given when
  the signal is at least ``white_ppm`` (otherwise it is noise-dominated: NaN);
* ``flux_ratio`` (raw light curves): ``mean_flux`` over the star's true flux.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from tasoc_core.exceptions import InputFileError, TasocError
from tasoc_core.photometry.diagnostics import MAD_TO_SIGMA
from tasoc_core.report.lightcurves import read_lightcurve, relative_flux
from tasoc_core.simulate import Truth

__all__ = [
    "find_truth",
    "recovery_row",
    "resolve_truth",
    "truth_relative_flux",
    "white_noise_ppm",
]

logger = logging.getLogger(__name__)


def find_truth(input_dir: Path | None) -> Truth | None:
    """The truth of a simulated sector in ``input_dir`` (None if it is not one)."""
    if input_dir is None or not (Path(input_dir) / "simulation.json").is_file():
        return None
    try:
        return Truth(input_dir)
    except InputFileError as exc:
        logger.warning("%s holds simulation.json but no readable truth: %s", input_dir, exc)
        return None


def resolve_truth(truth: Truth | Path | str | bool | None, input_dir: Path | None) -> Truth | None:
    """The truth to compare with, as ``compare_results`` and ``build_report`` take it.

    False: none; None or True: the simulated sector's in ``input_dir``, if it is one; a
    :class:`~tasoc_core.simulate.Truth`: itself; a directory: its truth.

    Raises
    ------
    TasocError
        If a directory is given that is not a simulated sector.
    """
    if truth is False:
        return None
    if truth is None or truth is True:
        return find_truth(input_dir)
    if isinstance(truth, Truth):
        return truth
    found = find_truth(Path(truth))
    if found is None:
        raise TasocError(f"{truth} is not a simulated sector (no simulation.json)")
    return found


def _truth_cadences(truth: Truth, starid: int, datasource: str, cadence: int) -> Any:
    """(cadenceno, truth key) of the truth series the target's light curve samples."""
    if datasource == "ffi":
        return truth.cadenceno, "ffi"
    primary = starid if datasource == "tpf" else int(datasource.split(":", 1)[1])
    return truth.tpf_cadences(primary, cadence)["cadenceno"], cadence


def _expected(truth: Truth, starid: int, key: Any, corrected: bool) -> np.ndarray:
    if corrected:
        return truth.relative_flux(starid, key) * 1e6
    flux = truth.true_flux(starid, key)
    return (flux / np.median(flux) - 1.0) * 1e6


def truth_relative_flux(
    truth: Truth,
    *,
    starid: int,
    datasource: str,
    cadence: int,
    cadenceno: np.ndarray,
    corrected: bool,
) -> np.ndarray:
    """The relative flux (ppm) a light curve of this target should show, per cadence number.

    Raw light curves: the noiseless flux including systematics over its median, minus 1;
    corrected ones: the intrinsic variability alone. NaN where the truth has no such cadence.

    Raises
    ------
    KeyError
        If the star, or its TPF, is not in the truth.
    """
    truth_cadenceno, key = _truth_cadences(truth, starid, datasource, cadence)
    expected = _expected(truth, starid, key, corrected)
    cadenceno = np.asarray(cadenceno, dtype=np.int64)
    order = np.argsort(truth_cadenceno)
    sorted_no = truth_cadenceno[order]
    index = np.clip(np.searchsorted(sorted_no, cadenceno), 0, len(sorted_no) - 1)
    matched = sorted_no[index] == cadenceno
    return np.where(matched, expected[order][index], np.nan)


def white_noise_ppm(truth: Truth, starid: int, key: Any) -> float:
    """The simulator's median per-cadence relative noise (ppm) in the star's best aperture."""
    star = truth.star(starid)
    denominator = float(star["flux"]) * float(star["ap_star_fraction"])
    if not denominator > 0:
        return math.nan
    return float(np.median(truth.expected_noise(starid, key))) / denominator * 1e6


def recovery_row(
    truth: Truth,
    *,
    path: Path,
    starid: int,
    datasource: str,
    cadence: int,
    mean_flux: float = math.nan,
) -> dict[str, float]:
    """Recovery metrics of one light-curve file against the truth (module docstring).

    Raises
    ------
    KeyError
        If the star or its data are not in the truth (e.g. not a simulated star).
    InputFileError
        If the light curve cannot be read.
    """
    lc = read_lightcurve(path, images=False)
    expected = truth_relative_flux(
        truth, starid=starid, datasource=datasource, cadence=cadence,
        cadenceno=lc.cadenceno, corrected=lc.corrected,
    )  # fmt: skip
    measured = relative_flux(lc)
    ok = np.isfinite(measured) & np.isfinite(expected)
    white = white_noise_ppm(truth, starid, _truth_cadences(truth, starid, datasource, cadence)[1])
    out = {
        "residual_ppm": math.nan,
        "residual_std_ppm": math.nan,
        "white_ppm": white,
        "excess": math.nan,
        "signal_ppm": math.nan,
        "amplitude": math.nan,
        "flux_ratio": math.nan,
        "cadences": int(np.count_nonzero(ok)),
    }
    if not lc.corrected and np.isfinite(mean_flux):
        out["flux_ratio"] = float(mean_flux) / float(truth.star(starid)["flux"])
    if out["cadences"] < 10:
        return out
    m, e = measured[ok], expected[ok]
    diff = m - e
    diff = diff - np.median(diff)
    residual = float(MAD_TO_SIGMA * np.median(np.abs(diff)))
    e0 = e - np.median(e)
    signal = float(np.std(e0))
    out["residual_ppm"] = residual
    out["residual_std_ppm"] = float(np.std(diff))
    out["signal_ppm"] = signal
    if white > 0:
        out["excess"] = residual / white
    if signal >= white and signal > 0:
        m0 = m - np.median(m)
        out["amplitude"] = float(np.dot(m0, e0) / np.dot(e0, e0))
    return out
