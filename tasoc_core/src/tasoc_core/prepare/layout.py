"""Names, shapes and types of the prepare HDF5 file (documented in ``docs/prepare.md``)."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CUBES",
    "FORMAT",
    "FORMAT_VERSION",
    "PARTIAL_SUFFIX",
    "WORK_SUFFIX",
    "hdf5_name",
    "hdf5_path",
]

#: Value of the root attribute ``format``.
FORMAT = "tasoc-prepare"
#: Value of the root attribute ``format_version``; readers refuse newer versions.
FORMAT_VERSION = 1
#: The four time-first (T, rows, cols) cubes, in the order of :class:`~tasoc_core.data.StampCubes`.
CUBES = ("images", "images_err", "backgrounds", "pixel_flags")
#: Suffix of the file while it is being written (renamed when complete).
PARTIAL_SUFFIX = ".partial"
#: Suffix of the scratch file holding intermediate results of an unfinished run.
WORK_SUFFIX = ".work"


def hdf5_name(sector: int, camera: int, ccd: int) -> str:
    """File name of the prepare output of one sector/camera/CCD."""
    return f"sector{sector:03d}_camera{camera}_ccd{ccd}.hdf5"


def hdf5_path(output: Path, sector: int, camera: int, ccd: int) -> Path:
    """``<output>/prepare/sector{SSS}_camera{C}_ccd{D}.hdf5`` (``output`` = ``paths.output``)."""
    return Path(output) / "prepare" / hdf5_name(sector, camera, ccd)
