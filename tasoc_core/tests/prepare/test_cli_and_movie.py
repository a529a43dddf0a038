"""``tasoc prepare`` on the command line, and the QC movie."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tasoc_core.cli import cli
from tasoc_core.flags import PIXEL_FLAGS
from tasoc_core.prepare.movie import CATEGORIES, flag_category, make_movie, movie_frames


@pytest.fixture
def run(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TASOC_CONFIG", raising=False)
    monkeypatch.delenv("TASOC_DISABLE_PLUGINS", raising=False)

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "tasoc.toml"
    path.write_text(f'[paths]\ninput = "in"\noutput = "out"\n[prepare]\nchunk_frames = 4\n{extra}')
    return path


def test_prepare_command_json_movie_and_rerun(run, synthetic_sector, tmp_path: Path) -> None:
    synthetic_sector(tmp_path / "in", n=8, shape=(64, 64), nstars=15)
    _config(tmp_path)
    assert run("prepare", "--help").exit_code == 0
    result = run("prepare", "--json", "--movie", "--workers", "1")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["prepare"]
    assert len(summary) == 1
    entry = summary[0]
    assert entry["status"] == "created"
    assert entry["nframes"] == 8
    assert Path(entry["path"]) == tmp_path / "out" / "prepare" / "sector001_camera1_ccd1.hdf5"
    movie = Path(entry["movie"])
    assert movie.exists()
    # Without --overwrite an existing file is left alone.
    again = run("prepare", "--camera", "1", "--ccd", "1")
    assert again.exit_code == 0
    assert "exists" in again.output
    # No FFIs for the selection: a one-line error and exit status 1.
    missing = run("prepare", "--camera", "3")
    assert missing.exit_code == 1
    assert "no FFIs of sector 1, cameras [3]" in missing.output


def test_prepare_command_configuration_errors(run, synthetic_sector, tmp_path: Path) -> None:
    synthetic_sector(tmp_path / "in", n=3, shape=(64, 64), nstars=5)
    _config(tmp_path, "[prepare.estimators.tasoc]\nbox = 1\n")
    result = run("prepare")
    assert result.exit_code == 1
    assert "prepare.estimators.tasoc: box must be at least 4" in result.output
    _config(tmp_path, "[prepare.estimators.nonesuch]\nbox = 1\n")
    result = run("prepare")
    assert result.exit_code == 1
    assert "prepare.estimators.nonesuch: no background estimator named 'nonesuch'" in result.output
    _config(tmp_path, 'background = "nonesuch"\n')
    result = run("prepare")
    assert result.exit_code == 1
    assert "unknown background estimator 'nonesuch'" in result.output
    (tmp_path / "tasoc.toml").write_text('[paths]\ninput = "empty"\n')
    (tmp_path / "empty").mkdir()
    result = run("prepare")
    assert result.exit_code == 1
    assert "no FFIs found under" in result.output


def test_flag_categories_take_the_most_severe_flag() -> None:
    flags = np.array([0, 1, 2, 3, 4, 5, 8, 15], dtype=np.uint8)
    np.testing.assert_array_equal(flag_category(flags), [0, 1, 2, 2, 3, 3, 4, 4])
    assert CATEGORIES[3] == "BackgroundShenanigans"
    assert PIXEL_FLAGS["BackgroundShenanigans"] == 4


def test_movie_panels_and_gif(prepared, tmp_path: Path) -> None:
    panels = movie_frames(prepared.path, max_frames=10, size=64)
    np.testing.assert_array_equal(panels["index"], np.arange(0, 24, 3))
    assert panels["original"].shape == (8, 64, 64)
    # Panels are 4×4 block means of the cubes; the original is image + background.
    import h5py

    with h5py.File(prepared.path, "r") as f:
        img = f["images"][3]
        bkg = f["backgrounds"][3]
    block = np.nanmean((img + bkg)[:4, :4])
    assert panels["original"][1, 0, 0] == pytest.approx(block, rel=1e-5)
    # The flare frames show background shenanigans in the flag panel.
    assert (panels["flags"][panels["index"] == 9] == 3).any()
    assert not (panels["flags"][panels["index"] == 0] == 3).any()
    out = make_movie(prepared.path, tmp_path / "movie.gif", max_frames=6, size=48, fps=5)
    with Image.open(out) as gif:
        assert gif.n_frames == 6
        width, height = gif.size
    assert width > 3 * height
    with pytest.raises(ValueError, match="mp4 or gif"):
        make_movie(prepared.path, tmp_path / "movie.avi")
