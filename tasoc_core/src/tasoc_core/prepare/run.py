"""``tasoc prepare`` for one sector/camera/CCD: FFIs in, one HDF5 file out.

Steps (each resumable, see ``docs/prepare.md``):

1. *Scan* the FFI headers (in parallel), check them, order frames in time, transfer
   quality flags from TPFs of the same CCD.
2. *Backgrounds*: workers read each frame, apply manual exclusions and estimate its
   background; the main process smooths the backgrounds in time as they stream in,
   subtracts them and writes the cubes one block of ``chunk_frames`` frames at a time
   (memory holds one block, never the whole cube). Per-block sums for the sum image go to
   a scratch file.
3. *Sum image* from the block sums.
4. *Shenanigans*: workers median-filter each frame's difference to the sum image in
   blocks; the main process flags outliers and rewrites the pixel flags block by block.
5. *Pointing*: reference frame and per-frame affine transforms from the WCS solutions.

The output is written as ``<name>.partial`` (plus a ``<name>.work`` scratch file) and
renamed to its final name only when complete. An interrupted run leaves the partial
file; the next run with the same inputs and settings continues from the last finished
block, otherwise it starts again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import h5py
import numpy as np

from tasoc_core import __version__
from tasoc_core.config import PrepareConfig
from tasoc_core.config._structure import unstructure
from tasoc_core.data.target import Stamp
from tasoc_core.exceptions import InputFileError
from tasoc_core.families.background import BackgroundEstimator, FrameGeometry
from tasoc_core.flags import PIXEL_FLAGS, TESS_DEFAULT_BITMASK, TESS_QUALITY
from tasoc_core.geometry import camera_centre_pixel
from tasoc_core.io import find_ffis, find_tpfs, read_ffi_pixels
from tasoc_core.prepare import layout
from tasoc_core.prepare._frames import FrameInfo, Problem, frame_info, select_frames
from tasoc_core.prepare._worker import (
    FrameBuffer,
    FrameResult,
    FrameTask,
    WorkerPool,
    fit_frame_pointing,
    init_worker,
    process_frame,
)
from tasoc_core.prepare.exclusions import KNOWN_EXCLUSIONS
from tasoc_core.prepare.pointing import wcs_from_string
from tasoc_core.prepare.quality import transfer_quality
from tasoc_core.prepare.shenanigans import block_medians, shenanigans_mask
from tasoc_core.prepare.smoothing import StreamingSmoother, default_time_smooth, window_bounds
from tasoc_core.prepare.source_mask import SourceMask, build_source_mask
from tasoc_core.sectors import reference_time

__all__ = ["PrepareResult", "ProgressCallback", "prepare_ccd"]

logger = logging.getLogger(__name__)

#: ``progress(stage, done, total)``; stages: ``scan``, ``backgrounds``, ``flags``.
ProgressCallback = Callable[[str, int, int], None]

_BAD_FRAME = PIXEL_FLAGS["BadFrame"]
_NOT_USED = PIXEL_FLAGS["NotUsedForBackground"]
_SHENANIGANS = PIXEL_FLAGS["BackgroundShenanigans"]
#: Quality bit set on frames prepare found unusable (in the default bitmask).
BAD_FRAME_QUALITY = TESS_QUALITY["ManualExclude"]


@attrs.frozen
class PrepareResult:
    """What one ``prepare_ccd`` call did."""

    path: Path
    sector: int
    camera: int
    ccd: int
    status: str  #: ``created`` or ``exists`` (nothing done)
    nframes: int = 0
    bad_frames: tuple[Problem, ...] = ()
    skipped_files: tuple[Problem, ...] = ()
    frames_without_wcs: tuple[str, ...] = ()
    reference_frame: int | None = None
    resumed_from: int | None = None  #: first frame processed by this call, if resumed
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "sector": self.sector, "camera": self.camera, "ccd": self.ccd,
            "status": self.status, "nframes": self.nframes,
            "bad_frames": [p.as_dict() for p in self.bad_frames],
            "skipped_files": [p.as_dict() for p in self.skipped_files],
            "frames_without_wcs": list(self.frames_without_wcs),
            "reference_frame": self.reference_frame, "resumed_from": self.resumed_from,
            "seconds": round(self.seconds, 3),
        }  # fmt: skip


# -- small helpers ---------------------------------------------------------------------------


def _cadence(frames: Sequence[FrameInfo]) -> int:
    """Frame cadence in seconds: TIMEDEL if given, else the median exposure span."""
    timedel = [
        f.keywords["TIMEDEL"] for f in frames if isinstance(f.keywords.get("TIMEDEL"), int | float)
    ]
    days = (
        float(np.median(timedel))
        if timedel
        else float(np.median([f.tstop - f.tstart for f in frames]))
    )
    return max(1, round(days * 86400.0))


def _blocks(n: int, size: int) -> list[tuple[int, int]]:
    return [(k, min(k + size, n)) for k in range(0, n, size)]


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _instrument(keywords: dict[str, Any]) -> dict[str, Any]:
    gains = [keywords[k] for k in ("GAINA", "GAINB", "GAINC", "GAIND") if k in keywords]
    noise = [keywords[k] for k in ("READNOIA", "READNOIB", "READNOIC", "READNOID") if k in keywords]
    out = dict(keywords)
    if gains:
        out["gain"] = float(np.mean(gains))
    if noise:
        out["readnoise"] = float(np.mean(noise))
    return out


@attrs.frozen
class _Plan:
    """Everything fixed before the first pixel is read."""

    sector: int
    camera: int
    ccd: int
    frames: tuple[FrameInfo, ...]
    science: Stamp
    cadence: int
    time_smooth: int
    quality: np.ndarray  # DQUALITY | transferred (bad frames are added later)
    transferred: np.ndarray
    quality_tpfs: tuple[str, ...]
    quality_tpfs_skipped: tuple[Problem, ...]
    skipped: tuple[Problem, ...]
    settings: PrepareConfig
    estimator: str
    estimator_settings: Any
    rules: tuple

    @property
    def n(self) -> int:
        return len(self.frames)

    @property
    def shape(self) -> tuple[int, int]:
        return self.science.shape

    @property
    def times(self) -> np.ndarray:
        return np.array([f.time for f in self.frames])

    def geometry(self) -> FrameGeometry:
        return FrameGeometry(
            camera=self.camera,
            ccd=self.ccd,
            origin=(self.science.row_min, self.science.col_min),
            camera_centre=camera_centre_pixel(self.camera, self.ccd),
            cadence=self.cadence,
        )

    def good(self) -> np.ndarray:
        return (self.quality & TESS_DEFAULT_BITMASK) == 0

    def signature(self) -> str:
        """Hash of everything the output depends on: a partial file is resumed only if equal."""
        files = []
        for f in self.frames:
            st = f.path.stat()
            files.append([f.name, st.st_size, st.st_mtime_ns])
        settings = unstructure(self.settings)
        for key in ("workers", "movie_fps", "movie_max_frames", "movie_size"):
            settings.pop(key, None)
        payload = {
            "format_version": layout.FORMAT_VERSION, "sector": self.sector, "camera": self.camera,
            "ccd": self.ccd, "files": files, "science": self.science.as_tuple(), "settings": settings,
            "estimator": self.estimator, "estimator_settings": unstructure(self.estimator_settings),
            "transferred": hashlib.sha256(self.transferred.tobytes()).hexdigest(),
            "time_smooth": self.time_smooth,
        }  # fmt: skip
        return hashlib.sha256(_json(payload).encode()).hexdigest()


# -- the output file ---------------------------------------------------------------------------


def _create(path: Path, plan: _Plan, signature: str) -> h5py.File:
    s = plan.settings
    n, (h, w) = plan.n, plan.shape
    chunks = (min(s.chunk_frames, n), min(s.chunk_pixels, h), min(s.chunk_pixels, w))
    float_opts: dict[str, Any] = {}
    if s.compression != "none":
        float_opts = {"compression": s.compression, "shuffle": True}
    f = h5py.File(path, "w")
    try:
        for name in ("images", "images_err", "backgrounds"):
            f.create_dataset(
                name, (n, h, w), dtype="f4", chunks=chunks, fillvalue=np.nan, **float_opts
            )
        # Flags follow the float cubes: lzf on 4-KB chunks would cost more than the three
        # uncompressed float cubes together in a stamp read (benchmarks/bench_stamp_read.py).
        flag_opts = {"compression": "lzf"} if s.compression != "none" else {}
        f.create_dataset("pixel_flags", (n, h, w), dtype="u1", chunks=chunks, **flag_opts)
        frames = plan.frames
        f.create_dataset("time", data=np.array([fr.time for fr in frames]))
        f.create_dataset("time_start", data=np.array([fr.tstart for fr in frames]))
        f.create_dataset("time_stop", data=np.array([fr.tstop for fr in frames]))
        f.create_dataset("timecorr", data=np.array([fr.barycorr for fr in frames]))
        f.create_dataset(
            "cadenceno", data=np.array([fr.cadenceno for fr in frames], dtype=np.int32)
        )
        f.create_dataset("dquality", data=np.array([fr.dquality for fr in frames], dtype=np.int32))
        f.create_dataset("quality_transferred", data=plan.transferred.astype(np.int32))
        f.create_dataset("quality", data=plan.quality.astype(np.int32))
        text = h5py.string_dtype()
        f.create_dataset(
            "filenames", data=np.array([fr.name for fr in frames], dtype=object), dtype=text
        )
        f.create_dataset("wcs", data=np.array([fr.wcs for fr in frames], dtype=object), dtype=text)
        f.create_dataset("bad_frame", shape=(n,), dtype=bool)
        f.create_dataset("bad_reason", shape=(n,), dtype=text)
        f.create_dataset("shenanigans_pixels", shape=(n,), dtype=np.int32)
        f.create_dataset("pointing", shape=(n, 2, 3), dtype="f8", fillvalue=np.nan)
        f.create_dataset("pointing_rms", shape=(n,), dtype="f8", fillvalue=np.nan)
        f.create_dataset("sumimage", shape=(h, w), dtype="f8", fillvalue=np.nan)
        f.create_dataset("background_used_fraction", shape=(h, w), dtype="f4")
        f.create_dataset("backgrounds_pixels_used", shape=(h, w), dtype=bool)
        a = f.attrs
        a["format"] = layout.FORMAT
        a["format_version"] = layout.FORMAT_VERSION
        a["tasoc_version"] = __version__
        a["sector"], a["camera"], a["ccd"] = plan.sector, plan.camera, plan.ccd
        a["cadence"] = plan.cadence
        a["origin"] = np.array([plan.science.row_min, plan.science.col_min], dtype=np.int64)
        a["shape"] = np.array(plan.shape, dtype=np.int64)
        a["time_smooth"] = plan.time_smooth
        a["background_estimator"] = plan.estimator
        a["background_settings"] = _json(unstructure(plan.estimator_settings))
        a["shenanigans_threshold"] = s.shenanigans_threshold
        a["shenanigans_box"] = s.shenanigans_box
        a["used_threshold"] = s.used_threshold
        a["manual_exclusions"] = _json([unstructure(r) for r in plan.rules])
        a["quality_tpfs"] = _json(list(plan.quality_tpfs))
        a["quality_tpfs_skipped"] = _json([p.as_dict() for p in plan.quality_tpfs_skipped])
        a["skipped_files"] = _json([p.as_dict() for p in plan.skipped])
        a["time_offset_corrected"] = False
        a["signature"] = signature
        a["frames_done"] = 0
        a["flags_done"] = 0
        a["complete"] = False
        f.flush()
    except BaseException:
        f.close()
        raise
    return f


def _open_partial(
    partial: Path, work: Path, plan: _Plan, signature: str, fresh: bool
) -> tuple[h5py.File, h5py.File]:
    """Open the partial and scratch files to continue, or create new ones."""
    if not fresh and partial.exists():
        try:
            f = h5py.File(partial, "r+")
        except OSError as exc:
            logger.warning("%s cannot be opened (%s); starting again", partial, exc)
        else:
            if (
                f.attrs.get("signature") == signature
                and f.attrs.get("format_version") == layout.FORMAT_VERSION
            ):
                try:
                    wf = h5py.File(work, "a")
                except OSError as exc:
                    logger.warning("%s cannot be opened (%s); starting again", work, exc)
                    f.close()
                else:
                    return f, wf
            else:
                logger.info(
                    "%s was made from other inputs or settings; starting again", partial.name
                )
                f.close()
    for stale in (partial, work):
        stale.unlink(missing_ok=True)
    f = _create(partial, plan, signature)
    return f, h5py.File(work, "w")


# -- step 2: backgrounds, smoothing, cubes ---------------------------------------------------------


class _Block:
    """Frames [start, stop) being assembled in memory before one write per cube.

    The block's contribution to the sum image (sum and count of finite values over good
    frames) and to the background-pixel statistics is accumulated frame by frame.
    """

    def __init__(self, start: int, stop: int, shape: tuple[int, int], good: np.ndarray) -> None:
        n = stop - start
        self.start, self.stop = start, stop
        self.images = np.empty((n, *shape), dtype=np.float32)
        self.errors = np.empty((n, *shape), dtype=np.float32)
        self.backgrounds = np.empty((n, *shape), dtype=np.float32)
        self.flags = np.empty((n, *shape), dtype=np.uint8)
        self.bad = np.zeros(n, dtype=bool)
        self.reasons = [""] * n
        self.filled = 0
        self.good = good[start:stop]
        self.total = np.zeros(shape, dtype=np.float64)
        self.count = np.zeros(shape, dtype=np.int32)
        self.used = np.zeros(shape, dtype=np.int32)

    def put(
        self, result: FrameResult, smoothed: np.ndarray | None, backapp: bool, name: str
    ) -> None:
        i = result.index - self.start
        self.filled += 1
        if result.bad is not None or smoothed is None:
            self.bad[i] = True
            self.reasons[i] = result.bad or "no background"
            self.images[i] = self.errors[i] = self.backgrounds[i] = np.nan
            self.flags[i] = _BAD_FRAME
            logger.warning("frame %s is bad: %s", name, self.reasons[i])
            return
        if result.image is None or result.error is None or result.flags is None:
            raise RuntimeError(f"frame {name}: worker returned no pixels and no reason")
        if backapp:
            self.images[i] = result.image
        else:
            np.subtract(result.image, smoothed, out=self.images[i])
        self.errors[i] = result.error
        self.backgrounds[i] = smoothed
        self.flags[i] = result.flags
        self.used += (result.flags & (_NOT_USED | _BAD_FRAME)) == 0
        if self.good[i]:
            finite = np.isfinite(self.images[i])
            np.add(self.total, self.images[i], out=self.total, where=finite)
            self.count += finite

    @property
    def full(self) -> bool:
        return self.filled == self.stop - self.start


def _write_block(f: h5py.File, wf: h5py.File, block: _Block, b: int) -> None:
    """Write one block of frames and its contribution to the sum image."""
    sl = slice(block.start, block.stop)
    for name, data in (("sum", block.total), ("count", block.count), ("used", block.used)):
        key = f"{name}/{b:05d}"
        if key in wf:
            del wf[key]
        wf.create_dataset(key, data=data)
    wf.attrs[f"nonbad/{b:05d}"] = int((~block.bad).sum())
    wf.flush()
    f["images"][sl] = block.images
    f["images_err"][sl] = block.errors
    f["backgrounds"][sl] = block.backgrounds
    f["pixel_flags"][sl] = block.flags
    f["bad_frame"][sl] = block.bad
    f["bad_reason"][sl] = np.array(block.reasons, dtype=object)
    quality = f["quality"][sl]
    quality[block.bad] |= BAD_FRAME_QUALITY
    f["quality"][sl] = quality
    f.attrs["frames_done"] = block.stop
    f.flush()


def _source_mask(
    f: h5py.File, plan: _Plan, estimator: BackgroundEstimator, path: Path
) -> str | None:
    """Build (or reuse) the static source mask; returns the file workers read it from."""
    s = plan.settings
    if not s.source_mask:
        # Core's estimator only: a plugin's "sigma" may mean something else.
        clip = getattr(estimator.settings, "sigma", None) if estimator.name == "tasoc" else None
        if isinstance(clip, (int, float)) and clip > 5:
            logger.warning(
                "prepare.source_mask is off but the %s background estimator clips at %gσ, "
                "which assumes the stars are masked: their wings will enter the background "
                "(set prepare.estimators.%s.sigma to 3-5)",
                estimator.name, clip, estimator.name,
            )  # fmt: skip
        return None
    if "source_mask" in f:
        mask = SourceMask(f["source_median"][()], f["source_mask"][()].astype(bool),
                          float(f.attrs["source_mask_sigma"]), int(f.attrs["source_mask_frames"]))  # fmt: skip
        return str(mask.save(path))
    good = np.flatnonzero(plan.good())
    if len(good) == 0:
        return None
    sample = good[
        np.unique(np.linspace(0, len(good) - 1, s.source_mask_frames).round().astype(int))
    ]
    images = []
    for k in sample:
        frame = plan.frames[k]
        if frame.science != plan.science:  # reported as bad when the frame is processed
            continue
        try:
            image, _ = read_ffi_pixels(frame.path, frame.science, frame.origin)
        except InputFileError as exc:  # reported again (and flagged) when the frame is processed
            logger.debug("source mask: %s", exc)
            continue
        if np.any(image) and np.isfinite(image).any():
            images.append(image)
    if not images:
        return None
    mask = build_source_mask(
        np.array(images),
        estimator,
        plan.geometry(),
        nsigma=s.source_mask_sigma,
        grow=s.source_mask_grow,
    )
    f.create_dataset("source_mask", data=mask.static, compression="lzf")
    f.create_dataset("source_median", data=mask.median, compression="lzf")
    f.attrs["source_mask_sigma"] = mask.sigma
    f.attrs["source_mask_frames"] = mask.frames
    f.attrs["source_mask_fraction"] = float(mask.static.mean())
    return str(mask.save(path))


def _backgrounds(
    f: h5py.File,
    wf: h5py.File,
    pool: WorkerPool,
    plan: _Plan,
    progress: ProgressCallback | None,
    sources: str | None = None,
) -> None:
    n = plan.n
    start = int(f.attrs["frames_done"])
    if start >= n:
        return
    first, last = window_bounds(plan.times, plan.time_smooth, plan.cadence)
    smoother = StreamingSmoother(first, last, start)
    geometry = plan.geometry()
    ahead = 2 * pool.workers
    buffer = None
    if pool.workers > 1:
        # Results waiting in the buffer cost the main process no memory, so let the
        # workers run further ahead: they keep computing while a block is being written.
        span = int(np.max(last - first)) + 1
        buffer = FrameBuffer.create(4 * pool.workers + 8 + span + 2, plan.shape)
        if buffer is not None:
            ahead = 4 * pool.workers + 8
    spec = buffer.spec if buffer is not None else None
    nslots = buffer.nslots if buffer is not None else 1
    s = plan.settings
    transients = (
        (s.transient_sigma, s.transient_min_pixels) if s.transient_mask and sources else None
    )
    tasks = (
        FrameTask(
            i,
            plan.frames[i],
            plan.science,
            plan.sector,
            geometry,
            plan.rules,
            spec,
            i % nslots,
            sources,
            transients,
        )
        for i in range(smoother.first_needed, n)
    )
    try:
        _stream(f, wf, pool, plan, tasks, smoother, first, start, ahead, buffer, progress)
    finally:
        if buffer is not None:
            buffer.close(unlink=True)


def _stream(
    f: h5py.File,
    wf: h5py.File,
    pool: WorkerPool,
    plan: _Plan,
    tasks: Iterator[FrameTask],
    smoother: StreamingSmoother,
    first: np.ndarray,
    start: int,
    ahead: int,
    buffer: FrameBuffer | None,
    progress: ProgressCallback | None,
) -> None:
    """Smooth, subtract and write the frames as the workers deliver them, in order."""
    n = plan.n
    size = plan.settings.chunk_frames
    good = plan.good()
    pending: dict[int, FrameResult] = {}
    block = _Block(start, min(start + size, n), plan.shape, good)
    worker_seconds = main_seconds = 0.0
    for delivered in pool.imap(process_frame, tasks, ahead=ahead):
        tick = time.perf_counter()
        result = delivered.pixels(buffer)
        worker_seconds += result.seconds
        pending[result.index] = result
        for k, smoothed in smoother.push(
            result.index, result.background if result.bad is None else None
        ):
            done = pending.pop(k)
            if k < start:
                continue  # context for the smoothing window only; written by an earlier run
            block.put(done, smoothed, plan.frames[k].backapp, plan.frames[k].name)
            if progress:
                progress("backgrounds", k + 1, n)
            if block.full:
                _write_block(f, wf, block, block.start // size)
                if block.stop < n:
                    block = _Block(block.stop, min(block.stop + size, n), plan.shape, good)
        main_seconds += time.perf_counter() - tick
        # Results whose window is still open stay in ``pending``; only the background is
        # needed after they are written, and the smoother holds that.
    done = max(n - first[start], 1)
    logger.info(
        "per frame: %.3f s in a worker (read, mask, estimate), %.3f s in the main process "
        "(smooth, subtract, write)", worker_seconds / done, main_seconds / done,
    )  # fmt: skip


# -- step 3: sum image and background-pixel statistics ---------------------------------------------


def _sumimage(f: h5py.File, wf: h5py.File, plan: _Plan) -> np.ndarray:
    nblocks = len(_blocks(plan.n, plan.settings.chunk_frames))
    total = np.zeros(plan.shape, dtype=np.float64)
    count = np.zeros(plan.shape, dtype=np.int64)
    used = np.zeros(plan.shape, dtype=np.int64)
    nonbad = 0
    for b in range(nblocks):
        total += wf[f"sum/{b:05d}"][()]
        count += wf[f"count/{b:05d}"][()]
        used += wf[f"used/{b:05d}"][()]
        nonbad += int(wf.attrs[f"nonbad/{b:05d}"])
    with np.errstate(invalid="ignore", divide="ignore"):
        sumimage = np.where(count > 0, total / count, np.nan)
    fraction = used / nonbad if nonbad else np.zeros(plan.shape)
    f["sumimage"][...] = sumimage
    f["background_used_fraction"][...] = fraction.astype(np.float32)
    f["backgrounds_pixels_used"][...] = fraction > plan.settings.used_threshold
    f["backgrounds_pixels_used"].attrs["threshold"] = plan.settings.used_threshold
    f.flush()
    return sumimage


# -- step 4: background shenanigans ------------------------------------------------------------------


def _indicator_task(args: tuple[str, int, int, np.ndarray, int, int]) -> tuple[int, np.ndarray]:
    """Worker: block medians of (image − sum image) for frames [k0, k1) of the partial file."""
    path, k0, k1, sumimage, box, slab = args
    h, w = sumimage.shape
    gy, gx = -(-h // box), -(-w // box)
    out = np.full((k1 - k0, gy, gx), np.nan, dtype=np.float32)
    with h5py.File(path, "r") as f:
        images = f["images"]
        for r0 in range(0, h, slab):
            r1 = min(r0 + slab, h)
            data = images[k0:k1, r0:r1, :]
            for i in range(k1 - k0):
                diff = data[i] - sumimage[r0:r1]
                if np.isnan(diff).all():
                    continue
                out[i, r0 // box : r0 // box + -(-(r1 - r0) // box)] = block_medians(diff, box)
    return k0, out


def _shenanigans(
    partial: Path, wf: h5py.File, pool: WorkerPool, plan: _Plan, sumimage: np.ndarray
) -> np.ndarray:
    """Per-frame block medians of the residual, stored in the scratch file (resumable)."""
    s = plan.settings
    box = s.shenanigans_box
    gy, gx = -(-plan.shape[0] // box), -(-plan.shape[1] // box)
    if "indicators" not in wf:
        wf.create_dataset("indicators", shape=(plan.n, gy, gx), dtype="f4", fillvalue=np.nan)
        wf.attrs["indicators_done"] = 0
    done = int(wf.attrs["indicators_done"])
    blocks = [blk for blk in _blocks(plan.n, s.chunk_frames) if blk[0] >= done]
    # Slabs aligned to both the cube chunks and the median blocks keep reads chunk-exact.
    unit = math.lcm(s.chunk_pixels, box)
    slab = unit * max(1, 256 // unit)
    tasks = [(str(partial), k0, k1, sumimage, box, slab) for k0, k1 in blocks]
    for k0, values in pool.imap(_indicator_task, tasks, ahead=pool.workers):
        wf["indicators"][k0 : k0 + len(values)] = values
        wf.attrs["indicators_done"] = k0 + len(values)
        wf.flush()
    return wf["indicators"][()]


def _flags(
    f: h5py.File, plan: _Plan, indicators: np.ndarray, progress: ProgressCallback | None
) -> None:
    s = plan.settings
    bad = f["bad_frame"][()]
    good = plan.good() & ~bad
    rows = indicators[good] if good.any() else indicators[~bad]
    typical = np.zeros(indicators.shape[1:], dtype=np.float32)
    if len(rows):
        finite = np.isfinite(rows)
        # Median over frames per block, NaN ignored without nanmedian's warnings.
        srt = np.sort(np.where(finite, rows, np.inf), axis=0)
        cnt = finite.sum(axis=0)
        lo = np.take_along_axis(srt, np.maximum((cnt - 1) // 2, 0)[None], 0)[0]
        hi = np.take_along_axis(srt, np.maximum(cnt // 2, 0)[None], 0)[0]
        typical = np.where(cnt > 0, 0.5 * (lo + hi), 0.0).astype(np.float32)
    deviation = indicators - typical[None]
    counts = f["shenanigans_pixels"][()]
    start = int(f.attrs["flags_done"])
    for k0, k1 in _blocks(plan.n, s.chunk_frames):
        if k1 <= start:
            continue
        # OR-ed: the workers already flagged the transient features they masked, and the
        # counts cover both sources.
        flags = f["pixel_flags"][k0:k1]
        changed = False
        for k in range(k0, k1):
            if bad[k]:
                continue
            m = shenanigans_mask(
                deviation[k], plan.shape, s.shenanigans_box, s.shenanigans_threshold
            )
            if m is not None:
                flags[k - k0][m] |= _SHENANIGANS
                changed = True
        counts[k0:k1] = np.count_nonzero(flags & _SHENANIGANS, axis=(1, 2))
        if changed:
            f["pixel_flags"][k0:k1] = flags
        f["shenanigans_pixels"][k0:k1] = counts[k0:k1]
        f.attrs["flags_done"] = k1
        f.flush()
        if progress:
            progress("flags", k1, plan.n)


# -- step 5: reference frame and pointing ------------------------------------------------------------


def _pointing(f: h5py.File, pool: WorkerPool, plan: _Plan) -> tuple[int, list[str]]:
    bad = f["bad_frame"][()]
    quality = f["quality"][()]
    texts = [plan.frames[k].wcs for k in range(plan.n)]
    has = np.array([bool(text) for text in texts]) & ~bad
    ref_time = reference_time(plan.frames[0].tstart, plan.frames[-1].tstop)
    times = plan.times
    # The same rule as the catalog stage (tasoc_core.catalog.footprint), so that catalog
    # positions and the cube share their reference frame: SPOC DQUALITY 0, usable WCS.
    dquality = np.array([fr.dquality for fr in plan.frames])
    good = has & (dquality == 0) & ((quality & BAD_FRAME_QUALITY) == 0)
    # Closest good frame first; a frame whose WCS does not parse is passed over.
    order = [int(k) for k in np.argsort(np.abs(times - ref_time), kind="stable") if good[k]]
    order += [
        int(k)
        for k in np.argsort(np.abs(times - ref_time), kind="stable")
        if has[k] and not good[k]
    ]
    ref = next((k for k in order if wcs_from_string(texts[k]) is not None), None)
    if ref is None:
        raise InputFileError(
            f"sector {plan.sector}, camera {plan.camera}, CCD {plan.ccd}: no frame has a usable WCS"
        )
    if not good[ref]:
        logger.warning("no good-quality frame has a WCS; the reference frame has quality flags set")
    if not times[0] <= ref_time <= times[-1]:
        logger.warning(
            "the sector reference time %.5f lies outside the frames (%.5f-%.5f)",
            ref_time,
            times[0],
            times[-1],
        )
    transforms = np.full((plan.n, 2, 3), np.nan)
    rms = np.full(plan.n, np.nan)
    wanted = np.flatnonzero(has)
    tasks = [(texts[ref], texts[k], plan.science) for k in wanted]
    for k, (matrix, error) in zip(
        wanted, pool.imap(fit_frame_pointing, tasks, ahead=8 * pool.workers)
    ):
        transforms[k], rms[k] = matrix, error
    missing = [
        plan.frames[k].name
        for k in range(plan.n)
        if not bad[k] and not np.isfinite(transforms[k]).all()
    ]
    for name in missing:
        logger.warning(
            "frame %s has no usable WCS; its pointing is interpolated from its neighbours", name
        )
    f["pointing"][...] = transforms
    f["pointing_rms"][...] = rms
    f.attrs["reference_frame"] = ref
    f.attrs["reference_time"] = ref_time
    f.attrs["keywords"] = _json(_instrument(plan.frames[ref].keywords))
    return ref, missing


class _Clock:
    """Logs how long each step took (INFO)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.last = time.perf_counter()

    def __call__(self, step: str, since: float | None = None) -> None:
        now = time.perf_counter()
        logger.info(
            "%s: %s took %.1f s", self.what, step, now - (since if since is not None else self.last)
        )
        self.last = now


