"""Contents of the light-curve FITS file: every HDU, column, keyword and flag."""

from __future__ import annotations

import gzip
import math
import os

import attrs
import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS

from tasoc_core import __version__
from tasoc_core.exceptions import TargetError
from tasoc_core.flags import PIXEL_FLAGS, QUALITY, TESS_QUALITY
from tasoc_core.output import (
    LIGHTCURVE_COLUMNS,
    Provenance,
    build_lightcurve_hdus,
    lightcurve_relpath,
    write_lightcurve,
)
from tasoc_core.photometry import compute_diagnostics
from tasoc_core.rules import Rule

N = 240
DATAVAL_LOW_RMS = 512
RULE = Rule(method="aperture", datasource="ffi", tmag_max=12.0, origin="config", index=2)
PROVENANCE = Provenance(
    method="aperture", plugin="aperture", distribution="tasoc-aperture", version="0.3.1", rule=RULE
)


def _write(result, tmp_path, **kwargs):
    options = {"path": tmp_path, "provenance": PROVENANCE, "version": 3, "ticver": "8.2"}
    return write_lightcurve(result, compute_diagnostics(result), **(options | kwargs))


@pytest.fixture
def jitter():
    t = np.arange(N)
    return np.column_stack([0.01 * np.sin(t / 7.0), -0.02 * np.cos(t / 5.0)])  # (Δrow, Δcol)


@pytest.fixture
def written(make_data, photometry, jitter, tmp_path):
    quality = np.zeros(N, dtype=np.int32)
    quality[3] = TESS_QUALITY["Desat"]
    data = make_data(ncadences=N, jitter=jitter, quality=quality)
    result = photometry(data)
    path = _write(result, tmp_path)
    return result, path


def test_file_is_placed_by_the_naming_scheme_and_gzipped(written, tmp_path):
    result, path = written
    assert path == tmp_path / lightcurve_relpath(result.data.target, 7, 3, method=PROVENANCE.method)
    assert path.parent.parent.parent.name == PROVENANCE.method
    assert path.name == "tess00123456789-s014-2-3-c1800-dr07-v03-tasoc_lc.fits.gz"
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_hdus_and_checksums(written):
    _, path = written
    with fits.open(path, checksum=True) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "LIGHTCURVE", "SUMIMAGE", "APERTURE"]
        assert isinstance(hdul[1], fits.BinTableHDU)
        for hdu in hdul:
            assert hdu.verify_checksum() == 1
            assert hdu.verify_datasum() == 1


def test_primary_header(written):
    result, path = written
    target = result.data.target
    header = fits.getheader(path, 0)
    expected = {
        "NEXTEND": 3,
        "EXTNAME": "PRIMARY",
        "ORIGIN": "TASOC/Aarhus",
        "TELESCOP": "TESS",
        "INSTRUME": "TESS Photometer",
        "FILTER": "TESS",
        "OBJECT": "TIC 123456789",
        "TICID": 123456789,
        "CAMERA": 2,
        "CCD": 3,
        "SECTOR": 14,
        "DATASRC": "ffi",
        "PROCVER": f"tasoc-core-{__version__}",
        "SPOCVER": "spoc-4.0.14-20190131",
        "FILEVER": "2.0",
        "DATA_REL": 7,
        "VERSION": 3,
        "PHOTMET": "aperture",
        "PHOTPLUG": "aperture",
        "PHOTDIST": "tasoc-aperture",
        "PHOTDVER": "0.3.1",
        "PHOTRULE": RULE.describe(),
        "RADESYS": "ICRS",
        "EQUINOX": 2000.0,
        "PMRA": 12.5,
        "PMDEC": -3.0,
        "TESSMAG": 10.0,
        "TEFF": 5750.0,
        "TICVER": "8.2",
        "CRMITEN": True,
        "CRBLKSZ": 10,
        "CRSPOC": False,
        "CONTAM": 0.02,
        "DATAVAL": 0,
    }
    assert {key: header[key] for key in expected} == expected
    assert header["RA_OBJ"] == target.ra
    assert header["DEC_OBJ"] == target.dec
    assert header["PMTOTAL"] == pytest.approx(math.hypot(12.5, 3.0))
    assert header["PHOTRULE"] == "config[2]: ffi, Tmag<=12 -> aperture"
    assert Time(header["DATE"]).jd == pytest.approx(Time.now().jd, abs=1.5)


