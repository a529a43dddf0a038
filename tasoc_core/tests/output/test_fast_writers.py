"""The byte-level light-curve writers against the astropy ``HDUList`` path they replaced.

With the checksum timestamps frozen, both paths must give the same bytes: every card (key,
value, comment, order), every data byte, the same checksums.
"""

from __future__ import annotations

import gzip
import io
import warnings

import attrs
import numpy as np
import pytest
from astropy.io import fits

from tasoc_core.exceptions import InputFileError, TasocError
from tasoc_core.families.correction import CorrectionResult
from tasoc_core.io._fitsscan import scan_hdus
from tasoc_core.output import Provenance, write_lightcurve
from tasoc_core.output import _fitsbytes as fitsbytes_module
from tasoc_core.output import corrected as corrected_module
from tasoc_core.output import lightcurve as lightcurve_module
from tasoc_core.output._fitsbytes import card_images, checksum32, encode_checksum
from tasoc_core.output._reference import hdulist_bytes, write_corrected_lightcurve_astropy
from tasoc_core.output.corrected import write_corrected_lightcurve
from tasoc_core.photometry import compute_diagnostics

WHEN = "2026-01-02T03:04:05"
OPTIONS = {"tag": "ens", "method_name": "Ensemble", "plugin": "tasoc-ensemble", "version": "1.2"}


@pytest.fixture(autouse=True)
def frozen_time(monkeypatch):
    """Both writers stamp the checksum comments with the same time."""
    monkeypatch.setattr(fits.hdu.base._ValidHDU, "_get_timestamp", lambda self: WHEN)
    monkeypatch.setattr(corrected_module, "timestamp", lambda: WHEN)
    monkeypatch.setattr(lightcurve_module, "timestamp", lambda: WHEN)


def _rows(path) -> int:
    with fits.open(path) as hdul:
        return len(hdul["LIGHTCURVE"].data)


def _ensemble_hdu(n: int = 9) -> fits.BinTableHDU:
    return fits.BinTableHDU.from_columns(
        [
            fits.Column(name="TICID", format="K", array=np.arange(n) + 1000),
            fits.Column(name="WEIGHT", format="D", array=np.linspace(0.1, 1.0, n)),
        ],
        name="ENSEMBLE",
    )


def _result(n: int, *, seed: int = 3, headers=None, extra=()) -> CorrectionResult:
    rng = np.random.default_rng(seed)
    flux = rng.normal(0.0, 300.0, n)
    flux[::17] = np.nan
    return CorrectionResult(
        flux=flux,
        flux_err=rng.uniform(10.0, 20.0, n),
        quality=(rng.integers(0, 4, n) * 64).astype(np.int32),
        headers=headers if headers is not None else {},
        extra_hdus=extra,
    )


def _both(raw, make_result, **options):
    """Bytes of the corrected file from the byte-level writer and from astropy."""
    ours = write_corrected_lightcurve(raw, make_result(), **(OPTIONS | options))
    ours_bytes = ours.read_bytes()
    reference = write_corrected_lightcurve_astropy(raw, make_result(), **(OPTIONS | options))
    assert reference == ours
    return ours, gzip.decompress(ours_bytes), gzip.decompress(reference.read_bytes())


def _assert_same_file(ours: bytes, reference: bytes) -> None:
    spans, ref_spans = scan_hdus(ours), scan_hdus(reference)
    assert len(spans) == len(ref_spans)
    for span, ref in zip(spans, ref_spans, strict=True):
        assert span.cards == ref.cards  # every card, value, comment and order
        assert ours[span.data_start : span.end] == reference[ref.data_start : ref.end]
    assert ours == reference


