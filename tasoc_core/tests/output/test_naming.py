"""Light-curve file names and places."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from tasoc_core.data import Target
from tasoc_core.exceptions import TasocError
from tasoc_core.output import (
    LightCurveName,
    lightcurve_name,
    lightcurve_path,
    lightcurve_relpath,
    parse_lightcurve_name,
)

# The example of paper 003, §7.
PAPER_TARGET = Target(62483237, 1, 1, 2, 120, "tpf", 9.0, 10.0, -20.0)
PAPER_NAME = "tess00062483237-s001-1-2-c0120-dr01-v05-tasoc_lc.fits.gz"


def test_the_paper_example():
    assert lightcurve_name(PAPER_TARGET, 1, 5) == PAPER_NAME
    assert lightcurve_relpath(PAPER_TARGET, 1, 5) == PurePosixPath(
        "lightcurves/c0120/00062/" + PAPER_NAME
    )
    assert lightcurve_path(Path("/out"), PAPER_TARGET, 1, 5) == Path(
        "/out/lightcurves/c0120/00062", PAPER_NAME
    )


def test_directory_holds_the_first_five_digits_of_the_padded_tic():
    target = Target(270_000_123_45, 61, 4, 4, 200, "ffi", 12.0, 1.0, 2.0)
    rel = lightcurve_relpath(target, 36, 1)
    assert rel.parts[:3] == ("lightcurves", "c0200", "27000")
    assert rel.name == "tess27000012345-s061-4-4-c0200-dr36-v01-tasoc_lc.fits.gz"


def test_corrected_names():
    assert lightcurve_name(PAPER_TARGET, 1, 5, corrector="cbv").endswith(
        "-v05-tasoc-cbv_lc.fits.gz"
    )
    assert lightcurve_name(PAPER_TARGET, 1, 5, corrector="my-ens_2").endswith(
        "-tasoc-my-ens_2_lc.fits.gz"
    )


@pytest.mark.parametrize("corrector", [None, "cbv", "kasoc_filter", "my-ens"])
def test_parse_round_trip(corrector):
    name = lightcurve_name(PAPER_TARGET, 1, 5, corrector=corrector)
    parsed = parse_lightcurve_name(Path("/somewhere") / name)
    assert parsed == LightCurveName(62483237, 1, 1, 2, 120, 1, 5, corrector)
    assert parsed.filename == name


@pytest.mark.parametrize(
    "name",
    [
        "tess00062483237-s001-1-2-c0120-dr01-v05-tasoc_lc.fits",  # not gzipped
        "tess0062483237-s001-1-2-c0120-dr01-v05-tasoc_lc.fits.gz",  # 10 digits
        "tess00062483237-s001-5-2-c0120-dr01-v05-tasoc_lc.fits.gz",  # camera 5
        "hlsp_tasoc_tess_ffi_tic00150441810-s0001-cam4-ccd4-c1800_tess_v05_ens-lc.fits",
    ],
)
def test_parse_rejects_other_names(name):
    assert parse_lightcurve_name(name) is None


@pytest.mark.parametrize(
    ("field", "kwargs", "value"),
    [
        ("data_release", {"data_release": 100}, "100"),
        ("version", {"version": -1}, "-1"),
        ("corrector", {"corrector": "CBV"}, "'CBV'"),
    ],
)
def test_invalid_fields_are_named(field, kwargs, value):
    args = {"data_release": 1, "version": 5} | kwargs
    corrector = args.pop("corrector", None)
    with pytest.raises(TasocError, match=rf"{field}={value}"):
        lightcurve_name(PAPER_TARGET, args["data_release"], args["version"], corrector=corrector)


def test_sector_beyond_three_digits_is_refused():
    with pytest.raises(TasocError, match="sector=1000"):
        lightcurve_name(Target(1, 1000, 1, 1, 200, "ffi", 10.0, 0.0, 0.0), 1, 1)