# -- the stage -----------------------------------------------------------------------------------------


def _plan(
    sector: int,
    camera: int,
    ccd: int,
    input_dir: Path,
    pool: WorkerPool,
    settings: PrepareConfig,
    estimator: BackgroundEstimator,
    progress: ProgressCallback | None,
) -> _Plan:
    files = find_ffis(input_dir, sector=sector, camera=camera, ccd=ccd)
    if not files:
        raise InputFileError(
            f"no FFIs of sector {sector}, camera {camera}, CCD {ccd} under {input_dir}"
        )
    scanned = []
    for i, item in enumerate(
        pool.imap(frame_info, [fi.path for fi in files], ahead=8 * pool.workers), 1
    ):
        scanned.append(item)
        if progress and (i % 50 == 0 or i == len(files)):
            progress("scan", i, len(files))
    selection = select_frames(scanned, camera, ccd)
    frames = selection.frames
    if not any(fr.wcs for fr in frames):
        raise InputFileError(
            f"sector {sector}, camera {camera}, CCD {ccd}: no FFI has a celestial WCS"
        )
    cadence = _cadence(frames)
    tpfs = [t.path for t in find_tpfs(input_dir, sector=sector, fast=False)]
    tpfs += [t.path for t in find_tpfs(input_dir, sector=sector, fast=True)]
    transfer = transfer_quality(
        tpfs, camera=camera, ccd=ccd, ffi_start=np.array([fr.tstart for fr in frames]),
        ffi_stop=np.array([fr.tstop for fr in frames]), ffi_barycorr=np.array([fr.barycorr for fr in frames]),
        limit=settings.quality_tpfs,
    )  # fmt: skip
    dquality = np.array([fr.dquality for fr in frames], dtype=np.int32)
    rules = tuple(settings.exclude) + (KNOWN_EXCLUSIONS if settings.known_exclusions else ())
    return _Plan(
        sector=sector, camera=camera, ccd=ccd, frames=frames, science=selection.science, cadence=cadence,
        time_smooth=settings.time_smooth or default_time_smooth(cadence),
        quality=dquality | transfer.flags, transferred=transfer.flags, quality_tpfs=transfer.used,
        quality_tpfs_skipped=transfer.skipped, skipped=selection.skipped, settings=settings,
        estimator=estimator.name, estimator_settings=estimator.settings, rules=rules,
    )  # fmt: skip


