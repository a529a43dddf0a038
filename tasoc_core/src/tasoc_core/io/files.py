"""Finding SPOC input files by name.

Input directories are searched recursively (symlinks followed), so users can drop a sector
download in as it comes. Names follow the SPOC conventions:

* FFI: ``tess{YYYYDDDHHMMSS}-s{SSSS}-{cam}-{ccd}-{scid:04d}-[xsab]_ffic.fits[.gz]``
* TPF: ``tess{YYYYDDDHHMMSS}-s{SSSS}-{TIC:016d}-{scid:04d}-[xsab]_tp.fits[.gz]`` (120 s) and
  ``…_fast-tp.fits[.gz]`` (20 s)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs

__all__ = [
    "FFI_PATTERN",
    "TPF_PATTERN",
    "FFIName",
    "TPFName",
    "find_ffis",
    "find_tpfs",
    "parse_ffi_name",
    "parse_tpf_name",
]

FFI_PATTERN = re.compile(
    r"^tess(?P<date>\d{13})-s(?P<sector>\d{4})-(?P<camera>[1-4])-(?P<ccd>[1-4])-(?P<scid>\d{4})-[xsab]_ffic\.fits(\.gz)?$"
)
TPF_PATTERN = re.compile(
    r"^tess(?P<date>\d{13})-s(?P<sector>\d{4})-(?P<tic>\d{16})-(?P<scid>\d{4})-[xsab]_(?P<fast>fast-)?tp\.fits(\.gz)?$"
)


@attrs.frozen
class FFIName:
    """What an FFI file name says."""

    path: Path
    sector: int
    camera: int
    ccd: int
    date: str


@attrs.frozen
class TPFName:
    """What a TPF file name says."""

    path: Path
    sector: int
    starid: int
    fast: bool  #: 20-s cadence

    @property
    def cadence(self) -> int:
        return 20 if self.fast else 120


def parse_ffi_name(path: Path) -> FFIName | None:
    """Parse an FFI file name; None if it is not one."""
    m = FFI_PATTERN.match(Path(path).name)
    if m is None:
        return None
    return FFIName(Path(path), int(m["sector"]), int(m["camera"]), int(m["ccd"]), m["date"])


def parse_tpf_name(path: Path) -> TPFName | None:
    """Parse a TPF file name; None if it is not one."""
    m = TPF_PATTERN.match(Path(path).name)
    if m is None:
        return None
    return TPFName(Path(path), int(m["sector"]), int(m["tic"]), m["fast"] is not None)


def _walk(directory: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(directory, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


def _as_set(value: int | Iterable[int] | None) -> set[int] | None:
    if value is None:
        return None
    return {value} if isinstance(value, int) else set(value)


def find_ffis(
    directory: Path,
    *,
    sector: int | None = None,
    camera: int | Iterable[int] | None = None,
    ccd: int | Iterable[int] | None = None,
) -> list[FFIName]:
    """Calibrated FFIs under ``directory``, sorted by file name (which is time order)."""
    cameras, ccds = _as_set(camera), _as_set(ccd)
    found = []
    for path in _walk(Path(directory)):
        info = parse_ffi_name(path)
        if info is None:
            continue
        if sector is not None and info.sector != sector:
            continue
        if cameras is not None and info.camera not in cameras:
            continue
        if ccds is not None and info.ccd not in ccds:
            continue
        found.append(info)
    return sorted(found, key=lambda f: f.path.name)


def find_tpfs(
    directory: Path, *, sector: int | None = None, fast: bool | None = None
) -> list[TPFName]:
    """Target pixel files under ``directory``, sorted by file name.

    Camera and CCD are not in TPF names; filter on the headers where needed.
    """
    found = []
    for path in _walk(Path(directory)):
        info = parse_tpf_name(path)
        if info is None:
            continue
        if sector is not None and info.sector != sector:
            continue
        if fast is not None and info.fast != fast:
            continue
        found.append(info)
    return sorted(found, key=lambda f: f.path.name)