def _assert_valid(path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # astropy warns on a checksum mismatch
        with fits.open(path, checksum=True) as hdul:
            for hdu in hdul:
                assert hdu.verify_checksum() == 1
                assert hdu.verify_datasum() == 1


def test_ensemble_file_is_the_astropy_file(raw_file, lightkurve, monkeypatch):
    n = _rows(raw_file)
    headers = {
        "ENS_NUM": (9, "stars in the ensemble"),
        "ENS_DLIM": (1.5, "limit"),
        "ENS_OK": (True, "ok"),
    }

    def make():
        return _result(n, headers=headers, extra=(_ensemble_hdu(),))

    def no_fallback(*args, **kwargs):
        raise AssertionError("the common case must not go through astropy")

    with monkeypatch.context() as patch:
        patch.setattr(corrected_module, "write_corrected_lightcurve_astropy", no_fallback)
        path = write_corrected_lightcurve(raw_file, make(), **OPTIONS)
    ours = gzip.decompress(path.read_bytes())
    reference = gzip.decompress(
        write_corrected_lightcurve_astropy(raw_file, make(), **OPTIONS).read_bytes()
    )
    _assert_same_file(ours, reference)
    path.write_bytes(gzip.compress(ours))
    _assert_valid(path)

    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == [
            "PRIMARY",
            "LIGHTCURVE",
            "SUMIMAGE",
            "APERTURE",
            "ENSEMBLE",
        ]
        assert hdul[0].header["NEXTEND"] == 4
        header = hdul["LIGHTCURVE"].header
        assert (header["CORRMET"], header["CORRVER"], header["CORRPLUG"]) == (
            "Ensemble",
            "1.2",
            "tasoc-ensemble",
        )
        assert header["ENS_NUM"] == 9
        result = make()
        table = hdul["LIGHTCURVE"].data
        np.testing.assert_array_equal(table["FLUX_CORR"], result.flux)
        np.testing.assert_array_equal(table["FLUX_CORR_ERR"], result.flux_err)
        with fits.open(raw_file) as raw:
            before = raw["LIGHTCURVE"].data
            np.testing.assert_array_equal(table["QUALITY"], before["QUALITY"] | result.quality)
            np.testing.assert_array_equal(table["FLUX_RAW"], before["FLUX_RAW"])
    lc = lightkurve.read(path)
    np.testing.assert_array_equal(lc.flux.value, make().flux)


def test_file_without_extras_keeps_nextend(raw_file):
    n = _rows(raw_file)
    path, ours, reference = _both(
        raw_file, lambda: _result(n, headers={"CBV_NUM": (3, "CBVs")}), tag="cbv"
    )
    _assert_same_file(ours, reference)
    _assert_valid(path)
    assert fits.getheader(path, 0)["NEXTEND"] == 3


@pytest.mark.parametrize(
    "headers",
    [
        {"TSTART": (1.0, "a keyword the raw header already has")},
        {"CORRMET": ("Other", "the corrector overrides a tasoc card")},
        {"HISTORY": ("corrected", "")},
    ],
)
def test_unusual_requests_go_through_astropy_with_the_same_result(raw_file, headers):
    n = _rows(raw_file)
    path, ours, reference = _both(raw_file, lambda: _result(n, headers=headers))
    _assert_same_file(ours, reference)
    _assert_valid(path)


def test_wrong_length_is_refused_and_nothing_written(raw_file):
    n = _rows(raw_file)
    with pytest.raises(TasocError, match=f"{n - 1} points for {n} rows"):
        write_corrected_lightcurve(raw_file, _result(n - 1), **OPTIONS)
    assert sorted(p.name for p in raw_file.parent.iterdir()) == [raw_file.name]


def test_missing_and_corrupt_raw_files(raw_file):
    n = _rows(raw_file)
    missing = raw_file.with_name(raw_file.name.replace("dr07", "dr08"))
    with pytest.raises(InputFileError, match="missing"):
        write_corrected_lightcurve(missing, _result(n), **OPTIONS)
    raw_file.write_bytes(gzip.compress(gzip.decompress(raw_file.read_bytes())[:5000]))
    with pytest.raises(InputFileError, match="cannot read the raw light curve"):
        write_corrected_lightcurve(raw_file, _result(n), **OPTIONS)
    raw_file.write_bytes(b"not gzip at all")
    with pytest.raises(InputFileError, match="cannot read the raw light curve"):
        write_corrected_lightcurve(raw_file, _result(n), **OPTIONS)


def test_raw_file_without_lightcurve_extension(raw_file):
    n = _rows(raw_file)
    with fits.open(raw_file) as hdul:
        hdul["LIGHTCURVE"].name = "OTHER"
        content = gzip.compress(hdulist_bytes(hdul))
    raw_file.write_bytes(content)
    with pytest.raises(InputFileError, match="LIGHTCURVE"):
        write_corrected_lightcurve(raw_file, _result(n), **OPTIONS)


def test_invalid_header_value_raises_like_astropy(raw_file):
    n = _rows(raw_file)
    bad = {"ENS_X": (float("nan"), "NaN is not a FITS value")}
    for writer in (write_corrected_lightcurve, write_corrected_lightcurve_astropy):
        with pytest.raises(ValueError, match="nan values are not allowed"):
            writer(raw_file, _result(n, headers=bad), **OPTIONS)


def test_checksum_arithmetic_matches_astropy():
    hdu = fits.PrimaryHDU()
    rng = np.random.default_rng(0)
    for value in [0, 1, 0xFFFFFFFF, *map(int, rng.integers(0, 2**32, 3000))]:
        assert encode_checksum(value) == hdu._char_encode(value)
    for size in (0, 1, 3, 4, 7, 2880, 100_001):
        data = rng.integers(0, 256, size).astype(np.uint8)
        for start in (0, 123_456_789, 0xFFFFFFFF):
            assert checksum32(data.tobytes(), start) == int(hdu._compute_checksum(data, start))


@pytest.mark.parametrize("text", ["0", "1234567", "12345678", "4294967295", "0" * 16])
@pytest.mark.parametrize("comment", ["", "HDU checksum updated 2026-11-21T08:26:55", "x" * 47])
def test_checksum_cards_match_astropy(text, comment):
    assert card_images("DATASUM", text, comment) == [fits.Card("DATASUM", text, comment).image]


# --- The raw light-curve file -------------------------------------------------------------

RAW_OPTIONS = {
    "provenance": Provenance(method="aperture", plugin="aperture", distribution="d", version="0"),
    "data_release": 7,
    "version": 2,
    "dataval": 0,
    "ticver": "8.2",
}


def _raw_pair(result):
    """Bytes of the raw file written by write_lightcurve's path and by astropy's HDUList."""
    diagnostics = compute_diagnostics(result)
    content = lightcurve_module._file_content(result, diagnostics, **RAW_OPTIONS)
    ours = lightcurve_module._lightcurve_fits_bytes(content)
    reference = hdulist_bytes(
        lightcurve_module.build_lightcurve_hdus(result, diagnostics, **RAW_OPTIONS)
    )
    return ours, reference


def _method_result(make_data, photometry, **data_options):
    result = photometry(make_data(**data_options))
    headers = {
        "AP_INT": (-12, "an integer"),
        "AP_BOOL": (False, "a logical"),
        "AP_FLT": (-1.2345678901234567e-300, "a float needing all 20 characters"),
        "AP_BIG": (6.02214076e23, "a large float"),
        "AP_NAN": (float("nan"), "NaN becomes undefined"),
        "AP_NONE": (None, "undefined"),
        "AP_QUOTE": ("it's", "a quote inside"),
        "AP_EMPTY": ("", "an empty string"),
        "AP_LONG": ("x" * 90, "a string continued over CONTINUE cards"),
        "AP_COM": (1.5, "a comment far too long to fit on one card with its value " * 2),
    }
    weights = fits.ImageHDU(np.arange(9, dtype=np.float32).reshape(3, 3), name="WEIGHTMAP")
    return attrs.evolve(result, headers=headers, extra_hdus=(weights,))


def test_raw_file_is_the_astropy_file(make_data, photometry, tmp_path, lightkurve):
    result = photometry(make_data(ncadences=300))
    ours, reference = _raw_pair(result)
    _assert_same_file(ours, reference)
    path = write_lightcurve(result, compute_diagnostics(result), path=tmp_path, **RAW_OPTIONS)
    assert gzip.decompress(path.read_bytes()) == reference
    _assert_valid(path)
    lc = lightkurve.read(path, flux_column="flux_raw")
    np.testing.assert_array_equal(lc.flux.value, result.flux)


def test_raw_file_with_method_cards_extra_hdu_and_gaps(make_data, photometry, tmp_path):
    time = 1700.0 + np.arange(120) / 48.0
    time[[0, 50, 51]] = np.nan  # rows without a time are dropped
    result = _method_result(make_data, photometry, ncadences=120, time=time)
    ours, reference = _raw_pair(result)
    _assert_same_file(ours, reference)
    path = tmp_path / "f.fits"
    path.write_bytes(ours)
    _assert_valid(path)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul][-1] == "WEIGHTMAP"
        assert len(hdul["LIGHTCURVE"].data) == 117
        assert hdul["LIGHTCURVE"].header["AP_LONG"] == "x" * 90


