"""The fast light-curve table reader gives exactly what astropy reads, or refuses."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from tasoc_core.exceptions import InputFileError
from tasoc_core.families import PhotometryResult
from tasoc_core.io._fitsscan import HDUSpan, read_fits_bytes, table_layout
from tasoc_core.io.fitstable import UnsupportedTable, read_bintable, read_columns
from tasoc_core.output import Provenance, write_lightcurve
from tasoc_core.photometry import compute_diagnostics
from tasoc_core.report import read_lightcurve
from tasoc_core.testing import synthetic_target


@pytest.fixture(scope="module")
def lightcurve(tmp_path_factory) -> Path:
    synth = synthetic_target(tmag=10.0, shape=(11, 11), ncadences=300, seed=3)
    data = synth.data
    r0, c0 = data.position_in_stamp
    rows, cols = np.mgrid[0:11, 0:11]
    aperture = (rows - r0) ** 2 + (cols - c0) ** 2 <= 2.0**2
    result = PhotometryResult(
        data=data,
        flux=data.images[:, aperture].sum(1).astype(float),
        flux_err=np.sqrt((data.images_err[:, aperture].astype(float) ** 2).sum(1)),
        aperture=aperture,
        contamination=0.02,
    )
    provenance = Provenance(method="aperture", plugin="aperture", distribution="t", version="0")
    out = tmp_path_factory.mktemp("lc")
    return write_lightcurve(
        result, compute_diagnostics(result), path=out, provenance=provenance, version=1
    )


def test_same_columns_and_header_values_as_astropy(lightcurve: Path):
    primary, table = read_bintable(lightcurve, "LIGHTCURVE")
    with fits.open(lightcurve) as hdul:
        ref = hdul["LIGHTCURVE"].data
        assert table.dtype.names == tuple(ref.columns.names)
        for name in ref.columns.names:
            np.testing.assert_array_equal(table[name], np.asarray(ref[name]))
        assert primary["TICID"] == str(hdul[0].header["TICID"])
        assert primary["ORIGIN"] == hdul[0].header["ORIGIN"]
    fast = read_lightcurve(lightcurve, images=False)
    slow = read_lightcurve(lightcurve, images=True)
    for name in ("time", "cadenceno", "flux", "quality", "pixel_quality"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name))
    assert fast.header == slow.header
    assert fast.corrected is slow.corrected is False
    assert slow.sumimage is not None
    assert fast.sumimage is None


def test_uncompressed_files_are_read_too(lightcurve: Path, tmp_path: Path):
    plain = tmp_path / "lc.fits"
    plain.write_bytes(gzip.decompress(lightcurve.read_bytes()))
    _, table = read_bintable(plain, "LIGHTCURVE")
    assert len(table) == len(fits.getdata(lightcurve, "LIGHTCURVE"))


def test_what_it_does_not_handle_is_refused(lightcurve: Path, tmp_path: Path):
    with pytest.raises(UnsupportedTable, match="no NOPE extension"):
        read_bintable(lightcurve, "NOPE")
    with pytest.raises(UnsupportedTable, match="SUMIMAGE is a IMAGE"):
        read_bintable(lightcurve, "SUMIMAGE")
    not_fits = tmp_path / "x.fits.gz"
    not_fits.write_bytes(gzip.compress(b"hello world"))
    with pytest.raises(UnsupportedTable, match="not a FITS file"):
        read_bintable(not_fits, "LIGHTCURVE")
    with pytest.raises(FileNotFoundError):
        read_bintable(tmp_path / "missing.fits", "LIGHTCURVE")
    # A scaled column: refused by the fast reader, read by astropy through read_lightcurve.
    with fits.open(lightcurve) as hdul:
        hdul = fits.HDUList([hdu.copy() for hdu in hdul])
    cols = hdul["LIGHTCURVE"].columns
    scaled = fits.BinTableHDU.from_columns(
        [fits.Column(name=c.name, format=c.format, array=hdul["LIGHTCURVE"].data[c.name])
         for c in cols if c.name != "QUALITY"]
        + [fits.Column(name="QUALITY", format="I", bzero=32768,
                       array=hdul["LIGHTCURVE"].data["QUALITY"].astype(np.uint16))],
        name="LIGHTCURVE",
    )  # fmt: skip
    hdul["LIGHTCURVE"] = scaled
    odd = tmp_path / "scaled.fits"
    hdul.writeto(odd)
    with pytest.raises(UnsupportedTable, match="scaled"):
        read_bintable(odd, "LIGHTCURVE")
    lc = read_lightcurve(odd, images=False)
    np.testing.assert_array_equal(lc.quality, fits.getdata(lightcurve, "LIGHTCURVE")["QUALITY"])
    # read_columns gives the same values either way, in native byte order.
    names = ("TIME", "FLUX_RAW", "QUALITY")
    fast = read_columns(lightcurve, "LIGHTCURVE", names)
    slow = read_columns(odd, "LIGHTCURVE", names)
    for name in names:
        np.testing.assert_array_equal(fast[name], slow[name])
        assert fast[name].dtype.isnative
    with pytest.raises(KeyError):
        read_columns(lightcurve, "LIGHTCURVE", ("NO_SUCH_COLUMN",))


def test_truncated_file_is_an_input_error(lightcurve: Path, tmp_path: Path):
    raw = gzip.decompress(lightcurve.read_bytes())
    cut = tmp_path / "cut.fits"
    cut.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(UnsupportedTable):
        read_bintable(cut, "LIGHTCURVE")
    with pytest.raises(InputFileError, match=r"cut\.fits"):
        read_lightcurve(cut, images=False)


def test_gzip_is_recognised_by_content_not_name(lightcurve: Path, tmp_path: Path):
    content = gzip.decompress(lightcurve.read_bytes())
    assert read_fits_bytes(lightcurve) == (content, True)
    plain_named_gz = tmp_path / "plain.fits.gz"
    plain_named_gz.write_bytes(content)
    assert read_fits_bytes(plain_named_gz) == (content, False)
    gzip_named_plain = tmp_path / "packed.fits"
    gzip_named_plain.write_bytes(lightcurve.read_bytes())
    assert read_fits_bytes(gzip_named_plain) == (content, True)
    _, table = read_bintable(plain_named_gz, "LIGHTCURVE")
    np.testing.assert_array_equal(table["TIME"], fits.getdata(lightcurve, "LIGHTCURVE")["TIME"])


def test_unreadable_files_are_input_errors_naming_the_file(lightcurve: Path, tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        read_fits_bytes(tmp_path / "missing.fits.gz")
    damaged = tmp_path / "damaged.fits.gz"
    damaged.write_bytes(lightcurve.read_bytes()[:-100])
    for read in (read_fits_bytes, lambda path: read_bintable(path, "LIGHTCURVE")):
        with pytest.raises(InputFileError, match=r"damaged\.fits\.gz is not valid gzip"):
            read(damaged)
    folder = tmp_path / "folder.fits"
    folder.mkdir()
    with pytest.raises(InputFileError, match=r"folder\.fits cannot be read: Is a directory"):
        read_fits_bytes(folder)


def _table_span(columns: list[fits.Column], **changes) -> HDUSpan:
    """The HDUSpan of a binary table of ``columns`` with header values ``changes``
    (None deletes the keyword)."""
    header = fits.BinTableHDU.from_columns(columns).header
    for key, value in changes.items():
        if value is None:
            del header[key]
        else:
            header[key] = value
    return HDUSpan(0, 0, 0, 0, tuple(card.image for card in header.cards))


_ALL_CODES = [
    fits.Column(name="L", format="L", array=np.zeros(2, bool)),
    fits.Column(name="X", format="11X", array=np.zeros((2, 11), bool)),
    fits.Column(name="B", format="3B", array=np.zeros((2, 3), np.uint8)),
    fits.Column(name="I", format="I", array=np.zeros(2, np.int16)),
    fits.Column(name="J", format="2J", array=np.zeros((2, 2), np.int32)),
    fits.Column(name="K", format="K", array=np.zeros(2, np.int64)),
    fits.Column(name="A", format="5A", array=np.array(["ab", "c"])),
    fits.Column(name="E", format="E", array=np.zeros(2, np.float32), bscale=2.0),
    fits.Column(name="D", format="D", array=np.zeros(2)),
    fits.Column(name="C", format="C", array=np.zeros(2, np.complex64)),
    fits.Column(name="M", format="M", array=np.zeros(2, np.complex128)),
    fits.Column(name="P", format="PJ()", array=np.array([[1], [2, 3]], dtype=object)),
    fits.Column(name="Q", format="QD()", array=np.array([[1.0], [2.0, 3.0]], dtype=object)),
]


def test_table_layout_gives_astropy_offsets_for_every_column_code():
    hdu = fits.BinTableHDU.from_columns(_ALL_CODES)
    span = HDUSpan(0, 0, 0, 0, tuple(card.image for card in hdu.header.cards))
    layout = table_layout(span)
    assert layout is not None
    assert (layout.row_bytes, layout.nrows) == (hdu.header["NAXIS1"], 2)
    fields = hdu.columns.dtype.fields
    assert [(c.name, c.offset) for c in layout.columns] == [
        (name, fields[name][1]) for name in hdu.columns.names
    ]
    assert [c.scaled for c in layout.columns] == [c.name == "E" for c in layout.columns]
    assert [(c.repeat, c.code, c.tail) for c in layout.columns] == [
        (1, "L", ""), (11, "X", ""), (3, "B", ""), (1, "I", ""), (2, "J", ""), (1, "K", ""),
        (5, "A", ""), (1, "E", ""), (1, "D", ""), (1, "C", ""), (1, "M", ""), (1, "P", "J()"),
        (1, "Q", "D()"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"NAXIS2": None}, id="no-NAXIS2"),
        pytest.param({"NAXIS1": 1.5}, id="real-NAXIS1"),
        pytest.param({"TFIELDS": "2"}, id="string-TFIELDS"),
        pytest.param({"TFORM2": None}, id="no-TFORM"),
        pytest.param({"TFORM2": "1Z"}, id="unknown-code"),
        pytest.param({"TTYPE2": "time"}, id="duplicate-name"),
        pytest.param({"NAXIS1": 24}, id="widths-not-NAXIS1"),
    ],
)
def test_table_layout_refuses_headers_that_do_not_describe_the_rows(changes):
    columns = [
        fits.Column(name="TIME", format="D", array=np.zeros(3)),
        fits.Column(name="FLUX", format="D", array=np.zeros(3)),
    ]
    assert table_layout(_table_span(columns)) is not None
    assert table_layout(_table_span(columns, **changes)) is None
