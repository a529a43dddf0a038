"""Writing validation results (DATAVAL) into existing light-curve files."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

from astropy.io import fits

from tasoc_core.exceptions import InputFileError, TasocError
from tasoc_core.flags import DATAVAL
from tasoc_core.io._fitsscan import CARD, iter_hdus, read_fits_bytes
from tasoc_core.output._atomic import atomic_write_bytes

__all__ = ["check_dataval", "read_dataval", "update_dataval"]

logger = logging.getLogger(__name__)

_ALL_DATAVAL = DATAVAL.mask(flag.name for flag in DATAVAL)


def check_dataval(bits: int) -> int:
    """``bits`` as an int; TasocError unless it holds only DATAVAL flags."""
    if isinstance(bits, bool) or int(bits) != bits:
        raise TasocError(f"DATAVAL must be an integer, got {bits!r}")
    bits = int(bits)
    if bits < 0 or bits & ~_ALL_DATAVAL:
        raise TasocError(
            f"DATAVAL {bits} holds bits that are not DATAVAL flags "
            f"(known bits: {', '.join(str(f.value) for f in DATAVAL)})"
        )
    return bits


def _primary_header_length(raw: bytes, path: Path) -> int:
    """Bytes of the primary header, up to the end of the block holding its END card."""
    try:
        return next(iter_hdus(raw)).data_start
    except StopIteration:
        raise InputFileError(f"{path}: empty file (not a FITS file?)") from None
    except ValueError as exc:
        raise InputFileError(f"{path}: {exc} (not a FITS file?)") from None


def _check_only_dataval_changed(old: bytes, new: bytes, path: Path) -> None:
    """Refuse to write unless the new header differs from the old only where it should."""
    allowed = (b"DATAVAL ", b"CHECKSUM", b"DATASUM ")
    cards = [
        (old[i : i + CARD], new[i : i + CARD]) for i in range(0, max(len(old), len(new)), CARD)
    ]
    changed = [
        a[:8].decode("ascii", "replace") for a, b in cards if a != b and a[:8] not in allowed
    ]
    if len(old) != len(new) or changed:
        raise InputFileError(
            f"{path}: setting DATAVAL would change more of the primary header than DATAVAL "
            f"and its checksum ({', '.join(changed) or 'its size'}); refusing to rewrite the file"
        )


def _read(path: Path) -> tuple[bytes, bool]:
    try:
        return read_fits_bytes(path)
    except FileNotFoundError:
        raise InputFileError(f"light-curve file {path} does not exist") from None


def read_dataval(path: Path) -> int:
    """The DATAVAL keyword of a light-curve file.

    Raises
    ------
    InputFileError
        If the file is missing, corrupt, or has no DATAVAL keyword.
    """
    path = Path(path)
    raw, _ = _read(path)
    header = fits.Header.fromstring(raw[: _primary_header_length(raw, path)].decode("ascii"))
    if "DATAVAL" not in header:
        raise InputFileError(f"{path}: no DATAVAL keyword in the primary header")
    return int(header["DATAVAL"])


def update_dataval(path: Path, bits: int, *, compresslevel: int = 6) -> bool:
    """Set the DATAVAL keyword of a light-curve file, atomically.

    Only the primary header changes (``DATAVAL`` and its ``CHECKSUM``); every other byte
    of the FITS content is kept. The new file is written next to the old one and then
    replaces it, so a crash leaves either the old or the new file.

    Parameters
    ----------
    path
        A light-curve file written by :func:`~tasoc_core.output.write_lightcurve`
        (gzip-compressed or not).
    bits
        The DATAVAL flags (only bits of :data:`tasoc_core.flags.DATAVAL`).
    compresslevel
        gzip level used when rewriting a compressed file.

    Returns
    -------
    bool
        True if the file was rewritten, False if it already held ``bits``.

    Raises
    ------
    TasocError
        If ``bits`` is not a valid DATAVAL value.
    InputFileError
        If the file is missing, corrupt, or has no DATAVAL keyword.
    """
    bits = check_dataval(bits)
    path = Path(path)
    raw, compressed = _read(path)
    length = _primary_header_length(raw, path)
    header = fits.Header.fromstring(raw[:length].decode("ascii"))
    if "DATAVAL" not in header:
        raise InputFileError(f"{path}: no DATAVAL keyword in the primary header")
    if header["DATAVAL"] == bits:
        return False
    old_cards = raw[:length]
    header["DATAVAL"] = bits
    primary = fits.PrimaryHDU(header=header)
    if "EXTEND" in header:
        # PrimaryHDU drops EXTEND (it is set when an HDUList is written); keep it in place.
        primary.header.set("EXTEND", header["EXTEND"], after="NAXIS")
    primary.add_checksum()
    new_header = primary.header.tostring().encode("ascii")
    _check_only_dataval_changed(old_cards, new_header, path)
    payload = new_header + raw[length:]
    if compressed:
        payload = gzip.compress(payload, compresslevel=compresslevel, mtime=0)
    atomic_write_bytes(path, payload)
    logger.debug("%s: DATAVAL set to %d", path, bits)
    return True
