"""Third-party plugins as users install them: the template, a broken one, two that clash.

The template is copied and renamed as docs/writing-a-plugin.md says, built into a wheel
and installed into a throw-away directory that is put on PYTHONPATH of `tasoc` subprocesses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "plugins" / "_template"


def rename_template(dest: Path, name: str) -> Path:
    """Copy the template and rename it to plugin ``name`` (steps 1-2 of writing-a-plugin.md)."""
    shutil.copytree(TEMPLATE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (dest / "src" / "tasoc_example").rename(dest / "src" / f"tasoc_{name}")
    for path in dest.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".toml", ".md"):
            text = path.read_text()
            text = text.replace("tasoc_example", f"tasoc_{name}").replace(
                "tasoc-example", f"tasoc-{name}"
            )
            text = text.replace('name = "example"', f'name = "{name}"').replace(
                "example = ", f"{name} = "
            )
            text = text.replace('["example"]', f'["{name}"]').replace(
                'name="example"', f'name="{name}"'
            )
            path.write_text(text)
    return dest


def fake_distribution(
    site: Path, dist: str, version: str, entry: str, module: str, source: str
) -> None:
    """Install a minimal distribution (dist-info + one module) into ``site``."""
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[tasoc]\n{entry} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The renamed template built and installed into a fresh site directory."""
    work = tmp_path_factory.mktemp("plugin")
    source = rename_template(work / "tasoc-myplugin", "myplugin")
    wheels = work / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    site = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), *map(str, wheels.glob("*.whl"))],
        check=True, capture_output=True,
    )  # fmt: skip
    return site


def test_template_plugin_is_discovered_listed_and_conforms(installed, tasoc_cli):
    result = tasoc_cli("plugins", "--json", pythonpath=[installed])
    assert result.returncode == 0, result.stderr
    (entry,) = [p for p in json.loads(result.stdout)["plugins"] if p["name"] == "myplugin"]
    assert entry["distribution"] == "tasoc-myplugin"
    assert entry["version"] == "0.1.0"
    assert entry["status"] == "ok"
    assert entry["provides"] == {"photometry": ["myplugin"]}
    check = tasoc_cli("plugins", "check", "myplugin", pythonpath=[installed])
    assert check.returncode == 0, check.stdout + check.stderr
    assert "photometry method myplugin: ok" in check.stdout


def test_template_plugin_tests_pass_when_installed(installed, tmp_path):
    tests = rename_template(tmp_path / "copy", "myplugin") / "tests"
    env = {"PYTHONPATH": str(installed)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_method_is_selectable_by_name_with_validated_settings(installed, tasoc_cli, tmp_path):
    config = tmp_path / "tasoc.toml"
    config.write_text(
        '[photometry]\ndefault_method = "myplugin"\n[methods.myplugin]\nradius = 3.0\n'
    )
    result = tasoc_cli("-c", str(config), "config", "show", "--json", pythonpath=[installed])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["methods"]["myplugin"] == {"radius": 3.0}
    config.write_text(
        '[photometry]\ndefault_method = "myplugin"\n[methods.myplugin]\nradius = -1.0\n'
    )
    bad = tasoc_cli("-c", str(config), "config", "show", pythonpath=[installed])
    assert bad.returncode == 1
    assert bad.stderr.strip() == "Error: methods.myplugin: radius must be positive, got -1.0"


def test_a_plugin_that_raises_on_import_is_reported_and_others_keep_working(
    installed, tasoc_cli, tmp_path
):
    site = tmp_path / "site"
    fake_distribution(
        site,
        "brokenplug",
        "1.2.3",
        "broken",
        "broken_module",
        "raise ImportError('needs libfoo')\n",
    )
    result = tasoc_cli("plugins", "--json", pythonpath=[site, installed])
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    assert plugins["broken"]["status"] == "broken"
    assert plugins["broken"]["version"] == "1.2.3"
    assert plugins["broken"]["error"] == "ImportError: needs libfoo"
    assert plugins["myplugin"]["status"] == "ok"
    assert plugins["core"]["status"] == "ok"
    table = tasoc_cli("plugins", pythonpath=[site, installed])
    assert "ImportError: needs libfoo" in table.stdout
    # Asking for the broken plugin explicitly is a hard error with a clear message.
    check = tasoc_cli("plugins", "check", "broken", pythonpath=[site])
    assert check.returncode == 1
    assert "stage: import" in check.stdout
    assert "error: ImportError: needs libfoo" in check.stdout
    config = tmp_path / "tasoc.toml"
    config.write_text('[photometry]\ndefault_method = "broken"\n')
    use = tasoc_cli("-c", str(config), "config", "show", pythonpath=[site])
    assert use.returncode == 1
    assert (
        "plugin 'broken' (brokenplug 1.2.3) failed at import: ImportError: needs libfoo"
        in use.stderr
    )
    assert "Traceback" not in use.stderr


def test_two_plugins_registering_the_same_name_are_an_error_naming_both(tasoc_cli, tmp_path):
    site = tmp_path / "site"
    source = """
        import numpy as np
        from tasoc_core import hookimpl
        from tasoc_core.families import PhotometryMethod, PhotometryResult

        class Dup(PhotometryMethod):
            '''Sum of all pixels.'''
            name = "dup"
            def photometry(self, data):
                flux = data.images.sum(axis=(1, 2))
                return PhotometryResult(data=data, flux=flux, flux_err=np.sqrt(np.abs(flux)))

        @hookimpl
        def tasoc_register_photometry_methods(register):
            register(Dup)
    """
    fake_distribution(site, "dupa-dist", "1.0", "dupa", "dupa_module", source)
    fake_distribution(site, "dupb-dist", "2.0", "dupb", "dupb_module", source)
    result = tasoc_cli("plugins", pythonpath=[site])
    assert result.returncode == 1
    assert (
        "photometry method 'dup' is registered by two plugins: "
        "dupa (dupa-dist 1.0) and dupb (dupb-dist 2.0)" in result.stderr
    )
    disabled = tasoc_cli("--disable-plugin", "dupb", "plugins", pythonpath=[site])
    assert disabled.returncode == 0, disabled.stderr
