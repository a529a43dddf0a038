"""Per-target figures: sum image with aperture, raw and corrected light curves, power spectra.

:func:`select_targets` picks which results get a figure (given TIC numbers or priorities,
else a spread over magnitude); :func:`target_figure` draws one result: its light-curve
file's sum image with the aperture outlined and the measured position marked, the raw
relative flux, every corrected light curve of that target and method, and their power
density spectra — with the injected signal drawn over them for a simulated sector.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from tasoc_core.flags import DATAVAL
from tasoc_core.report.lightcurves import LightCurveData, power_density, relative_flux
from tasoc_core.report.results import RunResults, status_name
from tasoc_core.report.sections import new_figure
from tasoc_core.status import Status

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["TargetResult", "aperture_outline", "select_targets", "target_figure"]

logger = logging.getLogger(__name__)

_SUCCESS = (int(Status.OK), int(Status.WARNING))
_CORRECTED_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown")


@attrs.frozen
class TargetResult:
    """One photometry result chosen for a per-target figure: its row in ``photometry``."""

    priority: int
    method: str
    row: int


def select_targets(
    results: RunResults,
    *,
    count: int = 12,
    starids: Sequence[int] = (),
    priorities: Sequence[int] = (),
    methods: Sequence[str] | None = None,
) -> list[TargetResult]:
    """Results to draw per target.

    With ``starids`` or ``priorities``, every successful result of those targets (of
    ``methods``); otherwise ``count`` targets spread evenly over the magnitudes of the
    targets with a successful result (the brightest and faintest included), each with all
    its successful results. Ordered by priority, then method.
    """
    phot = results.photometry
    ok = np.isin(phot["status"], _SUCCESS) & np.array(
        [p is not None for p in phot["lightcurve"]], dtype=bool
    )
    if methods:
        ok &= np.isin(phot["method"], list(methods))
    if starids or priorities:
        chosen = np.isin(phot["starid"], list(starids)) | np.isin(
            phot["priority"], list(priorities)
        )
        rows = np.flatnonzero(ok & chosen)
    else:
        candidates = np.unique(phot["priority"][ok])  # sorted: brightest first
        if candidates.size == 0 or count <= 0:
            return []
        pick = np.unique(np.linspace(0, candidates.size - 1, min(count, candidates.size)).round())
        rows = np.flatnonzero(ok & np.isin(phot["priority"], candidates[pick.astype(np.int64)]))
    return [TargetResult(int(phot["priority"][r]), str(phot["method"][r]), int(r)) for r in rows]


def aperture_outline(mask: np.ndarray) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Pixel-edge segments ((x0, y0), (x1, y1)) around the true pixels of a 2-D ``mask``.

    Coordinates are image pixels (x = column, y = row) with pixel centres on integers.
    """
    mask = np.asarray(mask, dtype=bool)
    padded = np.pad(mask, 1)
    segments = []
    # Horizontal edges: between rows r-1 and r of the padded image.
    rows, cols = np.nonzero(padded[1:, 1:-1] != padded[:-1, 1:-1])
    segments += [((c - 0.5, r - 0.5), (c + 0.5, r - 0.5)) for r, c in zip(rows, cols)]
    rows, cols = np.nonzero(padded[1:-1, 1:] != padded[1:-1, :-1])
    segments += [((c - 0.5, r - 0.5), (c - 0.5, r + 0.5)) for r, c in zip(rows, cols)]
    return segments


