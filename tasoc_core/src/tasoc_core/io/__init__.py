"""Reading mission inputs: file discovery and SPOC file formats."""

from __future__ import annotations

from tasoc_core.io.ffi import (
    FULL_SHAPE,
    FFIFrame,
    FFIHeader,
    read_ffi,
    read_ffi_header,
    read_ffi_pixels,
)
from tasoc_core.io.files import (
    FFIName,
    TPFName,
    find_ffis,
    find_tpfs,
    parse_ffi_name,
    parse_tpf_name,
)

__all__ = [
    "FULL_SHAPE",
    "FFIFrame",
    "FFIHeader",
    "FFIName",
    "TPFName",
    "find_ffis",
    "find_tpfs",
    "parse_ffi_name",
    "parse_tpf_name",
    "read_ffi",
    "read_ffi_header",
    "read_ffi_pixels",
]
