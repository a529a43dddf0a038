"""A real SPOC target pixel file through diagnostics, the writer and lightkurve.

TIC 25155310, sector 1, camera 4 / CCD 1, first five 2-min cadences (see
``tests/data/PROVENANCE.md``). SPOC's own optimal aperture is used as the photometric
aperture, so the APERTURE image we write can be compared bit for bit with SPOC's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from tasoc_core.data import ArraySource, Instrument, Stamp, Stars, Target, TargetData, Timeline
from tasoc_core.families import PhotometryResult
from tasoc_core.flags import QUALITY
from tasoc_core.output import Provenance, write_lightcurve
from tasoc_core.photometry import compute_diagnostics

TPF = Path(__file__).resolve().parents[1] / "data" / "tess25155310-s01-first-cadences.fits.gz"


class TPFSource(ArraySource):
    """An in-memory source that reports SPOC's APERTURE bits, as a TPF source would."""

    def __init__(self, *args, spoc_aperture: np.ndarray, **kwargs):
        super().__init__(*args, **kwargs)
        self._spoc_aperture = spoc_aperture

    def aperture_flags(self, stamp: Stamp) -> np.ndarray:
        rows, cols = stamp.slices((self.max_stamp.row_min, self.max_stamp.col_min))
        return self._spoc_aperture[rows, cols]


@pytest.fixture(scope="module")
def tpf():
    with fits.open(TPF) as hdul:
        primary = dict(hdul[0].header)
        pixels = hdul[1].data
        table = {name: np.array(pixels[name]) for name in pixels.columns.names}
        aperture_header = hdul[2].header.copy()
        spoc_aperture = np.array(hdul[2].data)
    return primary, table, aperture_header, spoc_aperture


@pytest.fixture(scope="module")
def written(tpf, tmp_path_factory):
    primary, table, aperture_header, spoc_aperture = tpf
    # TPF pixel (0, 0) is CCD column 1CRV5P - 1 and row 2CRV5P - 1 (0-based).
    col0 = aperture_header["CRVAL1P"] - 1
    row0 = aperture_header["CRVAL2P"] - 1
    wcs = WCS(aperture_header)
    wcs.wcs.crpix = wcs.wcs.crpix + np.array([col0, row0])  # TPF pixels -> CCD pixels
    ra, dec = aperture_header["RA_OBJ"], aperture_header["DEC_OBJ"]
    timeline = Timeline(table["TIME"], table["TIMECORR"], table["CADENCENO"], table["QUALITY"])
    instrument = Instrument(
        cadence=120,
        num_frm=60,
        nreadout=48,
        data_rel=primary["DATA_REL"],
        procver=primary["PROCVER"],
        crmiten=primary["CRMITEN"],
        crblksz=primary["CRBLKSZ"],
        crspoc=primary["CRSPOC"],
    )
    source = TPFSource(
        table["FLUX"],
        timeline,
        wcs,
        Stars([primary["TICID"]], [primary["TESSMAG"]], [ra], [dec], [np.nan], [np.nan]),
        origin=(row0, col0),
        images_err=table["FLUX_ERR"],
        backgrounds=table["FLUX_BKG"],
        instrument=instrument,
        jitter=np.column_stack([table["POS_CORR2"], table["POS_CORR1"]]),
        spoc_aperture=spoc_aperture,
    )
    target = Target(
        starid=primary["TICID"],
        sector=primary["SECTOR"],
        camera=primary["CAMERA"],
        ccd=primary["CCD"],
        cadence=120,
        datasource="tpf",
        tmag=primary["TESSMAG"],
        ra=ra,
        dec=dec,
        pm_ra=primary["PMRA"],
        pm_dec=primary["PMDEC"],
        teff=primary["TEFF"],
    )
    data = TargetData(target, source)
    mask = (spoc_aperture & 2) != 0
    images = data.images[:, mask].astype(np.float64)
    rows, cols = np.nonzero(mask)
    centroid = np.column_stack(
        [
            (images * rows).sum(axis=1) / images.sum(axis=1) + row0,
            (images * cols).sum(axis=1) / images.sum(axis=1) + col0,
        ]
    )
    result = PhotometryResult(
        data=data,
        flux=images.sum(axis=1),
        flux_err=np.sqrt((data.images_err[:, mask].astype(np.float64) ** 2).sum(axis=1)),
        background=data.backgrounds[:, mask].sum(axis=1),
        centroid=centroid,
        aperture=mask,
    )
    diagnostics = compute_diagnostics(result)
    path = write_lightcurve(
        result,
        diagnostics,
        path=tmp_path_factory.mktemp("real"),
        provenance=Provenance(method="aperture", plugin="test"),
        version=1,
        ticver=str(primary["TICVER"]),
    )
    return result, diagnostics, path


