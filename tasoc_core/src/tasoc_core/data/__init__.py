"""The data-access layer: targets, stamps, pixel sources and the object methods receive."""

from __future__ import annotations

from tasoc_core.data.array_source import ArraySource
from tasoc_core.data.hdf5_source import HDF5Source
from tasoc_core.data.source import Instrument, PixelSource, StampCubes, Stars, Timeline
from tasoc_core.data.stamps import default_stamp_size
from tasoc_core.data.target import SCIENCE_COLUMNS, SCIENCE_ROWS, Stamp, Target
from tasoc_core.data.target_data import TargetData

__all__ = [
    "SCIENCE_COLUMNS",
    "SCIENCE_ROWS",
    "ArraySource",
    "HDF5Source",
    "Instrument",
    "PixelSource",
    "Stamp",
    "StampCubes",
    "Stars",
    "Target",
    "TargetData",
    "Timeline",
    "default_stamp_size",
]
