"""FITS files as bytes: header cards and checksums without astropy's HDU objects.

Enough of the FITS standard (4.0) and its checksum convention to edit files this package
wrote (whose HDUs :mod:`tasoc_core.io._fitsscan` finds): replace or append 80-character
cards, and compute ``DATASUM``/``CHECKSUM`` exactly as
``astropy.io.fits`` does (32-bit ones'-complement sums of big-endian words, the checksum
complement encoded in 16 ASCII characters). Cards are rendered by :class:`astropy.io.fits.Card`
so that their text is astropy's.
"""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Sequence

import numpy as np
from astropy.io import fits

# astropy's own value formatter, so that the cards rendered here are its cards.
from astropy.io.fits.card import _format_value

from tasoc_core.io._fitsscan import BLOCK, CARD, scan_hdus

__all__ = [
    "KEYWORD",
    "PLACEHOLDERS",
    "card_images",
    "checksum32",
    "encode_checksum",
    "extension_bytes",
    "is_plain_keyword",
    "pad",
    "seal_hdu",
    "timestamp",
]

_END = "END" + " " * 77
_EXCLUDE = frozenset((0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x40, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60))
#: A standard keyword: 1-8 characters of A-Z, 0-9, '-' and '_'.
KEYWORD = re.compile(r"^[A-Z0-9_-]{1,8}$")


def pad(buffer: bytes, fill: bytes = b"\0") -> bytes:
    """``buffer`` padded to a whole number of 2880-byte blocks with ``fill``."""
    return buffer + fill * ((-len(buffer)) % BLOCK)


def checksum32(buffer: bytes | bytearray | memoryview | np.ndarray, start: int = 0) -> int:
    """32-bit ones'-complement sum of big-endian words of ``buffer``, plus ``start``.

    A trailing partial word is padded with zeros, as astropy does. The words are summed in
    64 bits (no overflow below 2**32 words) and the carries folded back once at the end,
    which equals folding after every addition.
    """
    data = np.frombuffer(buffer, dtype=np.uint8)
    total = int(start) & 0xFFFFFFFF
    extra = data.size % 4
    if extra:
        total += int.from_bytes(bytes(data[-extra:]) + b"\0" * (4 - extra), "big")
        data = data[:-extra]
    total += int(data.view(">u4").sum(dtype=np.uint64))
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


def _encode_byte(byte: int) -> tuple[int, int, int, int]:
    # The FITS checksum convention's encoding of one byte into four printable characters
    # (avoiding the punctuation between the digits and the letters), as astropy does it.
    quotient, remainder = byte // 4 + ord("0"), byte % 4
    ch = [quotient + remainder, quotient, quotient, quotient]
    check = True
    while check:
        check = False
        for excluded in sorted(_EXCLUDE):
            for j in (0, 2):
                if ch[j] == excluded or ch[j + 1] == excluded:
                    ch[j] += 1
                    ch[j + 1] -= 1
                    check = True
    return ch[0], ch[1], ch[2], ch[3]


#: The four characters of each byte value, computed once.
_BYTE_CODES = np.array([_encode_byte(b) for b in range(256)], dtype=np.uint8)
# Character i of the 16 before the final rotation: byte i % 4, character i // 4.
_ROTATE = np.roll(np.arange(16), 1)


def encode_checksum(value: int) -> str:
    """The 16-character ASCII encoding of the 32-bit ``value`` (a checksum complement)."""
    parts = np.frombuffer((value & 0xFFFFFFFF).to_bytes(4, "big"), dtype=np.uint8)
    chars = _BYTE_CODES[parts].T.reshape(16)  # [c0 of b0..b3, c1 of b0..b3, ...]
    return chars[_ROTATE].tobytes().decode("ascii")


def timestamp() -> str:
    """The time astropy writes in checksum comments (local time, seconds)."""
    return datetime.datetime.now().isoformat()[:19]


def _header_bytes(cards: Sequence[str]) -> bytes:
    """A header's bytes: its cards, END and space padding."""
    return pad(("".join(cards) + _END).encode("ascii"), b" ")


