"""Names and places of light-curve files.

A raw light curve of target TIC ``n`` measured by photometry method ``m`` is written to::

    <output>/lightcurves/{m}/c{cadence:04d}/{first 5 digits of the 11-digit TIC}/
        tess{TIC:011d}-s{sector:03d}-{camera}-{ccd}-c{cadence:04d}-dr{DR:02d}-v{VER:02d}-tasoc_lc.fits.gz

(the file name is paper 003 §7's; the method directory lets several methods' results of one
target sit side by side). ``DR`` is the SPOC data release of the input pixels and ``VER`` the tasoc
processing version. Corrected light curves replace ``tasoc_lc`` by ``tasoc-{corrector}_lc``
(e.g. ``tasoc-cbv_lc``). Paths stored in databases are relative to ``<output>`` and always
use ``/``.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import attrs

from tasoc_core.data.target import Target
from tasoc_core.exceptions import TasocError

__all__ = [
    "LIGHTCURVE_DIR",
    "LIGHTCURVE_PATTERN",
    "LightCurveName",
    "lightcurve_name",
    "lightcurve_path",
    "lightcurve_relpath",
    "parse_lightcurve_name",
]

#: Directory under the output root that holds every light-curve file.
LIGHTCURVE_DIR = "lightcurves"

LIGHTCURVE_PATTERN = re.compile(
    r"^tess(?P<starid>\d{11})-s(?P<sector>\d{3})-(?P<camera>[1-4])-(?P<ccd>[1-4])"
    r"-c(?P<cadence>\d{4})-dr(?P<data_release>\d{2})-v(?P<version>\d{2})"
    r"-tasoc(?:-(?P<corrector>[a-z][a-z0-9_-]*))?_lc\.fits\.gz$"
)

_CORRECTOR = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# (field, lowest, highest): the ranges the fixed-width name fields can hold.
_RANGES = (
    ("starid", 0, 10**11 - 1),
    ("sector", 0, 999),
    ("camera", 1, 4),
    ("ccd", 1, 4),
    ("cadence", 1, 9999),
    ("data_release", 0, 99),
    ("version", 0, 99),
)


@attrs.frozen
class LightCurveName:
    """What a light-curve file name says."""

    starid: int
    sector: int
    camera: int
    ccd: int
    cadence: int
    data_release: int
    version: int
    #: Corrector short name for corrected light curves, None for raw photometry.
    corrector: str | None = None
    #: Photometry method (a directory level, not part of the file name); None: no level.
    method: str | None = None

    def __attrs_post_init__(self) -> None:
        for field, low, high in _RANGES:
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise TasocError(
                    f"cannot name a light-curve file with {field}={value!r} "
                    f"(must be an integer from {low} to {high})"
                )
        if self.method is not None and not _CORRECTOR.match(self.method):
            raise TasocError(f"cannot name a light-curve directory after method={self.method!r}")
        if self.corrector is not None and not _CORRECTOR.match(self.corrector):
            raise TasocError(
                f"cannot name a light-curve file with corrector={self.corrector!r} "
                "(a corrector name: lower-case letters, digits, '-' and '_', starting with a letter)"
            )

    @property
    def filename(self) -> str:
        kind = "tasoc_lc" if self.corrector is None else f"tasoc-{self.corrector}_lc"
        return (
            f"tess{self.starid:011d}-s{self.sector:03d}-{self.camera:d}-{self.ccd:d}"
            f"-c{self.cadence:04d}-dr{self.data_release:02d}-v{self.version:02d}-{kind}.fits.gz"
        )

    @property
    def relpath(self) -> PurePosixPath:
        """Path relative to the output root (``lightcurves/<method>/c…/…/name``)."""
        tic = f"{self.starid:011d}"
        method = (self.method,) if self.method else ()
        return PurePosixPath(
            LIGHTCURVE_DIR, *method, f"c{self.cadence:04d}", tic[:5], self.filename
        )


def _name(
    target: Target, data_release: int, version: int, corrector: str | None, method: str | None
) -> LightCurveName:
    return LightCurveName(
        target.starid,
        target.sector,
        target.camera,
        target.ccd,
        target.cadence,
        int(data_release),
        int(version),
        corrector,
        method,
    )


def lightcurve_name(
    target: Target,
    data_release: int,
    version: int,
    *,
    corrector: str | None = None,
    method: str | None = None,
) -> str:
    """File name of ``target``'s light curve.

    Examples
    --------
    >>> from tasoc_core.data import Target
    >>> t = Target(62483237, 1, 1, 2, 120, "tpf", 9.1, 0.0, 0.0)
    >>> lightcurve_name(t, 1, 5)
    'tess00062483237-s001-1-2-c0120-dr01-v05-tasoc_lc.fits.gz'
    """
    return _name(target, data_release, version, corrector, method).filename


def lightcurve_relpath(
    target: Target,
    data_release: int,
    version: int,
    *,
    corrector: str | None = None,
    method: str | None = None,
) -> PurePosixPath:
    """Path of ``target``'s light curve relative to the output root (stored in databases)."""
    return _name(target, data_release, version, corrector, method).relpath


def lightcurve_path(
    output: Path,
    target: Target,
    data_release: int,
    version: int,
    *,
    corrector: str | None = None,
    method: str | None = None,
) -> Path:
    """Absolute place of ``target``'s light curve under the output root ``output``."""
    relpath = lightcurve_relpath(target, data_release, version, corrector=corrector, method=method)
    return Path(output) / relpath


def parse_lightcurve_name(name: str | Path) -> LightCurveName | None:
    """Parse a light-curve file name; None if not one.

    The method is taken from the directory level if ``name`` is a path under
    ``lightcurves/<method>/c…/…/``.
    """
    path = PurePosixPath(Path(name).as_posix())
    m = LIGHTCURVE_PATTERN.match(path.name)
    if m is None:
        return None
    fields = {k: int(v) for k, v in m.groupdict().items() if k != "corrector"}
    parts = path.parts
    method = parts[-4] if len(parts) >= 5 and parts[-5] == LIGHTCURVE_DIR else None
    return LightCurveName(**fields, corrector=m["corrector"], method=method)
