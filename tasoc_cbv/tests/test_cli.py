"""``tasoc cbv build`` through the real command line (plugin commands are added by the hook)."""

from __future__ import annotations

import contextlib
import json
import sys
import types

import pytest
from click.testing import CliRunner

from tasoc_core.cli import cli
from tasoc_core.testing import InMemoryCorrectionContext


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_help_is_available():
    result = run("cbv", "--help")
    assert result.exit_code == 0
    assert "build" in result.output
    result = run("cbv", "build", "--help")
    assert result.exit_code == 0
    for option in ("--sector", "--camera", "--ccd", "--area", "--overwrite", "--json"):
        assert option in result.output


def test_build_says_it_is_not_wired_until_core_provides_the_context(monkeypatch):
    monkeypatch.setitem(sys.modules, "tasoc_core.correct", None)  # import fails
    result = run("cbv", "build", "--sector", "1")
    assert result.exit_code == 1
    assert "not wired yet" in result.output
    assert "tasoc_core.correct.open_context(config, *, corrector)" in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def fake_core(monkeypatch, sector_sim, tmp_path):
    """A stand-in for the correction framework: open_context over the simulated sector."""
    opened = []

    @contextlib.contextmanager
    def open_context(config, *, corrector):
        opened.append(corrector)
        yield InMemoryCorrectionContext(
            sector_sim.light_curves, tmp_path / "corrections" / corrector
        )

    module = types.ModuleType("tasoc_core.correct")
    module.open_context = open_context
    monkeypatch.setitem(sys.modules, "tasoc_core.correct", module)
    return tmp_path / "corrections" / "cbv", opened


def test_build_writes_one_file_per_area(fake_core, sector_sim):
    work_dir, opened = fake_core
    result = run("-q", "cbv", "build", "--sector", "1", "--camera", "1", "--ccd", "1",
                 "--no-plot", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert opened == ["cbv"]
    report = json.loads(result.output)
    assert {r["area"]: r["status"] for r in report["areas"]} == {
        111: "built",
        112: "built",
        113: "built",
        114: "built",
    }
    files = sorted(p.name for p in work_dir.iterdir())
    assert files == [f"tess-s0001-c1800-a{a}-v01-tasoc_cbv.fits" for a in (111, 112, 113, 114)]
    # Running again keeps the files (resume).
    again = json.loads(run("-q", "cbv", "build", "--sector", "1", "--area", "112", "--json").output)
    assert again["areas"] == [{"area": 112, "status": "kept", "file": str(work_dir / files[1])}]


def test_build_rejects_a_bad_area_and_needs_a_sector(fake_core):
    result = run("cbv", "build", "--sector", "1", "--area", "157")
    assert result.exit_code == 2
    assert "157 is not a CBV area" in result.output
    result = run("cbv", "build")
    assert result.exit_code == 1
    assert "no sector given" in result.output


def test_areas_without_enough_stars_are_reported_and_the_run_fails(fake_core):
    result = run("cbv", "build", "--sector", "1", "--camera", "1", "--ccd", "2")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    # No light curves in any of the four areas: one line, and the run fails (nothing built).
    assert lines == ["areas without light curves (nothing to build): 121, 122, 123, 124"]
    result = run("cbv", "build", "--sector", "1", "--camera", "1", "--ccd", "2", "--json")
    assert {a["status"] for a in json.loads(result.output)["areas"]} == {"empty"}
