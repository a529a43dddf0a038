"""Photometry methods: turn a target's stamp into a raw light curve."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np

from tasoc_core.data.target_data import TargetData
from tasoc_core.families._base import PluginClass
from tasoc_core.status import Status

__all__ = ["OUTCOME_TAGS", "PhotometryMethod", "PhotometryResult"]

#: Outcome tags with an agreed meaning; rules may match on these (methods may add others).
OUTCOME_TAGS: Mapping[str, str] = {
    "edge": "the aperture still touched the stamp edge after the allowed resizes",
    "minimal-aperture": "no aperture could be defined; the minimum 2x2 aperture was used",
    "saturated": "the target is saturated",
    "crowded": "other stars contribute much of the flux in the aperture",
    "error": "the method failed (set automatically for every ERROR)",
}


def _float_array(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def _optional_float_array(value: Any) -> np.ndarray | None:
    return None if value is None else np.asarray(value, dtype=np.float64)


@attrs.frozen(kw_only=True)
class PhotometryResult:
    """What a photometry method returns.

    Attributes
    ----------
    data
        The :class:`TargetData` the light curve was measured on (after any stamp resizes).
    flux, flux_err
        Flux and its 1σ uncertainty per cadence, e-/s, length T. NaN where not measured.
    background
        Total background in the photometric aperture per cadence, e-/s.
    centroid
        Per-cadence (row, col) of the light centre in 0-based CCD coordinates, shape (T, 2).
    aperture
        Boolean image (stamp shape) of the pixels the flux was measured in, or of the pixels
        with non-zero weight.
    status
        ``Status.OK`` or ``Status.WARNING``. Failures are raised, not returned.
    warnings
        Human-readable messages stored with the result.
    tags
        Outcome tags (see :data:`OUTCOME_TAGS`) that method-selection rules can match.
    contamination
        Fraction of the flux in the aperture expected from other catalog stars (0–1).
    skip_targets
        TIC numbers of fainter stars inside the aperture whose own photometry would measure
        the same pixels; the task farm marks them SKIPPED.
    quality
        Extra QUALITY bits per cadence (see :data:`tasoc_core.flags.QUALITY`).
    headers
        Method-specific header cards for the LIGHTCURVE extension: ``{KEY: (value, comment)}``.
    extra_hdus
        Additional FITS extensions to append (e.g. a halo WEIGHTMAP table).
    diagnostics
        Extra numeric diagnostics stored in the TODO-file (e.g. ``edge_flux``).
    """

    data: TargetData
    flux: np.ndarray = attrs.field(converter=_float_array)
    flux_err: np.ndarray = attrs.field(converter=_float_array)
    background: np.ndarray | None = attrs.field(default=None, converter=_optional_float_array)
    centroid: np.ndarray | None = attrs.field(default=None, converter=_optional_float_array)
    aperture: np.ndarray | None = None
    status: Status = Status.OK
    warnings: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    contamination: float | None = None
    skip_targets: tuple[int, ...] = attrs.field(
        default=(), converter=lambda v: tuple(int(x) for x in v)
    )
    quality: np.ndarray | None = None
    headers: Mapping[str, tuple[Any, str]] = attrs.field(factory=dict)
    extra_hdus: tuple[Any, ...] = attrs.field(default=(), converter=tuple)
    diagnostics: Mapping[str, float] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        n = len(self.data.time)
        for name in ("flux", "flux_err", "background", "quality"):
            value = getattr(self, name)
            if value is not None and np.shape(value) != (n,):
                raise ValueError(
                    f"PhotometryResult.{name} has shape {np.shape(value)}, expected ({n},)"
                )
        if self.centroid is not None and self.centroid.shape != (n, 2):
            raise ValueError(
                f"PhotometryResult.centroid has shape {self.centroid.shape}, expected ({n}, 2)"
            )
        if self.aperture is not None and np.shape(self.aperture) != self.data.stamp.shape:
            raise ValueError(
                f"PhotometryResult.aperture has shape {np.shape(self.aperture)}, "
                f"stamp is {self.data.stamp.shape}"
            )
        if self.status not in (Status.OK, Status.WARNING):
            raise ValueError(f"a returned result must be OK or WARNING, not {self.status.name}")


class PhotometryMethod(PluginClass, ABC):
    """Base class of photometry methods.

    A method receives a :class:`~tasoc_core.data.TargetData` and returns a
    :class:`PhotometryResult`. The framework does everything else: choosing the method,
    building the data, computing diagnostics, writing the light-curve file and recording
    the result.

    Contract
    --------
    A photometry method

    * shall not open, read or write files, databases or the network: everything it needs is
      on the TargetData it receives;
    * shall not modify the arrays of the TargetData (they are read-only);
    * shall return flux and flux_err for every cadence (NaN where not measured) in e-/s;
    * shall raise :class:`~tasoc_core.exceptions.TargetError` (with outcome tags where
      useful) when the target cannot be measured, and return ``Status.WARNING`` with a
      message when the result is usable but suspect;
    * may grow the stamp with :meth:`TargetData.resized` and return the resized data;
    * shall be deterministic: the same TargetData and settings give the same result.
    """

    #: Data sources the method accepts: any of "ffi", "tpf" (primary and secondary targets).
    datasources: ClassVar[frozenset[str]] = frozenset({"ffi", "tpf"})

    @abstractmethod
    def photometry(self, data: TargetData) -> PhotometryResult:
        """Measure the target's light curve.

        Parameters
        ----------
        data
            Pixels, times and neighbouring stars of the target.

        Returns
        -------
        PhotometryResult
            The light curve and its companions.
        """
