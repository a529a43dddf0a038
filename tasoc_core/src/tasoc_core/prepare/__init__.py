"""``tasoc prepare``: FFIs of one camera/CCD → one HDF5 file of time-first cubes.

The file holds the background-subtracted images, their uncertainties, the subtracted
(time-smoothed) backgrounds and per-pixel flags as (T, rows, cols) cubes chunked for fast
stamp reads, plus per-frame times, quality, WCS and pointing, and the sum image. Its
layout is documented in ``docs/prepare.md``; :class:`tasoc_core.data.HDF5Source` reads it.
"""

from __future__ import annotations

from tasoc_core.prepare.layout import CUBES, FORMAT, FORMAT_VERSION, hdf5_name, hdf5_path
from tasoc_core.prepare.run import PrepareResult, ProgressCallback, prepare_ccd

__all__ = [
    "CUBES",
    "FORMAT",
    "FORMAT_VERSION",
    "PrepareResult",
    "ProgressCallback",
    "hdf5_name",
    "hdf5_path",
    "prepare_ccd",
]
