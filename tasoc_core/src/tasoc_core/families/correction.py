"""Correctors: remove systematics from raw light curves."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np

from tasoc_core.data.target import Target
from tasoc_core.families._base import PluginClass
from tasoc_core.status import Status

__all__ = ["CorrectionContext", "CorrectionResult", "Corrector", "LightCurve"]


def _f8(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def _i4(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.int32)


@attrs.frozen(kw_only=True)
class LightCurve:
    """A raw light curve as correctors receive it.

    Attributes
    ----------
    target
        The target.
    method
        Photometry method that produced the light curve.
    time, timecorr, cadenceno
        Mid-cadence BTJD, the barycentric correction it includes (days), cadence numbers.
    flux, flux_err
        Raw flux and uncertainty, e-/s.
    quality
        tasoc QUALITY bits (see :data:`tasoc_core.flags.QUALITY`).
    pixel_quality
        SPOC quality bits.
    position
        Median (row, col) of the target on the CCD.
    cbv_area
        CBV area code (camera·100 + ccd·10 + ring), if known.
    meta
        Header values and photometry diagnostics (mean_flux, variability, …).
    """

    target: Target
    method: str
    time: np.ndarray = attrs.field(converter=_f8)
    timecorr: np.ndarray = attrs.field(converter=_f8)
    cadenceno: np.ndarray = attrs.field(converter=_i4)
    flux: np.ndarray = attrs.field(converter=_f8)
    flux_err: np.ndarray = attrs.field(converter=_f8)
    quality: np.ndarray = attrs.field(converter=_i4)
    pixel_quality: np.ndarray = attrs.field(converter=_i4)
    position: tuple[float, float] = (np.nan, np.nan)
    cbv_area: int | None = None
    meta: Mapping[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        n = len(self.time)
        for name in ("timecorr", "cadenceno", "flux", "flux_err", "quality", "pixel_quality"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"LightCurve.{name} has length {len(getattr(self, name))}, not {n}"
                )

    def __len__(self) -> int:
        return len(self.time)


@attrs.frozen(kw_only=True)
class CorrectionResult:
    """What a corrector returns.

    Attributes
    ----------
    flux, flux_err
        Corrected relative flux and uncertainty in ppm, same length as the input.
    quality
        QUALITY bits the corrector sets (SigmaClip, Interpolated, Rejected, jump bits); they
        are OR-ed into the input quality.
    status
        ``Status.OK`` or ``Status.WARNING``.
    warnings
        Messages stored with the result.
    headers
        Corrector header cards for the LIGHTCURVE extension: ``{KEY: (value, comment)}``.
    extra_hdus
        Additional FITS extensions (e.g. the ENSEMBLE member table).
    diagnostics
        Extra numeric diagnostics for the TODO-file (e.g. number of CBVs used).
    """

    flux: np.ndarray = attrs.field(converter=_f8)
    flux_err: np.ndarray = attrs.field(converter=_f8)
    quality: np.ndarray = attrs.field(converter=_i4)
    status: Status = Status.OK
    warnings: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    headers: Mapping[str, tuple[Any, str]] = attrs.field(factory=dict)
    extra_hdus: tuple[Any, ...] = attrs.field(default=(), converter=tuple)
    diagnostics: Mapping[str, float] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        n = len(self.flux)
        if len(self.flux_err) != n or len(self.quality) != n:
            raise ValueError("CorrectionResult arrays must have equal lengths")
        if self.status not in (Status.OK, Status.WARNING):
            raise ValueError(f"a returned result must be OK or WARNING, not {self.status.name}")


class CorrectionContext(ABC):
    """What a corrector may know besides the light curve it corrects.

    The framework implements this on top of the TODO-file and the raw light-curve files;
    correctors use it instead of opening files themselves.
    """

    @property
    @abstractmethod
    def work_dir(self) -> Path:
        """Directory where the corrector may keep products it builds (e.g. CBV files)."""

    @abstractmethod
    def light_curve(self, priority: int, method: str) -> LightCurve:
        """The raw light curve of TODO-file row ``priority`` made by photometry ``method``."""

    @abstractmethod
    def candidates(self, lc: LightCurve, *, limit: int) -> Sequence[LightCurve]:
        """Up to ``limit`` other light curves on the same camera/CCD and cadence, nearest first.

        Only successful photometry of the same method is offered; implementations cache the
        light curves, so asking again for a neighbour does not read it again.
        """

    @abstractmethod
    def light_curves(
        self,
        *,
        camera: int,
        ccd: int,
        cadence: int,
        method: str,
        cbv_area: int | None = None,
    ) -> Iterator[LightCurve]:
        """Every successful light curve of ``method`` on a camera/CCD at one cadence,
        optionally restricted to one CBV area (used to build products such as CBVs)."""


class Corrector(PluginClass, ABC):
    """Base class of correctors (systematics removal).

    Contract
    --------
    A corrector

    * shall return the corrected flux in ppm relative to the star's mean level, with the
      same length as the input (NaN where not corrected);
    * shall raise :class:`~tasoc_core.exceptions.TargetError` when a light curve cannot be
      corrected (too few points, too few neighbours), naming the reason;
    * shall obtain other stars' light curves only through the :class:`CorrectionContext`;
    * shall not write files except into ``context.work_dir`` during :meth:`prepare`.
    """

    #: Short tag in corrected file names (``…-tasoc-{tag}_lc.fits.gz``); default: ``name``.
    file_tag: ClassVar[str | None] = None
    #: Value of the CORRMET header (paper 004 Appendix A); default: ``name``.
    header_name: ClassVar[str | None] = None

    def prepare(self, context: CorrectionContext) -> None:
        """Called once per worker before the first :meth:`correct`; default does nothing."""

    @abstractmethod
    def correct(self, lc: LightCurve, context: CorrectionContext) -> CorrectionResult:
        """Correct one raw light curve."""
