"""FITS files as bytes: where each HDU's header and data sit, and the values of its cards.

The one header scanner of the package, shared by the fast table reader
(:mod:`tasoc_core.io.fitstable`), the byte-level light-curve writers
(:mod:`tasoc_core.output.corrected`, :mod:`tasoc_core.output.lightcurve`) and the DATAVAL
updater (:mod:`tasoc_core.output.dataval`). Enough of the FITS standard (4.0) to walk files
this package wrote: 2880-byte blocks of 80-character cards ending with END, data sized by
BITPIX, NAXISn, PCOUNT and GCOUNT.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs
import numpy as np

from tasoc_core.exceptions import InputFileError

__all__ = [
    "BLOCK",
    "CARD",
    "TFORM_DTYPES",
    "HDUSpan",
    "TableColumn",
    "TableLayout",
    "card_text",
    "card_value",
    "iter_hdus",
    "read_fits_bytes",
    "scan_hdus",
    "table_layout",
]

#: Bytes of a FITS block and of a header card.
BLOCK = 2880
CARD = 80
_END = "END" + " " * 77
_GZIP_MAGIC = b"\x1f\x8b"

#: numpy dtypes of the binary-table column codes of fixed-width numbers and logicals.
TFORM_DTYPES = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}
# Bytes per element of every column code (X counts bits, rounded up to bytes per column).
_TFORM_BYTES = {code: np.dtype(dtype).itemsize for code, dtype in TFORM_DTYPES.items()}
_TFORM_BYTES |= {"A": 1, "C": 8, "M": 16, "P": 8, "Q": 16}
_TFORM = re.compile(r"^(?P<repeat>\d*)(?P<code>[LXBIJKAEDCMPQ])(?P<tail>.*)$")


def read_fits_bytes(path: Path) -> tuple[bytes, bool]:
    """The content of FITS file ``path``, decompressed if it is gzip, and whether it was.

    gzip is recognised by its magic bytes, whatever the file's name.

    Raises
    ------
    FileNotFoundError
        If the file does not exist (callers say what was missing).
    InputFileError
        If the file cannot be read or is damaged gzip (names the file).
    """
    try:
        stored = Path(path).read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise InputFileError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if stored[:2] != _GZIP_MAGIC:
        return stored, False
    try:
        return gzip.decompress(stored), True
    except (OSError, EOFError, zlib.error) as exc:
        raise InputFileError(f"{path} is not valid gzip: {exc}") from None


def card_text(text: str) -> str:
    """The value of a card (the text after ``= ``) as text: a string unquoted, anything
    else without its comment."""
    text = text.strip()
    if text.startswith("'"):
        # A string: up to the closing quote ('' is an escaped quote).
        out, i = [], 1
        while (end := text.find("'", i)) != -1:
            out.append(text[i:end])
            if text[end + 1 : end + 2] != "'":
                return "".join(out).rstrip()
            out.append("'")
            i = end + 2
        out.append(text[i:])
        return "".join(out).rstrip()
    return text.split("/", 1)[0].strip()


def card_value(card: str) -> str | int | float | bool | None:
    """The value of a fixed- or free-format card (strings unquoted, numbers parsed).

    Only what the layout keywords need: quoted strings, logicals, integers and reals;
    anything else (complex values) is returned as its text.
    """
    if card[8:10] != "= ":
        return None
    text = card_text(card[10:])
    if card[10:].lstrip().startswith("'"):
        return text
    if text in ("T", "F"):
        return text == "T"
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text.replace("D", "E"))
    except ValueError:
        return text


def _valued_cards(cards: Sequence[str]) -> dict[str, str]:
    # Reversed, so that the first card of a repeated keyword is the one kept.
    return {card[:8].rstrip(): card for card in reversed(cards) if card[8:10] == "= "}


@attrs.define(frozen=True)
class HDUSpan:
    """Where one HDU sits in a FITS byte string.

    Attributes
    ----------
    start, data_start, data_end, end
        Byte offsets: header start, data start (header end), end of the data proper,
        end of the padded data (start of the next HDU).
    cards
        The header's 80-character cards, without END.
    valued_cards
        Keyword → its first card that has a value (``KEYWORD = …``), for many look-ups
        (derived from ``cards``; not to be modified).
    """

    start: int
    data_start: int
    data_end: int
    end: int
    cards: tuple[str, ...]
    valued_cards: dict[str, str] = attrs.field(
        default=attrs.Factory(lambda self: _valued_cards(self.cards), takes_self=True),
        eq=False,
        repr=False,
    )

    def keys(self) -> list[str]:
        """The keyword of each card (``""`` for blank ones)."""
        return [card[:8].rstrip() for card in self.cards]

    def value(self, key: str) -> str | int | float | bool | None:
        """The value of the first card with keyword ``key`` (None when absent)."""
        for card in self.cards:
            if card[:8].rstrip() == key:
                return card_value(card)
        return None


def _data_size(cards: dict[str, str]) -> int:
    def value(key: str, default: int | None = None) -> object:
        return card_value(cards[key]) if key in cards else default

    naxis = value("NAXIS")
    bitpix = value("BITPIX")
    if not isinstance(naxis, int) or not isinstance(bitpix, int) or naxis < 0:
        raise ValueError("header without a valid BITPIX/NAXIS")
    if naxis == 0:
        return 0
    size = 1
    for axis in range(1, naxis + 1):
        length = value(f"NAXIS{axis}")
        if not isinstance(length, int) or length < 0:
            raise ValueError(f"header without a valid NAXIS{axis}")
        size *= length
    pcount = value("PCOUNT", 0)
    gcount = value("GCOUNT", 1)
    if not isinstance(pcount, int) or not isinstance(gcount, int):
        raise ValueError("header with an invalid PCOUNT/GCOUNT")
    return abs(bitpix) // 8 * gcount * (pcount + size)


def iter_hdus(content: bytes) -> Iterator[HDUSpan]:
    """The HDUs of the FITS byte string ``content``, in order, each read when asked for.

    Raises
    ------
    ValueError
        If a header has no END card, is not ASCII, lacks its layout keywords, or its data
        run past the end of ``content``.
    """
    start = 0
    size = len(content)
    while start < size:
        cards = []
        position = start
        while True:
            if position + CARD > size:
                raise ValueError(f"no END card in the header starting at byte {start}")
            card = content[position : position + CARD].decode("ascii")
            position += CARD
            if card == _END:
                break
            cards.append(card)
        data_start = start + -(-(position - start) // BLOCK) * BLOCK
        valued = _valued_cards(cards)
        data_end = data_start + _data_size(valued)
        end = data_start + -(-(data_end - data_start) // BLOCK) * BLOCK
        if end > size:
            raise ValueError(f"the HDU starting at byte {start} is truncated")
        yield HDUSpan(start, data_start, data_end, end, tuple(cards), valued)
        start = end


def scan_hdus(content: bytes) -> list[HDUSpan]:
    """All HDUs of the FITS byte string ``content``, in order.

    Raises
    ------
    ValueError
        If ``content`` is empty or :func:`iter_hdus` finds a damaged HDU.
    """
    spans = list(iter_hdus(content))
    if not spans:
        raise ValueError("empty file")
    return spans


@attrs.frozen
class TableColumn:
    """One column of a binary table's rows.

    Attributes
    ----------
    name
        ``TTYPEn`` as written (None when the column has none).
    offset
        Byte offset of the column in a row.
    repeat, code, tail
        ``TFORMn`` split into its repeat count, its type code and what follows the code
        (the ``(maxlen)`` of array descriptors, usually empty).
    scaled
        Whether the column has ``TSCALn`` or ``TZEROn``.
    """

    name: str | None
    offset: int
    repeat: int
    code: str
    tail: str
    scaled: bool


@attrs.frozen
class TableLayout:
    """The rows of a binary table: ``row_bytes`` (NAXIS1) × ``nrows`` (NAXIS2), columns in order."""

    row_bytes: int
    nrows: int
    columns: tuple[TableColumn, ...]


def table_layout(span: HDUSpan) -> TableLayout | None:
    """Where each column of the binary table ``span`` sits in its rows, or None.

    None when the header does not describe the rows: NAXIS1, NAXIS2 or TFIELDS missing or
    not integers, a missing or unknown column format, two columns with the same name
    (compared as FITS does, ignoring case), or column widths that do not add up to NAXIS1.
    """
    cards = span.valued_cards

    def value(key: str) -> str | int | float | bool | None:
        card = cards.get(key)
        return None if card is None else card_value(card)

    naxis1, naxis2, tfields = value("NAXIS1"), value("NAXIS2"), value("TFIELDS")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (naxis1, naxis2, tfields)):
        return None
    columns = []
    names = set()
    offset = 0
    for i in range(1, tfields + 1):  # type: ignore[operator]
        name, tform = value(f"TTYPE{i}"), value(f"TFORM{i}")
        match = _TFORM.match(tform.strip().upper()) if isinstance(tform, str) else None
        if match is None:
            return None
        repeat = int(match["repeat"] or 1)
        code = match["code"]
        if isinstance(name, str):
            if name.strip().upper() in names:
                return None
            names.add(name.strip().upper())
        scaled = f"TSCAL{i}" in cards or f"TZERO{i}" in cards
        name = name if isinstance(name, str) else None
        columns.append(TableColumn(name, offset, repeat, code, match["tail"], scaled))
        offset += -(-repeat // 8) if code == "X" else repeat * _TFORM_BYTES[code]
    if offset != naxis1:
        return None
    return TableLayout(naxis1, naxis2, tuple(columns))  # type: ignore[arg-type]