def _draw_image(ax: Axes, fig: Figure, lc: LightCurveData, info: Mapping[str, Any]) -> None:
    from matplotlib.collections import LineCollection
    from matplotlib.colors import LogNorm

    image = lc.sumimage
    if image is None or image.size == 0:
        ax.text(0.5, 0.5, "no sum image", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    row0, col0 = lc.origin if lc.origin is not None else (0, 0)
    finite = image[np.isfinite(image) & (image > 0)]
    vmax = float(finite.max()) if finite.size else 1.0
    vmin = max(float(np.percentile(finite, 5)) if finite.size else 0.1, vmax * 1e-5)
    shown = np.where(np.isfinite(image) & (image > vmin), image, vmin)
    extent = (col0 - 0.5, col0 + image.shape[1] - 0.5, row0 - 0.5, row0 + image.shape[0] - 0.5)
    im = ax.imshow(shown, origin="lower", extent=extent, cmap="gray_r", interpolation="nearest",
                   norm=LogNorm(vmin=vmin, vmax=max(vmax, vmin * 1.01)))  # fmt: skip
    fig.colorbar(im, ax=ax, label="e⁻/s", shrink=0.8)
    if lc.aperture is not None:
        in_aperture = (lc.aperture & 2) != 0
        segments = [
            ((x0 + col0, y0 + row0), (x1 + col0, y1 + row0))
            for (x0, y0), (x1, y1) in aperture_outline(in_aperture)
        ]
        ax.add_collection(LineCollection(segments, colors="tab:red", linewidths=1.2))
    if np.isfinite(info.get("pos_row", np.nan)) and np.isfinite(info.get("pos_column", np.nan)):
        ax.plot(info["pos_column"], info["pos_row"], "+", color="tab:cyan", ms=10, mew=1.5)
    ax.set_xlabel("CCD column")
    ax.set_ylabel("CCD row")
    ax.set_title("sum image, aperture (red)", fontsize=9)


def _binned(time: np.ndarray, flux: np.ndarray, width_days: float) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(time) & np.isfinite(flux)
    if np.count_nonzero(ok) < 2:
        return np.array([]), np.array([])
    t, f = time[ok], flux[ok]
    index = np.floor((t - t[0]) / width_days).astype(np.int64)
    _, inverse, counts = np.unique(index, return_inverse=True, return_counts=True)
    return np.bincount(inverse, weights=t) / counts, np.bincount(inverse, weights=f) / counts


def _draw_lightcurve(
    ax: Axes,
    time: np.ndarray,
    flux: np.ndarray,
    colour: str,
    label: str,
    truth: np.ndarray | None,
    *,
    bins_colour: str = "k",
) -> None:
    ax.plot(time, flux, ".", ms=2, color=colour, alpha=0.5, label=label)
    cadence = float(np.nanmedian(np.diff(time))) if time.size > 1 else 0.0
    if 0 < 2 * cadence < 2.0 / 24:
        bt, bf = _binned(time, flux, 2.0 / 24)
        ax.plot(bt, bf, "-", color=bins_colour, lw=0.9, label=f"{label}, 2-h bins")
    if truth is not None and np.isfinite(truth).any():
        ax.plot(time, truth, "-", color="tab:red", lw=0.8, alpha=0.8, label="injected")
    finite = flux[np.isfinite(flux)]
    if finite.size > 10:
        lo, hi = np.percentile(finite, [0.5, 99.5])
        pad = 0.15 * (hi - lo) if hi > lo else 1.0
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_ylabel("relative flux (ppm)")
    ax.legend(fontsize=7, loc="upper right", ncols=3, framealpha=0.6)


def target_figure(
    raw: LightCurveData,
    corrected: Mapping[str, LightCurveData],
    info: Mapping[str, Any],
    *,
    truth_raw: np.ndarray | None = None,
    truth_corrected: Mapping[str, np.ndarray] | None = None,
) -> Figure:
    """One result's figure (see the module docstring).

    Parameters
    ----------
    raw
        The raw light-curve file's contents.
    corrected
        Corrected light curves of the same target and method, by corrector.
    info
        The result's ``photometry`` row as a mapping (``starid``, ``tmag``, ``method``,
        ``status``, ``dataval``, ``rms_hour``, ``ptp``, ``contamination``, ``pos_row``,
        ``pos_column``, ``datasource``, ``cadence``).
    truth_raw, truth_corrected
        The injected relative flux (ppm) aligned with the raw / each corrected light curve.
    """
    fig = new_figure(13.0, 8.0, wspace=0.55)
    grid = fig.add_gridspec(3, 3, width_ratios=(1.0, 1.3, 1.3))
    ax_image = fig.add_subplot(grid[0:2, 0])
    ax_raw = fig.add_subplot(grid[0, 1:])
    ax_corr = fig.add_subplot(grid[1, 1:], sharex=ax_raw)
    ax_text = fig.add_subplot(grid[2, 0])
    ax_psd = fig.add_subplot(grid[2, 1:])

    _draw_image(ax_image, fig, raw, info)
    raw_rel = relative_flux(raw)
    _draw_lightcurve(ax_raw, raw.time, raw_rel, "0.35", f"raw {info.get('method')}", truth_raw)
    ax_raw.set_title("raw light curve", fontsize=9)
    spectra = [("raw", raw.time, raw_rel, "0.35")]
    if corrected:
        for k, (name, lc) in enumerate(sorted(corrected.items())):
            colour = _CORRECTED_COLOURS[k % len(_CORRECTED_COLOURS)]
            rel = relative_flux(lc)
            truth = (truth_corrected or {}).get(name)
            # Later correctors are drawn over earlier ones; the truth once is enough.
            _draw_lightcurve(ax_corr, lc.time, rel, colour, name, truth if k == 0 else None,
                             bins_colour=colour)  # fmt: skip
            spectra.append((name, lc.time, rel, colour))
        ax_corr.set_title("corrected light curves", fontsize=9)
    else:
        ax_corr.text(0.5, 0.5, "no corrected light curve", ha="center", va="center",
                     transform=ax_corr.transAxes, color="0.4")  # fmt: skip
        ax_corr.set_yticks([])
    ax_corr.set_xlabel("time (BTJD)")
    drawn = False
    for name, time, rel, colour in spectra:
        freq, psd = power_density(time, rel)
        good = psd > 0
        if good.any():
            ax_psd.loglog(freq[good], psd[good], "-", lw=0.6, color=colour, label=name)
            drawn = True
    if drawn:
        ax_psd.set_xlabel("frequency (µHz)")
        ax_psd.set_ylabel("PSD (ppm²/µHz)")
        ax_psd.legend(fontsize=7, loc="lower left")
    else:
        ax_psd.text(0.5, 0.5, "too few points for a spectrum", ha="center", va="center",
                    transform=ax_psd.transAxes)  # fmt: skip
    ax_psd.set_title("power density spectrum", fontsize=9)

    ax_text.set_axis_off()
    dataval = info.get("dataval")
    flags = (
        ", ".join(DATAVAL.decode(int(dataval))) or "none"
        if dataval is not None and np.isfinite(dataval)
        else "not validated"
    )
    lines = [
        f"TIC {info.get('starid')}   Tmag {info.get('tmag', np.nan):.2f}",
        f"{info.get('datasource')}, {info.get('cadence')} s, method {info.get('method')}",
        f"status {status_name(info.get('status', 0))}",
        f"1-hour RMS {info.get('rms_hour', np.nan) * 1e6:.0f} ppm",
        f"PTP-MDV {info.get('ptp', np.nan) * 1e6:.0f} ppm",
        f"contamination {info.get('contamination', np.nan):.3f}",
        f"DATAVAL: {flags}",
    ]
    ax_text.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=9, family="monospace",
                 transform=ax_text.transAxes, wrap=True)  # fmt: skip
    fig.suptitle(f"TIC {info.get('starid')} ({info.get('method')})")
    return fig
