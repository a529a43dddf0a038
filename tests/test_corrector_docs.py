"""Every corrector setting is documented in its README and in docs/configuration.md."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from tasoc_cbv import CBVBuildSettings, CBVSettings
from tasoc_ensemble import EnsembleSettings

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("settings", "prefix", "readme", "section"),
    [
        (CBVSettings, "", "tasoc_cbv/README.md", "[correctors.cbv]"),
        (CBVBuildSettings, "build.", "tasoc_cbv/README.md", "[correctors.cbv.build]"),
        (EnsembleSettings, "", "tasoc_ensemble/README.md", "[correctors.ensemble]"),
    ],
)
def test_settings_are_documented(settings, prefix, readme, section):
    readme_text = (REPO / readme).read_text()
    config = (REPO / "docs" / "configuration.md").read_text()
    assert f"`{section}`" in config
    for field in attrs.fields(settings):
        assert f"`{prefix}{field.name}`" in readme_text, f"{readme}: {prefix}{field.name}"
        assert f"`{field.name}`" in config, f"configuration.md: {section} {field.name}"
