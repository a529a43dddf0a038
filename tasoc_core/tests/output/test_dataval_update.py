"""Rewriting the DATAVAL keyword of written light-curve files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from astropy.io import fits

from tasoc_core.exceptions import InputFileError, TasocError
from tasoc_core.flags import DATAVAL
from tasoc_core.output import read_dataval, update_dataval

BITS = DATAVAL["LowPTP"] | DATAVAL["ContaminationHigh"]


def _blocks(raw: bytes) -> list[bytes]:
    return [raw[i : i + 2880] for i in range(0, len(raw), 2880)]


def test_update_sets_dataval_and_only_changes_the_primary_header(raw_file):
    before = gzip.decompress(raw_file.read_bytes())
    old_header = fits.getheader(raw_file, 0)
    assert read_dataval(raw_file) == 0
    assert update_dataval(raw_file, BITS) is True
    assert read_dataval(raw_file) == BITS
    after = gzip.decompress(raw_file.read_bytes())
    assert len(after) == len(before)
    header_blocks = len(old_header.tostring()) // 2880
    # Every byte after the primary header is unchanged.
    assert after[header_blocks * 2880 :] == before[header_blocks * 2880 :]
    new_header = fits.getheader(raw_file, 0)
    changed = {key for key in old_header if old_header[key] != new_header[key]}
    assert changed == {"DATAVAL", "CHECKSUM"}
    with fits.open(raw_file, checksum=True) as hdul:  # warnings are errors in the suite
        assert all(hdu.verify_checksum() == 1 for hdu in hdul)
    assert [p.name for p in raw_file.parent.iterdir()] == [raw_file.name]


def test_update_is_a_no_op_when_the_value_is_already_set(raw_file):
    update_dataval(raw_file, BITS)
    content = raw_file.read_bytes()
    assert update_dataval(raw_file, BITS) is False
    assert raw_file.read_bytes() == content
    assert update_dataval(raw_file, 0) is True
    assert read_dataval(raw_file) == 0


def test_lightkurve_sees_the_new_value(raw_file, lightkurve):
    update_dataval(raw_file, BITS)
    lc = lightkurve.read(raw_file, flux_column="flux_raw")
    assert lc.meta["DATAVAL"] == BITS
    assert np.isfinite(lc.flux.value).all()


def test_uncompressed_files_are_updated_in_place_uncompressed(raw_file, tmp_path):
    plain = tmp_path / "plain.fits"
    plain.write_bytes(gzip.decompress(raw_file.read_bytes()))
    update_dataval(plain, DATAVAL["LowRMS"])
    assert plain.read_bytes()[:6] == b"SIMPLE"
    assert fits.getheader(plain, 0)["DATAVAL"] == DATAVAL["LowRMS"]


@pytest.mark.parametrize(
    ("bits", "message"),
    [
        (4, "bits that are not DATAVAL flags"),  # bit 4 is "not in use"
        (-1, "bits that are not DATAVAL flags"),
        (1 << 20, "bits that are not DATAVAL flags"),
        (1.5, "must be an integer, got 1.5"),
        (True, "must be an integer, got True"),
    ],
)
def test_invalid_bits_are_refused_and_the_file_is_untouched(raw_file, bits, message):
    content = raw_file.read_bytes()
    with pytest.raises(TasocError, match=message):
        update_dataval(raw_file, bits)
    assert raw_file.read_bytes() == content


def test_bad_files_are_input_file_errors_naming_the_file(tmp_path):
    missing = tmp_path / "missing.fits.gz"
    with pytest.raises(InputFileError, match=r"missing\.fits\.gz does not exist"):
        update_dataval(missing, 0)
    corrupt = tmp_path / "corrupt.fits.gz"
    corrupt.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with pytest.raises(InputFileError, match=r"corrupt\.fits\.gz is not valid gzip"):
        update_dataval(corrupt, 0)
    not_fits = tmp_path / "notes.txt"
    not_fits.write_text("hello")
    with pytest.raises(InputFileError, match="no END card"):
        read_dataval(not_fits)
    other = tmp_path / "other.fits"
    fits.PrimaryHDU().writeto(other)
    with pytest.raises(InputFileError, match=r"other\.fits: no DATAVAL keyword"):
        update_dataval(other, 0)


def test_a_failed_update_keeps_the_old_file(raw_file, monkeypatch):
    import tasoc_core.output._atomic as atomic

    content = raw_file.read_bytes()

    def crash(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        update_dataval(raw_file, BITS)
    assert raw_file.read_bytes() == content
    assert [p.name for p in raw_file.parent.iterdir()] == [raw_file.name]


def test_refuses_when_more_than_dataval_would_change(tmp_path):
    # A header without checksums that fills its block: adding CHECKSUM and DATASUM would
    # need a new block, i.e. move every byte of the file.
    header = fits.Header([("DATAVAL", 0, "flags")] + [(f"FILL{i}", i) for i in range(30)])
    path = tmp_path / "full.fits"
    fits.PrimaryHDU(header=header).writeto(path)
    assert len(fits.getheader(path).tostring()) == 2880
    content = path.read_bytes()
    with pytest.raises(InputFileError, match="would change more of the primary header"):
        update_dataval(path, DATAVAL["LowRMS"])
    assert path.read_bytes() == content