def test_aperture_image_equals_spocs(tpf, written):
    *_, spoc_aperture = tpf
    _, _, path = written
    # SPOC bits: 1 collected, 2 optimal aperture, 4 background, 8 centroid, 256 output D.
    np.testing.assert_array_equal(fits.getdata(path, "APERTURE"), spoc_aperture)


def test_sliced_wcs_agrees_with_spocs_aperture_wcs(tpf, written):
    _, _, aperture_header, _ = tpf
    _, _, path = written
    ours = WCS(fits.getheader(path, "SUMIMAGE"))
    spoc = WCS(aperture_header)
    grid = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [5.1, 4.3], [10.0, 10.0]])
    np.testing.assert_allclose(ours.all_pix2world(grid, 0), spoc.all_pix2world(grid, 0), atol=1e-9)
    sky = ([aperture_header["RA_OBJ"]], [aperture_header["DEC_OBJ"]])
    x, y = ours.all_world2pix(*sky, 0)
    x_spoc, y_spoc = spoc.all_world2pix(*sky, 0)
    assert abs(x[0] - x_spoc[0]) < 0.01
    assert abs(y[0] - y_spoc[0]) < 0.01
    header = fits.getheader(path, "SUMIMAGE")
    assert (header["CRVAL1P"], header["CRVAL2P"]) == (1619, 389)


def test_columns_carry_spocs_times_quality_and_pointing(tpf, written):
    _, table, _, _ = tpf
    _result, _, path = written
    rows = fits.getdata(path, "LIGHTCURVE")
    np.testing.assert_array_equal(rows["TIME"], table["TIME"])
    np.testing.assert_array_equal(rows["TIMECORR"], table["TIMECORR"])
    np.testing.assert_array_equal(rows["CADENCENO"], table["CADENCENO"])
    np.testing.assert_array_equal(rows["PIXEL_QUALITY"], [8, 0, 0, 0, 0])  # Earth point
    np.testing.assert_array_equal(rows["QUALITY"], [QUALITY["FlaggedBadData"], 0, 0, 0, 0])
    np.testing.assert_array_equal(rows["POS_CORR1"], table["POS_CORR1"].astype(np.float64))
    np.testing.assert_array_equal(rows["POS_CORR2"], table["POS_CORR2"].astype(np.float64))
    # The star sits near the centre of the 11x11 stamp at CCD column 1624, row 393.
    assert np.all(np.abs(rows["MOM_CENTR1"] - 1624.1) < 0.5)
    assert np.all(np.abs(rows["MOM_CENTR2"] - 393.3) < 0.5)
    # 9-pixel aperture of a Tmag 10.56 star: within 30 % of 10^(-0.4 (T - 20.451)) e-/s.
    expected = 10 ** (-0.4 * (10.555 - 20.451))
    assert np.all(np.abs(rows["FLUX_RAW"] / expected - 1) < 0.3)


def test_headers_from_a_real_tpf(tpf, written):
    primary, *_ = tpf
    _, diagnostics, path = written
    header = fits.getheader(path, 0)
    assert header["TICID"] == 25155310
    assert (header["SECTOR"], header["CAMERA"], header["CCD"]) == (1, 4, 1)
    assert header["SPOCVER"] == primary["PROCVER"]
    assert header["TICVER"] == "7"
    assert header["PMTOTAL"] == pytest.approx(math.hypot(63.0735, 53.6783))
    lc = fits.getheader(path, 1)
    assert lc["XPOSURE"] == pytest.approx(95.04)  # 2 s × 0.792 × 60 frames
    assert lc["TIMEDEL"] == pytest.approx(120 / 86400)
    # Four good 2-min cadences: one hourly bin, so no hourly RMS and no cubic fit.
    assert diagnostics.num_good == 4
    assert math.isnan(diagnostics.rms_hour)
    assert math.isnan(diagnostics.variability)
    assert lc["RMS_HOUR"] is None
    assert lc["VARIABIL"] is None
    assert lc["PTP_MDV"] == pytest.approx(diagnostics.ptp * 1e6)


def test_lightkurve_opens_it(written, lightkurve):
    result, _, path = written
    lc = lightkurve.read(path, flux_column="flux_raw")
    assert lc.meta["TICID"] == 25155310
    np.testing.assert_allclose(lc.flux.value, result.flux)
    assert lc.time.format == "btjd"
