"""Writing corrected light curves: the raw file with FLUX_CORR filled in.

A corrected file is its raw light curve (paper 003 §7) with ``FLUX_CORR``/``FLUX_CORR_ERR``
(ppm) filled, the corrector's QUALITY bits OR-ed in, the corrector's header cards in the
LIGHTCURVE extension (``CORRMET``, ``CORRVER`` and the method's own, paper 004 Appendix A)
and any extensions it adds (the Ensemble's ENSEMBLE table). It is named like the raw file
with ``tasoc_lc`` replaced by ``tasoc-{tag}_lc`` and lives next to it.

The file is edited from the raw file's bytes rather than rebuilt through astropy's HDU
objects (whose per-card verification and column objects cost ~20x the edit): the new
column values are written big-endian into the table rows, the corrector's cards appended
to the LIGHTCURVE header, NEXTEND updated, only the extra HDUs serialised by astropy, and
every HDU's DATASUM/CHECKSUM recomputed. The result is the file astropy's
``HDUList.writeto(checksum=True)`` writes (``tasoc_core.output._reference``), card for
card and byte for byte except the checksum timestamps. Layouts outside the common case
(a rescaled or non-double column, a corrector keyword already in the header, commentary
cards at the end of the header, HDUs without checksums) go through astropy instead.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from tasoc_core.exceptions import InputFileError, TasocError
from tasoc_core.families.correction import CorrectionResult
from tasoc_core.io._fitsscan import (
    TFORM_DTYPES,
    HDUSpan,
    TableColumn,
    TableLayout,
    card_value,
    read_fits_bytes,
    scan_hdus,
    table_layout,
)
from tasoc_core.output._atomic import atomic_write_bytes
from tasoc_core.output._fitsbytes import (
    card_images,
    extension_bytes,
    is_plain_keyword,
    seal_hdu,
    timestamp,
)
from tasoc_core.output._reference import (
    corrector_cards,
    write_corrected_lightcurve_astropy,
)
from tasoc_core.output.naming import LightCurveName, parse_lightcurve_name

__all__ = ["corrected_path", "write_corrected_lightcurve"]

logger = logging.getLogger(__name__)

# The columns the writer fills and the (unscaled, scalar) column codes it writes them as.
_FILLED = {"FLUX_CORR": ("D",), "FLUX_CORR_ERR": ("D",), "QUALITY": ("J", "I", "K")}


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


def _column(buffer: bytearray, layout: TableLayout, column: TableColumn) -> np.ndarray:
    """A writable view of one scalar column of the table rows in ``buffer``."""
    return np.ndarray(
        (layout.nrows,),
        dtype=TFORM_DTYPES[column.code],
        buffer=buffer,
        offset=column.offset,
        strides=(layout.row_bytes,),
    )


def _corrected_fits_bytes(
    content: bytes,
    spans: list[HDUSpan],
    *,
    flux: np.ndarray,
    flux_err: np.ndarray,
    quality: np.ndarray,
    cards: list[tuple[str, tuple[Any, str]]],
    extra_hdus: tuple[Any, ...],
    where: Path,
) -> bytes | None:
    """The corrected file's FITS bytes edited from the raw file's, or None to use astropy.

    None when the file or the request leaves the common case (see the module docstring):
    no binary LIGHTCURVE table, FLUX_CORR/FLUX_CORR_ERR not unscaled doubles or QUALITY
    not an unscaled integer, an HDU without adjacent CHECKSUM/DATASUM cards, a corrector
    keyword that is already in the header (astropy updates it in place) or not a plain
    one, commentary cards at the end of the header, no NEXTEND; raises TasocError when
    the arrays do not fit the table.
    """
    names = [str(span.value("EXTNAME") or "").strip().upper() for span in spans]
    if "LIGHTCURVE" not in names or len(spans) < 2:
        return None
    index = names.index("LIGHTCURVE")
    table = spans[index]
    if str(table.value("XTENSION") or "").strip() != "BINTABLE":
        return None
    layout = table_layout(table)
    if layout is None:
        return None
    if len(flux) != layout.nrows:
        raise TasocError(f"{where}: corrector returned {len(flux)} points for {layout.nrows} rows")
    columns = {c.name.strip().upper(): c for c in layout.columns if c.name is not None}
    for name, codes in _FILLED.items():
        column = columns.get(name)
        if column is None or column.code not in codes or column.repeat != 1:
            return None
        if column.scaled or column.tail:
            return None
    for span in spans:
        keys = span.keys()
        if "CHECKSUM" not in keys or keys[
            keys.index("CHECKSUM") + 1 : keys.index("CHECKSUM") + 2
        ] != ["DATASUM"]:
            return None
    # The new LIGHTCURVE cards are appended at the end only when astropy would put them
    # there too: new, distinct, plain keywords after a non-commentary last card.
    lc_keys = table.keys()
    new_keys = [str(key).upper() for key, _ in cards]
    if (
        len(set(new_keys)) != len(new_keys)
        or any(not is_plain_keyword(key) or key in lc_keys for key in new_keys)
        or lc_keys[-1] in ("", "COMMENT", "HISTORY")
    ):
        return None
    primary_keys = spans[0].keys()
    if "NEXTEND" not in primary_keys or not all(
        isinstance(hdu, fits.hdu.base.ExtensionHDU) and not isinstance(hdu, fits.GroupsHDU)
        for hdu in extra_hdus
    ):
        return None

    new_cards = [
        image for key, (value, comment) in cards for image in card_images(key, value, comment)
    ]
    data = bytearray(content[table.data_start : table.end])
    for name, values in (("FLUX_CORR", flux), ("FLUX_CORR_ERR", flux_err)):
        _column(data, layout, columns[name])[:] = values
    column = _column(data, layout, columns["QUALITY"])
    column[:] = np.asarray(column) | np.asarray(quality, dtype=np.int32)

    nextend = len(spans) - 1 + len(extra_hdus)

    when = timestamp()
    out = []
    for i, span in enumerate(spans):
        hdu_cards = list(span.cards)
        hdu_data: bytes | bytearray | memoryview
        if i == index:
            hdu_cards += new_cards
            hdu_data = data
        else:
            hdu_data = memoryview(content)[span.data_start : span.end]
        if i == 0:
            k = primary_keys.index("NEXTEND")
            if card_value(hdu_cards[k]) != nextend:
                old = fits.Card.fromstring(hdu_cards[k])
                hdu_cards[k] = card_images("NEXTEND", nextend, old.comment)[0]
        out.append(seal_hdu(hdu_cards, hdu_data, when))
        out.append(hdu_data)
    out.append(extension_bytes(extra_hdus, when))
    return b"".join(out)


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
    compresslevel
        gzip level of the written file.
    fsync
        Flush to the storage device before the final rename.

    Raises
    ------
    InputFileError
        If the raw file is missing or is not a readable light-curve file.
    TasocError
        If the result's length differs from the raw light curve's.
    """
    raw = Path(raw)
    path = corrected_path(raw, tag)
    try:
        content, _ = read_fits_bytes(raw)
        spans = scan_hdus(content)
    except FileNotFoundError:
        raise InputFileError(f"{raw}: the raw light curve is missing") from None
    except ValueError as exc:
        raise InputFileError(f"{raw}: cannot read the raw light curve ({exc})") from None
    payload = _corrected_fits_bytes(
        content,
        spans,
        flux=result.flux,
        flux_err=result.flux_err,
        quality=result.quality,
        cards=corrector_cards(method_name, plugin, version, result.headers),
        extra_hdus=result.extra_hdus,
        where=raw,
    )
    if payload is None:
        logger.debug("%s: layout left to astropy", raw)
        return write_corrected_lightcurve_astropy(
            raw, result, tag=tag, method_name=method_name, plugin=plugin, version=version,
            compresslevel=compresslevel, fsync=fsync,
        )  # fmt: skip
    atomic_write_bytes(
        path, gzip.compress(payload, compresslevel=compresslevel, mtime=0), fsync=fsync
    )
    return path
