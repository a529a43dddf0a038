"""Writing corrected light curves: the raw file with FLUX_CORR filled in.

A corrected file is its raw light curve (paper 003 §7) with ``FLUX_CORR``/``FLUX_CORR_ERR``
(ppm) filled, the corrector's QUALITY bits OR-ed in, the corrector's header cards in the
LIGHTCURVE extension (``CORRMET``, ``CORRVER`` and the method's own, paper 004 Appendix A)
and any extensions it adds (the Ensemble's ENSEMBLE table). It is named like the raw file
with ``tasoc_lc`` replaced by ``tasoc-{tag}_lc`` and lives next to it.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
from astropy.io import fits

from tasoc_core.exceptions import InputFileError, TasocError
from tasoc_core.families.correction import CorrectionResult
from tasoc_core.output._atomic import atomic_write_bytes
from tasoc_core.output.naming import LightCurveName, parse_lightcurve_name

__all__ = ["corrected_path", "write_corrected_lightcurve"]


def corrected_path(raw: Path, tag: str) -> Path:
    """Where the correction of raw light curve ``raw`` by corrector ``tag`` goes."""
    name = parse_lightcurve_name(raw)
    if name is None:
        raise TasocError(f"{raw}: not a tasoc light-curve file name")
    corrected = LightCurveName(
        name.starid, name.sector, name.camera, name.ccd, name.cadence, name.data_release,
        name.version, corrector=tag,
    )  # fmt: skip
    return Path(raw).with_name(corrected.filename)


def write_corrected_lightcurve(
    raw: Path,
    result: CorrectionResult,
    *,
    tag: str,
    method_name: str,
    plugin: str,
    version: str | None,
    compresslevel: int = 6,
    fsync: bool = False,
) -> Path:
    """Write the corrected light curve of raw file ``raw`` atomically; returns its path.

    Parameters
    ----------
    raw
        The raw light-curve file.
    result
        The corrector's result (ppm arrays of the raw file's length).
    tag
        Short name in the file name (``cbv``, ``ens``).
    method_name
        ``CORRMET`` value (``CBV``, ``Ensemble``).
    plugin, version
        The plugin that provided the corrector and its version (``CORRPLUG``, ``CORRVER``).
    """
    path = corrected_path(raw, tag)
    try:
        # Decompressed into memory once and edited in place: copying the HDUs costs more
        # than reading them (astropy rebuilds every column).
        with gzip.open(raw) if raw.suffix == ".gz" else open(raw, "rb") as fh:
            content = fh.read()
        hdul = fits.open(io.BytesIO(content), memmap=False)
        table = hdul["LIGHTCURVE"]
        n = len(table.data)
    except FileNotFoundError:
        raise InputFileError(f"{raw}: the raw light curve is missing") from None
    except (OSError, KeyError, ValueError, EOFError) as exc:
        raise InputFileError(f"{raw}: cannot read the raw light curve ({exc})") from None
    with hdul:
        if len(result.flux) != n:
            raise TasocError(f"{raw}: corrector returned {len(result.flux)} points for {n} rows")
        table.data["FLUX_CORR"] = result.flux
        table.data["FLUX_CORR_ERR"] = result.flux_err
        table.data["QUALITY"] = np.asarray(table.data["QUALITY"]) | np.asarray(
            result.quality, dtype=np.int32
        )
        header = table.header
        header["CORRMET"] = (method_name, "light-curve correction method")
        header["CORRVER"] = (str(version or ""), "version of the corrector plugin")
        header["CORRPLUG"] = (plugin, "plugin that provided the corrector")
        for key, (value, comment) in result.headers.items():
            header[key] = (value, comment)
        for hdu in result.extra_hdus:
            hdul.append(hdu)
        hdul[0].header["NEXTEND"] = len(hdul) - 1
        buffer = io.BytesIO()
        hdul.writeto(buffer, checksum=True)
    atomic_write_bytes(
        path, gzip.compress(buffer.getvalue(), compresslevel=compresslevel, mtime=0), fsync=fsync
    )
    return path
