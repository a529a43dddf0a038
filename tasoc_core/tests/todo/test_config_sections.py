"""The [catalog] and [todo] configuration sections: defaults, round trip, errors."""

from __future__ import annotations

import tomllib

import pytest

from tasoc_core.config import CatalogConfig, Config, TodoConfig, structure
from tasoc_core.exceptions import ConfigError


def test_defaults() -> None:
    config = Config()
    assert config.catalog == CatalogConfig(source="file", buffer_deg=0.1, tmag_max=None, sources={})
    assert config.todo.faint_limit == 15.0
    assert config.todo.secondaries is True
    assert config.todo.datasources == ("ffi", "tpf")


def test_round_trip_through_toml() -> None:
    text = (
        '[catalog]\nbuffer_deg = 0.2\ntmag_max = 18.0\n[catalog.sources.file]\ncolumns = {tmag = "T"}\n'
        '[todo]\nfaint_limit = 14.0\nexclude = [1, 2]\nforced_methods = {"267211065" = "halo"}\n'
    )
    config = structure(Config, tomllib.loads(text))
    assert config.catalog.sources == {"file": {"columns": {"tmag": "T"}}}
    assert config.todo == TodoConfig(
        faint_limit=14.0, exclude=(1, 2), forced_methods={"267211065": "halo"}
    )
    again = structure(Config, tomllib.loads(config.to_toml()))
    assert again.catalog == config.catalog
    assert again.todo == config.todo


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[todo]\nforced_methods = {"abc" = "halo"}\n',
            "forced_methods: key 'abc' is not a TIC number",
        ),
        ("[catalog]\nbuffer_deg = -1\n", "catalog: buffer_deg must be zero or positive, got -1.0"),
        (
            '[todo]\ndatasources = ["ffi", "hdf5"]\n',
            "todo.datasources[1]: 'hdf5' is not one of 'ffi', 'tpf'",
        ),
        ('[todo]\nfaint_limit = "15"\n', "todo.faint_limit: expected a number, got '15'"),
        ("[catalog]\nbuffer = 0.1\n", "catalog: unknown key 'buffer'"),
        ('[todo]\nexclude = ["TIC 1"]\n', "todo.exclude[0]: expected an integer, got 'TIC 1'"),
    ],
)
def test_errors_name_key_and_value(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        structure(Config, tomllib.loads(text))
    assert message in str(err.value)
