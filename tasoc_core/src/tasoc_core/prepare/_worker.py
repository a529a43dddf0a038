"""What worker processes do: read one FFI, mask it, estimate its background.

Workers are started with :func:`init_worker` (the estimator is built once per process)
and run :func:`process_frame` on :class:`FrameTask` items. Results travel back to the main
process, which smooths, writes and flags; nothing here touches the output file.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import attrs
import numpy as np

from tasoc_core.config import ExcludeRule
from tasoc_core.data.target import Stamp
from tasoc_core.exceptions import InputFileError
from tasoc_core.families.background import BackgroundEstimator, FrameGeometry
from tasoc_core.flags import PIXEL_FLAGS
from tasoc_core.io import read_ffi_pixels
from tasoc_core.prepare._frames import FrameInfo
from tasoc_core.prepare.exclusions import exclusion_mask
from tasoc_core.prepare.pointing import fit_pointing, wcs_from_string
from tasoc_core.prepare.source_mask import SourceMask, transient_mask

__all__ = [
    "FrameBuffer",
    "FrameResult",
    "FrameTask",
    "WorkerPool",
    "fit_frame_pointing",
    "init_worker",
    "process_frame",
]

logger = logging.getLogger(__name__)

_NOT_USED = PIXEL_FLAGS["NotUsedForBackground"]
_MANUAL = PIXEL_FLAGS["ManualExclude"]
_SHENANIGANS = np.uint8(PIXEL_FLAGS["BackgroundShenanigans"])

_T = TypeVar("_T")
_R = TypeVar("_R")


@attrs.frozen
class FrameTask:
    """One frame to process."""

    index: int
    frame: FrameInfo
    science: Stamp  #: the cube's pixels; a frame with other pixels is bad
    sector: int
    geometry: FrameGeometry
    rules: tuple[ExcludeRule, ...]
    #: Where to put the pixels instead of returning them: (buffer file, slots, shape), slot.
    buffer: tuple[str, int, tuple[int, int]] | None = None
    slot: int = 0
    #: The source mask file (``SourceMask.save``), and transient-mask settings or None.
    sources: str | None = None
    transients: tuple[float, int] | None = None


@attrs.frozen(eq=False)
class FrameResult:
    """A processed frame, or the reason it is bad (then the arrays are None)."""

    index: int
    image: np.ndarray | None = None  #: calibrated flux, NaN where manually excluded
    error: np.ndarray | None = None
    background: np.ndarray | None = None  #: unsmoothed background estimate
    flags: np.ndarray | None = None  #: NotUsedForBackground and ManualExclude bits
    bad: str | None = None
    seconds: float = 0.0
    slot: int | None = None  #: the pixels are in this slot of the frame buffer

    def pixels(self, buffer: FrameBuffer | None) -> FrameResult:
        """The result with its arrays (views into ``buffer`` if they were put there)."""
        if self.slot is None or buffer is None:
            return self
        image, error, background, flags = buffer.views(self.slot)
        return attrs.evolve(self, image=image, error=error, background=background, flags=flags)


class FrameBuffer:
    """Slots of frame pixels shared by the workers and the main process.

    Sending a full frame back from a worker costs two copies of 52 MB (pickle, unpickle);
    workers write their four arrays into a slot of this memory-mapped file instead (in
    ``/dev/shm``, so RAM-backed) and return only the slot number. The main process assigns
    slots round-robin and keeps enough of them that a slot is reused only after its frame
    has been written and has left the smoothing window.
    """

    def __init__(self, path: Path, nslots: int, shape: tuple[int, int], *, create: bool) -> None:
        self.path = Path(path)
        self.nslots = nslots
        self.shape = shape
        self._plane = shape[0] * shape[1]
        self._slot_bytes = 13 * self._plane  # three float32 planes and one uint8 plane
        mode = "w+" if create else "r+"
        self._map = np.memmap(
            self.path, dtype=np.uint8, mode=mode, shape=(nslots * self._slot_bytes,)
        )

    @classmethod
    def create(cls, nslots: int, shape: tuple[int, int]) -> FrameBuffer | None:
        """A new buffer in ``/dev/shm``, or None where there is no such RAM disk."""
        shm = Path("/dev/shm")
        if not (shm.is_dir() and os.access(shm, os.W_OK)):
            return None
        for stale in shm.glob("tasoc-prepare-*.buf"):
            pid = stale.name.split("-")[2]
            if pid.isdigit() and not _alive(int(pid)):
                stale.unlink(missing_ok=True)  # left by a killed run
        need = nslots * 13 * shape[0] * shape[1]
        if shutil.disk_usage(shm).free < 2 * need:
            # A full tmpfs would kill the workers with SIGBUS; pipes are slower but safe.
            logger.info(
                "/dev/shm has less than %.1f GB free; frames are sent through pipes", 2 * need / 1e9
            )
            return None
        path = shm / f"tasoc-prepare-{os.getpid()}-{uuid.uuid4().hex[:8]}.buf"
        try:
            return cls(path, nslots, shape, create=True)
        except OSError as exc:
            logger.info("no shared frame buffer (%s); frames are sent through pipes", exc)
            path.unlink(missing_ok=True)
            return None

    @property
    def spec(self) -> tuple[str, int, tuple[int, int]]:
        return (str(self.path), self.nslots, self.shape)

    def views(self, slot: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        base = (slot % self.nslots) * self._slot_bytes
        p = self._plane
        planes = [
            self._map[base + 4 * p * i : base + 4 * p * (i + 1)]
            .view(np.float32)
            .reshape(self.shape)
            for i in range(3)
        ]
        flags = self._map[base + 12 * p : base + 13 * p].reshape(self.shape)
        return planes[0], planes[1], planes[2], flags

    def close(self, *, unlink: bool = False) -> None:
        del self._map
        if unlink:
            self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_STATE: dict[str, Any] = {}


def _attached(spec: tuple[str, int, tuple[int, int]]) -> FrameBuffer:
    buffer = _STATE.get("buffer")
    if buffer is None or str(buffer.path) != spec[0]:
        buffer = FrameBuffer(Path(spec[0]), spec[1], tuple(spec[2]), create=False)
        _STATE["buffer"] = buffer
    return buffer


def init_worker(estimator_cls: type[BackgroundEstimator], settings: Any) -> None:
    """Build the estimator of this process (called once per worker).

    A failure is kept and raised by the first task: a pool initializer that raises makes
    the pool restart its workers for ever instead of reporting the error.
    """
    try:
        _STATE["estimator"] = estimator_cls(settings)
    except Exception as exc:
        _STATE["init_error"] = f"{type(exc).__name__}: {exc}"


def _source_mask(path: str) -> SourceMask:
    """The source mask of this run, read once per worker."""
    cached = _STATE.get("sources")
    if cached is None or cached[0] != path:
        cached = (path, SourceMask.load(Path(path)))
        _STATE["sources"] = cached
    return cached[1]


def _estimator() -> BackgroundEstimator:
    if "init_error" in _STATE:
        raise RuntimeError(
            f"prepare worker could not create its background estimator ({_STATE['init_error']})"
        )
    try:
        return _STATE["estimator"]
    except KeyError:
        raise RuntimeError("prepare worker used before init_worker()") from None


def process_frame(task: FrameTask) -> FrameResult:
    """Read, mask and estimate the background of one frame; never raises for bad input."""
    started = time.perf_counter()
    frame = task.frame
    if frame.science != task.science:
        return FrameResult(
            task.index,
            bad=f"science pixels {frame.science.as_tuple()} differ from the cube's {task.science.as_tuple()}",
        )
    try:
        image, error = read_ffi_pixels(frame.path, frame.science, frame.origin)
    except InputFileError as exc:
        return FrameResult(task.index, bad=str(exc))
    if not np.any(image):
        return FrameResult(task.index, bad="every pixel is zero")
    finite = np.isfinite(image)
    if not finite.any():
        return FrameResult(task.index, bad="every pixel is NaN")
    manual = exclusion_mask(
        task.rules, task.science, sector=task.sector, camera=frame.camera, ccd=frame.ccd,
        cadenceno=frame.cadenceno, time=frame.time,
    )  # fmt: skip
    mask = manual if manual is not None else np.zeros(image.shape, dtype=bool)
    transient = None
    if task.sources is not None:
        sources = _source_mask(task.sources)
        mask = mask | sources.static
        if task.transients is not None:
            nsigma, min_pixels = task.transients
            transient = transient_mask(image, sources, nsigma=nsigma, min_pixels=min_pixels)
            mask = mask | transient
    estimate = _estimator().estimate(image, mask=mask, geometry=task.geometry)
    background = np.asarray(estimate.background, dtype=np.float32)
    if background.shape != image.shape:
        raise RuntimeError(
            f"background estimator returned shape {background.shape} for an image of {image.shape}"
        )
    if not np.isfinite(background).any():
        return FrameResult(
            task.index, bad="no pixel usable for the background (masked, NaN or saturated)"
        )
    flags = np.logical_not(estimate.used).view(np.uint8)  # 0/1 ...
    if _NOT_USED != 1:
        flags = flags * np.uint8(_NOT_USED)  # ... scaled to the bit if it ever moves
    if transient is not None:
        # A transient feature is a sharp background feature: flag it as such.
        flags[transient] |= _SHENANIGANS
    if manual is not None:
        flags[manual] |= _MANUAL
        image[manual] = np.nan
        error[manual] = np.nan
    if task.buffer is not None:
        views = _attached(task.buffer).views(task.slot)
        for view, data in zip(views, (image, error, background, flags)):
            view[...] = data
        return FrameResult(task.index, slot=task.slot, seconds=time.perf_counter() - started)
    return FrameResult(
        task.index, image, error, background, flags, seconds=time.perf_counter() - started
    )


def fit_frame_pointing(task: tuple[str, str, Stamp]) -> tuple[np.ndarray, float]:
    """Worker: affine pointing of one frame (its WCS string) relative to the reference's."""
    reference_text, frame_text, science = task
    cache = _STATE.setdefault("reference_wcs", {})
    if reference_text not in cache:
        cache.clear()
        cache[reference_text] = wcs_from_string(reference_text)
    reference = cache[reference_text]
    frame = wcs_from_string(frame_text)
    if reference is None or frame is None:
        return np.full((2, 3), np.nan), float("nan")
    return fit_pointing(reference, frame, science)


@contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Children inherit one BLAS/OpenMP thread each: the pool already uses every core."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class WorkerPool:
    """A process pool (``multiprocess``, spawn) or, for one worker, the calling process."""

    def __init__(self, workers: int, initializer: Callable[..., None], initargs: tuple) -> None:
        self.workers = max(1, int(workers))
        self._pool = None
        if self.workers == 1:
            initializer(*initargs)
        else:
            import multiprocess

            with _single_threaded_children():
                self._pool = multiprocess.get_context("spawn").Pool(
                    self.workers, initializer, initargs
                )

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def imap(
        self, func: Callable[[_T], _R], items: Iterable[_T], *, ahead: int | None = None
    ) -> Iterator[_R]:
        """Results of ``func`` over ``items`` in order, with at most ``ahead`` in flight.

        Bounding the tasks in flight bounds memory: results wait in the main process
        only until it consumes them.
        """
        if self._pool is None:
            for item in items:
                yield func(item)
            return
        ahead = ahead or 2 * self.workers
        it = iter(items)
        pending: deque = deque()
        for item in it:
            pending.append(self._pool.apply_async(func, (item,)))
            if len(pending) >= ahead:
                break
        while pending:
            result = pending.popleft().get()
            for item in it:
                pending.append(self._pool.apply_async(func, (item,)))
                break
            yield result
