"""The light-curve and validation docs describe what the code writes and checks."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import numpy as np
from astropy.io import fits

from tasoc_core.families import PhotometryResult
from tasoc_core.flags import DATAVAL, QUALITY
from tasoc_core.output import (
    APERTURE_BITS,
    LIGHTCURVE_COLUMNS,
    PROVENANCE_KEYWORDS,
    Provenance,
    build_lightcurve_hdus,
)
from tasoc_core.photometry import compute_diagnostics
from tasoc_core.testing import synthetic_target
from tasoc_core.validation import DEFAULT_VALIDATORS

DOCS = Path(__file__).resolve().parents[1] / "docs"
_STRUCTURAL = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|TFIELDS|T(TYPE|FORM|UNIT|DISP)\d+"
    r"|CHECKSUM|DATASUM)$"
)


def _hdus() -> fits.HDUList:
    data = synthetic_target(ncadences=50, shape=(15, 15)).data
    aperture = np.zeros(data.stamp.shape, dtype=bool)
    aperture[6:9, 6:9] = True
    result = PhotometryResult(
        data=data,
        flux=data.images[:, aperture].sum(axis=1),
        flux_err=np.ones(50),
        aperture=aperture,
        centroid=np.tile(data.position, (50, 1)),
    )
    return build_lightcurve_hdus(
        result,
        compute_diagnostics(result),
        provenance=Provenance(method="aperture", plugin="aperture"),
        data_release=1,
        version=1,
    )


def test_every_keyword_and_column_written_is_documented():
    text = (DOCS / "lightcurve-files.md").read_text()
    hdus = _hdus()
    keywords = set()
    for hdu in hdus:
        keywords |= {k for k in hdu.header if not _STRUCTURAL.match(k)}
    wcs = {
        k
        for k in hdus["SUMIMAGE"].header
        if re.match(
            r"^(CRPIX|CRVAL|CDELT|CUNIT|CTYPE|PC|LONPOLE|LATPOLE|MJDREF|WCSAXES|RADESYS)", k
        )
    }
    missing = sorted(k for k in keywords - wcs if f"`{k}`" not in text)
    assert not missing, f"docs/lightcurve-files.md does not mention {missing}"
    for name in LIGHTCURVE_COLUMNS:
        assert f"| `{name}` |" in text, name
    for _, (key, _) in PROVENANCE_KEYWORDS.items():
        assert f"`{key}`" in text
    for bit in APERTURE_BITS.values():
        assert str(bit) in text
    for flag in QUALITY:
        assert flag.name in text, flag.name


def test_validation_doc_lists_every_flag_and_validator():
    text = (DOCS / "validation.md").read_text()
    for flag in DATAVAL:
        assert re.search(rf"\| {flag.value} \| {flag.name} \|", text), flag.name
    for cls in DEFAULT_VALIDATORS:
        assert f"`{cls.name}`" in text, cls.name
    assert "13408" in text


def test_validator_settings_are_documented():
    text = (DOCS / "configuration.md").read_text()
    for cls in DEFAULT_VALIDATORS:
        for field in attrs.fields(cls.Settings):
            assert f"`[validators.{cls.name}]`" in text, cls.name
            assert f"| `{field.name}` |" in text, f"{cls.name}.{field.name}"