def test_raw_file_without_wcs(make_data, photometry, monkeypatch):
    monkeypatch.setattr(lightcurve_module, "_sliced_wcs_header", lambda data: None)
    ours, reference = _raw_pair(photometry(make_data(ncadences=50, cadence=120)))
    _assert_same_file(ours, reference)
    assert "CTYPE1  " not in {card[:8] for card in scan_hdus(ours)[2].cards}


def test_commentary_method_cards_are_left_to_astropy(make_data, photometry, tmp_path):
    result = attrs.evolve(
        photometry(make_data(ncadences=50)), headers={"HISTORY": ("fitted twice", "")}
    )
    content = lightcurve_module._file_content(result, compute_diagnostics(result), **RAW_OPTIONS)
    assert lightcurve_module._lightcurve_fits_bytes(content) is None
    path = write_lightcurve(result, compute_diagnostics(result), path=tmp_path, **RAW_OPTIONS)
    _assert_valid(path)
    assert "fitted twice" in str(fits.getheader(path, "LIGHTCURVE")["HISTORY"])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("HISTORY", "sliced to the stamp", id="commentary"),
        pytest.param("CTYPE1", "RA---TAN", id="duplicate"),
        pytest.param("PCOUNT", 0, id="structural"),
        pytest.param("TDIM1", "(2,2)", id="column-keyword"),
    ],
)
def test_wcs_headers_astropy_would_merge_are_left_to_it(
    make_data, photometry, tmp_path, monkeypatch, key, value
):
    sliced = lightcurve_module._sliced_wcs_header

    def with_card(data):
        header = sliced(data)
        header.append((key, value))
        return header

    monkeypatch.setattr(lightcurve_module, "_sliced_wcs_header", with_card)
    result = photometry(make_data(ncadences=50))
    content = lightcurve_module._file_content(result, compute_diagnostics(result), **RAW_OPTIONS)
    assert lightcurve_module._image_cards(content) is None
    ours, reference = _raw_pair(result)
    assert ours is None
    path = write_lightcurve(result, compute_diagnostics(result), path=tmp_path, **RAW_OPTIONS)
    assert gzip.decompress(path.read_bytes()) == reference
    _assert_valid(path)


