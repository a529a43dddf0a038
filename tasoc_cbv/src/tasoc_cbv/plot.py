"""A plot of one area's CBVs: normal vectors on the left, spike vectors on the right."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tasoc_cbv.basis import CBVSet
from tasoc_cbv.io import write_atomic

__all__ = ["plot_cbvs"]


def plot_cbvs(cbvs: CBVSet, path: Path, *, threshold_snrtest: float = 5.0) -> Path:
    """Write a PNG with every CBV (offset vertically), marking those failing the SNR test.

    Uses matplotlib's Agg canvas directly, so no GUI backend or global state is touched.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = cbvs.ncomponents
    snr = cbvs.snr()
    fig = Figure(figsize=(12, 1.0 + 0.55 * k), layout="constrained")
    FigureCanvasAgg(fig)
    ax_single, ax_spike = fig.subplots(1, 2, sharex=True, sharey=True)
    t = cbvs.time
    scale = np.nanmax(np.abs(cbvs.single)) if np.any(np.isfinite(cbvs.single)) else 1.0
    step = 2.2 * (scale if scale > 0 else 1.0)
    for j in range(k):
        offset = -j * step
        passes = snr[j] >= threshold_snrtest or j == 0
        colour = "C0" if passes else "0.6"
        ax_single.plot(t, cbvs.single[:, j] + offset, lw=0.6, color=colour)
        ax_spike.plot(t, cbvs.spike[:, j] + offset, lw=0.6, color="C3" if passes else "0.6")
        ax_single.text(
            0.005, offset, f"{j + 1} ({snr[j]:.1f} dB)", fontsize=7, va="bottom",
            transform=ax_single.get_yaxis_transform(),
        )  # fmt: skip
    ax_single.set_title("normal (single-scale) CBVs")
    ax_spike.set_title("spike CBVs")
    for ax in (ax_single, ax_spike):
        ax.set_xlabel("time (TJD)")
        ax.set_yticks([])
    fig.suptitle(f"{cbvs.label}: {cbvs.nstars} stars; grey: below {threshold_snrtest} dB")
    path = Path(path)
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    return path
