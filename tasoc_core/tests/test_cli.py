"""The command line: help, version, verbosity, plugin listing, config, error handling."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tasoc_core import __version__
from tasoc_core.cli import cli


@pytest.fixture
def run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TASOC_CONFIG", raising=False)
    monkeypatch.delenv("TASOC_DISABLE_PLUGINS", raising=False)

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_help_and_version(run):
    result = run("--help")
    assert result.exit_code == 0
    assert "plugins" in result.output
    assert "config" in result.output
    assert run("--version").output.strip() == f"tasoc, version {__version__}"
    for sub in (
        ["plugins", "--help"],
        ["plugins", "check", "--help"],
        ["config", "show", "--help"],
    ):
        assert run(*sub).exit_code == 0


def test_plugins_json_lists_core(run):
    result = run("plugins", "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    core = next(p for p in report["plugins"] if p["name"] == "core")
    assert core["distribution"] == "tasoc-core"
    assert core["version"] == __version__
    assert core["status"] == "ok"


def test_plugins_table_and_disable(run):
    assert "core" in run("plugins").output
    result = run("--disable-plugin", "core", "plugins", "--json")
    (core,) = [p for p in json.loads(result.output)["plugins"] if p["name"] == "core"]
    assert core["status"] == "disabled"


def test_plugins_check(run):
    ok = run("plugins", "check", "core")
    assert ok.exit_code == 0
    assert "plugin core: ok" in ok.output
    missing = run("plugins", "check", "nosuch")
    assert missing.exit_code == 1
    assert "no plugin named 'nosuch'" in missing.output


def test_config_show_prints_effective_configuration(run, tmp_path):
    (tmp_path / "tasoc.toml").write_text(
        "[selection]\nsector = 7\n[photometry]\ndefault_method = ''\n"
    )
    result = run("config", "show")
    assert result.exit_code == 0, result.output
    assert "sector = 7" in result.output
    data = json.loads(run("config", "show", "--json").output)
    assert data["selection"]["sector"] == 7
    assert data["problems"] == []


def test_config_show_reports_missing_methods(run, tmp_path):
    (tmp_path / "cfg.toml").write_text("[photometry]\ndefault_method = 'nosuch'\n")
    result = run("-c", str(tmp_path / "cfg.toml"), "config", "show")
    assert result.exit_code == 1
    assert "Error: photometry.default_method: unknown photometry method 'nosuch'" in result.output


def test_errors_are_one_line_and_nonzero(run, tmp_path):
    (tmp_path / "bad.toml").write_text("[selection]\ncameras = [9]\n")
    result = run("-c", str(tmp_path / "bad.toml"), "config", "show")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: selection: cameras: 9 is not between 1 and 4"
    ]
    verbose = run("-v", "-c", str(tmp_path / "bad.toml"), "config", "show")
    assert "Traceback" in verbose.output
    assert verbose.exit_code == 1


def test_unexpected_errors_get_a_hint(run, monkeypatch):
    import tasoc_core.cli.config_cmd as module

    def boom(*args, **kwargs):
        raise RuntimeError("kaput")

    monkeypatch.setattr(module, "effective_config", boom)
    result = run("config", "show")
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == "Error: unexpected RuntimeError: kaput (run with -v for the traceback)"
    )
