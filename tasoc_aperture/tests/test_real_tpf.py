"""The aperture method on real SPOC pixels (a Sector 1 TPF, see data/PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from tasoc_aperture import AperturePhotometry
from tasoc_core.data import ArraySource, Instrument, Stars, Target, TargetData, Timeline
from tasoc_core.status import Status
from tasoc_core.testing import mag_to_flux

TPF = Path(__file__).parent / "data" / "tess25155310-s01-first-cadences.fits.gz"


@pytest.fixture(scope="module")
def tpf() -> dict:
    with fits.open(TPF) as hdul:
        table = hdul["PIXELS"].data
        pixhead = hdul["PIXELS"].header
        primary = hdul[0].header
        aperture = np.array(hdul["APERTURE"].data)
        wcs = WCS(hdul["APERTURE"].header)
        cube = {
            name: np.array(table[name], dtype=np.float32)
            for name in ("FLUX", "FLUX_ERR", "FLUX_BKG")
        }
        timeline = Timeline(table["TIME"], table["TIMECORR"], table["CADENCENO"], table["QUALITY"])
        origin = (int(pixhead["2CRV5P"]) - 1, int(pixhead["1CRV5P"]) - 1)
        star = (
            int(primary["TICID"]),
            float(primary["TESSMAG"]),
            float(primary["RA_OBJ"]),
            float(primary["DEC_OBJ"]),
        )
    # The APERTURE WCS is in TPF pixels; tasoc works in 0-based CCD pixels.
    wcs.wcs.crpix = wcs.wcs.crpix + np.array([origin[1], origin[0]])
    return dict(cube=cube, timeline=timeline, origin=origin, star=star, wcs=wcs, spoc=aperture)


def test_real_tpf_aperture_contains_spoc_optimal_aperture(tpf):
    tic, tmag, ra, dec = tpf["star"]
    source = ArraySource(
        tpf["cube"]["FLUX"],
        tpf["timeline"],
        tpf["wcs"],
        Stars([tic], [tmag], [ra], [dec], [np.nan], [np.nan]),
        origin=tpf["origin"],
        images_err=tpf["cube"]["FLUX_ERR"],
        backgrounds=tpf["cube"]["FLUX_BKG"],
        instrument=Instrument(cadence=120, num_frm=60),
    )
    target = Target(tic, 1, 4, 1, 120, "tpf", tmag, ra, dec)
    data = TargetData(target, source)
    res = AperturePhotometry().photometry(data)
    assert res.status == Status.OK
    assert res.data.stamp == source.max_stamp
    # The 11x11 SPOC stamp is small: the aperture reaches three of its edges, which a TPF
    # cannot grow past, with > 1 % of the star's flux on them.
    assert res.tags == frozenset({"edge"})
    assert res.warnings[0].startswith("aperture touches the down/up/right edge")
    spoc = (tpf["spoc"] & 2) > 0
    assert spoc.sum() == 9
    assert np.all(res.aperture[spoc]), "every SPOC optimal-aperture pixel is in ours"
    assert res.aperture.sum() > spoc.sum()
    spoc_flux = np.nansum(tpf["cube"]["FLUX"][:, spoc], axis=1)
    assert np.all(res.flux > spoc_flux)
    # Catalog flux of a Tmag 10.555 star from paper 003's zero point (measured zero points
    # 20.40–20.51 give 0.95–1.05 of it; faint uncatalogued neighbours add a little here).
    assert np.median(res.flux) / mag_to_flux(tmag) == pytest.approx(1.0, abs=0.1)
    # Flux-weighted centroid within half a pixel of the catalog position.
    assert np.median(res.centroid, axis=0) == pytest.approx(data.position, abs=0.5)
    assert res.contamination == 0.0
