"""The population figures of paper 003 (Figs. 8–13) and paper 004 (Fig. 7) for one run.

Every ``plot_*`` function draws into a new figure and returns it (None when there is
nothing to draw), so tests can inspect the axes; :func:`population_figures` writes them
all with a :class:`~tasoc_core.report.sections.FigureWriter`. Panels are split by cadence
(FFI and TPF data follow different relations); only successful results (OK, WARNING) are
drawn.

* noise: 1-hour RMS and PTP-MDV (ppm) versus Tmag with the expected-noise curves of
  Sullivan et al. (2015) — shot, read, zodiacal, systematic and total — computed by
  :func:`tasoc_core.validation.noise_model` at the targets' median position;
* aperture size versus Tmag, coloured by contamination, with the validation bounds;
* contamination versus Tmag with its bound, binned medians and 95th percentiles;
* mean flux versus Tmag with the fitted zero point (median-binned points) and the
  flux lower bound;
* stamp height and width versus Tmag, resized stamps marked, with the initial FFI size;
* time per target versus Tmag;
* corrected versus raw noise (variance, 1-hour RMS, PTP-MDV) per corrector.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tasoc_core.data.stamps import default_stamp_size
from tasoc_core.photometry.magnitudes import ZERO_POINT
from tasoc_core.report.results import Columns, RunResults
from tasoc_core.report.sections import FigureWriter, ReportFigure, new_figure
from tasoc_core.validation.bounds import (
    contamination_upper_bound,
    ffi_mask_size_max,
    ffi_mask_size_min,
    flux_lower_bound,
    tpf_mask_size_min,
)
from tasoc_core.validation.noise import FFI_CADENCES, noise_model
from tasoc_core.validation.zeropoint import ZeroPointFit, fit_zero_point

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "binned_statistic",
    "expected_noise",
    "plot_contamination",
    "plot_correction_noise",
    "plot_flux",
    "plot_mask_size",
    "plot_noise",
    "plot_stamp_sizes",
    "plot_timing",
    "population_figures",
]

logger = logging.getLogger(__name__)

_PANEL = (5.2, 4.0)
_POINT = {"s": 6, "alpha": 0.7, "linewidths": 0}


def _points(n: int) -> dict[str, float]:
    """Scatter style: larger dots when there are few, so that a small run stays readable."""
    return {**_POINT, "s": 16 if n < 300 else 6 if n < 5000 else 3}


_NOISE_STYLE = {
    "shot": {"color": "tab:blue", "ls": "-", "label": "shot"},
    "read": {"color": "tab:green", "ls": "-", "label": "read"},
    "zodiacal": {"color": "gold", "ls": "--", "label": "zodiacal"},
    "systematic": {"color": "tab:red", "ls": "--", "label": "systematic"},
    "total": {"color": "k", "ls": "-", "label": "total"},
}


def _kind(cadence: int) -> str:
    return "FFI" if cadence in FFI_CADENCES else "TPF"


def _cadences(rows: Columns) -> list[int]:
    """Cadences present, FFI first, longest first."""
    return sorted(set(rows["cadence"].tolist()), key=lambda c: (c not in FFI_CADENCES, -c))


def binned_statistic(
    x: np.ndarray,
    y: np.ndarray,
    *,
    bin_width: float = 1.0,
    statistic: str = "median",
    min_count: int = 3,
    percentile: float = 95.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median (or a percentile) of ``y`` in bins of ``x`` of ``bin_width``.

    Non-finite values are ignored; bins with fewer than ``min_count`` values are left out.

    Returns
    -------
    centres, values, counts
        Bin centres, the statistic per bin, and the number of values in each bin.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        empty = np.array([], dtype=np.float64)
        return empty, empty, np.array([], dtype=np.int64)
    index = np.floor(x[ok] / bin_width).astype(np.int64)
    values = y[ok]
    order = np.argsort(index, kind="stable")
    index, values = index[order], values[order]
    keys, starts, counts = np.unique(index, return_index=True, return_counts=True)
    keep = counts >= min_count
    q = 50.0 if statistic == "median" else percentile
    stats = np.array(
        [np.percentile(values[s : s + n], q) for s, n in zip(starts[keep], counts[keep])],
        dtype=np.float64,
    )
    return (keys[keep] + 0.5) * bin_width, stats, counts[keep]


def expected_noise(
    tmag: np.ndarray,
    cadence: int,
    timescale: float,
    *,
    ra: float | None = None,
    dec: float | None = None,
    sysnoise: float = 5.0,
) -> dict[str, np.ndarray]:
    """Sullivan et al. (2015) noise components (ppm) on ``timescale`` seconds at ``tmag``."""
    comps = noise_model(tmag, cadence, timescale, ra=ra, dec=dec, sysnoise=sysnoise)
    return {name: getattr(comps, name) for name in _NOISE_STYLE}


def _tmag_grid(tmag: np.ndarray) -> np.ndarray:
    lo = float(np.nanmin(tmag)) - 0.5 if tmag.size else 2.0
    hi = float(np.nanmax(tmag)) + 0.5 if tmag.size else 15.0
    return np.linspace(lo, hi, 200)


def _median_position(rows: Columns) -> tuple[float | None, float | None]:
    ok = np.isfinite(rows["ra"]) & np.isfinite(rows["dec"])
    if not ok.any():
        return None, None
    return float(np.median(rows["ra"][ok])), float(np.median(rows["dec"][ok]))


def _panels(fig: Figure, n: int, nrows: int = 1) -> list[Axes]:
    axes = fig.subplots(nrows, n, squeeze=False)
    return [ax for row in axes for ax in row]


def plot_noise(
    rows: Columns,
    *,
    kind: str = "rms",
    sysnoise: float = 5.0,
    bin_width: float = 1.0,
    title: str = "",
) -> Figure | None:
    """1-hour RMS (``kind="rms"``) or PTP-MDV (``kind="ptp"``) in ppm versus Tmag.

    One panel per cadence; points are the results, red dots their binned medians, lines the
    expected noise components on the same time scale (3600 s, or the cadence for PTP).
    """
    column = "rms_hour" if kind == "rms" else "ptp"
    cadences = _cadences(rows)
    if not cadences:
        return None
    fig = new_figure(_PANEL[0] * len(cadences), _PANEL[1])
    ra, dec = _median_position(rows)
    for ax, cadence in zip(_panels(fig, len(cadences)), cadences):
        sel = rows["cadence"] == cadence
        tmag, value = rows["tmag"][sel], rows[column][sel] * 1e6
        good = np.isfinite(value) & (value > 0)
        ax.scatter(tmag[good], value[good], color="0.45", label="targets", **_points(good.sum()))
        centres, medians, _ = binned_statistic(tmag[good], value[good], bin_width=bin_width)
        ax.plot(centres, medians, "o", color="tab:red", ms=5, label="binned median")
        grid = _tmag_grid(tmag)
        timescale = 3600.0 if kind == "rms" else float(cadence)
        curves = expected_noise(grid, cadence, timescale, ra=ra, dec=dec, sysnoise=sysnoise)
        for name, curve in curves.items():
            ax.plot(grid, curve, lw=1.2, **_NOISE_STYLE[name])
        ax.set_yscale("log")
        ax.set_xlabel("Tmag")
        label = "1-hour RMS (ppm)" if kind == "rms" else "PTP-MDV (ppm)"
        ax.set_ylabel(label)
        ax.set_title(f"{_kind(cadence)} {cadence} s ({int(good.sum())} targets)")
        # Room above the data for the legend: a fixed corner hid the points of sparse
        # panels (the 20-s TPF of the demo sat behind it).
        low, high = ax.get_ylim()
        ax.set_ylim(low, high * (high / low) ** 0.35)
        ax.legend(fontsize=7, loc="upper left", ncols=2)
    if title:
        fig.suptitle(title)
    return fig


def _contamination_colours(ax: Axes, fig: Figure, x, y, contamination) -> None:
    colour = np.where(np.isfinite(contamination), contamination, 0.0)
    points = ax.scatter(x, y, c=colour, cmap="viridis", vmin=0, vmax=1, **_points(len(x)))
    fig.colorbar(points, ax=ax, label="contamination", shrink=0.85)


def plot_mask_size(rows: Columns, *, title: str = "") -> Figure | None:
    """Pixels in the aperture versus Tmag with the validation bounds (paper 003, Fig. 10)."""
    have = np.isfinite(rows["mask_size"])
    cadences = _cadences({k: v[have] for k, v in rows.items()})
    if not cadences:
        return None
    fig = new_figure(_PANEL[0] * len(cadences) + 0.8, _PANEL[1])
    for ax, cadence in zip(_panels(fig, len(cadences)), cadences):
        sel = have & (rows["cadence"] == cadence)
        tmag, size = rows["tmag"][sel], rows["mask_size"][sel]
        _contamination_colours(ax, fig, tmag, np.maximum(size, 0.8), rows["contamination"][sel])
        grid = _tmag_grid(tmag)
        if cadence in FFI_CADENCES:
            ax.plot(grid, ffi_mask_size_min(grid), "r-", lw=1.2, label="validation bounds")
            ax.plot(grid, ffi_mask_size_max(grid), "r-", lw=1.2)
        else:
            ax.plot(grid, tpf_mask_size_min(grid), "r-", lw=1.2, label="validation bound")
        ax.set_yscale("log")
        ax.set_xlabel("Tmag")
        ax.set_ylabel("pixels in aperture")
        ax.set_title(f"{_kind(cadence)} {cadence} s ({int(sel.sum())} targets)")
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def plot_contamination(rows: Columns, *, bin_width: float = 1.0, title: str = "") -> Figure | None:
    """Contamination versus Tmag with its bound, binned medians and 95th percentiles (Fig. 11)."""
    have = np.isfinite(rows["contamination"])
    cadences = _cadences({k: v[have] for k, v in rows.items()})
    if not cadences:
        return None
    fig = new_figure(_PANEL[0], _PANEL[1] * 0.8 * len(cadences))
    for ax, cadence in zip(_panels(fig, 1, len(cadences)), cadences):
        sel = have & (rows["cadence"] == cadence)
        tmag, contamination = rows["tmag"][sel], rows["contamination"][sel]
        ax.scatter(tmag, contamination, color="0.45", **_points(len(tmag)))
        centres, medians, _ = binned_statistic(tmag, contamination, bin_width=bin_width)
        ax.plot(centres, medians, "o", color="tab:red", ms=5, label="binned median")
        centres, p95, _ = binned_statistic(
            tmag, contamination, bin_width=bin_width, statistic="percentile"
        )
        ax.plot(centres, p95, "o", mfc="none", color="tab:red", ms=5, label="binned 95th pct.")
        grid = _tmag_grid(tmag)
        ax.plot(grid, contamination_upper_bound(grid), "r-", lw=1.2, label="validation bound")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("Tmag")
        ax.set_ylabel("contamination")
        ax.set_title(f"{_kind(cadence)} {cadence} s ({int(sel.sum())} targets)")
        ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    return fig


def plot_flux(
    rows: Columns,
    *,
    max_contamination: float = 0.15,
    zp_bin_width: float = 0.5,
    title: str = "",
) -> tuple[Figure | None, dict[int, ZeroPointFit]]:
    """Mean flux versus Tmag with the fitted zero point of Eq. 4 (paper 003, Fig. 12).

    Returns the figure and the zero-point fit per cadence
    (:func:`tasoc_core.validation.fit_zero_point`, the data validation's fit).
    """
    have = np.isfinite(rows["mean_flux"]) & (rows["mean_flux"] > 0)
    cadences = _cadences({k: v[have] for k, v in rows.items()})
    fits: dict[int, ZeroPointFit] = {}
    if not cadences:
        return None, fits
    fig = new_figure(_PANEL[0] * len(cadences) + 0.8, _PANEL[1])
    for ax, cadence in zip(_panels(fig, len(cadences)), cadences):
        sel = have & (rows["cadence"] == cadence)
        tmag, flux, contamination = (
            rows["tmag"][sel],
            rows["mean_flux"][sel],
            rows["contamination"][sel],
        )
        _contamination_colours(ax, fig, tmag, flux, contamination)
        fit = fit_zero_point(
            tmag, flux, contamination, max_contamination=max_contamination, bin_width=zp_bin_width
        )
        fits[cadence] = fit
        centres, medians = np.array(fit.bin_tmag), np.array(fit.bin_zero_points)
        # The median zero point of a bin the fit used, drawn as the flux at the bin centre.
        ax.plot(centres, 10 ** (-0.4 * (centres - medians)), "o", color="tab:red", ms=5,
                label=f"binned (contamination < {max_contamination:.2f})")  # fmt: skip
        grid = _tmag_grid(tmag)
        if np.isfinite(fit.zero_point):
            err = f" ± {fit.error:.3f}" if np.isfinite(fit.error) else ""
            ax.plot(grid, 10 ** (-0.4 * (grid - fit.zero_point)), "k--", lw=1.2,
                    label=f"fit zp = {fit.zero_point:.3f}{err}")  # fmt: skip
        ax.plot(grid, 10 ** (-0.4 * (grid - ZERO_POINT)), ":", color="0.3", lw=1,
                label=f"nominal zp = {ZERO_POINT}")  # fmt: skip
        ax.plot(grid, flux_lower_bound(grid), "r-", lw=1.2, label="validation bound")
        ax.set_yscale("log")
        ax.set_xlabel("Tmag")
        ax.set_ylabel("mean flux (e⁻/s)")
        ax.set_title(f"{_kind(cadence)} {cadence} s ({int(sel.sum())} targets)")
        ax.legend(fontsize=7, loc="upper right")
    if title:
        fig.suptitle(title)
    return fig, fits


def plot_stamp_sizes(rows: Columns, *, title: str = "") -> Figure | None:
    """Stamp height and width versus Tmag; re-sized stamps in black (paper 003, Fig. 13)."""
    have = np.isfinite(rows["stamp_height"]) & np.isfinite(rows["stamp_width"])
    cadences = _cadences({k: v[have] for k, v in rows.items()})
    if not cadences:
        return None
    fig = new_figure(2 * _PANEL[0], _PANEL[1] * 0.8 * len(cadences))
    axes = _panels(fig, 2, len(cadences))
    for i, cadence in enumerate(cadences):
        sel = have & (rows["cadence"] == cadence)
        tmag = rows["tmag"][sel]
        resized = np.nan_to_num(rows["stamp_resizes"][sel]) > 0
        grid = _tmag_grid(tmag)
        initial = (
            np.array([default_stamp_size(t) for t in grid]) if cadence in FFI_CADENCES else None
        )
        for j, (column, label) in enumerate((("stamp_height", "height"), ("stamp_width", "width"))):
            ax = axes[2 * i + j]
            size = rows[column][sel]
            style = _points(len(tmag))
            ax.scatter(tmag[~resized], size[~resized], color="gold", label="not re-sized", **style)
            ax.scatter(tmag[resized], size[resized], color="k", label="re-sized", **style)
            if initial is not None:
                ax.plot(grid, initial[:, j], "k--", lw=1, label="initial size")
            ax.set_yscale("log")
            ax.set_xlabel("Tmag")
            ax.set_ylabel(f"stamp {label} (pixels)")
            ax.set_title(f"{_kind(cadence)} {cadence} s: {label}")
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def plot_timing(photometry: Columns, corrections: Columns) -> Figure | None:
    """Seconds per target versus Tmag, per photometry method and per corrector."""
    series: list[tuple[str, np.ndarray, np.ndarray]] = []
    for method in sorted(set(photometry["method"].tolist())):
        sel = (photometry["method"] == method) & np.isfinite(photometry["elaptime"])
        if sel.any():
            series.append((method, photometry["tmag"][sel], photometry["elaptime"][sel]))
    for corrector in sorted(set(corrections["corrector"].tolist())):
        sel = (corrections["corrector"] == corrector) & np.isfinite(corrections["elaptime"])
        if sel.any():
            series.append(
                (f"correct: {corrector}", corrections["tmag"][sel], corrections["elaptime"][sel])
            )
    if not series:
        return None
    fig = new_figure(*_PANEL)
    ax = fig.subplots()
    for label, tmag, seconds in series:
        total = float(np.sum(seconds))
        ax.scatter(
            tmag,
            np.maximum(seconds, 1e-3),
            label=f"{label} (total {total:.0f} s)",
            **_points(len(tmag)),
        )
    ax.set_yscale("log")
    ax.set_xlabel("Tmag")
    ax.set_ylabel("seconds per target")
    ax.legend(fontsize=7)
    return fig


def plot_correction_noise(rows: Columns, *, title: str = "") -> Figure | None:
    """Raw versus corrected variance, 1-hour RMS and PTP-MDV versus Tmag (paper 004, Fig. 7).

    The corrections table holds both in ppm (ppm² for the variance).
    """
    if len(rows["priority"]) == 0:
        return None
    fig = new_figure(3 * _PANEL[0] * 0.9, _PANEL[1])
    axes = _panels(fig, 3)
    for ax, (column, label) in zip(
        axes,
        (
            ("variance", "variance (ppm²)"),
            ("rms_hour", "1-hour RMS (ppm)"),
            ("ptp", "PTP-MDV (ppm)"),
        ),
    ):
        before, after = rows[f"{column}_before"], rows[column]
        good_b = np.isfinite(before) & (before > 0)
        good_a = np.isfinite(after) & (after > 0)
        style = _points(len(before))
        ax.scatter(rows["tmag"][good_b], before[good_b], color="0.6", label="raw", **style)
        ax.scatter(
            rows["tmag"][good_a], after[good_a], color="tab:blue", label="corrected", **style
        )
        for values, good, colour in ((before, good_b, "0.3"), (after, good_a, "tab:blue")):
            centres, medians, _ = binned_statistic(rows["tmag"][good], values[good])
            ax.plot(centres, medians, "-o", color=colour, ms=4, lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("Tmag")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def population_figures(
    results: RunResults,
    writer: FigureWriter,
    *,
    methods: Sequence[str] | None = None,
    sysnoise: float = 5.0,
    bin_width: float = 1.0,
    zp_max_contamination: float = 0.15,
    zp_bin_width: float = 0.5,
) -> tuple[dict[str, list[ReportFigure]], dict[str, dict[int, ZeroPointFit]]]:
    """Write every population figure of ``results``.

    Returns
    -------
    figures
        Per photometry method (and ``"correct:<method>/<corrector>"``, ``"timing"``) the
        figures written.
    zero_points
        Per method and cadence, the fitted zero point of the magnitude–flux relation.
    """
    out: dict[str, list[ReportFigure]] = {}
    zero_points: dict[str, dict[int, ZeroPointFit]] = {}
    for method in methods if methods is not None else results.methods:
        rows = results.succeeded(method)
        if len(rows["priority"]) == 0:
            continue
        figs: list[ReportFigure] = []
        for name, fig, caption in (
            ("rms", plot_noise(rows, kind="rms", sysnoise=sysnoise, bin_width=bin_width),
             "1-hour RMS versus Tmag; lines: expected noise (Sullivan et al. 2015): shot (blue), "
             "read (green), zodiacal (yellow dashed), systematic (red dashed), total (black)."),
            ("ptp", plot_noise(rows, kind="ptp", sysnoise=sysnoise, bin_width=bin_width),
             "Point-to-point median differential variability versus Tmag, with the expected "
             "noise on the time scale of the cadence."),
            ("mask", plot_mask_size(rows),
             "Pixels in the aperture versus Tmag, coloured by contamination; red: the data "
             "validation's bounds (FFI: minimum and maximum; TPF: minimum)."),
            ("contamination", plot_contamination(rows, bin_width=bin_width),
             "Contamination versus Tmag; red line: the validation bound; filled red: binned "
             "medians; open red: binned 95th percentiles."),
        ):  # fmt: skip
            if fig is not None:
                figs.append(writer.save(fig, f"{method}-{name}", caption))
        fig, fits = plot_flux(
            rows, max_contamination=zp_max_contamination, zp_bin_width=zp_bin_width
        )
        zero_points[method] = fits
        if fig is not None:
            figs.append(
                writer.save(
                    fig,
                    f"{method}-flux",
                    "Mean flux versus Tmag, coloured by contamination; dashed: Eq. 4 with the "
                    "zero point fitted to the red median-binned points; dotted: the nominal "
                    f"zero point {ZERO_POINT}; red line: the validation's lower bound.",
                )
            )
        fig = plot_stamp_sizes(rows)
        if fig is not None:
            figs.append(
                writer.save(
                    fig,
                    f"{method}-stamps",
                    "Stamp height and width versus Tmag; black: re-sized stamps; dashed: the "
                    "initial FFI stamp size.",
                )
            )
        out[method] = figs
    for method in results.methods if methods is None else methods:
        for corrector in results.correctors:
            rows = results.corrected(corrector, method)
            fig = plot_correction_noise(rows, title=f"{method} corrected by {corrector}")
            if fig is not None:
                out.setdefault(f"correct:{method}/{corrector}", []).append(
                    writer.save(
                        fig,
                        f"{method}-{corrector}-noise",
                        f"Noise of the {method} light curves before (grey) and after (blue) the "
                        f"{corrector} correction; lines: binned medians.",
                    )
                )
    fig = plot_timing(results.photometry, results.corrections)
    if fig is not None:
        out["timing"] = [writer.save(fig, "timing", "Seconds spent per target versus Tmag.")]
    return out, zero_points
