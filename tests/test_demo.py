"""``tasoc demo`` end to end on the ci sector (the README's first quick-start command).

The session's simulated ci sector is copied into the demo directory, so the demo finds a
complete simulation of its profile and seed and starts at the catalog stage; everything
after that runs exactly as a user's ``tasoc demo --profile ci`` does.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tasoc_core.cli import cli
from tasoc_core.testing.sector import CI_SECTOR_SEED

STAGES = ["simulate", "catalog", "todo", "prepare", "photometry", "cbv build", "correct", "report"]


def _demo(directory: Path, *extra: str) -> dict:
    result = CliRunner().invoke(
        cli,
        ["-q", "demo", "--profile", "ci", "--seed", str(CI_SECTOR_SEED), "--out", str(directory),
         "-j", "2", "--json", *extra],
    )  # fmt: skip
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def demo_dir(ci_sector: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    directory = tmp_path_factory.mktemp("demo")
    shutil.copytree(ci_sector, directory / "sector")
    return directory, _demo(directory)


def _rows(todo: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(todo) as db:
        return db.execute(sql).fetchall()


def test_demo_runs_every_stage_and_reports(demo_dir):
    directory, summary = demo_dir
    assert list(summary["stages"]) == STAGES
    assert summary["stages"]["simulate"] == 0.0  # the copied sector was recognised
    assert all(summary["stages"][s] > 0 for s in STAGES[1:]), summary["stages"]
    todo = directory / "work" / "todo.sqlite"
    (targets,) = _rows(todo, "SELECT COUNT(*) FROM todolist")[0]
    # Every target got a photometry outcome; every produced light curve was corrected by both.
    (unfinished,) = _rows(todo, "SELECT COUNT(*) FROM photometry WHERE status IN (0, 4, 6)")[0]
    assert unfinished == 0
    done = _rows(
        todo,
        "SELECT t.priority, COUNT(DISTINCT p.method) FROM todolist t "
        "LEFT JOIN photometry p ON p.priority = t.priority GROUP BY t.priority",
    )
    assert len(done) == targets
    assert all(n >= 1 for _, n in done)
    ok = _rows(todo, "SELECT priority, method FROM photometry WHERE status IN (1, 3)")
    for corrector in ("cbv", "ensemble"):
        corrected = _rows(
            todo, f"SELECT priority, method FROM corrections WHERE corrector = '{corrector}'"
        )
        assert sorted(corrected) == sorted(ok), corrector
    # The summary printed at the end is the report's, and it agrees with the TODO-file.
    assert Path(summary["report"]).is_file()
    report = json.loads((directory / "work" / "report" / "report.json").read_text())
    assert summary["summary"] == report["summary"]
    assert summary["summary"]["targets"]["total"] == targets
    assert summary["summary"]["missing"] == []
    aperture = summary["summary"]["status"]["photometry"]["aperture"]
    (aperture_ok,) = _rows(
        todo, "SELECT COUNT(*) FROM photometry WHERE method = 'aperture' AND status = 1"
    )[0]
    assert aperture["ok"] == aperture_ok


def test_demo_run_again_redoes_nothing(demo_dir):
    directory, _ = demo_dir
    lightcurves = sorted((directory / "work").rglob("*.fits"))
    assert lightcurves
    before = {p: p.stat().st_mtime_ns for p in lightcurves}
    again = _demo(directory)
    assert again["stages"]["simulate"] == 0.0
    assert {p: p.stat().st_mtime_ns for p in lightcurves} == before
