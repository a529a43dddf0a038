"""What worker processes do: read one FFI, mask it, estimate its background.

Workers are started with :func:`init_worker` (the estimator is built once per process)
and run :func:`process_frame` on :class:`FrameTask` items. Results travel back to the main
process, which smooths, writes and flags; nothing here touches the output file.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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

__all__ = [
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


_STATE: dict[str, Any] = {}


def init_worker(estimator_cls: type[BackgroundEstimator], settings: Any) -> None:
    """Build the estimator of this process (called once per worker)."""
    _STATE["estimator"] = estimator_cls(settings)


def _estimator() -> BackgroundEstimator:
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
    flags = np.where(np.asarray(estimate.used, dtype=bool), 0, _NOT_USED).astype(np.uint8)
    if manual is not None:
        flags[manual] |= _MANUAL
        image[manual] = np.nan
        error[manual] = np.nan
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
