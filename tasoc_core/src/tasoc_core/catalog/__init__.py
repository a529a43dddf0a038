"""Per-CCD star catalogs: building them from a catalog source, and reading them back.

``tasoc catalog`` writes ``<paths.output>/catalog/catalog_sector{SSS}_camera{C}_ccd{D}.sqlite``
for every camera/CCD with data: the stars within ``catalog.buffer_deg`` of the CCD's
footprint, with positions propagated to the sector reference epoch. The data-access layer
reads them with :class:`CatalogFile` and :func:`make_stars_lookup`. See ``docs/catalog.md``.
"""

from __future__ import annotations

from tasoc_core.catalog._sky import (
    SkyPolygon,
    angular_distance,
    btjd_to_epoch,
    propagate_proper_motion,
    radec_to_vector,
    vector_to_radec,
)
from tasoc_core.catalog._tpf import TPFHeader, read_tpf_header, read_tpf_location
from tasoc_core.catalog.build import (
    CatalogBuildResult,
    build_catalog,
    catalog_dir,
    catalog_source_from_config,
    make_catalogs,
    scan_inputs,
)
from tasoc_core.catalog.file_source import FileCatalogSource, FileSourceSettings, read_extract
from tasoc_core.catalog.footprint import (
    CCDFootprint,
    camera_distance,
    footprint_from_ffis,
    footprint_from_tpfs,
    select_reference_frame,
    stamp_polygon,
)
from tasoc_core.catalog.lookup import StarsLookup, make_stars_lookup, project_stars
from tasoc_core.catalog.store import (
    CATALOG_FORMAT_VERSION,
    CatalogFile,
    CatalogSettings,
    CatalogStars,
    catalog_path,
    write_catalog,
)

__all__ = [
    "CATALOG_FORMAT_VERSION",
    "CCDFootprint",
    "CatalogBuildResult",
    "CatalogFile",
    "CatalogSettings",
    "CatalogStars",
    "FileCatalogSource",
    "FileSourceSettings",
    "SkyPolygon",
    "StarsLookup",
    "TPFHeader",
    "angular_distance",
    "btjd_to_epoch",
    "build_catalog",
    "camera_distance",
    "catalog_dir",
    "catalog_path",
    "catalog_source_from_config",
    "footprint_from_ffis",
    "footprint_from_tpfs",
    "make_catalogs",
    "make_stars_lookup",
    "project_stars",
    "propagate_proper_motion",
    "radec_to_vector",
    "read_extract",
    "read_tpf_header",
    "read_tpf_location",
    "scan_inputs",
    "select_reference_frame",
    "stamp_polygon",
    "vector_to_radec",
    "write_catalog",
]
