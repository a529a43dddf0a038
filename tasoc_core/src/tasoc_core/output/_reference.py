"""The astropy ``HDUList`` writers, kept as the reference of the byte-level ones.

:func:`~tasoc_core.output.corrected.write_corrected_lightcurve` and
:func:`~tasoc_core.output.lightcurve.write_lightcurve` assemble their files from bytes
(astropy's per-card verification and column objects cost 5-10x the gzip itself). These
functions are the straightforward astropy implementations they replaced: the corrected
writer falls back on :func:`write_corrected_lightcurve_astropy` for file layouts the byte-level path
does not handle, and the tests and benchmarks compare both paths.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from tasoc_core.exceptions import InputFileError, TasocError
from tasoc_core.io._fitsscan import read_fits_bytes
from tasoc_core.output._atomic import atomic_write_bytes

__all__ = ["corrector_cards", "hdulist_bytes", "write_corrected_lightcurve_astropy"]


def hdulist_bytes(hdus: fits.HDUList) -> bytes:
    """The FITS bytes of ``hdus`` written by astropy with checksums."""
    buffer = io.BytesIO()
    hdus.writeto(buffer, checksum=True)
    return buffer.getvalue()


def write_corrected_lightcurve_astropy(
    raw: Path,
    result: Any,
    *,
    tag: str,
    method_name: str,
    plugin: str,
    version: str | None,
    compresslevel: int = 6,
    fsync: bool = False,
) -> Path:
    """The astropy implementation of :func:`~tasoc_core.output.write_corrected_lightcurve`.

    Same signature, behaviour and errors; the file is rebuilt through ``HDUList``.
    """
    from tasoc_core.output.corrected import corrected_path  # the module imports this one

    path = corrected_path(raw, tag)
    try:
        # Decompressed into memory once and edited in place: copying the HDUs costs more
        # than reading them (astropy rebuilds every column).
        content, _ = read_fits_bytes(raw)
        hdul = fits.open(io.BytesIO(content), memmap=False)
        table = hdul["LIGHTCURVE"]
        if not isinstance(table, fits.BinTableHDU):
            # astropy would fail on writing (ASCII table) or indexing (image) it.
            raise ValueError(f"LIGHTCURVE is a {table.header.get('XTENSION')}, not a BINTABLE")
        n = len(table.data)
    except FileNotFoundError:
        raise InputFileError(f"{raw}: the raw light curve is missing") from None
    except (OSError, KeyError, ValueError) as exc:
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
        for key, (value, comment) in corrector_cards(method_name, plugin, version, result.headers):
            header[key] = (value, comment)
        for hdu in result.extra_hdus:
            hdul.append(hdu)
        hdul[0].header["NEXTEND"] = len(hdul) - 1
        payload = hdulist_bytes(hdul)
    atomic_write_bytes(
        path, gzip.compress(payload, compresslevel=compresslevel, mtime=0), fsync=fsync
    )
    return path


def corrector_cards(
    method_name: str, plugin: str, version: str | None, headers: Mapping[str, tuple[Any, str]]
) -> list[tuple[str, tuple[Any, str]]]:
    """The LIGHTCURVE cards a corrected file gets, in the order they are set."""
    return [
        ("CORRMET", (method_name, "light-curve correction method")),
        ("CORRVER", (str(version or ""), "version of the corrector plugin")),
        ("CORRPLUG", (plugin, "plugin that provided the corrector")),
        *headers.items(),
    ]