def seal_hdu(cards: list[str], data: bytes | memoryview, when: str) -> bytes:
    """The header bytes of an HDU with ``DATASUM`` and ``CHECKSUM`` set for ``data``.

    ``cards`` must hold CHECKSUM immediately followed by DATASUM (their position is kept),
    as in a header astropy wrote with checksums; ``data`` is the padded data unit. The
    comments carry ``when`` as astropy's (``HDU checksum updated …``).
    """
    keys = [card[:8] for card in cards]
    i = keys.index("CHECKSUM")
    if keys[i + 1] != "DATASUM ":
        raise ValueError("CHECKSUM is not followed by DATASUM")
    datasum = checksum32(data)
    hdu_comment = f"HDU checksum updated {when}"
    cards = list(cards)
    cards[i] = card_images("CHECKSUM", "0" * 16, hdu_comment)[0]
    cards[i + 1] = card_images("DATASUM", str(datasum), f"data unit checksum updated {when}")[0]
    total = checksum32(_header_bytes(cards), datasum)
    cards[i] = card_images("CHECKSUM", encode_checksum(~total), hdu_comment)[0]
    return _header_bytes(cards)


def is_plain_keyword(key: str) -> bool:
    """Whether ``key`` is a standard 1-8 character keyword (no HIERARCH, no commentary)."""
    return bool(KEYWORD.match(key)) and key not in ("COMMENT", "HISTORY", "CONTINUE", "END")


#: CHECKSUM and DATASUM cards to be filled by :func:`seal_hdu`, where astropy appends them.
PLACEHOLDERS = ("CHECKSUM= '0000000000000000'".ljust(CARD), "DATASUM = '0       '".ljust(CARD))


def extension_bytes(hdus: Sequence[fits.hdu.base.ExtensionHDU], when: str) -> bytes:
    """The bytes of extension HDUs as ``HDUList.writeto(checksum=True)`` writes them.

    astropy serialises the HDUs (their headers are its business) without checksums, which
    are then appended as astropy would append them (the last two cards) and computed here;
    that halves astropy's cost. Headers that already hold checksum cards, or end with
    commentary cards (before which astropy would insert them), are left to astropy.
    """
    if not hdus:
        return b""
    own_checksums = not any("CHECKSUM" in hdu.header or "DATASUM" in hdu.header for hdu in hdus)
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), *hdus]).writeto(buffer, checksum=not own_checksums)
    written = buffer.getvalue()
    spans = scan_hdus(written)[1:]
    if own_checksums and any(span.keys()[-1] in ("", "COMMENT", "HISTORY") for span in spans):
        own_checksums = False
        buffer = io.BytesIO()
        fits.HDUList([fits.PrimaryHDU(), *hdus]).writeto(buffer, checksum=True)
        written = buffer.getvalue()
        spans = scan_hdus(written)[1:]
    if not own_checksums:
        return written[spans[0].start :]
    out = []
    for span in spans:
        data = memoryview(written)[span.data_start : span.end]
        out += [seal_hdu([*span.cards, *PLACEHOLDERS], data, when), data]
    return b"".join(out)


def card_images(key: str, value: object, comment: str) -> list[str]:
    """The 80-character card(s) of ``fits.Card(key, value, comment)``, rendered quickly.

    Plain keywords with None, bool, int, finite float or printable ASCII string values
    that fit one card are formatted here with astropy's value formatter (astropy's
    ``Card`` costs ~0.1 ms through its configuration lookups); anything else, including
    what astropy refuses (NaN, non-ASCII), goes through ``fits.Card`` itself.
    """
    kind = type(value)
    if (
        value is None or kind in (bool, int, str) or (kind is float and np.isfinite(value))
    ) and is_plain_keyword(key):
        image = f"{key:8}= {_format_value(value)}" + (f" / {comment}" if comment else "")
        if len(image) <= CARD and image.isascii() and image.isprintable():
            return [f"{image:{CARD}}"]
    text = fits.Card(key, value, comment).image
    return [text[i : i + CARD] for i in range(0, len(text), CARD)]
