"""Reading tasoc light-curve files for plots and comparisons, and their power spectra.

:func:`read_lightcurve` reads the columns and images a report needs from a raw or
corrected light-curve file (``docs/lightcurve-files.md``) and says which cadences are
usable; :func:`relative_flux` gives the relative flux in ppm (raw: ``FLUX_RAW`` over its
median; corrected: ``FLUX_CORR``, already ppm); :func:`power_density` the power density
spectrum in ppm²/µHz, calibrated so that it integrates to the variance (Parseval).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from tasoc_core.exceptions import InputFileError
from tasoc_core.flags import QUALITY, TESS_DEFAULT_BITMASK
from tasoc_core.io.fitstable import UnsupportedTable, read_bintable
from tasoc_core.output.naming import parse_lightcurve_name

__all__ = [
    "BAD_QUALITY",
    "LightCurveData",
    "power_density",
    "read_lightcurve",
    "relative_flux",
]

logger = logging.getLogger(__name__)

#: tasoc QUALITY bits whose cadences are not plotted or compared.
BAD_QUALITY = QUALITY.mask(["FlaggedBadData", "ManualExclude", "Rejected"])


@attrs.frozen(kw_only=True)
class LightCurveData:
    """What a report reads from one light-curve file.

    ``flux`` is ``FLUX_RAW`` (e-/s) of a raw file and ``FLUX_CORR`` (ppm) of a corrected
    one; ``sumimage``/``aperture`` are None when the file has no such HDU; ``origin`` is the
    0-based CCD (row, column) of the images' first pixel.
    """

    path: Path
    corrected: bool
    time: np.ndarray
    cadenceno: np.ndarray
    flux: np.ndarray
    quality: np.ndarray
    pixel_quality: np.ndarray
    header: dict
    sumimage: np.ndarray | None = None
    aperture: np.ndarray | None = None
    origin: tuple[int, int] | None = None

    @property
    def good(self) -> np.ndarray:
        """Cadences to use: finite time and flux, no bad SPOC or tasoc quality bit."""
        return (
            np.isfinite(self.time)
            & np.isfinite(self.flux)
            & ((self.pixel_quality & TESS_DEFAULT_BITMASK) == 0)
            & ((self.quality & BAD_QUALITY) == 0)
        )


_HEADER_KEYS = ("TICID", "TESSMAG", "PHOTMET", "DATAVAL", "SECTOR", "CAMERA", "CCD", "DATASRC",
                "CONTAM")  # fmt: skip


def _columns(path: Path, table: Any) -> dict[str, Any]:
    """The columns a report uses, as native arrays; decides whether the file is corrected."""
    flux_corr = np.array(table["FLUX_CORR"], dtype=np.float64)
    name = parse_lightcurve_name(path)
    corrected = (
        name.corrector is not None if name is not None else bool(np.isfinite(flux_corr).any())
    )
    return {
        "corrected": corrected,
        "time": np.array(table["TIME"], dtype=np.float64),
        "cadenceno": np.array(table["CADENCENO"], dtype=np.int64),
        "flux": flux_corr if corrected else np.array(table["FLUX_RAW"], dtype=np.float64),
        "quality": np.array(table["QUALITY"], dtype=np.int64),
        "pixel_quality": np.array(table["PIXEL_QUALITY"], dtype=np.int64),
    }


def _card_value(text: str | None) -> Any:
    if text is None or text == "":
        return None
    if text in ("T", "F"):
        return text == "T"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_lightcurve(path: Path, *, images: bool = True) -> LightCurveData:
    """Read a tasoc light-curve file (raw or corrected).

    A file is corrected when its name says so (``…-tasoc-<corrector>_lc.fits.gz``) or,
    for other names, when its ``FLUX_CORR`` column holds any finite value. Without
    ``images`` the table is read by a fast reader of tasoc's own table layout (astropy for
    anything else).

    Raises
    ------
    InputFileError
        If the file is missing or is not a readable tasoc light curve (names the file).
    """
    path = Path(path)
    try:
        if not images:
            try:
                primary, table = read_bintable(path, "LIGHTCURVE", primary_keys=_HEADER_KEYS)
                data = _columns(path, table)
            except (UnsupportedTable, KeyError, ValueError) as exc:
                logger.debug("%s: astropy reads it (%s)", path, exc)
            else:
                keep = {k: _card_value(primary.get(k)) for k in _HEADER_KEYS}
                return LightCurveData(path=path, header=keep, **data)
        with warnings.catch_warnings():
            # A truncated or damaged file only warns in astropy: here it is not readable.
            warnings.simplefilter("error", AstropyUserWarning)
            with fits.open(path, memmap=False) as hdul:
                header = hdul[0].header
                data = _columns(path, hdul["LIGHTCURVE"].data)
                keep = {k: header.get(k) for k in _HEADER_KEYS}
                sumimage = aperture = origin = None
                if images and "SUMIMAGE" in hdul and "APERTURE" in hdul:
                    sumimage = np.array(hdul["SUMIMAGE"].data, dtype=np.float64)
                    aperture = np.array(hdul["APERTURE"].data, dtype=np.int64)
                    h = hdul["SUMIMAGE"].header
                    if "CRVAL1P" in h and "CRVAL2P" in h:
                        origin = (int(h["CRVAL2P"]) - 1, int(h["CRVAL1P"]) - 1)
    except FileNotFoundError:
        raise InputFileError(f"light curve {path} does not exist") from None
    except (OSError, KeyError, ValueError, TypeError, AstropyUserWarning) as exc:
        raise InputFileError(f"{path}: not a readable tasoc light curve ({exc})") from None
    return LightCurveData(
        path=path, header=keep, sumimage=sumimage, aperture=aperture, origin=origin, **data
    )


def relative_flux(lc: LightCurveData) -> np.ndarray:
    """Relative flux in ppm with NaN on unusable cadences (raw: over the median, minus 1)."""
    good = lc.good
    out = np.full(lc.flux.shape, np.nan)
    if not good.any():
        return out
    if lc.corrected:
        out[good] = lc.flux[good]
    else:
        median = np.median(lc.flux[good])
        if median != 0:
            out[good] = (lc.flux[good] / median - 1.0) * 1e6
    return out


def power_density(
    time: np.ndarray, flux: np.ndarray, *, oversample: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Power density spectrum of a light curve.

    Parameters
    ----------
    time
        Times in days.
    flux
        Relative flux in ppm (NaN values are ignored).
    oversample
        Frequency steps per 1/T resolution element.

    Returns
    -------
    frequency, psd
        Frequencies in µHz from 1/T to the Nyquist frequency of the median cadence, and the
        power density in ppm²/µHz, scaled so that its integral equals the variance of the
        flux (the usual normalisation in asteroseismology). Empty arrays when fewer than
        10 usable points remain.
    """
    from astropy.timeseries import LombScargle

    ok = np.isfinite(time) & np.isfinite(flux)
    if np.count_nonzero(ok) < 10:
        return np.array([]), np.array([])
    t = (time[ok] - time[ok][0]) * 86400.0
    y = flux[ok] - np.mean(flux[ok])
    span = t[-1] - t[0]
    dt = float(np.median(np.diff(t)))
    if span <= 0 or dt <= 0:
        return np.array([]), np.array([])
    df = 1.0 / span / oversample
    nyquist = 0.5 / dt
    frequency = np.arange(df * oversample, nyquist, df)
    if frequency.size == 0:
        return np.array([]), np.array([])
    power = LombScargle(t, y, center_data=False, fit_mean=False, normalization="psd").power(
        frequency, method="fast"
    )
    total = float(np.sum(power) * df)
    psd = power * (np.var(y) / total) if total > 0 else power
    return frequency * 1e6, psd / 1e6
