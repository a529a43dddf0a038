"""Core's default validators: the DATAVAL flags of paper 003, Table 2.

Each validator receives one group of results (one sector, cadence and photometry method)
as a table with the columns of :data:`tasoc_core.families.VALIDATION_COLUMNS` and returns
one integer of DATAVAL bits per row. Rows whose photometry did not succeed (status other
than OK or WARNING) get 0 from every default validator: they carry no diagnostics, and the
approval rule withholds them anyway.

Which validator sets which bit (all relations are in :mod:`tasoc_core.validation.bounds`
and :mod:`tasoc_core.validation.noise`):

=====================  ==========================================  ===================
validator              bits                                        methods
=====================  ==========================================  ===================
``magnitude-flux``     MagVsFluxLow (2); fits the zero point        ``methods`` setting
``mask-size``          MinimalMask (16) all methods; SmallMask      ``methods`` setting
                       (32), LargeMask (64, FFI only)
``contamination``      ContaminationHigh (2048)                     ``methods`` setting
``noise``              LowPTP (256), LowRMS (512)                   all
``invalid-values``     InvalidContamination (1024), InvalidFlux     all
                       (4096), InvalidNoise (8192)
=====================  ==========================================  ===================

The population checks apply by default to aperture photometry only, as in the original
pipeline: halo weights or PSF models are not apertures whose size the relations describe,
and halo fluxes are scaled to the magnitude relation by construction.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
from astropy.table import Table

from tasoc_core.exceptions import SchemaError
from tasoc_core.families.validation import ValidationResult, Validator
from tasoc_core.flags import DATAVAL
from tasoc_core.status import Status
from tasoc_core.validation.bounds import (
    contamination_upper_bound,
    flux_lower_bound,
    mask_size_bounds,
)
from tasoc_core.validation.noise import FFI_CADENCES, TPF_CADENCES, noise_model
from tasoc_core.validation.zeropoint import fit_zero_point

__all__ = [
    "DEFAULT_VALIDATORS",
    "ContaminationValidator",
    "InvalidValuesValidator",
    "MagnitudeFluxValidator",
    "MaskSizeValidator",
    "NoiseValidator",
]

_SUCCESS = (int(Status.OK), int(Status.WARNING))


def _methods_tuple(value: Sequence[str] | str) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def _require(table: Table, names: Sequence[str], validator: str) -> None:
    missing = [name for name in names if name not in table.colnames]
    if missing:
        raise SchemaError(
            f"validator {validator!r}: the table has no column {missing[0]!r} "
            f"(columns: {', '.join(table.colnames)})"
        )


def _floats(table: Table, name: str) -> np.ndarray:
    """A column as float64, masked entries (SQL NULL) as NaN."""
    return np.ma.filled(np.ma.asarray(table[name], dtype=np.float64), np.nan)


def _succeeded(table: Table) -> np.ndarray:
    status = np.ma.filled(np.ma.asarray(table["status"], dtype=np.int64), 0)
    return np.isin(status, _SUCCESS)


def _for_methods(table: Table, methods: tuple[str, ...]) -> np.ndarray:
    if not methods:
        return np.ones(len(table), dtype=bool)
    return np.isin(np.asarray(table["method"]).astype(str), methods)


def _is_ffi(table: Table) -> np.ndarray:
    return np.asarray(table["datasource"]).astype(str) == "ffi"


def _bit(mask: np.ndarray, name: str) -> np.ndarray:
    return np.where(mask, DATAVAL[name], 0).astype(np.int64)


@attrs.frozen(kw_only=True)
class PopulationSettings:
    """Settings of the validators that compare a star with the relations of its population."""

    #: Photometry methods the check applies to (empty: every method).
    methods: tuple[str, ...] = attrs.field(default=("aperture",), converter=_methods_tuple)


@attrs.frozen(kw_only=True)
class MagnitudeFluxSettings(PopulationSettings):
    """Settings of :class:`MagnitudeFluxValidator`."""

    #: Stars at least this contaminated are left out of the zero-point fit.
    zp_max_contamination: float = attrs.field(
        default=0.15, validator=[attrs.validators.gt(0.0), attrs.validators.le(1.0)]
    )
    #: Width of the magnitude bins of the zero-point fit.
    zp_bin_width: float = attrs.field(default=0.5, validator=attrs.validators.gt(0.0))


class MagnitudeFluxValidator(Validator):
    """Flags stars fainter than the magnitude-flux relation allows; fits its zero point.

    MagVsFluxLow (2) is set where ``0 < mean_flux <`` :func:`flux_lower_bound` (non-positive
    and non-finite fluxes are InvalidFlux instead). MagVsFluxHigh (1) is not set: the
    paper defines no upper relation (stars above it are, in practice, contaminated ones).
    ``info`` holds ``zero_point`` (mag), ``zero_point_error``, ``zero_point_stars`` and
    ``zero_point_bins`` of :func:`~tasoc_core.validation.fit_zero_point`.
    """

    name = "magnitude-flux"
    Settings = MagnitudeFluxSettings

    def validate(self, table: Table) -> ValidationResult:
        _require(table, ("status", "method", "tmag", "mean_flux", "contamination"), self.name)
        rows = _succeeded(table) & _for_methods(table, self.settings.methods)
        tmag = _floats(table, "tmag")
        flux = _floats(table, "mean_flux")
        with np.errstate(invalid="ignore"):
            low = rows & (flux > 0) & (flux < flux_lower_bound(tmag))
        fit = fit_zero_point(
            tmag[rows],
            flux[rows],
            _floats(table, "contamination")[rows],
            max_contamination=self.settings.zp_max_contamination,
            bin_width=self.settings.zp_bin_width,
        )
        info = {
            "zero_point": fit.zero_point,
            "zero_point_error": fit.error,
            "zero_point_stars": float(fit.n_stars),
            "zero_point_bins": float(fit.n_bins),
        }
        return ValidationResult(_bit(low, "MagVsFluxLow"), info)


class MaskSizeValidator(Validator):
    """Flags apertures smaller or larger than the aperture-size relations, or minimal.

    MinimalMask (16) where the method reported falling back to its minimum aperture
    (column ``minimal_mask``, any method); SmallMask (32) where ``0 < mask_size <`` the FFI
    or TPF minimum; LargeMask (64) where ``mask_size >`` the FFI maximum (FFI data only).
    """

    name = "mask-size"
    Settings = PopulationSettings

    def validate(self, table: Table) -> ValidationResult:
        _require(
            table,
            ("status", "method", "tmag", "datasource", "mask_size", "minimal_mask"),
            self.name,
        )
        ok = _succeeded(table)
        rows = ok & _for_methods(table, self.settings.methods)
        size = _floats(table, "mask_size")
        low, high = mask_size_bounds(_floats(table, "tmag"), _is_ffi(table))
        minimal = ok & np.ma.filled(np.ma.asarray(table["minimal_mask"], dtype=bool), False)
        with np.errstate(invalid="ignore"):
            small = rows & (size > 0) & (size < low)
            large = rows & (size > high)
        flags = _bit(minimal, "MinimalMask") | _bit(small, "SmallMask") | _bit(large, "LargeMask")
        return ValidationResult(flags)


class ContaminationValidator(Validator):
    """Flags stars more contaminated than the contamination relation allows.

    ContaminationHigh (2048) where :func:`contamination_upper_bound` ``< contamination < 1``.
    """

    name = "contamination"
    Settings = PopulationSettings

    def validate(self, table: Table) -> ValidationResult:
        _require(table, ("status", "method", "tmag", "contamination"), self.name)
        rows = _succeeded(table) & _for_methods(table, self.settings.methods)
        contamination = _floats(table, "contamination")
        bound = contamination_upper_bound(_floats(table, "tmag"))
        with np.errstate(invalid="ignore"):
            high = rows & (contamination > bound) & (contamination < 1.0)
        return ValidationResult(_bit(high, "ContaminationHigh"))


@attrs.frozen(kw_only=True)
class NoiseSettings:
    """Settings of :class:`NoiseValidator`."""

    #: Systematic noise on a one-hour time scale, ppm (the original's default).
    sysnoise: float = attrs.field(default=5.0, validator=attrs.validators.ge(0.0))


class NoiseValidator(Validator):
    """Flags light curves quieter than the expected noise (Sullivan et al. 2015).

    LowRMS (512) where ``0 < rms_hour <`` the model's total noise on 3600 s, LowPTP (256)
    where ``0 < ptp <`` the total noise on the cadence; diagnostics (fractions) are
    compared in ppm. ``info`` holds the median ratio of measured to expected noise.
    """

    name = "noise"
    Settings = NoiseSettings

    def validate(self, table: Table) -> ValidationResult:
        _require(table, ("status", "tmag", "cadence", "rms_hour", "ptp", "ra", "dec"), self.name)
        cadence = np.ma.filled(np.ma.asarray(table["cadence"], dtype=np.int64), 0)
        known = np.isin(cadence, list(FFI_CADENCES | TPF_CADENCES))
        rows = _succeeded(table) & known
        flags = np.zeros(len(table), dtype=np.int64)
        info: dict[str, float] = {}
        if not rows.any():
            return ValidationResult(flags, info)
        tmag = _floats(table, "tmag")[rows]
        ra, dec = _floats(table, "ra")[rows], _floats(table, "dec")[rows]
        cad = cadence[rows]
        sysnoise = self.settings.sysnoise
        hour = noise_model(tmag, cad, 3600.0, ra=ra, dec=dec, sysnoise=sysnoise).total
        p2p = noise_model(tmag, cad, cad.astype(float), ra=ra, dec=dec, sysnoise=sysnoise).total
        rms = _floats(table, "rms_hour")[rows] * 1e6
        ptp = _floats(table, "ptp")[rows] * 1e6
        with np.errstate(invalid="ignore"):
            flags[rows] |= _bit((rms > 0) & (rms < hour), "LowRMS")
            flags[rows] |= _bit((ptp > 0) & (ptp < p2p), "LowPTP")
            ratio_rms = rms / hour
            ratio_ptp = ptp / p2p
        for key, ratio in (("rms_ratio_median", ratio_rms), ("ptp_ratio_median", ratio_ptp)):
            finite = ratio[np.isfinite(ratio) & (ratio > 0)]
            info[key] = float(np.median(finite)) if finite.size else float("nan")
        return ValidationResult(flags, info)


class InvalidValuesValidator(Validator):
    """Flags diagnostics that cannot be right: flux, noise or contamination.

    InvalidFlux (4096) where ``mean_flux`` is non-finite or ≤ 0; InvalidNoise (8192) where
    ``rms_hour`` or ``ptp`` is non-finite or ≤ 0; InvalidContamination (1024) where the
    contamination is ≥ 1 or < 0 (NaN means "not computed" and is not flagged).
    """

    name = "invalid-values"

    def validate(self, table: Table) -> ValidationResult:
        _require(table, ("status", "mean_flux", "rms_hour", "ptp", "contamination"), self.name)
        rows = _succeeded(table)
        flux = _floats(table, "mean_flux")
        rms = _floats(table, "rms_hour")
        ptp = _floats(table, "ptp")
        contamination = _floats(table, "contamination")
        with np.errstate(invalid="ignore"):
            bad_flux = rows & ~(np.isfinite(flux) & (flux > 0))
            bad_noise = rows & ~(np.isfinite(rms) & (rms > 0) & np.isfinite(ptp) & (ptp > 0))
            bad_contamination = rows & ((contamination >= 1.0) | (contamination < 0.0))
        flags = (
            _bit(bad_flux, "InvalidFlux")
            | _bit(bad_noise, "InvalidNoise")
            | _bit(bad_contamination, "InvalidContamination")
        )
        return ValidationResult(flags)


#: The validators core registers, in the order they run.
DEFAULT_VALIDATORS: tuple[type[Validator], ...] = (
    InvalidValuesValidator,
    MagnitudeFluxValidator,
    MaskSizeValidator,
    ContaminationValidator,
    NoiseValidator,
)