def prepare_ccd(
    sector: int,
    camera: int,
    ccd: int,
    *,
    input_dir: Path,
    output_dir: Path,
    settings: PrepareConfig | None = None,
    estimator: BackgroundEstimator | None = None,
    workers: int = 1,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> PrepareResult:
    """Build the HDF5 cube file of one sector/camera/CCD.

    Parameters
    ----------
    sector, camera, ccd
        What to prepare.
    input_dir
        Searched recursively for the FFIs (and TPFs for the quality transfer).
    output_dir
        The run's output directory (``paths.output``); the file goes to
        :func:`~tasoc_core.prepare.layout.hdf5_path`.
    settings
        The ``[prepare]`` section (defaults if None).
    estimator
        Background estimator instance (default: the ``tasoc`` estimator with default settings).
    workers
        Processes for the per-frame work (1: all in this process).
    overwrite
        Rebuild an existing file (and discard any partial one).
    progress
        Called as ``progress(stage, done, total)``.

    Returns
    -------
    PrepareResult

    Raises
    ------
    InputFileError
        If there is no usable FFI, or no FFI has a WCS.
    """
    started = time.perf_counter()
    settings = settings or PrepareConfig()
    if estimator is None:
        from tasoc_core.background import TasocBackground

        estimator = TasocBackground()
    final = layout.hdf5_path(output_dir, sector, camera, ccd)
    if final.exists() and not overwrite:
        logger.info("%s exists; not rebuilt (use overwrite)", final)
        return PrepareResult(final, sector, camera, ccd, "exists")
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(final.name + layout.PARTIAL_SUFFIX)
    work = final.with_name(final.name + layout.WORK_SUFFIX)
    with WorkerPool(workers, init_worker, (type(estimator), estimator.settings)) as pool:
        plan = _plan(sector, camera, ccd, Path(input_dir), pool, settings, estimator, progress)
        signature = plan.signature()
        f, wf = _open_partial(partial, work, plan, signature, fresh=overwrite)
        resumed = int(f.attrs["frames_done"]) if "frames_done" in f.attrs else 0
        if resumed or f.attrs.get("flags_done", 0):
            logger.info("%s: resuming after frame %d", partial.name, resumed)
        try:
            if not f.attrs["complete"]:
                clock = _Clock(final.name)
                clock("scan and quality transfer", started)
                sources = _source_mask(f, plan, estimator, work.with_suffix(".sources.npz"))
                clock("source mask")
                _backgrounds(f, wf, pool, plan, progress, sources)
                clock("backgrounds and cubes")
                sumimage = _sumimage(f, wf, plan)
                # Workers read the partial file while the main process does not write it.
                f.close()
                indicators = _shenanigans(partial, wf, pool, plan, sumimage)
                clock("sum image and residual medians")
                f = h5py.File(partial, "r+")
                _flags(f, plan, indicators, progress)
                clock("shenanigans flags")
                reference, missing = _pointing(f, pool, plan)
                clock("pointing")
                bad = f["bad_frame"][()]
                reasons = f["bad_reason"].asstr()[()]
                bad_frames = tuple(
                    Problem(plan.frames[k].name, str(reasons[k])) for k in np.flatnonzero(bad)
                )
                f.attrs["bad_frames"] = _json([p.as_dict() for p in bad_frames])
                f.attrs["frames_without_wcs"] = _json(missing)
                f.attrs["complete"] = True
            else:
                reference = int(f.attrs["reference_frame"])
                bad_frames = tuple(Problem(**p) for p in json.loads(f.attrs["bad_frames"]))
                missing = json.loads(f.attrs["frames_without_wcs"])
        finally:
            with contextlib.suppress(Exception):
                f.close()
            with contextlib.suppress(Exception):
                wf.close()
    os.replace(partial, final)
    work.unlink(missing_ok=True)
    work.with_suffix(".sources.npz").unlink(missing_ok=True)
    elapsed = time.perf_counter() - started
    logger.info("%s: %d frames (%d bad) in %.1f s", final.name, plan.n, len(bad_frames), elapsed)
    return PrepareResult(
        final, sector, camera, ccd, "created", plan.n, bad_frames, plan.skipped, tuple(missing), reference,
        resumed if resumed else None, elapsed,
    )  # fmt: skip
