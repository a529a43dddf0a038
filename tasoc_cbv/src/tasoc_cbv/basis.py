"""A set of co-trending basis vectors and how it is laid onto a light curve's cadences."""

from __future__ import annotations

import functools
from typing import Literal

import attrs
import numpy as np
from scipy.interpolate import CubicSpline

__all__ = ["CBVCoefficients", "CBVSet", "snr_db"]


def _f8_2d(value: np.ndarray) -> np.ndarray:
    out = np.asarray(value, dtype=np.float64)
    return out[:, None] if out.ndim == 1 else out


def snr_db(vectors: np.ndarray) -> np.ndarray:
    """Power ratio of each column to its first differences, ``10 log10(var(v) / var(Δv))``.

    A smooth vector has a small first-difference variance and a high ratio; white noise has
    −3 dB. NaN samples are ignored (differences across them too). A constant vector gives NaN.
    """
    v = _f8_2d(vectors)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.nanvar(v, axis=0) if v.size else np.zeros(v.shape[1])
        dvar = np.nanvar(np.diff(v, axis=0), axis=0) if len(v) > 1 else np.zeros(v.shape[1])
        ratio = np.where((var > 0) & (dvar > 0), var / np.where(dvar > 0, dvar, 1.0), np.nan)
        return 10.0 * np.log10(ratio)


@attrs.frozen(kw_only=True, eq=False)
class CBVCoefficients:
    """Coefficients of every star of an area fitted with all CBVs (the prior's data).

    Attributes
    ----------
    starid, row, col, tmag
        Identity, CCD position and magnitude of each star (length N).
    values
        (N, 1 + 2K) coefficients ``[offset, CBV_1..K, spike_1..K]`` (NaN where not fitted).
    """

    starid: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=np.int64))
    row: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=np.float64))
    col: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=np.float64))
    tmag: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=np.float64))
    values: np.ndarray = attrs.field(converter=_f8_2d)

    def __len__(self) -> int:
        return len(self.starid)


