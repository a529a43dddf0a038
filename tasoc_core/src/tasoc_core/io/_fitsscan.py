"""FITS files as bytes: where each HDU's header and data sit, and the values of its cards.

The one header scanner of the package, shared by the fast table reader
(:mod:`tasoc_core.io.fitstable`), the byte-level light-curve writers
(:mod:`tasoc_core.output.corrected`, :mod:`tasoc_core.output.lightcurve`) and the DATAVAL
updater (:mod:`tasoc_core.output.dataval`). Enough of the FITS standard (4.0) to walk files
this package wrote: 2880-byte blocks of 80-character cards ending with END, data sized by
BITPIX, NAXISn, PCOUNT and GCOUNT.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs

__all__ = [
    "BLOCK",
    "CARD",
    "HDUSpan",
    "card_text",
    "card_value",
    "iter_hdus",
    "scan_hdus",
]

#: Bytes of a FITS block and of a header card.
BLOCK = 2880
CARD = 80
_END = "END" + " " * 77


def card_text(text: str) -> str:
    """The value of a card (the text after ``= ``) as text: a string unquoted, anything
    else without its comment."""
    text = text.strip()
    if text.startswith("'"):
        # A string: up to the closing quote ('' is an escaped quote).
        out, i = [], 1
        while i < len(text):
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    out.append("'")
                    i += 2
                    continue
                break
            out.append(text[i])
            i += 1
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
    """

    start: int
    data_start: int
    data_end: int
    end: int
    cards: tuple[str, ...]

    def keys(self) -> list[str]:
        """The keyword of each card (``""`` for blank ones)."""
        return [card[:8].rstrip() for card in self.cards]

    def value(self, key: str) -> str | int | float | bool | None:
        """The value of the first card with keyword ``key`` (None when absent)."""
        for card in self.cards:
            if card[:8].rstrip() == key:
                return card_value(card)
        return None

    def valued_cards(self) -> dict[str, str]:
        """Keyword → its first card that has a value (``KEYWORD = …``), for many look-ups."""
        cards: dict[str, str] = {}
        for card in self.cards:
            if card[8:10] == "= ":
                cards.setdefault(card[:8].rstrip(), card)
        return cards


def _data_size(span_cards: Sequence[str]) -> int:
    values: dict[str, object] = {}
    for card in span_cards:
        key = card[:8].rstrip()
        if key in ("BITPIX", "GCOUNT", "PCOUNT") or key.startswith("NAXIS"):
            values.setdefault(key, card_value(card))
    naxis = values.get("NAXIS")
    bitpix = values.get("BITPIX")
    if not isinstance(naxis, int) or not isinstance(bitpix, int) or naxis < 0:
        raise ValueError("header without a valid BITPIX/NAXIS")
    if naxis == 0:
        return 0
    size = 1
    for axis in range(1, naxis + 1):
        length = values.get(f"NAXIS{axis}")
        if not isinstance(length, int) or length < 0:
            raise ValueError(f"header without a valid NAXIS{axis}")
        size *= length
    pcount = values.get("PCOUNT", 0)
    gcount = values.get("GCOUNT", 1)
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
        data_end = data_start + _data_size(cards)
        end = data_start + -(-(data_end - data_start) // BLOCK) * BLOCK
        if end > size:
            raise ValueError(f"the HDU starting at byte {start} is truncated")
        yield HDUSpan(start, data_start, data_end, end, tuple(cards))
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
