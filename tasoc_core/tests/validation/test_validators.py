"""Each DATAVAL bit is set exactly for the rows that violate its relation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.table import MaskedColumn, Table

import tasoc_core.builtin
from tasoc_core.exceptions import SchemaError
from tasoc_core.families import VALIDATION_COLUMNS, Validator
from tasoc_core.flags import DATAVAL
from tasoc_core.status import Status
from tasoc_core.testing import assert_conformance, check_validator, mag_to_flux
from tasoc_core.validation import (
    DEFAULT_VALIDATORS,
    ContaminationValidator,
    InvalidValuesValidator,
    MagnitudeFluxValidator,
    MaskSizeValidator,
    NoiseValidator,
    flux_lower_bound,
    noise_model,
    validate_table,
)

RA, DEC = 120.0, -40.0


def _row(name: str, **changes) -> dict:
    """A healthy Tmag-10 FFI aperture target, with ``changes`` applied."""
    tmag = changes.get("tmag", 10.0)
    cadence = changes.get("cadence", 1800)
    hour = float(noise_model(tmag, cadence, 3600.0, ra=RA, dec=DEC).total) / 1e6
    p2p = float(noise_model(tmag, cadence, float(cadence), ra=RA, dec=DEC).total) / 1e6
    row = {
        "name": name,
        "priority": 0,
        "starid": 0,
        "tmag": tmag,
        "datasource": "ffi",
        "cadence": cadence,
        "method": "aperture",
        "status": int(Status.OK),
        "mean_flux": float(mag_to_flux(tmag)),
        "rms_hour": 2.0 * hour,
        "ptp": 2.0 * p2p,
        "mask_size": 50,
        "contamination": 0.05,
        "minimal_mask": False,
        "ra": RA,
        "dec": DEC,
    }
    return row | changes


def _expected_noise(tmag, cadence, timescale):
    return float(noise_model(tmag, cadence, timescale, ra=RA, dec=DEC).total) / 1e6


# (row, bits it must get). At Tmag 10 (FFI): flux bound 1.25e3·…, mask 15–130, contamination
# bound 0.6; TPF minimum mask 10.
ROWS = [
    (_row("healthy"), 0),
    (_row("warning status", status=int(Status.WARNING)), 0),
    (_row("faint for its magnitude", mean_flux=0.5 * float(flux_lower_bound(10.0))), 2),
    (_row("flux exactly on the bound", mean_flux=float(flux_lower_bound(10.0))), 0),
    (_row("negative flux", mean_flux=-5.0), 4096),
    (_row("zero flux", mean_flux=0.0), 4096),
    (_row("NaN flux", mean_flux=np.nan), 4096),
    (_row("minimal mask", minimal_mask=True), 16),
    (_row("small mask", mask_size=5), 32),
    (_row("mask on the lower bound", mask_size=15), 0),
    (_row("no mask", mask_size=0), 0),
    (_row("large mask", mask_size=500), 64),
    (_row("TPF large mask", datasource="tpf", cadence=120, mask_size=5000), 0),
    (_row("TPF small mask", datasource="tpf", cadence=120, mask_size=8), 32),
    (_row("secondary TPF mask", datasource="tpf:42", cadence=120, mask_size=8), 32),
    (_row("contaminated", contamination=0.9), 2048),
    (_row("contamination on the bound", contamination=0.6), 0),
    (_row("contamination 1", contamination=1.0), 1024),
    (_row("contamination above 1", contamination=1.5), 1024),
    (_row("negative contamination", contamination=-0.1), 1024),
    (_row("contamination unknown", contamination=np.nan), 0),
    (_row("quiet on an hour", rms_hour=0.5 * _expected_noise(10.0, 1800, 3600.0)), 512),
    (_row("quiet point to point", ptp=0.5 * _expected_noise(10.0, 1800, 1800.0)), 256),
    (_row("TPF quiet point to point", datasource="tpf", cadence=120, ptp=1e-6), 256),
    (_row("zero rms", rms_hour=0.0), 8192),
    (_row("NaN ptp", ptp=np.nan), 8192),
    (_row("negative ptp", ptp=-1e-4), 8192),
    # Population checks apply to aperture photometry only; the others to every method.
    (_row("halo", method="halo", mean_flux=1.0, mask_size=900, contamination=0.95), 0),
    (_row("halo quiet", method="halo", rms_hour=1e-7), 512),
    (_row("halo invalid", method="halo", mean_flux=-1.0, contamination=2.0), 4096 | 1024),
    (_row("halo minimal", method="halo", minimal_mask=True), 16),
    # Failed photometry: no opinion from any validator.
    (
        _row("error", status=int(Status.ERROR), mean_flux=np.nan, rms_hour=np.nan, ptp=np.nan),
        0,
    ),
    (_row("skipped", status=int(Status.SKIPPED), mask_size=1, minimal_mask=True), 0),
    # Several at once.
    (
        _row("everything", mean_flux=10.0, mask_size=2, contamination=0.95, ptp=1e-7),
        2 | 32 | 2048 | 256,
    ),
]


@pytest.fixture
def table() -> Table:
    t = Table(rows=[row for row, _ in ROWS])
    t["priority"] = np.arange(1, len(t) + 1)
    t["starid"] = np.arange(len(t)) + 1000
    return t


def test_the_constructed_table_has_the_validation_columns(table):
    assert set(VALIDATION_COLUMNS) <= set(table.colnames)


def test_each_bit_exactly_where_violated(table):
    dataval, approved, info = validate_table(table, [cls() for cls in DEFAULT_VALIDATORS])
    got = {row["name"]: DATAVAL.decode(bits) for row, bits in zip(table, dataval)}
    want = {row["name"]: DATAVAL.decode(bits) for row, bits in ROWS}
    assert got == want
    # Approved: photometry succeeded and no bit of the reject mask 13408.
    for (row, bits), ok in zip(ROWS, approved):
        expected = row["status"] in (1, 3) and (bits & 13408) == 0
        assert ok == expected, row["name"]
    assert set(info) == {"aperture/c1800", "aperture/c0120", "halo/c1800"}


@pytest.mark.parametrize(
    ("cls", "bits"),
    [
        (InvalidValuesValidator, {1024, 4096, 8192}),
        (MagnitudeFluxValidator, {2}),
        (MaskSizeValidator, {16, 32, 64}),
        (ContaminationValidator, {2048}),
        (NoiseValidator, {256, 512}),
    ],
)
def test_each_validator_sets_only_its_own_bits(table, cls, bits):
    mask = sum(bits)
    expected = np.array([b & mask for _, b in ROWS])
    groups = {}
    for i, row in enumerate(table):
        groups.setdefault((row["method"], row["cadence"]), []).append(i)
    flags = np.zeros(len(table), dtype=np.int64)
    for rows in groups.values():
        flags[rows] = cls().validate(table[rows]).flags
    np.testing.assert_array_equal(flags, expected)


def test_the_methods_setting_widens_the_population_checks(table):
    halo = table[table["method"] == "halo"]
    default = MaskSizeValidator().validate(halo).flags
    everyone = MaskSizeValidator(MaskSizeValidator.Settings(methods=())).validate(halo).flags
    assert not np.any(default & DATAVAL["LargeMask"])
    assert np.any(everyone & DATAVAL["LargeMask"])


def test_sysnoise_raises_the_expected_noise():
    row = _row("x", rms_hour=1.5 * _expected_noise(10.0, 1800, 3600.0))
    t = Table(rows=[row])
    assert NoiseValidator().validate(t).flags[0] == 0
    noisy = NoiseValidator(NoiseValidator.Settings(sysnoise=500.0))
    assert noisy.validate(t).flags[0] == DATAVAL["LowRMS"] | DATAVAL["LowPTP"]


def test_magnitude_flux_validator_reports_the_zero_point():
    rng = np.random.default_rng(7)
    tmag = rng.uniform(7.0, 14.0, 400)
    rows = [
        _row("s", tmag=float(t), mean_flux=float(mag_to_flux(t - 0.03)) * rng.lognormal(0, 0.04))
        for t in tmag
    ]
    result = MagnitudeFluxValidator().validate(Table(rows=rows))
    assert result.info["zero_point"] == pytest.approx(20.451 + 0.03, abs=0.01)
    assert result.info["zero_point_stars"] == 400
    assert not np.any(result.flags)


def test_masked_values_from_sql_nulls_are_not_flagged_by_population_checks():
    t = Table(rows=[_row("a"), _row("b")])
    t["mask_size"] = MaskedColumn([5, 5], mask=[False, True])
    t["contamination"] = MaskedColumn([0.9, 0.9], mask=[False, True])
    t["minimal_mask"] = MaskedColumn([True, True], mask=[False, True])
    assert MaskSizeValidator().validate(t).flags.tolist() == [16 | 32, 0]
    assert ContaminationValidator().validate(t).flags.tolist() == [2048, 0]


def test_missing_columns_are_named():
    t = Table(rows=[_row("a")])
    t.remove_column("mask_size")
    with pytest.raises(
        SchemaError, match="validator 'mask-size': the table has no column 'mask_size'"
    ):
        MaskSizeValidator().validate(t)


@pytest.mark.parametrize("cls", DEFAULT_VALIDATORS)
def test_conformance(cls):
    assert check_validator(cls) == []


def test_core_plugin_conforms_and_registers_the_defaults():
    checked = assert_conformance(tasoc_core.builtin, "core")
    validators = [reg.name for reg in checked if issubclass(reg.cls, Validator)]
    assert sorted(validators) == sorted(cls.name for cls in DEFAULT_VALIDATORS)


def test_noise_info_is_the_median_ratio(table):
    healthy = Table(rows=[_row("a"), _row("b", tmag=12.0)])
    info = NoiseValidator().validate(healthy).info
    assert info["rms_ratio_median"] == pytest.approx(2.0)
    assert info["ptp_ratio_median"] == pytest.approx(2.0)
    assert math.isnan(NoiseValidator().validate(healthy[:0]).info.get("rms_ratio_median", math.nan))