def test_unknown_catalog_values_are_undefined_not_invented(make_data, photometry, tmp_path):
    data = make_data(ncadences=20, pm_ra=None, pm_dec=None, teff=None)
    path = _write(photometry(data, contamination=None), tmp_path, ticver=None)
    header = fits.getheader(path, 0)
    for key in ("PMRA", "PMDEC", "PMTOTAL", "TEFF", "TICVER", "CONTAM"):
        assert key in header
        assert header[key] is None


def test_lightcurve_columns_units_and_values(written, jitter):
    result, path = written
    data = result.data
    with fits.open(path) as hdul:
        table = hdul["LIGHTCURVE"]
        columns = {c.name: c for c in table.columns}
        assert list(columns) == list(LIGHTCURVE_COLUMNS)
        for name, (fmt, unit, disp, _) in LIGHTCURVE_COLUMNS.items():
            assert columns[name].format == fmt
            assert columns[name].unit == unit
            assert columns[name].disp == disp
        assert columns["TIME"].unit == "BJD - 2457000, days"
        assert columns["FLUX_RAW"].unit == "e-/s"
        assert columns["FLUX_CORR"].unit == "ppm"
        assert columns["MOM_CENTR1"].unit == "pixels"
        rows = table.data
        np.testing.assert_array_equal(rows["TIME"], data.time)
        np.testing.assert_array_equal(rows["TIMECORR"], data.timecorr.astype(np.float32))
        np.testing.assert_array_equal(rows["CADENCENO"], data.cadenceno)
        np.testing.assert_array_equal(rows["FLUX_RAW"], result.flux)
        np.testing.assert_array_equal(rows["FLUX_RAW_ERR"], result.flux_err)
        np.testing.assert_array_equal(rows["FLUX_BKG"], result.background)
        assert np.all(np.isnan(rows["FLUX_CORR"]))
        assert np.all(np.isnan(rows["FLUX_CORR_ERR"]))
        np.testing.assert_array_equal(rows["PIXEL_QUALITY"], data.quality)
        # SPOC convention: 1-based CCD column (1) and row (2).
        np.testing.assert_allclose(rows["MOM_CENTR1"], result.centroid[:, 1] + 1.0)
        np.testing.assert_allclose(rows["MOM_CENTR2"], result.centroid[:, 0] + 1.0)
        assert np.median(rows["MOM_CENTR1"]) == pytest.approx(1033.6 + 1.0, abs=0.05)
        assert np.median(rows["MOM_CENTR2"]) == pytest.approx(812.3 + 1.0, abs=0.05)
        np.testing.assert_array_equal(rows["POS_CORR1"], jitter[:, 1])
        np.testing.assert_array_equal(rows["POS_CORR2"], jitter[:, 0])


