"""Quality-control movie of a prepare file: image, background, subtracted image, flags.

One frame per (sub-sampled) cadence with four panels, like the original ``run_ffimovie``:
the calibrated image (subtracted image + background), the background, the
background-subtracted image and the pixel-flag category (none, not used for background,
manually excluded, background shenanigans, bad frame). Images are shown with a square-root
stretch and colour limits from the 1st/99th percentiles over the movie's frames. Panels
are block-averaged down to ``size`` pixels so the movie stays small. Written as MP4 when
ffmpeg is available, otherwise as an animated GIF (Pillow).
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import h5py
import numpy as np

from tasoc_core.exceptions import InputFileError
from tasoc_core.flags import PIXEL_FLAGS

__all__ = ["flag_category", "make_movie", "movie_frames"]

logger = logging.getLogger(__name__)

#: Flag categories shown in the fourth panel, in increasing priority.
CATEGORIES = ("none", "NotUsedForBackground", "ManualExclude", "BackgroundShenanigans", "BadFrame")


def flag_category(flags: np.ndarray) -> np.ndarray:
    """Highest-priority category index (:data:`CATEGORIES`) of each pixel's flags."""
    out = np.zeros(flags.shape, dtype=np.uint8)
    for i, name in enumerate(CATEGORIES[1:], start=1):
        out[(flags & PIXEL_FLAGS[name]) != 0] = i
    return out


def _bin_mean(image: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return image.astype(np.float32)
    h, w = image.shape
    ny, nx = -(-h // factor), -(-w // factor)
    padded = np.full((ny * factor, nx * factor), np.nan, dtype=np.float32)
    padded[:h, :w] = image
    blocks = padded.reshape(ny, factor, nx, factor)
    finite = np.isfinite(blocks)
    count = finite.sum(axis=(1, 3))
    total = np.where(finite, blocks, 0.0).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan).astype(np.float32)


def _bin_max(image: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return image
    h, w = image.shape
    ny, nx = -(-h // factor), -(-w // factor)
    padded = np.zeros((ny * factor, nx * factor), dtype=image.dtype)
    padded[:h, :w] = image
    return padded.reshape(ny, factor, nx, factor).max(axis=(1, 3))


def movie_frames(path: Path, *, max_frames: int = 200, size: int = 256) -> dict[str, np.ndarray]:
    """Down-sampled panels of up to ``max_frames`` evenly spaced cadences.

    Returns arrays ``index`` (T'), ``time`` (T'), ``original``, ``background``,
    ``subtracted`` (T', h, w) float32 and ``flags`` (T', h, w) category indices.
    Reads the cubes one block of chunks at a time (memory stays bounded).
    """
    with h5py.File(path, "r") as f:
        if not bool(f.attrs.get("complete", False)):
            raise InputFileError(f"{path}: incomplete prepare file, no movie made")
        images, backgrounds, flags = f["images"], f["backgrounds"], f["pixel_flags"]
        n, h, w = images.shape
        step = max(1, -(-n // max_frames))
        index = np.arange(0, n, step)
        factor = max(1, -(-max(h, w) // size))
        tchunk = images.chunks[0] if images.chunks else n
        rchunk = images.chunks[1] if images.chunks else h
        unit = math.lcm(rchunk, factor)  # slabs aligned to chunks and to the binning
        slab = unit * max(1, 256 // unit)
        hh, ww = -(-h // factor), -(-w // factor)
        out = {
            name: np.full((len(index), hh, ww), np.nan, np.float32)
            for name in ("original", "background", "subtracted")
        }
        out["flags"] = np.zeros((len(index), hh, ww), np.uint8)
        for k0 in range(0, n, tchunk):
            k1 = min(k0 + tchunk, n)
            want = index[(index >= k0) & (index < k1)]
            if len(want) == 0:
                continue
            pos = np.searchsorted(index, want)
            for r0 in range(0, h, slab):
                r1 = min(r0 + slab, h)
                img = images[k0:k1, r0:r1, :][want - k0]
                bkg = backgrounds[k0:k1, r0:r1, :][want - k0]
                flg = flags[k0:k1, r0:r1, :][want - k0]
                o0, o1 = r0 // factor, -(-r1 // factor)
                for j, p in enumerate(pos):
                    out["subtracted"][p, o0:o1] = _bin_mean(img[j], factor)
                    out["background"][p, o0:o1] = _bin_mean(bkg[j], factor)
                    out["original"][p, o0:o1] = _bin_mean(img[j] + bkg[j], factor)
                    out["flags"][p, o0:o1] = _bin_max(flag_category(flg[j]), factor)
        out["index"] = index
        out["time"] = f["time"][()][index]
    return out


def _limits(data: np.ndarray) -> tuple[float, float]:
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [1.0, 99.0])
    return float(lo), float(max(hi, lo + 1e-6))


def make_movie(
    path: Path,
    output: Path | None = None,
    *,
    fps: int = 15,
    max_frames: int = 200,
    size: int = 256,
    fmt: str | None = None,
) -> Path:
    """Write the QC movie of prepare file ``path``; returns the movie's path.

    ``output`` defaults to the HDF5 path with suffix ``.mp4`` (ffmpeg available) or
    ``.gif``; ``fmt`` (``"mp4"``/``"gif"``) forces a format. Written under a temporary
    name and renamed when complete.
    """
    from matplotlib import animation, colors
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    if fmt is None:
        fmt = (
            Path(output).suffix.lstrip(".")
            if output is not None
            else ("mp4" if animation.FFMpegWriter.isAvailable() else "gif")
        )
    if fmt not in ("mp4", "gif"):
        raise ValueError(f"movie format must be mp4 or gif, not {fmt!r}")
    output = Path(output) if output is not None else path.with_suffix(f".{fmt}")
    panels = movie_frames(path, max_frames=max_frames, size=size)
    titles = ("Original", "Background", "Background subtracted", "Pixel flags")
    fig = Figure(figsize=(16, 4.6), dpi=80, facecolor="black")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 4)
    artists = []
    for ax, name, title in zip(axes, ("original", "background", "subtracted", "flags"), titles):
        ax.set_title(title, color="white")
        ax.set_axis_off()
        if name == "flags":
            cmap = colors.ListedColormap(["#000000", "#3b528b", "#e3e3e3", "#fde725", "#d62728"])
            im = ax.imshow(panels[name][0], cmap=cmap, vmin=-0.5, vmax=len(CATEGORIES) - 0.5, origin="lower",
                           interpolation="nearest")  # fmt: skip
        else:
            lo, hi = _limits(panels[name])
            norm = colors.PowerNorm(
                0.5, vmin=0.0 if name == "subtracted" else max(lo, 0.0), vmax=hi
            )
            im = ax.imshow(
                panels[name][0], cmap="viridis", norm=norm, origin="lower", interpolation="nearest"
            )
        artists.append((name, im))
    label = fig.text(0.5, 0.02, "", color="white", ha="center")
    fig.text(0.99, 0.02, "tasoc prepare", color="gray", ha="right", fontsize=8)
    writer = animation.FFMpegWriter(fps=fps) if fmt == "mp4" else animation.PillowWriter(fps=fps)
    tmp = output.with_name(f".{output.stem}.tmp{output.suffix}")
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with writer.saving(fig, str(tmp), dpi=80):
            for i in range(len(panels["index"])):
                for name, im in artists:
                    im.set_data(panels[name][i])
                label.set_text(
                    f"frame {int(panels['index'][i])}   BTJD {float(panels['time'][i]):.4f}"
                )
                writer.grab_frame(facecolor="black")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("wrote %s (%d frames)", output, len(panels["index"]))
    return output
