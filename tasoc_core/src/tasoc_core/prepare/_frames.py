"""The frames of one camera/CCD: header scan, consistency checks, time order."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
from astropy.io import fits

from tasoc_core.data.target import Stamp
from tasoc_core.exceptions import InputFileError
from tasoc_core.io import read_ffi_header

__all__ = [
    "CONSTANT_KEYWORDS",
    "FrameInfo",
    "FrameSelection",
    "Problem",
    "frame_info",
    "select_frames",
]

logger = logging.getLogger(__name__)

#: Keywords that should not change within a sector/camera/CCD (checked, copied to the HDF5).
CONSTANT_KEYWORDS = ("DATA_REL", "PROCVER", "NUM_FRM", "NREADOUT", "CRMITEN", "CRBLKSZ", "CRSPOC")
#: Further keywords copied from the reference frame when present.
_INSTRUMENT_KEYWORDS = (
    "TIMEDEL", "EXPOSURE", "INT_TIME", "FRAMETIM", "DEADC", "TELESCOP", "INSTRUME",
    "GAINA", "GAINB", "GAINC", "GAIND", "READNOIA", "READNOIB", "READNOIC", "READNOID",
)  # fmt: skip


@attrs.frozen
class Problem:
    """A file that was skipped or a frame that was flagged, and why."""

    file: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason}


@attrs.frozen
class FrameInfo:
    """What prepare needs from one FFI's headers (picklable, small).

    ``wcs`` is the celestial WCS in 0-based CCD pixel coordinates as a FITS header string,
    empty when the header has none.
    """

    path: Path
    camera: int
    ccd: int
    tstart: float
    tstop: float
    barycorr: float
    dquality: int
    cadenceno: int
    science: Stamp
    origin: tuple[int, int]
    wcs: str
    backapp: bool
    keywords: dict[str, Any] = attrs.field(eq=False, repr=False)

    @property
    def time(self) -> float:
        """Mid-frame BTJD."""
        return 0.5 * (self.tstart + self.tstop)

    @property
    def name(self) -> str:
        return self.path.name


#: Cards of a primary celestial WCS with SIP distortion (no alternate WCS letters).
_WCS_CARD = re.compile(
    r"^(WCSAXES|CTYPE[12]|CUNIT[12]|CRVAL[12]|CRPIX[12]|CDELT[12]|CROTA[12]|CD[12]_[12]|PC[12]_[12]"
    r"|LONPOLE|LATPOLE|RADESYS|EQUINOX|(A|B|AP|BP)_ORDER|(A|B|AP|BP)_\d+_\d+)$"
)


def ccd_wcs_string(header: fits.Header, origin: tuple[int, int]) -> str:
    """The image's celestial WCS cards in CCD pixel coordinates, as a header string.

    Image pixel (x, y) is CCD (col − col0, row − row0), so CRPIX moves by the origin; SIP
    polynomials are relative to CRPIX and move with it. Copying cards is ~100× cheaper
    than building a WCS object, which matters for thousands of frames; the string is
    parsed (and checked) once, when the pointing is fitted. Empty when the header has no
    celestial WCS.
    """
    if "CTYPE1" not in header or "CRVAL1" not in header:
        return ""
    shift = {"CRPIX1": origin[1], "CRPIX2": origin[0]}
    images = []
    for card in header.cards:
        key = card.keyword
        if not _WCS_CARD.match(key):
            continue
        if key in shift:
            images.append(fits.Card(key, float(card.value) + shift[key]).image)
        else:
            images.append(card.image)  # the card as read: no re-formatting
    return "".join(images)


def _plain(value: Any) -> Any:
    return value if isinstance(value, bool | int | float | str) else str(value)


def frame_info(path: Path) -> FrameInfo | Problem:
    """Read the headers of one FFI; a :class:`Problem` if they cannot be used."""
    try:
        header = read_ffi_header(path, wcs=False)
    except InputFileError as exc:
        return Problem(Path(path).name, str(exc))
    wcs = ccd_wcs_string(header.header, header.origin)
    keywords = {
        key: _plain(header.header[key])
        for key in CONSTANT_KEYWORDS + _INSTRUMENT_KEYWORDS
        if key in header.header and header.header[key] is not None
    }
    return FrameInfo(
        path=header.path,
        camera=header.camera,
        ccd=header.ccd,
        tstart=header.tstart,
        tstop=header.tstop,
        barycorr=header.barycorr,
        dquality=header.quality,
        cadenceno=header.cadenceno,
        science=header.science,
        origin=header.origin,
        wcs=wcs,
        backapp=bool(header.header.get("BACKAPP", False)),
        keywords=keywords,
    )


@attrs.frozen
class FrameSelection:
    """The frames that make up the cube, and what was left out."""

    frames: tuple[FrameInfo, ...]  #: in time order
    science: Stamp  #: the pixels of the cube
    wrong_shape: frozenset[int]  #: indices of frames whose pixels do not match ``science``
    skipped: tuple[Problem, ...]  #: files not in the cube at all


def select_frames(results: Iterable[FrameInfo | Problem], camera: int, ccd: int) -> FrameSelection:
    """Check scanned headers and put the usable frames in time order.

    Files whose headers cannot be read, that belong to another camera/CCD, or that repeat
    the mid-time of an earlier frame are skipped. Frames whose science area differs from
    the most common one are kept (their cadence exists) but marked to be flagged bad.

    Raises
    ------
    InputFileError
        If no frame remains.
    """
    skipped: list[Problem] = []
    frames: list[FrameInfo] = []
    for item in results:
        if isinstance(item, Problem):
            skipped.append(item)
        elif (item.camera, item.ccd) != (camera, ccd):
            skipped.append(
                Problem(
                    item.name,
                    f"header says camera {item.camera}, CCD {item.ccd}, not camera {camera}, CCD {ccd}",
                )
            )
        else:
            frames.append(item)
    frames.sort(key=lambda f: (f.time, f.name))
    unique: list[FrameInfo] = []
    for frame in frames:
        if unique and abs(frame.time - unique[-1].time) * 86400.0 < 1.0:
            skipped.append(
                Problem(frame.name, f"same mid-time as {unique[-1].name} (duplicate frame)")
            )
        else:
            unique.append(frame)
    for problem in skipped:
        logger.warning("skipping %s: %s", problem.file, problem.reason)
    if not unique:
        raise InputFileError(
            f"no usable FFI of camera {camera}, CCD {ccd} ({len(skipped)} files skipped)"
        )
    science = Counter(f.science for f in unique).most_common(1)[0][0]
    wrong = frozenset(i for i, f in enumerate(unique) if f.science != science)
    for i in sorted(wrong):
        logger.warning(
            "%s: science pixels %s differ from the other frames' %s; frame flagged bad",
            unique[i].name, unique[i].science.as_tuple(), science.as_tuple(),
        )  # fmt: skip
    for key in CONSTANT_KEYWORDS:
        values = {f.keywords.get(key) for f in unique if key in f.keywords}
        if len(values) > 1:
            logger.warning("keyword %s varies between frames: %s", key, sorted(map(str, values)))
    return FrameSelection(tuple(unique), science, wrong, tuple(skipped))