@attrs.frozen(kw_only=True, eq=False)
class CBVSet:
    """Co-trending basis vectors of one CBV area (or, for SPOC files, one CCD).

    Attributes
    ----------
    sector, camera, ccd, cadence
        Where and at which cadence (seconds) the vectors were made.
    area
        CBV area (camera·100 + ccd·10 + ring); None for CCD-wide (SPOC) vectors.
    time
        Mid-cadence time of each row (days, TJD). For tasoc CBVs it excludes the barycentric
        correction (the spacecraft clock, common to every star); SPOC files give BTJD.
    cadenceno
        Cadence number of each row.
    single, spike
        (T, K) "normal" (single-scale) and spike vectors; NaN where undefined. A vector
        without spike part has a zero spike column.
    source
        ``"tasoc"`` or ``"spoc"``.
    version
        Data-release version of the product.
    nstars
        Stars that entered the PCA (0 if unknown).
    coefficients
        Every area star fitted with all CBVs, if the build stored them (for the prior).
    meta
        Extra header values (thresholds, statistics) as read from or written to the file.
    """

    sector: int
    camera: int
    ccd: int
    cadence: int
    area: int | None
    time: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=np.float64))
    cadenceno: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=np.int64))
    single: np.ndarray = attrs.field(converter=_f8_2d)
    spike: np.ndarray = attrs.field(converter=_f8_2d)
    source: Literal["tasoc", "spoc"] = "tasoc"
    version: int = 1
    nstars: int = 0
    coefficients: CBVCoefficients | None = None
    meta: dict = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        n = len(self.time)
        if len(self.cadenceno) != n or self.single.shape[0] != n:
            raise ValueError("CBVSet: time, cadenceno and vectors must have the same length")
        if self.spike.shape != self.single.shape:
            raise ValueError(
                f"CBVSet: spike vectors {self.spike.shape} do not match normal vectors "
                f"{self.single.shape}"
            )
        # Shared with every light curve it is laid onto (see on_cadences): never modified.
        for array in (self.time, self.cadenceno, self.single, self.spike):
            array.flags.writeable = False

    @property
    def ncomponents(self) -> int:
        """Number of vectors K."""
        return self.single.shape[1]

    @property
    def label(self) -> str:
        """Short description for messages, e.g. ``"CBV area 114 (sector 1, 1800 s)"``."""
        where = (
            f"CBV area {self.area}"
            if self.area is not None
            else (f"SPOC CBVs camera {self.camera} CCD {self.ccd}")
        )
        return f"{where} (sector {self.sector}, {self.cadence} s)"

    @functools.cached_property
    def _snr(self) -> np.ndarray:
        return snr_db(self.single + np.nan_to_num(self.spike))

    def snr(self) -> np.ndarray:
        """SNR (dB) of each full vector (normal + spike), the quantity of the SNR test."""
        return self._snr.copy()

    def usable(self, threshold_db: float) -> np.ndarray:
        """Indices of the vectors that pass the SNR test; the first vector always does."""
        keep = np.flatnonzero(self._snr >= threshold_db)
        if self.ncomponents and 0 not in keep:
            keep = np.concatenate([[0], keep])
        return keep

    def on_cadences(
        self,
        time: np.ndarray,
        cadenceno: np.ndarray,
        cadence: int,
    ) -> tuple[np.ndarray, np.ndarray, str]:
        """The vectors on a light curve's cadences.

        Parameters
        ----------
        time
            The light curve's times on the same clock as :attr:`time` (for tasoc CBVs: BTJD
            minus TIMECORR; for SPOC CBVs: BTJD).
        cadenceno
            The light curve's cadence numbers.
        cadence
            The light curve's cadence in seconds.

        Returns
        -------
        single, spike
            (n, K) vectors; NaN where they cannot be provided. Read-only: when the cadences
            are the same they are the set's own arrays.
        how
            ``"cadenceno"`` (same cadence, matched by cadence number), ``"interpolated"``
            (cubic spline onto a faster cadence; spike vectors are zero because spikes of
            a slower cadence do not describe a faster one) or ``"binned"`` (averaged onto
            a slower cadence).
        """
        time = np.asarray(time, dtype=np.float64)
        cadenceno = np.asarray(cadenceno, dtype=np.int64)
        if int(cadence) == int(self.cadence):
            if len(cadenceno) == len(self.cadenceno) and np.array_equal(cadenceno, self.cadenceno):
                return self.single, self.spike, "cadenceno"  # FFI stars share the cadences
            idx = np.searchsorted(self.cadenceno, cadenceno)
            idx_c = np.clip(idx, 0, len(self.cadenceno) - 1)
            found = self.cadenceno[idx_c] == cadenceno
            if found.mean() >= 0.5:
                single = np.full((len(cadenceno), self.ncomponents), np.nan)
                spike = np.full_like(single, np.nan)
                single[found] = self.single[idx_c[found]]
                spike[found] = self.spike[idx_c[found]]
                return single, spike, "cadenceno"
        if cadence < self.cadence:
            return (
                self._interpolate(time),
                np.zeros((len(time), self.ncomponents)),
                "interpolated",
            )
        return self._bin(time, cadence / 86400.0)

    def _interpolate(self, time: np.ndarray) -> np.ndarray:
        good = np.all(np.isfinite(self.single), axis=1) & np.isfinite(self.time)
        out = np.full((len(time), self.ncomponents), np.nan)
        if good.sum() < 4:
            return out
        t = self.time[good]
        spline = CubicSpline(t, self.single[good], axis=0, extrapolate=True)
        # Only where a CBV sample lies close by: no inventing across gaps or far beyond ends.
        step = self.cadence / 86400.0
        pos = np.clip(np.searchsorted(t, time), 1, len(t) - 1)
        nearest = np.minimum(np.abs(time - t[pos - 1]), np.abs(t[pos] - time))
        ok = np.isfinite(time) & (nearest <= 1.01 * step)
        out[ok] = spline(time[ok])
        return out

    def _bin(self, time: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray, str]:
        # Mean of the fast-cadence samples inside each slow cadence (prefix sums per column).
        order = np.argsort(self.time)
        t = self.time[order]
        out = []
        for vectors in (self.single, np.nan_to_num(self.spike)):
            v = vectors[order]
            finite = np.isfinite(v)
            csum = np.vstack([np.zeros(v.shape[1]), np.cumsum(np.where(finite, v, 0.0), axis=0)])
            ccount = np.vstack([np.zeros(v.shape[1]), np.cumsum(finite, axis=0)])
            lo = np.searchsorted(t, time - width / 2, side="left")
            hi = np.searchsorted(t, time + width / 2, side="left")
            count = ccount[hi] - ccount[lo]
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = (csum[hi] - csum[lo]) / count
            mean[count < 1] = np.nan
            out.append(mean)
        return out[0], out[1], "binned"
