"""Light-curve files: naming, provenance, the FITS writer and DATAVAL updates.

The layout of the files is documented in ``docs/lightcurve-files.md``.
"""

from __future__ import annotations

from tasoc_core.output.dataval import read_dataval, update_dataval
from tasoc_core.output.lightcurve import (
    APERTURE_BITS,
    FILE_VERSION,
    LIGHTCURVE_COLUMNS,
    ORIGIN,
    aperture_image,
    build_lightcurve_hdus,
    quality_column,
    write_lightcurve,
)
from tasoc_core.output.naming import (
    LIGHTCURVE_DIR,
    LightCurveName,
    lightcurve_name,
    lightcurve_path,
    lightcurve_relpath,
    parse_lightcurve_name,
)
from tasoc_core.output.provenance import PROVENANCE_KEYWORDS, Provenance

__all__ = [
    "APERTURE_BITS",
    "FILE_VERSION",
    "LIGHTCURVE_COLUMNS",
    "LIGHTCURVE_DIR",
    "ORIGIN",
    "PROVENANCE_KEYWORDS",
    "LightCurveName",
    "Provenance",
    "aperture_image",
    "build_lightcurve_hdus",
    "lightcurve_name",
    "lightcurve_path",
    "lightcurve_relpath",
    "parse_lightcurve_name",
    "quality_column",
    "read_dataval",
    "update_dataval",
    "write_lightcurve",
]
