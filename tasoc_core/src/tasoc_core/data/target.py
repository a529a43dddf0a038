"""Targets and stamps: the identity of a task and the pixels it covers.

Coordinates
-----------
Pixel coordinates in tasoc are **0-based CCD coordinates of the SPOC FFI image**: the
calibrated FFI is 2078 rows × 2136 columns, science pixels sit at rows 0–2047 and columns
44–2091, and pixel centres are at integer values. A TPF whose header says
``1CRV5P = 1619, 2CRV5P = 389`` (1-based) starts at column 1618, row 388 here. FITS outputs
convert to the 1-based convention of SPOC products where the format requires it
(``MOM_CENTR1/2``).
"""

from __future__ import annotations

import attrs
import numpy as np

__all__ = ["SCIENCE_COLUMNS", "SCIENCE_ROWS", "Stamp", "Target"]

#: Half-open row range of science pixels in a SPOC FFI image.
SCIENCE_ROWS = (0, 2048)
#: Half-open column range of science pixels in a SPOC FFI image.
SCIENCE_COLUMNS = (44, 2092)


def _datasource(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if value in ("ffi", "tpf"):
        return
    if value.startswith("tpf:") and value[4:].isdigit():
        return
    raise ValueError(f"datasource must be 'ffi', 'tpf' or 'tpf:<TIC>', not {value!r}")


@attrs.frozen
class Target:
    """One star observed in one sector, camera, CCD, cadence and data source.

    Attributes
    ----------
    starid
        TIC identifier.
    sector, camera, ccd
        Where it was observed.
    cadence
        Cadence in seconds (1800, 600, 200 for FFIs; 120, 20 for TPFs).
    datasource
        ``"ffi"``, ``"tpf"`` (primary target of a TPF) or ``"tpf:<TIC>"`` (a secondary star
        found in the TPF of primary target ``<TIC>``).
    tmag
        TESS magnitude.
    ra, dec
        Position in degrees at the sector reference epoch (proper motion applied).
    priority
        Row identifier in the TODO-file (None outside a run).
    """

    starid: int = attrs.field(converter=int)
    sector: int = attrs.field(converter=int)
    camera: int = attrs.field(converter=int)
    ccd: int = attrs.field(converter=int)
    cadence: int = attrs.field(converter=int)
    datasource: str = attrs.field(validator=_datasource)
    tmag: float = attrs.field(converter=float)
    ra: float = attrs.field(converter=float)
    dec: float = attrs.field(converter=float)
    priority: int | None = None
    pm_ra: float | None = None
    pm_dec: float | None = None
    teff: float | None = None

    @property
    def is_ffi(self) -> bool:
        return self.datasource == "ffi"

    @property
    def is_secondary(self) -> bool:
        """True for a secondary star of a TPF (datasource ``tpf:<TIC>``)."""
        return self.datasource.startswith("tpf:")

    @property
    def primary_starid(self) -> int:
        """TIC of the star whose TPF holds the pixels (itself unless secondary)."""
        return int(self.datasource[4:]) if self.is_secondary else self.starid

    def __str__(self) -> str:
        return (
            f"TIC {self.starid} (sector {self.sector}, camera {self.camera}, CCD {self.ccd}, "
            f"{self.datasource}, {self.cadence} s)"
        )


@attrs.frozen
class Stamp:
    """A rectangle of pixels: half-open row and column ranges in CCD coordinates."""

    row_min: int = attrs.field(converter=int)
    row_max: int = attrs.field(converter=int)
    col_min: int = attrs.field(converter=int)
    col_max: int = attrs.field(converter=int)

    def __attrs_post_init__(self) -> None:
        if self.row_max <= self.row_min or self.col_max <= self.col_min:
            raise ValueError(f"empty or inverted stamp {self.as_tuple()}")

    @classmethod
    def centred(cls, row: float, col: float, height: int, width: int) -> Stamp:
        """Stamp of (odd) size ``height`` × ``width`` centred on the pixel holding (row, col)."""
        r, c = round(row), round(col)
        return cls(r - height // 2, r + height // 2 + 1, c - width // 2, c + width // 2 + 1)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.row_max - self.row_min, self.col_max - self.col_min)

    @property
    def height(self) -> int:
        return self.row_max - self.row_min

    @property
    def width(self) -> int:
        return self.col_max - self.col_min

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.row_min, self.row_max, self.col_min, self.col_max)

    def clip(self, bounds: Stamp) -> Stamp:
        """The part of this stamp inside ``bounds``; raises ValueError if they do not overlap."""
        return Stamp(
            max(self.row_min, bounds.row_min),
            min(self.row_max, bounds.row_max),
            max(self.col_min, bounds.col_min),
            min(self.col_max, bounds.col_max),
        )

    def grow(self, *, down: int = 0, up: int = 0, left: int = 0, right: int = 0) -> Stamp:
        """A larger stamp: ``down`` rows below (smaller row numbers), ``up`` above, etc."""
        return Stamp(
            self.row_min - down, self.row_max + up, self.col_min - left, self.col_max + right
        )

    def contains(self, row: float, col: float) -> bool:
        """True if the pixel holding (row, col) lies in the stamp."""
        r, c = round(row), round(col)
        return self.row_min <= r < self.row_max and self.col_min <= c < self.col_max

    def slices(self, origin: tuple[int, int] = (0, 0)) -> tuple[slice, slice]:
        """Array slices for this stamp in an array whose [0, 0] is CCD pixel ``origin``."""
        r0, c0 = origin
        return (
            slice(self.row_min - r0, self.row_max - r0),
            slice(self.col_min - c0, self.col_max - c0),
        )

    def border_mask(self) -> np.ndarray:
        """Boolean image of the stamp's outermost pixels."""
        mask = np.zeros(self.shape, dtype=bool)
        mask[0, :] = mask[-1, :] = mask[:, 0] = mask[:, -1] = True
        return mask
