"""Combining validators: groups, approval, broken validators, configuration."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from astropy.table import Table

from tasoc_core import hookimpl
from tasoc_core.config import load_config
from tasoc_core.config.plugins import validate_config
from tasoc_core.exceptions import ConfigError, PluginError, SchemaError
from tasoc_core.families import ValidationResult, Validator
from tasoc_core.flags import DATAVAL, DATAVAL_REJECT
from tasoc_core.plugins import get_plugin_manager
from tasoc_core.status import Status
from tasoc_core.testing import mag_to_flux, synthetic_validation_table
from tasoc_core.validation import (
    DEFAULT_VALIDATORS,
    NoiseValidator,
    approve,
    configured_validators,
    validate_table,
)


class Spy(Validator):
    """Records the groups it sees and flags LowPTP on every row."""

    name = "spy"
    seen: ClassVar[list[tuple[str, int, int]]] = []

    def validate(self, table: Table) -> ValidationResult:
        Spy.seen.append((str(table["method"][0]), int(table["cadence"][0]), len(table)))
        return ValidationResult(np.full(len(table), DATAVAL["LowPTP"]), {"rows": len(table)})


def _table() -> Table:
    t = synthetic_validation_table(nrows=30, seed=3)
    t["method"][20:] = "halo"
    t["cadence"][25:] = 120
    t["datasource"][25:] = "tpf"
    return t


def test_approval_rule():
    dataval = np.array([0, DATAVAL["LowRMS"], DATAVAL["SmallMask"], 0, 0, DATAVAL["InvalidNoise"]])
    status = np.array([1, 3, 1, 2, 5, 1])
    assert approve(dataval, status).tolist() == [True, True, False, False, False, False]
    relaxed = approve(dataval, status, reject_mask=0)
    assert relaxed.tolist() == [True, True, True, False, False, True]
    assert DATAVAL_REJECT == 13408


def test_each_group_is_validated_on_its_own():
    Spy.seen = []
    table = _table()
    dataval, approved, info = validate_table(table, [Spy()])
    assert sorted(Spy.seen) == [("aperture", 1800, 20), ("halo", 120, 5), ("halo", 1800, 5)]
    assert set(info) == {"aperture/c1800", "halo/c1800", "halo/c0120"}
    assert info["halo/c0120"]["spy"] == {"rows": 5}
    assert np.all(dataval == DATAVAL["LowPTP"])
    assert approved.all()


def test_groups_include_the_sector_when_present():
    Spy.seen = []
    table = _table()
    table["sector"] = np.where(np.arange(30) < 10, 1, 2)
    _, _, info = validate_table(table, [Spy()])
    assert "s001/aperture/c1800" in info
    assert "s002/aperture/c1800" in info
    assert len(Spy.seen) == 4


def test_zero_points_per_group():
    rng = np.random.default_rng(11)
    tmag = rng.uniform(7.0, 14.0, 300)
    table = synthetic_validation_table(nrows=300, seed=11)
    table["tmag"] = tmag
    table["contamination"] = 0.01
    table["cadence"][150:] = 600
    offset = np.where(np.arange(300) < 150, 0.0, 0.08)  # the 600-s group has zp 20.531
    table["mean_flux"] = mag_to_flux(tmag - offset) * rng.lognormal(0.0, 0.03, 300)
    _, _, info = validate_table(table, [cls() for cls in DEFAULT_VALIDATORS])
    assert info["aperture/c1800"]["magnitude-flux"]["zero_point"] == pytest.approx(20.451, abs=0.01)
    assert info["aperture/c0600"]["magnitude-flux"]["zero_point"] == pytest.approx(20.531, abs=0.01)


def test_synthetic_table_outliers_are_withheld():
    table = synthetic_validation_table()
    dataval, approved, _ = validate_table(table, [cls() for cls in DEFAULT_VALIDATORS])
    assert dataval[0] & DATAVAL["InvalidFlux"]
    assert dataval[1] & DATAVAL["InvalidNoise"]
    assert dataval[2] & DATAVAL["InvalidContamination"]
    assert not approved[:3].any()
    assert approved[3:].all()


class Raises(Validator):
    """Fails."""

    name = "raises"

    def validate(self, table):
        raise ZeroDivisionError("oops")


class WrongBits(Validator):
    """Returns a bit that is not a DATAVAL flag."""

    name = "wrong-bits"

    def validate(self, table):
        return ValidationResult(np.full(len(table), 4))


class WrongLength(Validator):
    """Returns one flag too few."""

    name = "wrong-length"

    def validate(self, table):
        return ValidationResult(np.zeros(len(table) - 1))


class NotAResult(Validator):
    """Returns a plain array."""

    name = "not-a-result"

    def validate(self, table):
        return np.zeros(len(table))


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (Raises, r"validator 'raises' failed on group aperture/c1800: ZeroDivisionError: oops"),
        (WrongBits, r"validator 'wrong-bits' on group aperture/c1800 returned 4, which holds"),
        (WrongLength, r"'wrong-length' on group aperture/c1800 returned \(19,\) flags for 20"),
        (NotAResult, r"'not-a-result' on group aperture/c1800 returned ndarray"),
    ],
)
def test_broken_validators_are_plugin_errors_naming_validator_and_group(cls, message):
    with pytest.raises(PluginError, match=message):
        validate_table(_table(), [cls()])


def test_table_errors():
    table = _table()
    table.remove_column("status")
    with pytest.raises(SchemaError, match="no column 'status'"):
        validate_table(table, [])
    empty = _table()[:0]
    dataval, approved, info = validate_table(empty, [cls() for cls in DEFAULT_VALIDATORS])
    assert dataval.shape == approved.shape == (0,)
    assert info == {}


def test_failed_photometry_is_never_approved():
    table = _table()
    table["status"][5] = int(Status.ERROR)
    dataval, approved, _ = validate_table(table, [cls() for cls in DEFAULT_VALIDATORS])
    assert dataval[5] == 0
    assert not approved[5]


# No photometry method is installed in these isolated managers: select none.
NO_METHODS = '[photometry]\ndefault_method = ""\n\n'


@pytest.fixture
def core_pm():
    return get_plugin_manager(entrypoints=False, builtins=True)


def test_configured_validators_use_every_registered_one_with_settings(core_pm, tmp_path):
    config_file = tmp_path / "tasoc.toml"
    config_file.write_text(
        NO_METHODS
        + '[validation]\nskip = ["contamination"]\n\n[validators.noise]\nsysnoise = 12.5\n'
    )
    config = load_config(config_file)
    validate_config(config, core_pm)
    validators = configured_validators(core_pm, config)
    names = sorted(v.name for v in validators)
    assert names == ["invalid-values", "magnitude-flux", "mask-size", "noise"]
    (noise,) = [v for v in validators if isinstance(v, NoiseValidator)]
    assert noise.settings.sysnoise == 12.5


def test_a_plugin_validator_joins_the_defaults(core_pm):
    class Plugin:
        @staticmethod
        @hookimpl
        def tasoc_register_validators(register):
            register(Spy)

    core_pm.add_plugin(Plugin, "spyplugin")
    config = load_config(None)
    names = sorted(v.name for v in configured_validators(core_pm, config))
    assert "spy" in names
    assert len(names) == len(DEFAULT_VALIDATORS) + 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[validators.noise]\nsysnoise = -1.0\n", "validators.noise"),
        ("[validators.noise]\nbogus = 1\n", "unknown key 'bogus'"),
        ("[validators.nothere]\nx = 1\n", "validators.nothere: no validator named 'nothere'"),
        ('[validation]\nskip = ["nothere"]\n', "validation.skip: no validator named 'nothere'"),
        ("[validation]\nreject_mask = 4\n", "reject_mask: 4 holds bits that are not DATAVAL"),
        ("[output]\nversion = 0\n", "output: version: 0 is not between 1 and 99"),
        ("[output]\ncompression = 10\n", "compression: 10 is not between 1 and 9"),
    ],
)
def test_bad_configuration_names_the_key(core_pm, tmp_path, text, message):
    config_file = tmp_path / "tasoc.toml"
    config_file.write_text(NO_METHODS + text)
    with pytest.raises(ConfigError, match=message):
        validate_config(load_config(config_file), core_pm)


def test_output_defaults():
    config = load_config(None)
    assert (config.output.version, config.output.compression, config.output.fsync) == (1, 6, False)
    assert config.validation.reject_mask == DATAVAL_REJECT