def _with_checksums(hdu):
    hdu.add_checksum()
    return hdu


def _ending_with_history(hdu):
    hdu.header["HISTORY"] = "weights normalised"
    return hdu


@pytest.mark.parametrize("prepare", [_with_checksums, _ending_with_history])
def test_extra_hdus_astropy_must_checksum_are_left_to_it(
    make_data, photometry, monkeypatch, prepare
):
    def weightmap():
        image = np.arange(6, dtype=np.float32).reshape(2, 3)
        return prepare(fits.ImageHDU(image, name="WEIGHTMAP"))

    written = hdulist_bytes(fits.HDUList([fits.PrimaryHDU(), weightmap()]))
    expected = written[scan_hdus(written)[1].start :]

    def no_own_checksums(*args):
        raise AssertionError("astropy must checksum these HDUs")

    with monkeypatch.context() as patch:
        patch.setattr(fitsbytes_module, "seal_hdu", no_own_checksums)
        assert fitsbytes_module.extension_bytes([weightmap()], WHEN) == expected
    result = attrs.evolve(photometry(make_data(ncadences=50)), extra_hdus=(weightmap(),))
    ours, reference = _raw_pair(result)
    _assert_same_file(ours, reference)


@pytest.mark.parametrize(
    ("key", "value", "comment"),
    [
        ("K", 0, ""),
        ("KEYWORD8", -(2**62), "c"),
        ("F", 0.1 + 0.2, "x" * 60),
        ("F", -0.0, "negative zero"),
        ("F", 1e-310, "subnormal"),
        ("S", "a" * 68, "no room for the comment"),
        ("S", "a" * 69, "continued"),
        ("S", "trailing   ", "spaces kept"),
        ("B", True, "a comment " * 9),
        ("U", None, ""),
    ],
)
def test_card_images_match_astropy(key, value, comment):
    expected = lightcurve_module._card(key, value, comment).image
    assert "".join(lightcurve_module._card_images(key, value, comment)) == expected


