"""Figures of a comparison, drawn from the dict :func:`tasoc_core.compare.compare_results`
returns (the same numbers ``tasoc compare --json`` prints).

* status fractions (OK, WARNING, ERROR) per method and per method/corrector;
* median noise over expected noise per magnitude bin (1-hour RMS and PTP-MDV), per
  method and per method/corrector;
* per-target ratios of the 1-hour RMS of each pair of methods on the common targets;
* corrected over raw noise per magnitude bin;
* recovery of the simulated truth per magnitude bin (excess noise, signal amplitude).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from tasoc_core.report.sections import FigureWriter, ReportFigure, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "comparison_figures",
    "plot_correction_ratio",
    "plot_noise_ratio_bins",
    "plot_pair_ratios",
    "plot_recovery",
    "plot_status_fractions",
]

_STATUS_COLOURS = {"ok": "tab:green", "warning": "gold", "error": "tab:red"}


def _groups(result: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if result["photometry"]["names"]:
        yield "photometry", result["photometry"]
    for method, group in result["corrections"].items():
        yield f"corrections of {method}", group


def plot_status_fractions(result: dict[str, Any]) -> Figure | None:
    """Stacked bars: fraction OK/WARNING/ERROR of finished attempts per method (/corrector)."""
    labels, fractions = [], []
    for _, group in _groups(result):
        for name in group["names"]:
            fr = group["status"][name]["fractions"]
            labels.append(f"{name} ({group['status'][name]['finished']})")
            fractions.append([fr[s] or 0.0 for s in ("ok", "warning", "error")])
    if not labels:
        return None
    fig = new_figure(max(4.0, 1.2 * len(labels) + 2), 3.6)
    ax = fig.subplots()
    bottom = np.zeros(len(labels))
    values = np.array(fractions)
    for k, status in enumerate(("ok", "warning", "error")):
        ax.bar(labels, values[:, k], bottom=bottom, color=_STATUS_COLOURS[status], label=status)
        bottom += values[:, k]
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction of finished attempts")
    ax.legend(fontsize=7, loc="lower right")
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    return fig


def _bin_centres(bins: list[dict[str, Any]], field: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([(b["tmag_min"] + b["tmag_max"]) / 2 for b in bins if b[field] is not None])
    y = np.array([b[field] for b in bins if b[field] is not None], dtype=float)
    return x, y


def _two_panel_bins(
    series: list[tuple[str, str, list[dict[str, Any]]]],
    fields: tuple[str, str],
    ylabels: tuple[str, str],
) -> Figure | None:
    """Per series ``(label, style, bins)`` the two ``fields`` per magnitude bin, side by side
    on log axes around 1 (None when no bin has a value)."""
    if not series:
        return None
    fig = new_figure(10.0, 3.8)
    axes = fig.subplots(1, 2)
    drawn = False
    for label, style, bins in series:
        for ax, field in zip(axes, fields):
            x, y = _bin_centres(bins, field)
            if x.size:
                ax.plot(x, y, style, ms=4, label=label)
                drawn = True
    if not drawn:
        return None
    for ax, ylabel in zip(axes, ylabels):
        ax.axhline(1.0, color="k", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_xlabel("Tmag")
        ax.set_ylabel(ylabel)
        # A panel whose field has no value in any bin has nothing to label.
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return fig


def plot_noise_ratio_bins(result: dict[str, Any]) -> Figure | None:
    """Median measured over expected noise per magnitude bin, for every method (/corrector)."""
    series = [
        (name, "-o" if title == "photometry" else "--s", group["bins"][name])
        for title, group in _groups(result)
        for name in group["names"]
    ]
    return _two_panel_bins(
        series, ("rms_ratio", "ptp_ratio"), ("1-hour RMS / expected", "PTP-MDV / expected")
    )


def plot_pair_ratios(result: dict[str, Any]) -> Figure | None:
    """Per-target 1-hour RMS ratio of each pair of compared results on the common targets."""
    panels = []
    for title, group in _groups(result):
        if len(group["names"]) < 2 or "targets" not in group:
            continue
        for pair in group["common"]["pairs"]:
            a, b = pair["a"], pair["b"]
            tmag, ratio = [], []
            for t in group["targets"]:
                ra = t["results"].get(a, {}).get("rms_hour_ppm")
                rb = t["results"].get(b, {}).get("rms_hour_ppm")
                if ra and rb:
                    tmag.append(t["tmag"])
                    ratio.append(rb / ra)
            if tmag:
                panels.append((f"{title}: {b} / {a}", np.array(tmag), np.array(ratio)))
    if not panels:
        return None
    fig = new_figure(5.0 * len(panels), 3.8)
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (label, tmag, ratio) in zip(axes, panels):
        ax.scatter(tmag, ratio, s=10, color="tab:blue")
        ax.axhline(1.0, color="k", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_xlabel("Tmag")
        ax.set_ylabel("1-hour RMS ratio")
        ax.set_title(f"{label} ({tmag.size} targets)", fontsize=9)
    return fig


def plot_correction_ratio(result: dict[str, Any]) -> Figure | None:
    """Median corrected over raw 1-hour RMS and PTP-MDV per magnitude bin, per corrector."""
    series = [
        (name, "-o", group["bins"][name])
        for group in result["corrections"].values()
        for name in group["names"]
    ]
    return _two_panel_bins(
        series,
        ("rms_after_over_before", "ptp_after_over_before"),
        ("1-hour RMS corrected / raw", "PTP-MDV corrected / raw"),
    )


def plot_recovery(result: dict[str, Any]) -> Figure | None:
    """Recovery of the simulated truth per magnitude bin: excess noise and signal amplitude."""
    recovery = result.get("recovery")
    if not recovery:
        return None
    fig = new_figure(10.0, 3.8)
    axes = fig.subplots(1, 2)
    drawn = False
    for kind, style in (("photometry", "-o"), ("corrections", "--s")):
        for name, r in recovery[kind].items():
            for ax, field in zip(axes, ("excess_median", "amplitude_median")):
                x, y = _bin_centres(r["bins"], field)
                if x.size:
                    ax.plot(x, y, style, ms=4, label=name)
                    drawn = True
    if not drawn:
        return None
    axes[0].axhline(1.0, color="k", lw=0.8, ls=":")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("residual / white noise (excess)")
    axes[1].axhline(1.0, color="k", lw=0.8, ls=":")
    axes[1].set_ylabel("injected signal amplitude kept")
    for ax in axes:
        ax.set_xlabel("Tmag")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return fig


def comparison_figures(result: dict[str, Any], writer: FigureWriter) -> list[ReportFigure]:
    """Write every comparison figure that has something to show."""
    out = []
    for name, fig, caption in (
        ("compare-status", plot_status_fractions(result),
         "Fraction of finished attempts that ended OK (green), WARNING (yellow) or ERROR (red)."),
        ("compare-noise", plot_noise_ratio_bins(result),
         "Median measured over expected noise (Sullivan et al. 2015) per magnitude bin; circles: "
         "photometry methods; squares: corrected light curves."),
        ("compare-pairs", plot_pair_ratios(result),
         "Per target, the 1-hour RMS of one result over the other's, on the targets where both "
         "succeeded; below 1: the first is quieter."),
        ("compare-corrections", plot_correction_ratio(result),
         "Median corrected over raw noise per magnitude bin, per corrector."),
        ("compare-recovery", plot_recovery(result),
         "Recovery of the simulated truth: left, the robust residual against the injected light "
         "curve over the simulator's white noise (1: noise-limited); right, the fraction of the "
         "injected signal's amplitude kept (variable stars)."),
    ):  # fmt: skip
        if fig is not None:
            out.append(writer.save(fig, name, caption))
    return out
