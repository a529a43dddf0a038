"""The plugin as tasoc sees it: registration, conformance, settings, headers."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import attrs
import pytest

import tasoc_aperture
import tasoc_aperture.plugin
from tasoc_aperture import AperturePhotometry, ApertureSettings
from tasoc_core.config import structure
from tasoc_core.exceptions import ConfigError
from tasoc_core.plugins import get_plugin_manager
from tasoc_core.testing import assert_conformance, synthetic_target


def test_plugin_conforms():
    checked = assert_conformance(tasoc_aperture.plugin, name="aperture")
    assert [reg.name for reg in checked] == ["aperture"]


def test_entry_point_registers_the_aperture_method():
    (entry,) = [ep for ep in entry_points(group="tasoc") if ep.name == "aperture"]
    assert entry.value == "tasoc_aperture.plugin"
    pm = get_plugin_manager()
    registration = pm.lookup("photometry", "aperture")
    assert registration.cls is AperturePhotometry
    assert registration.distribution == "tasoc-aperture"
    assert registration.version == tasoc_aperture.__version__ == "0.1.0"


def test_settings_from_toml_and_their_errors():
    settings = structure(ApertureSettings, {"thresh": 1, "max_resizes": 3}, "methods.aperture")
    assert settings.thresh == 1.0
    assert settings.max_resizes == 3
    with pytest.raises(
        ConfigError, match=r"methods\.aperture\.max_resizes: expected an integer, got 'five'"
    ):
        structure(ApertureSettings, {"max_resizes": "five"}, "methods.aperture")
    with pytest.raises(
        ConfigError, match=r"methods\.aperture: ws_footprint must be a positive odd integer, got 4"
    ):
        structure(ApertureSettings, {"ws_footprint": 4}, "methods.aperture")
    with pytest.raises(ConfigError, match="unknown key 'treshold'"):
        structure(ApertureSettings, {"treshold": 1.0}, "methods.aperture")
    with pytest.raises(ValueError, match="cluster_radius must be positive, got 0"):
        ApertureSettings(cluster_radius=0)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        settings.thresh = 2.0  # type: ignore[misc]


def test_headers_record_the_settings_used():
    settings = ApertureSettings(thresh=1.2, ws_blur=0.0, extend_overflow=False)
    res = AperturePhotometry(settings).photometry(synthetic_target(tmag=9.0, seed=4).data)
    h = res.headers
    assert h["KP_THRES"][0] == 1.2
    assert h["KP_WSBLR"][0] == 0.0
    assert h["KP_EX"][0] is False
    assert h["KP_MIPIX"][0] == 4
    assert h["KP_MICLS"][0] == 4
    assert h["KP_WS"][0] is True
    assert h["KP_CLSRA"][0] == pytest.approx(2**0.5)
    assert h["KP_WSTHR"][0] == 0.0
    assert h["KP_WSFOT"][0] == 3
    assert h["KP_RSMAX"][0] == 5
    assert h["AP_CONT"][0] == res.contamination
    assert all(len(key) <= 8 and len(comment) <= 47 for key, (_, comment) in h.items())


def test_readme_documents_every_setting_and_header():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    for field in attrs.fields(ApertureSettings):
        assert f"| `{field.name}` |" in readme, f"README lacks setting {field.name}"
    res = AperturePhotometry().photometry(synthetic_target(tmag=10.0, seed=5).data)
    for key in res.headers:
        assert key in readme, f"README lacks header {key}"
    for key in res.diagnostics:
        assert f"`{key}`" in readme, f"README lacks diagnostic {key}"