def test_lightcurve_header(written):
    result, path = written
    time = result.data.time
    diag = compute_diagnostics(result)
    header = fits.getheader(path, "LIGHTCURVE")
    half = 1800 / 2 / 86400
    assert header["INHERIT"] is True
    assert header["TIMEREF"] == "SOLARSYSTEM"
    assert header["TIMESYS"] == "TDB"
    assert (header["BJDREFI"], header["BJDREFF"], header["TIMEUNIT"]) == (2457000, 0.0, "d")
    assert header["TSTART"] == pytest.approx(time[0] - half, abs=1e-12)
    assert header["TSTOP"] == pytest.approx(time[-1] + half, abs=1e-12)
    assert header["TELAPSE"] == pytest.approx(header["TSTOP"] - header["TSTART"])
    assert header["MJD-BEG"] == pytest.approx(header["TSTART"] + 2457000 - 2400000.5)
    assert header["MJD-END"] == pytest.approx(header["TSTOP"] + 2457000 - 2400000.5)
    start = Time(header["DATE-OBS"], scale="utc").tdb.jd - 2457000
    assert start == pytest.approx(header["TSTART"], abs=1e-8)
    end = Time(header["DATE-END"], scale="utc").tdb.jd - 2457000
    assert end == pytest.approx(header["TSTOP"], abs=1e-8)
    assert header["DEADC"] == pytest.approx(0.792)
    assert header["LIVETIME"] == pytest.approx(header["TELAPSE"] * 0.792)
    assert header["EXPOSURE"] == pytest.approx(header["TELAPSE"] * 0.792)
    assert header["XPOSURE"] == pytest.approx(2.0 * 0.792 * 900)  # 1425.6 s
    assert header["TIMEPIXR"] == 0.5
    assert header["TIMEDEL"] == pytest.approx(1800 / 86400)
    assert (header["INT_TIME"], header["READTIME"], header["FRAMETIM"]) == (1.98, 0.02, 2.0)
    assert (header["NUM_FRM"], header["NREADOUT"]) == (900, 720)
    assert header["MEANFLUX"] == pytest.approx(diag.mean_flux)
    assert header["RMS_HOUR"] == pytest.approx(diag.rms_hour * 1e6)
    assert header["PTP_MDV"] == pytest.approx(diag.ptp * 1e6)
    assert header["VARIABIL"] == pytest.approx(diag.variability)
    assert header["NUMGOOD"] == N - 1
    assert header["MASKSIZE"] == diag.mask_size
    assert header["EDGEFLUX"] == 0.0
    assert header["AP_RAD"] == 2.5  # the method's own card
    assert header.comments["AP_RAD"] == "aperture radius, pixels"


def test_quality_bits_from_spoc_quality_pixel_flags_and_the_method(make_data, photometry, tmp_path):
    quality = np.zeros(N, dtype=np.int32)
    quality[3] = TESS_QUALITY["Desat"]  # default bitmask -> FlaggedBadData
    quality[4] = TESS_QUALITY["Straylight"]  # not in the default bitmask
    quality[5] = TESS_QUALITY["ManualExclude"] | TESS_QUALITY["Straylight"]
    shape = (25, 25)
    flags = np.zeros((N, *shape), dtype=np.uint8)
    shen = PIXEL_FLAGS["BackgroundShenanigans"]
    data = make_data(ncadences=N, quality=quality, pixel_flags=flags)
    result = photometry(data)
    # Pixel-flag cube coordinates: the source starts 12 rows/cols before the target pixel.
    r0 = data.stamp.row_min - (round(812.3) - 12)
    c0 = data.stamp.col_min - (round(1033.6) - 12)
    inside = np.argwhere(result.aperture)[0]
    outside = np.argwhere(~result.aperture)[0]
    flags[10, r0 + inside[0], c0 + inside[1]] = shen
    flags[11, r0 + outside[0], c0 + outside[1]] = shen  # in the stamp, not the aperture
    flags[12, 0, 0] = shen  # outside the stamp
    flags[13, r0 + inside[0], c0 + inside[1]] = PIXEL_FLAGS["NotUsedForBackground"]
    data = make_data(ncadences=N, quality=quality, pixel_flags=flags)
    own = np.zeros(N, dtype=np.int32)
    own[20] = QUALITY["ManualExclude"]
    own[3] = QUALITY["Interpolated"]
    result = photometry(data, quality=own)
    path = _write(result, tmp_path)

    expected = np.zeros(N, dtype=np.int32)
    expected[[3, 5]] |= QUALITY["FlaggedBadData"]
    expected[10] |= QUALITY["BackgroundShenanigans"]
    expected[20] |= QUALITY["ManualExclude"]
    expected[3] |= QUALITY["Interpolated"]
    np.testing.assert_array_equal(fits.getdata(path, "LIGHTCURVE")["QUALITY"], expected)

    # Without an aperture, any stamp pixel counts.
    no_aperture = attrs.evolve(result, aperture=None, quality=None)
    table = build_lightcurve_hdus(
        no_aperture,
        compute_diagnostics(no_aperture),
        provenance=PROVENANCE,
        data_release=7,
        version=3,
    )["LIGHTCURVE"].data
    assert np.flatnonzero(table["QUALITY"] & QUALITY["BackgroundShenanigans"]).tolist() == [10, 11]


