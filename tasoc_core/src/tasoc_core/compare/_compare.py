"""Comparing photometry methods and correctors run on the same TODO-file.

Everything is computed from the TODO-file (and, for recovery, the light-curve files and the
simulator's truth), so the numbers can be checked against the file with ``sqlite3``.
``docs/report.md`` documents the JSON layout.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tasoc_core.compare._truth import recovery_row, resolve_truth
from tasoc_core.config import Config
from tasoc_core.exceptions import InputFileError, TasocError
from tasoc_core.report.results import Columns, RunResults, load_results, select, status_name
from tasoc_core.simulate import Truth
from tasoc_core.status import Status
from tasoc_core.todo import TodoFile
from tasoc_core.validation.noise import FFI_CADENCES, TPF_CADENCES, noise_model
from tasoc_core.validation.validators import NoiseSettings

__all__ = [
    "COMPARE_VERSION",
    "compare_results",
    "expected_ratios",
    "magnitude_bins",
    "noise_bins",
]

logger = logging.getLogger(__name__)

#: Version of the JSON layout ``compare_results`` returns.
COMPARE_VERSION = 1

_FINISHED = (int(Status.OK), int(Status.WARNING), int(Status.ERROR))
_SUCCESS = (int(Status.OK), int(Status.WARNING))


def _num(value: Any) -> float | None:
    """A JSON-safe float: None for NaN and infinities."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _median(values: np.ndarray) -> float | None:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return _num(np.median(values)) if values.size else None


def magnitude_bins(tmag: np.ndarray, bin_width: float) -> np.ndarray:
    """Edges of ``bin_width``-wide bins, aligned on multiples of it, covering ``tmag``."""
    if bin_width <= 0:
        raise TasocError(f"compare: the magnitude bin width must be positive, got {bin_width}")
    tmag = np.asarray(tmag, dtype=np.float64)
    tmag = tmag[np.isfinite(tmag)]
    if tmag.size == 0:
        return np.array([], dtype=np.float64)
    lo = math.floor(tmag.min() / bin_width)
    hi = math.floor(tmag.max() / bin_width) + 1
    return np.arange(lo, hi + 1) * bin_width


def expected_ratios(
    rows: Columns, *, scale: float = 1e6, sysnoise: float = 5.0
) -> tuple[np.ndarray, np.ndarray]:
    """Measured over expected noise per row: 1-hour RMS and PTP-MDV.

    ``rows`` need ``tmag``, ``cadence``, ``ra``, ``dec``, ``rms_hour`` and ``ptp``;
    ``scale`` turns the stored values into ppm (1e6 for the photometry table's fractions,
    1 for the corrections table's ppm). Rows of unknown cadences get NaN.
    """
    n = len(rows["tmag"])
    rms_ratio = np.full(n, np.nan)
    ptp_ratio = np.full(n, np.nan)
    known = np.isin(rows["cadence"], list(FFI_CADENCES | TPF_CADENCES))
    if known.any():
        tmag, cadence = rows["tmag"][known], rows["cadence"][known]
        ra, dec = rows["ra"][known], rows["dec"][known]
        hour = noise_model(tmag, cadence, 3600.0, ra=ra, dec=dec, sysnoise=sysnoise).total
        p2p = noise_model(
            tmag, cadence, cadence.astype(float), ra=ra, dec=dec, sysnoise=sysnoise
        ).total
        with np.errstate(invalid="ignore", divide="ignore"):
            rms_ratio[known] = rows["rms_hour"][known] * scale / hour
            ptp_ratio[known] = rows["ptp"][known] * scale / p2p
    return rms_ratio, ptp_ratio


def _status_summary(statuses: np.ndarray) -> dict[str, Any]:
    values, counts = np.unique(statuses, return_counts=True)
    by_name = {status_name(v): int(n) for v, n in zip(values, counts)}
    finished = int(np.isin(statuses, _FINISHED).sum())
    fractions = {
        name: _num(by_name.get(name, 0) / finished) if finished else None
        for name in ("ok", "warning", "error")
    }
    return {
        "rows": int(statuses.size),
        "counts": by_name,
        "finished": finished,
        "fractions": fractions,
    }