@pytest.mark.parametrize("dtype", ["<f4", ">f4", "<i4", "<i2", "<f8", "u1", "<u2"])
@pytest.mark.parametrize("shape", [(1, 1), (15, 15), (7, 23), (2048, 3), (0, 4), (5,), (2, 3, 4)])
def test_image_structural_cards_match_astropy(dtype, shape):
    # One cached template per dtype and dimension count, its NAXISn values set per image.
    image = np.zeros(shape, dtype=dtype)
    written = hdulist_bytes(fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(image)]))
    expected = [c for c in scan_hdus(written)[1].cards if c[:8] not in ("CHECKSUM", "DATASUM ")]
    assert lightcurve_module._image_structural_cards(image) == expected


def _rewrite_table(raw_file, change) -> None:
    """Rewrite the raw file with a LIGHTCURVE table whose columns ``change`` edits."""
    with fits.open(raw_file) as hdul:
        old = hdul["LIGHTCURVE"]
        columns = change(list(old.columns), len(old.data))
        table = fits.BinTableHDU.from_columns(columns, name="LIGHTCURVE")
        for card in old.header.cards:
            if card.keyword not in table.header and not card.keyword.startswith("T"):
                table.header.append(card)
        hdus = fits.HDUList([hdul[0], table, *hdul[2:]])
        raw_file.write_bytes(gzip.compress(hdulist_bytes(hdus)))