@pytest.mark.parametrize(
    ("own", "message"),
    [(1024, "bits that are not QUALITY flags"), (-1, "not QUALITY flags"), (0.5, "not integers")],
)
def test_invalid_method_quality_is_refused_and_nothing_written(
    make_data, photometry, tmp_path, own, message
):
    data = make_data(ncadences=20)
    quality = np.zeros(20, dtype=type(own))
    quality[4] = own
    with pytest.raises(TargetError, match=message):
        _write(photometry(data, quality=quality), tmp_path)
    assert not any(tmp_path.rglob("*"))


def test_aperture_image_bits_and_ccd_outputs(make_data, photometry, tmp_path):
    # 15 columns centred on CCD column 553 (0-based): 546-555 read by output A, 556-560 by B.
    data = make_data(ncadences=20, position=(300.2, 553.4))
    result = photometry(data)
    path = _write(result, tmp_path)
    image = fits.getdata(path, "APERTURE")
    assert image.dtype.kind == "i"
    assert image.shape == data.stamp.shape
    columns = np.arange(data.stamp.col_min, data.stamp.col_max)
    output = np.where(columns < 556, 32, 64)
    expected = 1 | output[None, :] | np.where(result.aperture, 2 | 8, 0)
    np.testing.assert_array_equal(image, expected)
    # No centroids: bit 8 is not set.
    plain = attrs.evolve(result, centroid=None)
    hdus = build_lightcurve_hdus(
        plain, compute_diagnostics(plain), provenance=PROVENANCE, data_release=7, version=3
    )
    assert not np.any(hdus["APERTURE"].data & 8)
    assert np.array_equal(hdus["APERTURE"].data & 2 != 0, result.aperture)


@pytest.mark.parametrize("extname", ["SUMIMAGE", "APERTURE"])
def test_sliced_wcs_maps_the_target_to_its_pixel_in_the_stamp(written, extname):
    result, path = written
    data = result.data
    with fits.open(path) as hdul:
        header = hdul[extname].header
        assert header["INHERIT"] is True
        wcs = WCS(header)
        assert wcs.sip is not None  # the real FFI distortion is kept
        x, y = wcs.all_world2pix([data.target.ra], [data.target.dec], 0)
        row, col = data.position_in_stamp
        assert abs(x[0] - col) < 0.01
        assert abs(y[0] - row) < 0.01
        # Physical WCS: 1-based CCD column/row of the stamp's first pixel.
        assert header["WCSNAMEP"] == "PHYSICAL"
        assert header["CRVAL1P"] == data.stamp.col_min + 1
        assert header["CRVAL2P"] == data.stamp.row_min + 1
        # A stamp corner maps to the same sky position as the corner on the full frame.
        corner = wcs.all_pix2world([[0.0, 0.0]], 0)
        full = data.wcs.all_pix2world([[data.stamp.col_min, data.stamp.row_min]], 0)
        np.testing.assert_allclose(corner, full, atol=1e-9)


def test_sumimage_is_the_stamp_mean_image(written):
    result, path = written
    np.testing.assert_allclose(
        fits.getdata(path, "SUMIMAGE"), result.data.sumimage.astype(np.float32)
    )


