"""Quality flags of TPFs on the same CCD, binned to the FFI cadences (paper 003 §3.2).

SPOC did not always populate the FFI quality flags. For each FFI, the QUALITY values of
all TPF cadences inside the FFI exposure are OR-ed together, restricted to the flags that
concern every target on the CCD (:data:`~tasoc_core.flags.FFI_RELEVANT_BITMASK`: attitude
tweaks, safe mode, coarse and Earth pointing, momentum dumps, stray light). ManualExclude
is deliberately not transferred: one bad 2-min cadence does not spoil a 30-min FFI, and
transferring it rejected about 20 % of sector 1.

Times are compared in spacecraft time: TPF ``TIME − TIMECORR`` against the FFI exposure
``[TSTART, TSTOP] − BARYCORR``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
from astropy.io import fits

from tasoc_core.flags import FFI_RELEVANT_BITMASK
from tasoc_core.prepare._frames import Problem

__all__ = ["QualityTransfer", "bin_quality", "transfer_quality"]

logger = logging.getLogger(__name__)


@attrs.frozen
class QualityTransfer:
    """Flags transferred to each FFI, and which TPFs were used or passed over."""

    flags: np.ndarray  #: int32 per FFI
    used: tuple[str, ...]  #: TPF file names
    skipped: tuple[Problem, ...]  #: TPFs examined but not used


def bin_quality(
    ffi_start: np.ndarray,
    ffi_stop: np.ndarray,
    tpf_time: np.ndarray,
    tpf_quality: np.ndarray,
    *,
    bitmask: int = FFI_RELEVANT_BITMASK,
) -> np.ndarray:
    """OR of ``tpf_quality & bitmask`` over the TPF times inside each FFI interval.

    All times on the same (spacecraft) scale; FFI intervals sorted and non-overlapping.
    """
    ffi_start = np.asarray(ffi_start, dtype=float)
    ffi_stop = np.asarray(ffi_stop, dtype=float)
    t = np.asarray(tpf_time, dtype=float)
    q = np.asarray(tpf_quality, dtype=np.int64) & bitmask
    out = np.zeros(len(ffi_start), dtype=np.int64)
    ok = np.isfinite(t) & (q != 0)
    t, q = t[ok], q[ok]
    k = np.searchsorted(ffi_start, t, side="right") - 1
    inside = (k >= 0) & (t > ffi_start[np.maximum(k, 0)]) & (t < ffi_stop[np.maximum(k, 0)])
    np.bitwise_or.at(out, k[inside], q[inside])
    return out.astype(np.int32)


def _read_tpf(path: Path) -> tuple[int, int, np.ndarray, np.ndarray]:
    # Our own handle: astropy leaves its file open when opening fails half-way.
    with open(path, "rb") as handle, warnings.catch_warnings():
        warnings.simplefilter("error")  # a truncated file must fail here, not warn
        with fits.open(handle, memmap=False) as hdul:
            camera = int(hdul[0].header["CAMERA"])
            ccd = int(hdul[0].header["CCD"])
            data = hdul[1].data
            time = np.asarray(data["TIME"], dtype=float) - np.asarray(data["TIMECORR"], dtype=float)
            quality = np.asarray(data["QUALITY"], dtype=np.int64)
    return camera, ccd, time, quality


def transfer_quality(
    tpfs: Sequence[Path],
    *,
    camera: int,
    ccd: int,
    ffi_start: np.ndarray,
    ffi_stop: np.ndarray,
    ffi_barycorr: np.ndarray,
    limit: int = 5,
) -> QualityTransfer:
    """Transfer quality flags from up to ``limit`` TPFs of ``camera``/``ccd``.

    TPFs are examined in the given order; unreadable ones and those of another camera or
    CCD are reported and passed over.
    """
    start = np.asarray(ffi_start, float) - np.asarray(ffi_barycorr, float)
    stop = np.asarray(ffi_stop, float) - np.asarray(ffi_barycorr, float)
    flags = np.zeros(len(start), dtype=np.int32)
    used: list[str] = []
    skipped: list[Problem] = []
    for path in tpfs:
        if len(used) >= limit:
            break
        path = Path(path)
        try:
            tpf_camera, tpf_ccd, time, quality = _read_tpf(path)
        except Exception as exc:  # any unreadable TPF is reported and passed over
            problem = Problem(path.name, f"cannot read TPF ({type(exc).__name__}: {exc})")
            logger.warning("quality transfer: skipping %s: %s", problem.file, problem.reason)
            skipped.append(problem)
            continue
        if (tpf_camera, tpf_ccd) != (camera, ccd):
            problem = Problem(
                path.name,
                f"TPF of camera {tpf_camera}, CCD {tpf_ccd}, not camera {camera}, CCD {ccd}",
            )
            logger.info("quality transfer: skipping %s: %s", problem.file, problem.reason)
            skipped.append(problem)
            continue
        flags |= bin_quality(start, stop, time, quality)
        used.append(path.name)
    if limit and not used:
        logger.info("quality transfer: no TPF of camera %d, CCD %d found", camera, ccd)
    return QualityTransfer(flags, tuple(used), tuple(skipped))