def _with_other_column_types(columns, n):
    rng = np.random.default_rng(5)
    extra = [
        fits.Column(
            name="NOTE", format="5A", array=np.array(["ab", "c"] * (n // 2) + ["d"] * (n % 2))
        ),
        fits.Column(name="BITS", format="11X", array=rng.integers(0, 2, (n, 11)).astype(bool)),
        fits.Column(name="OK", format="L", array=rng.integers(0, 2, n).astype(bool)),
        fits.Column(name="PAIR", format="2I", array=rng.integers(-9, 9, (n, 2)).astype(np.int16)),
    ]
    return extra + columns


def _with_float_corrected_flux(columns, n):
    return [
        fits.Column(name="FLUX_CORR", format="E", array=np.full(n, np.nan, np.float32))
        if column.name == "FLUX_CORR"
        else column
        for column in columns
    ]


def _fast_path(raw_file, extra=(), content: bytes | None = None) -> bytes | None:
    """What the byte-level writer makes of the raw file, or of ``content`` in its place
    (None: it leaves it to astropy)."""
    n = _rows(raw_file)
    if content is None:
        content = gzip.decompress(raw_file.read_bytes())
    return corrected_module._corrected_fits_bytes(
        content,
        scan_hdus(content),
        flux=np.zeros(n),
        flux_err=np.zeros(n),
        quality=np.zeros(n, np.int32),
        cards=[("CORRMET", ("x", "y"))],
        extra_hdus=extra,
        where=raw_file,
    )


def _with_duplicate_names(columns, n):
    # FITS column names ignore case: astropy writes these, but they name one column.
    return [
        *columns,
        fits.Column(name="NOTE", format="J", array=np.zeros(n, np.int32)),
        fits.Column(name="note", format="E", array=np.ones(n, np.float32)),
    ]


@pytest.mark.parametrize(
    ("change", "fast"),
    [
        (_with_other_column_types, True),
        (_with_float_corrected_flux, False),
        (_with_duplicate_names, False),
    ],
)
def test_table_layouts(raw_file, change, fast):
    _rewrite_table(raw_file, change)
    n = _rows(raw_file)
    assert (_fast_path(raw_file) is not None) == fast
    path, ours, reference = _both(raw_file, lambda: _result(n, extra=(_ensemble_hdu(),)))
    _assert_same_file(ours, reference)
    _assert_valid(path)


def _ascii_lightcurve(hdus):
    """The LIGHTCURVE table as an ASCII table (XTENSION = 'TABLE')."""
    old = hdus[1]
    ascii_formats = {"D": "D25.17", "E": "E15.7", "J": "I11"}
    table = fits.TableHDU.from_columns(
        [
            fits.Column(name=c.name, format=ascii_formats[c.format], array=old.data[c.name])
            for c in old.columns
        ],
        name="LIGHTCURVE",
    )
    for card in old.header.cards:
        if card.keyword not in table.header and not card.keyword.startswith("T"):
            table.header.append(card)
    return [hdus[0], table, *hdus[2:]]


def test_lightcurve_that_is_not_a_binary_table_is_refused(raw_file):
    n = _rows(raw_file)
    # The XTENSION guard alone (the rows are still a binary table's).
    content = gzip.decompress(raw_file.read_bytes())
    relabelled = content.replace(b"XTENSION= 'BINTABLE'", b"XTENSION= 'TABLE   '", 1)
    assert relabelled.count(b"XTENSION= 'TABLE   '") == 1
    assert _fast_path(raw_file, content=relabelled) is None
    # A real ASCII table: both writers refuse it.
    with fits.open(raw_file) as hdul:
        hdus = fits.HDUList(_ascii_lightcurve([hdu.copy() for hdu in hdul]))
        raw_file.write_bytes(gzip.compress(hdulist_bytes(hdus)))
    assert _fast_path(raw_file) is None
    for writer in (write_corrected_lightcurve, write_corrected_lightcurve_astropy):
        with pytest.raises(InputFileError, match="LIGHTCURVE is a TABLE, not a BINTABLE"):
            writer(raw_file, _result(n), **OPTIONS)
    assert sorted(p.name for p in raw_file.parent.iterdir()) == [raw_file.name]


def _without_nextend(hdus):
    del hdus[0].header["NEXTEND"]
    return hdus


def _without_checksums(hdus):
    for hdu in hdus:
        del hdu.header["CHECKSUM"]
        del hdu.header["DATASUM"]
    return hdus


@pytest.mark.parametrize(
    ("edit", "extra"),
    [
        pytest.param(_without_nextend, (), id="no-nextend"),
        pytest.param(_without_checksums, (), id="no-checksums"),
        pytest.param(None, (fits.PrimaryHDU(np.ones((2, 3), np.float32)),), id="primary-hdu-extra"),
    ],
)
def test_files_and_requests_left_to_astropy(raw_file, edit, extra):
    """Each of the byte-level writer's guards hands over to astropy, with the same file."""
    if edit is not None:
        with fits.open(raw_file) as hdul:
            hdus = fits.HDUList(edit([hdu.copy() for hdu in hdul]))
            buffer = io.BytesIO()
            hdus.writeto(buffer, checksum=edit is not _without_checksums)
        raw_file.write_bytes(gzip.compress(buffer.getvalue()))
    n = _rows(raw_file)
    assert _fast_path(raw_file, extra) is None
    path, ours, reference = _both(raw_file, lambda: _result(n, extra=extra))
    _assert_same_file(ours, reference)
    _assert_valid(path)
    with fits.open(path) as hdul:
        np.testing.assert_array_equal(hdul["LIGHTCURVE"].data["FLUX_CORR"], _result(n).flux)