def test_lightkurve_reads_the_raw_flux(written, lightkurve):
    result, path = written
    lc = lightkurve.read(path, flux_column="flux_raw")
    assert type(lc).__name__ == "TessLightCurve"
    assert lc.meta["AUTHOR"] == "TASOC"
    assert lc.meta["TICID"] == 123456789
    assert lc.meta["TARGETID"] == 123456789
    assert lc.meta["SECTOR"] == 14
    assert lc.meta["PHOTMET"] == "aperture"
    assert str(lc.flux.unit) == "electron / s"
    np.testing.assert_array_equal(lc.flux.value, result.flux)
    np.testing.assert_array_equal(lc.flux_err.value, result.flux_err)
    assert lc.time.format == "btjd"
    assert lc.time.scale == "tdb"
    np.testing.assert_allclose(lc.time.value, result.data.time, rtol=0, atol=1e-9)
    np.testing.assert_allclose(lc.centroid_col.value, result.centroid[:, 1] + 1)
    np.testing.assert_allclose(lc.centroid_row.value, result.centroid[:, 0] + 1)
    assert str(lc.centroid_col.unit) == "pix"
    assert lc.quality[3] == QUALITY["FlaggedBadData"]
    # The default column (corrected flux) exists and is NaN until corrected.
    corrected = lightkurve.read(path)
    assert np.all(np.isnan(np.ma.filled(corrected.flux.value, np.nan)))
    assert str(corrected.flux.unit) == "ppm"


def test_rows_with_non_finite_time_are_dropped(make_data, photometry, tmp_path):
    time = 1325.3 + np.arange(30) * 1800 / 86400.0
    time[[0, 7]] = np.nan
    data = make_data(ncadences=30, time=time)
    result = photometry(data)
    path = _write(result, tmp_path)
    with fits.open(path) as hdul:
        rows = hdul["LIGHTCURVE"].data
        assert len(rows) == 28
        np.testing.assert_array_equal(rows["CADENCENO"], np.delete(data.cadenceno, [0, 7]))
        assert hdul["LIGHTCURVE"].header["TSTART"] == pytest.approx(time[1] - 1800 / 2 / 86400)
    all_nan = make_data(ncadences=5, time=np.full(5, np.nan))
    with pytest.raises(TargetError, match="no cadence has a finite time"):
        build_lightcurve_hdus(
            photometry(all_nan),
            compute_diagnostics(photometry(make_data(ncadences=5))),
            provenance=PROVENANCE,
            data_release=1,
            version=1,
        )


def test_extra_hdus_are_appended(written, tmp_path):
    result, _ = written
    weights = fits.ImageHDU(np.ones((3, 3), np.float32), name="WEIGHTMAP")
    path = _write(attrs.evolve(result, extra_hdus=(weights,)), tmp_path / "extra")
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == [
            "PRIMARY",
            "LIGHTCURVE",
            "SUMIMAGE",
            "APERTURE",
            "WEIGHTMAP",
        ]
        assert hdul[0].header["NEXTEND"] == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"headers": {"TOO_LONG_KEY": (1, "x")}}, "'TOO_LONG_KEY': keywords are 1-8 characters"),
        ({"headers": {"TICID": (1, "x")}}, "'TICID': the keyword is written by tasoc itself"),
        ({"headers": {"TSTART": (1.0, "x")}}, "'TSTART': the keyword is written by tasoc"),
        ({"headers": {"TUNIT3": ("m", "x")}}, "'TUNIT3': the keyword is written by tasoc"),
        ({"headers": {"NOTE": ("σ-clipped", "x")}}, "'NOTE': 'σ-clipped' is not ASCII"),
        ({"headers": {"NOTE": ([1, 2], "x")}}, r"'NOTE': value \[1, 2\] is not a FITS header"),
        ({"headers": {"NOTE": 5}}, r"'NOTE': expected \(value, comment\), got 5"),
        ({"extra_hdus": ("junk",)}, "extra HDU 'junk' is not an astropy ImageHDU"),
        (
            {"extra_hdus": (fits.ImageHDU(np.ones(2), name="APERTURE"),)},
            "reserved extension name 'APERTURE'",
        ),
    ],
)
def test_bad_method_output_is_a_target_error_naming_method_and_key(
    written, tmp_path, change, message
):
    result, _ = written
    out = tmp_path / "bad"
    with pytest.raises(TargetError, match=r"TIC 123456789 .*method 'aperture' .*" + message):
        _write(attrs.evolve(result, **change), out)
    assert not out.exists() or not any(out.rglob("*"))


def test_header_values_that_are_nan_become_undefined(written, tmp_path):
    result, _ = written
    path = _write(attrs.evolve(result, headers={"AP_X": (float("nan"), "not measured")}), tmp_path)
    header = fits.getheader(path, "LIGHTCURVE")
    assert "AP_X" in header
    assert header["AP_X"] is None  # an undefined value: FITS has no NaN in headers