def noise_bins(
    rows: Columns,
    edges: np.ndarray,
    *,
    scale: float = 1e6,
    sysnoise: float = 5.0,
    extra: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Median noise and noise over the expected noise per magnitude bin.

    Parameters
    ----------
    rows
        Results (successful ones, as a rule) with the columns :func:`expected_ratios` needs.
    edges
        Bin edges in Tmag (:func:`magnitude_bins`).
    scale, sysnoise
        As for :func:`expected_ratios`.
    extra
        Further columns whose median per bin is given under their own name.

    Returns
    -------
    list of dict
        One per bin, empty ones included: ``tmag_min``, ``tmag_max``, ``n``, the medians
        ``rms_hour_ppm``, ``ptp_ppm``, ``rms_ratio``, ``ptp_ratio`` and those of ``extra``
        (None without a finite value).
    """
    rms_ratio, ptp_ratio = expected_ratios(rows, scale=scale, sysnoise=sysnoise)
    out = []
    index = np.digitize(rows["tmag"], edges) - 1
    for b in range(len(edges) - 1):
        sel = index == b
        entry: dict[str, Any] = {
            "tmag_min": _num(edges[b]),
            "tmag_max": _num(edges[b + 1]),
            "n": int(sel.sum()),
            "rms_hour_ppm": _median(rows["rms_hour"][sel] * scale),
            "ptp_ppm": _median(rows["ptp"][sel] * scale),
            "rms_ratio": _median(rms_ratio[sel]),
            "ptp_ratio": _median(ptp_ratio[sel]),
        }
        for name in extra:
            entry[name] = _median(rows[name][sel])
        out.append(entry)
    return out


def _pairs(
    keys: Sequence[str], values: dict[str, dict[str, np.ndarray]], common: np.ndarray
) -> list[dict[str, Any]]:
    """Per pair (a, b) on the common rows: median b/a of RMS and PTP, how often b is quieter."""
    out = []
    for a, b in itertools.combinations(keys, 2):
        ra, rb = values[a]["rms"][common], values[b]["rms"][common]
        pa, pb = values[a]["ptp"][common], values[b]["ptp"][common]
        with np.errstate(invalid="ignore", divide="ignore"):
            rms = rb / ra
            ptp = pb / pa
        ok = np.isfinite(rms)
        out.append(
            {
                "a": a,
                "b": b,
                "n": int(common.sum()),
                "rms_ratio_median": _median(rms),
                "ptp_ratio_median": _median(ptp),
                "b_quieter_rms_fraction": _num(np.mean(rms[ok] < 1)) if ok.any() else None,
            }
        )
    return out


def _compare_group(
    table: Columns,
    keys: np.ndarray,
    names: Sequence[str],
    edges: np.ndarray,
    *,
    scale: float,
    sysnoise: float,
    include_targets: bool,
    extra: Sequence[str] = (),
    target_fields: Sequence[str] = (),
) -> dict[str, Any]:
    """Status, per-bin noise, common-target comparison and per-target rows of a group."""
    status = {name: _status_summary(table["status"][keys == name]) for name in names}
    bins = {}
    for name in names:
        ok = (keys == name) & np.isin(table["status"], _SUCCESS)
        bins[name] = noise_bins(
            select(table, ok), edges, scale=scale, sysnoise=sysnoise, extra=extra
        )
    # One entry per target (a group holds one photometry method at most per target).
    unit_keys = table["priority"]
    units = sorted(set(unit_keys.tolist()))
    unit_index = {u: i for i, u in enumerate(units)}
    n = len(units)
    values: dict[str, dict[str, np.ndarray]] = {}
    for name in names:
        v = {"rms": np.full(n, np.nan), "ptp": np.full(n, np.nan), "status": np.full(n, -1)}
        sel = np.flatnonzero(keys == name)
        idx = np.array([unit_index[int(unit_keys[i])] for i in sel], dtype=np.int64)
        if idx.size:
            good = np.isin(table["status"][sel], _SUCCESS)
            v["status"][idx] = table["status"][sel]
            v["rms"][idx] = np.where(good, table["rms_hour"][sel] * scale, np.nan)
            v["ptp"][idx] = np.where(good, table["ptp"][sel] * scale, np.nan)
            v["row"] = np.full(n, -1)
            v["row"][idx] = sel
        values[name] = v
    common = np.ones(n, dtype=bool)
    for name in names:
        common &= np.isin(values[name]["status"], _SUCCESS)
    common_rows = np.zeros(len(table["status"]), dtype=bool)
    for name in names:
        if "row" in values[name]:
            rows = values[name]["row"][common]
            common_rows[rows[rows >= 0]] = True
    common_bins = {}
    for name in names:
        sel = common_rows & (keys == name)
        common_bins[name] = noise_bins(select(table, sel), edges, scale=scale, sysnoise=sysnoise)
    out: dict[str, Any] = {
        "names": list(names),
        "status": status,
        "bins": bins,
        "common": {
            "n": int(common.sum()),
            "bins": common_bins,
            "pairs": _pairs(names, values, common) if len(names) > 1 else [],
        },
    }
    if include_targets:
        first_row = {}
        for name in names:
            if "row" in values[name]:
                for u, r in enumerate(values[name]["row"]):
                    if r >= 0 and u not in first_row:
                        first_row[u] = r
        targets = []
        for u in range(n):
            r = first_row.get(u)
            if r is None:
                continue
            entry: dict[str, Any] = {
                "priority": int(table["priority"][r]),
                "starid": int(table["starid"][r]),
                "tmag": _num(table["tmag"][r]),
                "datasource": table["datasource"][r],
                "cadence": int(table["cadence"][r]),
            }
            for field in target_fields:
                entry[field] = table[field][r]
            entry["results"] = {
                name: {
                    "status": status_name(values[name]["status"][u]),
                    "rms_hour_ppm": _num(values[name]["rms"][u]),
                    "ptp_ppm": _num(values[name]["ptp"][u]),
                }
                for name in names
                if values[name]["status"][u] >= 0
            }
            targets.append(entry)
        out["targets"] = targets
    return out


def _recovery(
    results: RunResults,
    truth: Truth,
    table: Columns,
    keys: np.ndarray,
    names: Sequence[str],
    edges: np.ndarray,
    *,
    limit: int | None,
    progress: Callable[[int, int], None] | None,
    done: list[int],
    total: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        sel = np.flatnonzero(
            (keys == name) & np.isin(table["status"], _SUCCESS)
            & np.array([p is not None for p in table["lightcurve"]], dtype=bool)
        )  # fmt: skip
        if limit is not None and sel.size > limit:
            # An even spread over magnitude rather than the brightest `limit`.
            sel = sel[np.linspace(0, sel.size - 1, limit).round().astype(np.int64)]
        fields = ("excess", "residual_ppm", "white_ppm", "amplitude", "flux_ratio")
        metrics: dict[str, list[float]] = {field: [] for field in fields}
        skipped = 0
        for i in sel:
            mean_flux = table["mean_flux"][i] if "mean_flux" in table else math.nan
            try:
                row = recovery_row(
                    truth,
                    path=results.output / table["lightcurve"][i],
                    starid=int(table["starid"][i]),
                    datasource=str(table["datasource"][i]),
                    cadence=int(table["cadence"][i]),
                    mean_flux=float(mean_flux),
                )
            except (KeyError, InputFileError) as exc:
                logger.debug("no recovery metrics for %s: %s", table["lightcurve"][i], exc)
                row = None
                skipped += 1
            for field in fields:
                metrics[field].append(math.nan if row is None else row[field])
            done[0] += 1
            if progress is not None:
                progress(done[0], total)
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in metrics.items()}
        tmag = table["tmag"][sel]
        index = np.digitize(tmag, edges) - 1
        bins = []
        for b in range(len(edges) - 1):
            s = index == b
            bins.append(
                {
                    "tmag_min": _num(edges[b]),
                    "tmag_max": _num(edges[b + 1]),
                    "n": int(s.sum()),
                    **{f"{k}_median": _median(v[s]) for k, v in arrays.items()},
                }
            )
        out[name] = {
            "n": int(sel.size),
            "not_in_truth": skipped,
            **{f"{k}_median": _median(v) for k, v in arrays.items()},
            "bins": bins,
        }
    return out


def compare_results(
    todo: TodoFile | RunResults | Path,
    *,
    config: Config | None = None,
    methods: Sequence[str] | None = None,
    correctors: Sequence[str] | None = None,
    bin_width: float = 1.0,
    truth: Truth | Path | bool | None = None,
    truth_limit: int | None = None,
    include_targets: bool = True,
    sysnoise: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Compare the photometry methods and correctors of one TODO-file on the same targets.

    Parameters
    ----------
    todo
        The TODO-file (open, a path, or already loaded with
        :func:`~tasoc_core.report.load_results`).
    config
        Run configuration: the noise validator's ``sysnoise`` and, for ``truth=None``, the
        input directory where a simulated sector's truth is looked for.
    methods, correctors
        Restrict the comparison to these (default: every one with results). Asking for one
        without results is an error naming it and the ones there are.
    bin_width
        Width of the magnitude bins (aligned on multiples of it).
    truth
        Truth of a simulated sector (a :class:`~tasoc_core.simulate.Truth` or its
        directory) for the recovery metrics; None looks in ``config.paths.input``; False
        leaves recovery out.
    truth_limit
        Read at most this many light curves per method (and corrector) for the recovery,
        spread evenly over magnitude (default: all).
    include_targets
        Include the per-target rows (large for full sectors).
    sysnoise
        Systematic noise on one hour (ppm) of the expected-noise model; default from the
        configuration's ``[validators.noise]``, else 5.
    progress
        ``progress(done, total)`` while light curves are read for the recovery.

    Returns
    -------
    dict
        JSON-able (NaN is None); layout in ``docs/report.md``.

    Raises
    ------
    TasocError
        For a method or corrector without results, or a bad bin width.
    ConfigError
        For a bad ``[validators.noise]`` table (the message names the key and the value).
    """
    results = todo if isinstance(todo, RunResults) else load_results(todo)
    if sysnoise is None:
        # The noise validator's settings, validated (a bad value is a ConfigError naming it).
        noise = (config or Config()).settings_for("validators", "noise", NoiseSettings)
        sysnoise = noise.sysnoise
    methods = results.known_methods(methods)
    correctors = results.known_correctors(correctors)
    edges = magnitude_bins(results.targets["tmag"], bin_width)

    phot = select(results.photometry, np.isin(results.photometry["method"], methods))
    photometry = _compare_group(
        phot, phot["method"], methods, edges, scale=1e6, sysnoise=sysnoise,
        include_targets=include_targets, extra=("mean_flux", "mask_size", "elaptime"),
    )  # fmt: skip

    compared = np.isin(results.corrections["corrector"], correctors) & np.isin(
        results.corrections["method"], methods
    )
    corr = select(results.corrections, compared)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr["rms_after_over_before"] = corr["rms_hour"] / corr["rms_hour_before"]
        corr["ptp_after_over_before"] = corr["ptp"] / corr["ptp_before"]
    corr_keys = results.correction_keys[compared]
    corr_names = sorted(set(corr_keys.tolist()))
    corrections: dict[str, Any] = {}
    for method in methods:
        names = [n for n in corr_names if n.split("/", 1)[0] == method]
        if not names:
            continue
        sel = corr["method"] == method
        group = _compare_group(
            select(corr, sel), corr_keys[sel], names, edges, scale=1.0, sysnoise=sysnoise,
            include_targets=include_targets,
            extra=("rms_hour_before", "ptp_before", "rms_after_over_before",
                   "ptp_after_over_before"),
            target_fields=("method",),
        )  # fmt: skip
        corrections[method] = group

    input_dir = Path(config.paths.input) if config is not None else None
    truth_obj = resolve_truth(truth, input_dir)
    recovery = None
    if truth_obj is not None:
        ok_phot = np.isin(phot["status"], _SUCCESS)
        ok_corr = np.isin(corr["status"], _SUCCESS)
        total = int(ok_phot.sum() + ok_corr.sum())
        if truth_limit is not None:
            total = min(total, truth_limit * (len(methods) + len(corr_names)))
        done = [0]
        recovery = {
            "simulation": str(truth_obj.out_dir),
            "photometry": _recovery(results, truth_obj, phot, phot["method"], methods, edges,
                                    limit=truth_limit, progress=progress, done=done, total=total),
            "corrections": _recovery(results, truth_obj, corr, corr_keys, corr_names, edges,
                                     limit=truth_limit, progress=progress, done=done, total=total),
        }  # fmt: skip
    return {
        "version": COMPARE_VERSION,
        "todo": str(results.path),
        "targets": results.n_targets,
        "bin_width": bin_width,
        "bins": [[_num(a), _num(b)] for a, b in itertools.pairwise(edges)],
        "sysnoise_ppm": sysnoise,
        "photometry": photometry,
        "corrections": corrections,
        "recovery": recovery,
    }
