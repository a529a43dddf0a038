"""Run configuration: defaults, validation errors that name the key and value, paths."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from tasoc_core.config import Config, find_config_file, load_config
from tasoc_core.exceptions import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tasoc.toml"
    path.write_text(text)
    return path


def test_defaults():
    config = load_config(None)
    assert config.selection.cameras == (1, 2, 3, 4)
    assert config.photometry.default_method == "aperture"
    assert config.run.backend == "processes"


def test_file_values_and_relative_paths(tmp_path):
    path = write(
        tmp_path,
        """
[paths]
input = "sector01"
output = "/abs/out"

[selection]
sector = 1
cameras = [2]

[[photometry.rules]]
datasource = "ffi"
tmag_max = 2.0
method = "halo"

[[photometry.rules]]
after = "aperture"
outcome = "edge"
method = "halo"

[methods.aperture]
max_resizes = 5
""",
    )
    config = load_config(path)
    assert config.paths.input == tmp_path / "sector01"
    assert config.paths.output == Path("/abs/out")
    assert config.selection.cameras == (2,)
    assert [r.index for r in config.photometry.rules] == [0, 1]
    assert config.photometry.rules[1].outcome == ("edge",)
    assert config.methods == {"aperture": {"max_resizes": 5}}
    assert config.source == path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[selection]\nsector = 'one'", "selection.sector: expected an integer, got 'one'"),
        ("[selection]\ncameras = [1, 5]", "cameras: 5 is not between 1 and 4"),
        ("[run]\nbackend = 'slurm'", "run.backend: 'slurm' is not one of"),
        ("[run]\nworkers = 0", "workers must be at least 1, got 0"),
        (
            "[paths]\ninptu = 'x'",
            "paths: unknown key 'inptu' (known keys: catalog, input, output, prf, spice_kernels)",
        ),
        ("[[photometry.rules]]\nmethod = 'halo'\ndatasource = 'tess'", "photometry.rules[0]"),
        ("[[photometry.rules]]\ntmag_max = 2.0", "photometry.rules[0]"),
        ("[photometry]\nrules = 3", "photometry.rules: expected a list"),
        ("sector = 1", "unknown key 'sector'"),
    ],
)
def test_invalid_values_name_key_and_value(tmp_path, text, message):
    with pytest.raises(ConfigError, match=None) as info:
        load_config(write(tmp_path, text))
    assert message in str(info.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(write(tmp_path, "[paths\ninput = 1"))


def test_settings_for_validates_against_a_settings_class(tmp_path):
    @attrs.frozen
    class Settings:
        radius: float = 2.5
        mode: str = "fast"

    config = load_config(write(tmp_path, "[methods.example]\nradius = 3\n"))
    assert config.settings_for("methods", "example", Settings) == Settings(radius=3.0)
    assert config.settings_for("methods", "other", Settings) == Settings()
    bad = load_config(write(tmp_path, "[methods.example]\nradius = 'big'\n"))
    with pytest.raises(
        ConfigError, match=r"methods\.example\.radius: expected a number, got 'big'"
    ):
        bad.settings_for("methods", "example", Settings)


def test_round_trip_through_toml(tmp_path):
    config = load_config(
        write(
            tmp_path,
            "[selection]\nsector = 3\n[[photometry.rules]]\ntic = [1, 2]\nmethod = 'psf'\n",
        )
    )
    again = load_config(write(tmp_path, config.to_toml()))
    assert again.selection == config.selection
    assert again.photometry == config.photometry
    assert isinstance(Config().to_toml(), str)


def test_config_discovery(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TASOC_CONFIG", raising=False)
    assert find_config_file() is None
    local = write(tmp_path, "")
    assert find_config_file() == tmp_path / "tasoc.toml"
    monkeypatch.setenv("TASOC_CONFIG", "/elsewhere.toml")
    assert find_config_file() == Path("/elsewhere.toml")
    assert find_config_file(local) == local