def test_secondary_target_and_tpf_cadence(make_data, photometry, tmp_path):
    data = make_data(ncadences=60, cadence=120, datasource="tpf:987654321")
    path = _write(photometry(data), tmp_path)
    assert path.parent.parent.name == "c0120"
    header = fits.getheader(path, 0)
    assert header["DATASRC"] == "tpf:987654321"
    lc_header = fits.getheader(path, 1)
    assert lc_header["XPOSURE"] == pytest.approx(2 * 0.792 * 60)
    assert lc_header["NREADOUT"] == 48


def test_rewriting_replaces_the_file(written, tmp_path):
    result, path = written
    before = fits.getdata(path, 1)["FLUX_RAW"].copy()
    _write(attrs.evolve(result, flux=result.flux * 2), tmp_path)
    np.testing.assert_array_equal(fits.getdata(path, 1)["FLUX_RAW"], 2 * before)
    assert len(list(path.parent.iterdir())) == 1


def test_a_failure_while_writing_leaves_no_file_and_no_temporary(
    make_data, photometry, tmp_path, monkeypatch
):
    import tasoc_core.output._atomic as atomic

    real_fdopen = os.fdopen

    class DiskFull:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, payload):
            self.fh.write(payload[: len(payload) // 2])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: DiskFull(real_fdopen(fd, mode)))
    result = photometry(make_data(ncadences=20))
    with pytest.raises(OSError, match="No space left"):
        _write(result, tmp_path)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_failed_rewrite_keeps_the_previous_file(written, tmp_path, monkeypatch):
    import tasoc_core.output._atomic as atomic

    result, path = written
    before = path.read_bytes()

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(PermissionError):
        _write(attrs.evolve(result, flux=result.flux * 2), tmp_path)
    assert path.read_bytes() == before
    assert list(path.parent.iterdir()) == [path]


def test_compression_level_and_content_do_not_depend_on_it(written, tmp_path):
    result, path = written
    fast = _write(result, tmp_path / "fast", compresslevel=1)
    raw_default = gzip.decompress(path.read_bytes())
    raw_fast = gzip.decompress(fast.read_bytes())
    # Same FITS bytes apart from the checksum timestamps in the comments.
    assert len(raw_default) == len(raw_fast)
    with fits.open(fast) as a, fits.open(path) as b:
        np.testing.assert_array_equal(a[1].data["FLUX_RAW"], b[1].data["FLUX_RAW"])


@pytest.mark.parametrize(
    "value",
    [
        True,
        7,
        -1.2345678901234567e-300,
        "",
        "x",
        "it's",
        "a" * 18,
        "b" * 40,
        "c" * 67,
        "d" * 69,
        None,
    ],
)
def test_long_comments_are_shortened_without_warnings(written, tmp_path, value):
    result, _ = written
    comment = "a comment far too long to fit on one card together with its value " * 2
    path = _write(attrs.evolve(result, headers={"LONGCOM": (value, comment)}), tmp_path)
    header = fits.getheader(path, "LIGHTCURVE")
    if isinstance(value, float):  # fixed format keeps 13 significant digits of this one
        assert header["LONGCOM"] == pytest.approx(value, rel=1e-12)
    else:
        assert header["LONGCOM"] == value
    kept = header.comments["LONGCOM"]
    assert comment.startswith(kept)
    if not (isinstance(value, str) and 60 < len(value) <= 68):  # no room left beside these
        assert len(kept) >= 10


def test_dataval_given_at_write_time_is_checked(written, tmp_path):
    from tasoc_core.exceptions import TasocError

    result, _ = written
    path = _write(result, tmp_path / "ok", dataval=DATAVAL_LOW_RMS)
    assert fits.getheader(path, 0)["DATAVAL"] == DATAVAL_LOW_RMS
    with pytest.raises(TasocError, match="not DATAVAL flags"):
        _write(result, tmp_path / "bad", dataval=4)
    assert not (tmp_path / "bad").exists()
