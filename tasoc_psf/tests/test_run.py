"""End to end on the simulated ci sector: catalog → todo → prepare → run --method aperture,linpsf.

The sector's ``tasoc.toml`` names its PRF files (``paths.prf = "prf"``); the run keeps both
methods' results per target in one TODO-file, every light curve opens with lightkurve, and
linpsf's fluxes are held against the simulator's truth.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner

from tasoc_core.cli import cli
from tasoc_core.flags import TESS_DEFAULT_BITMASK
from tasoc_core.simulate import Truth
from tasoc_core.status import Status

#: Targets run: the brightest of the sector (a fifth of them), to keep the test short.
TMAG_MAX = 13.0


def _config(sector: Path, out: Path, prf: Path, name: str = "tasoc") -> Path:
    """The sector's configuration with absolute paths, its output in ``out``."""
    text = (sector / "tasoc.toml").read_text()
    text = text.replace('output = "work"', f'output = "{out}"').replace(
        'prf = "prf"', f'prf = "{prf}"'
    )
    text = text.replace('input = "."', f'input = "{sector}"')
    for key in ("catalog", "spice_kernels"):
        text = text.replace(f'{key} = "', f'{key} = "{sector}/')
    path = out.parent / f"{name}.toml"
    path.write_text(text + '\n[run]\nbackend = "serial"\n')
    return path


def _tasoc(config: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["-q", "-c", str(config), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def run(ci_sector: Path, tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("psf_run") / "work"
    config = _config(Path(ci_sector), out, Path(ci_sector) / "prf")
    for command in (["catalog"], ["todo"], ["prepare", "--workers", "1"]):
        _tasoc(config, *command)
    _tasoc(config, "run", "--method", "aperture,linpsf", "--tmag-max", str(TMAG_MAX))
    return Path(ci_sector), out


def _rows(out: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(out / "todo.sqlite") as db:
        db.row_factory = sqlite3.Row
        return db.execute(
            "SELECT t.priority, t.starid, t.datasource, t.tmag, p.method, p.status, p.lightcurve, "
            "p.errors FROM todolist t JOIN photometry p USING (priority) ORDER BY t.priority"
        ).fetchall()


def test_both_methods_are_stored_per_target_and_every_file_opens(run):
    _, out = run
    # Fainter targets were not run (a few carry SKIPPED from a brighter star's aperture).
    rows = [r for r in _rows(out) if r["tmag"] <= TMAG_MAX]
    by_target: dict[int, dict[str, sqlite3.Row]] = {}
    for row in rows:
        by_target.setdefault(row["priority"], {})[row["method"]] = row
    assert len(by_target) >= 28
    assert all(set(results) == {"aperture", "linpsf"} for results in by_target.values())
    linpsf = [r for r in rows if r["method"] == "linpsf"]
    # Only the saturated Tmag 3 star (its FFI and TPF targets) is refused, by design.
    failed = [r for r in linpsf if r["status"] == Status.ERROR]
    assert {r["starid"] for r in failed} <= {100004623}
    assert all("saturated" in r["errors"] for r in failed)
    assert sum(r["status"] in (Status.OK, Status.WARNING) for r in linpsf) >= 26
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lightkurve's optional-dependency warning
        import lightkurve
    opened = {"aperture": 0, "linpsf": 0}
    for row in rows:
        if not row["lightcurve"]:
            continue
        path = out / row["lightcurve"]
        lc = lightkurve.read(path, flux_column="flux_raw", quality_bitmask="none")
        assert len(lc) > 100
        assert lc.meta["PHOTMET"] == row["method"]
        opened[row["method"]] += 1
        if row["method"] == "linpsf":
            assert np.isfinite(lc.flux_err.value[np.isfinite(lc.flux.value)]).all()
            header = fits.getheader(path, "LIGHTCURVE")
            assert header["PSF_NFIT"] >= 1
            assert header["PSF_PRF"].endswith("prf/cam1_ccd1")
    assert opened["linpsf"] >= 26
    assert opened["aperture"] >= 20


def test_linpsf_fluxes_match_the_truth(run):
    """FFI targets: median flux within 0.5 % of the truth, scatter around it within errors."""
    sector, out = run
    truth = Truth(sector)
    good_q = (truth.ffi_quality & TESS_DEFAULT_BITMASK) == 0
    ratios, pulls = [], []
    for row in _rows(out):
        if row["method"] != "linpsf" or row["datasource"] != "ffi" or not row["lightcurve"]:
            continue
        data = fits.getdata(out / row["lightcurve"], "LIGHTCURVE")
        flux, err = data["FLUX_RAW"], data["FLUX_RAW_ERR"]
        true = truth.true_flux(row["starid"])
        good = good_q & np.isfinite(flux)
        ratios.append(np.median(flux[good]) / np.median(true[good]))
        pulls.append(np.std((flux - true)[good] / err[good]))
    ratios, pulls = np.array(ratios), np.array(pulls)
    assert len(ratios) >= 20
    # Flux scale: every star (neighbours of the saturated star included) within 0.5 %.
    assert np.median(np.abs(ratios - 1)) < 0.001
    assert np.all(np.abs(ratios - 1) < 0.005)
    # Errors: the typical star scatters as its errors say; the sector's lens flare and
    # background structure the model does not know make a few stars noisier.
    assert np.median(pulls) == pytest.approx(1.0, abs=0.2)
    assert np.mean(pulls < 2.0) > 0.75


def test_a_missing_prf_fails_only_the_prf_methods(run, tmp_path):
    sector, out = run
    empty = tmp_path / "no_prf"
    empty.mkdir()
    broken = _config(sector, out, empty, name="broken")
    starids = sorted({r["starid"] for r in _rows(out) if r["datasource"] == "ffi"})[:3]
    args = [a for s in starids for a in ("--starid", str(s))]
    _tasoc(broken, "run", "--method", "psf", "--datasource", "ffi", *args)
    psf = [r for r in _rows(out) if r["method"] == "psf"]
    assert len(psf) == 3
    for row in psf:
        assert row["status"] == Status.ERROR
        assert f"TIC {row['starid']}" in row["errors"]
        assert f"{empty}: no PRF files of camera 1 CCD 1" in row["errors"]
    # The earlier results of the other methods are untouched.
    assert sum(r["method"] == "linpsf" for r in _rows(out)) >= 28
