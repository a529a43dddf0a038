"""Small simulations: determinism, cadences, synthetic geometry and orbit, bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner

from tasoc_core.cli import cli
from tasoc_core.exceptions import SimulationError
from tasoc_core.geometry import camera_centre_pixel
from tasoc_core.io import find_ffis, read_ffi
from tasoc_core.simulate import Profile, Truth, _engine, ccd_geometry, sector_pointing, simulate
from tasoc_core.timing import SpiceKernels, barycentric_delay

TINY = Profile(
    name="tiny",
    region_size=(40, 40),
    orbit_days=0.4,
    gap_days=0.1,
    density_t15=1500.0,
    faint_limit=16.0,
    n_very_bright=0,
    n_tpf=1,
    tpf_size=7,
    fast_tpf_size=5,
    dump_interval_days=0.25,
    coarse_days=0.05,
    lens_flare=False,
    workers=1,
)


def _digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("tiny")
    runs = {
        "a": dict(seed=7),
        "a_parallel": dict(seed=7, workers=2),
        "b": dict(seed=8),
        "synthetic": dict(seed=7, sector=40, camera=3, ccd=2, cadence=600),
    }
    for name, kwargs in runs.items():
        simulate(base / name, profile=TINY, **kwargs)
    return {name: base / name for name in runs}


def test_same_seed_gives_identical_files(tiny_runs: dict[str, Path]) -> None:
    a, a2, b = (_digest(tiny_runs[k]) for k in ("a", "a_parallel", "b"))
    assert len(a) > 20
    assert a == a2  # serial and two worker processes write the same bytes
    assert a.keys() == b.keys() or set(a) != set(b)
    differ = [k for k in a if k in b and a[k] != b[k]]
    assert any(k.startswith("ffi/") for k in differ)
    assert "catalog/tic.csv" in differ


def test_600s_cadence_synthetic_pointing_and_orbit(tiny_runs: dict[str, Path]) -> None:
    out = tiny_runs["synthetic"]
    info = json.loads((out / "simulation.json").read_text())
    assert info["ephemeris"] == "synthetic"  # sector 40 is beyond the shipped Horizons table
    assert (info["sector"], info["camera"], info["ccd"], info["cadence"]) == (40, 3, 2, 600)
    ffis = find_ffis(out, sector=40, camera=3, ccd=2)
    assert len(ffis) == info["n_ffi"]
    h = fits.getheader(ffis[0].path, 1)
    assert (h["NUM_FRM"], h["NREADOUT"]) == (300, 240)
    assert h["TIMEDEL"] == pytest.approx(600 / 86400)
    truth = Truth(out)
    assert np.all(np.diff(truth.cadenceno) >= 1)
    # The region is the corner of CCD 2 far from the camera centre (which lies at col < 44).
    r0, _r1, _c0, c1 = truth.region
    assert (r0, c1) == (0, 2092)
    # Timestamps from the synthetic SPK: frame-centre BARYCORR re-computed independently
    # of the simulator's bookkeeping, and TESS stays in a TESS-like orbit about the Earth.
    ra, dec = info["frame_centre_sky"]
    with SpiceKernels(out / "spice") as kernels:
        delay = barycentric_delay(truth.ffi_time_tess + 2457000.0, ra, dec, kernels)
        dist = np.linalg.norm(kernels.position(-95, truth.ffi_time_tess + 2457000.0, 399), axis=1)
    np.testing.assert_allclose(
        [fits.getheader(f.path, 0)["BARYCORR"] for f in ffis], delay, atol=1e-10
    )
    assert np.all((dist > 16 * 6378) & (dist < 60 * 6378))
    frame = read_ffi(ffis[0].path)
    st = truth.stars[truth.stars["in_region"] & (truth.stars["tmag"] < 14)]
    _col, row = frame.header.wcs.all_world2pix(st["ra"], st["dec"], 0)
    np.testing.assert_allclose(row, st["row"] + truth.jitter[0, 0], atol=0.02)


def test_geometry_of_real_and_synthetic_sectors() -> None:
    assert sector_pointing(2).source == "real"
    assert sector_pointing(200).source == "synthetic"
    assert sector_pointing(200).start_jd > sector_pointing(134).end_jd
    real = ccd_geometry(2, 1, 1)
    assert real.source == "real"
    assert (
        ccd_geometry(1, 2, 1).source == "template"
    )  # sector 1's camera-2 solution is off by degrees
    # For every source of WCS the camera boresight pixel of the four CCDs is one sky point.
    from astropy.coordinates import SkyCoord

    for sector, camera in ((2, 1), (200, 3), (1, 2)):
        pts = [ccd_geometry(sector, camera, ccd).camera_centre_sky for ccd in (1, 2, 3, 4)]
        sky = SkyCoord([p[0] for p in pts], [p[1] for p in pts], unit="deg")
        assert sky[0].separation(sky).arcsec.max() < 30
    assert real.camera_centre_pixel == camera_centre_pixel(1, 1)
    # A template rotated onto a real sector's pointing lands on its real WCS (~1 px).
    from tasoc_core.simulate import pointing

    rotated = pointing._rotate_wcs(
        pointing._wcs_from_entry(pointing._wcs_table()["13"]["1"]["1"]),
        pointing.attitude_matrix(
            *[sector_pointing(2).ra, sector_pointing(2).dec, sector_pointing(2).roll]
        )
        @ pointing.attitude_matrix(
            *[pointing._wcs_table()["13"][k] for k in ("ra", "dec", "roll")]
        ).T,
    )
    pix = np.array([[44.0, 0.0], [2091.0, 2047.0], [1068.0, 1024.0]])
    a = SkyCoord(*real.wcs.all_pix2world(pix, 0).T, unit="deg")
    b = SkyCoord(*rotated.all_pix2world(pix, 0).T, unit="deg")
    assert a.separation(b).arcsec.max() < 90


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sector": 0}, "sector 0 is unknown"),
        ({"sector": 401}, "sector 401 is unknown"),
        ({"camera": 5}, "camera 5 is unknown"),
        ({"ccd": 0}, "ccd 0 is unknown"),
        ({"cadence": 120}, "cadence 120 s is impossible"),
        ({"profile": "huge"}, "profile 'huge' is unknown"),
    ],
)
def test_bad_settings_raise_one_clear_error(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        simulate(tmp_path / "out", **({"profile": TINY} | kwargs))
    assert list(tmp_path.iterdir()) == []


def test_unwritable_or_occupied_output(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SimulationError, match="cannot write to output directory"):
        simulate(blocker / "out", profile=TINY)
    with pytest.raises(SimulationError, match="is not a directory"):
        simulate(blocker, profile=TINY)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    with pytest.raises(SimulationError, match="not empty"):
        simulate(occupied, profile=TINY)
    assert (occupied / "keep.txt").read_text() == "mine"


def test_failure_mid_run_leaves_nothing_and_overwrite_is_atomic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "sector"
    out.mkdir()
    (out / "old.txt").write_text("previous run")

    def boom(self: object, *args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(_engine._Run, "write_tpf", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        simulate(out, profile=TINY, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sector"]  # no temporary directories
    assert (out / "old.txt").read_text() == "previous run"  # the old sector is untouched
    monkeypatch.undo()
    simulate(out, profile=TINY, overwrite=True)
    assert not (out / "old.txt").exists()
    assert (out / "simulation.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sector"]


def test_cli_reports_errors_in_one_line_and_prints_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["simulate", str(tmp_path / "x"), "--sector", "999"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: sector 999 is unknown (sectors 1–400 can be simulated)"
    ]
    result = runner.invoke(cli, ["simulate", str(tmp_path / "x"), "--cadence", "300"])
    assert result.exit_code == 1
    assert "cadence 300 s is impossible" in result.output
    result = runner.invoke(cli, ["simulate", "--help"])
    assert result.exit_code == 0
    assert "--profile [ci|demo|halo|full]" in result.output
    # A successful run with --json (the tiny profile stands in for ci here).
    monkeypatch.setitem(_engine.__dict__, "get_profile", lambda name: TINY)
    result = runner.invoke(cli, ["simulate", str(tmp_path / "ok"), "--json", "--seed", "3"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["ffis"] == len(find_ffis(tmp_path / "ok"))
    assert summary["seconds_per_ffi"] > 0


def test_full_frame_ffis(tmp_path: Path) -> None:
    """Whole-CCD profile geometry: 2078×2136 images, science pixels at rows 0–2047, cols 44–2091."""
    import attrs

    from tasoc_core.io import FULL_SHAPE

    whole = attrs.evolve(
        TINY, name="whole", region_size=None, orbit_days=1 / 24, gap_days=1 / 48, density_t15=2.0
    )
    out = tmp_path / "whole"
    simulate(out, profile=whole, seed=5)
    ffis = find_ffis(out)
    assert len(ffis) == 4
    with fits.open(ffis[0].path) as hdul:
        assert hdul[1].data.shape == FULL_SHAPE
        assert "CRVAL1P" not in hdul[1].header
        data = hdul[1].data
        assert np.all(data[:, :44] == 0)
        assert np.all(data[2048:] == 0)
        assert np.all(data[:2048, 44:2092] > 0)
    frame = read_ffi(ffis[0].path)
    assert frame.header.science.as_tuple() == (0, 2048, 44, 2092)
    truth = Truth(out)
    st = truth.stars[truth.stars["in_region"] & (truth.stars["tmag"] < 15)]
    assert len(st) > 50
    col, row = frame.header.wcs.all_world2pix(st["ra"], st["dec"], 0)
    np.testing.assert_allclose(row, st["row"] + truth.jitter[0, 0], atol=0.02)
    np.testing.assert_allclose(col, st["col"] + truth.jitter[0, 1], atol=0.02)
    # The corner glow rises towards the corner far from the camera centre (0, 44).
    bkg = truth.background(0, np.array([0, 1024, 2047]), np.array([44, 1068, 2091]))
    assert bkg[0] > bkg[1] + 30


def test_fast_background_grid_equals_the_reference_model() -> None:
    from tasoc_core.simulate.background import (
        BACKGROUND_PARAMETERS,
        BackgroundGrid,
        evaluate_background,
    )

    rng = np.random.default_rng(3)
    grid = BackgroundGrid(0, 150, 44, 230, (2100.0, 2150.0))
    rows, cols = np.mgrid[0:150, 44:230]
    for flare in (0.0, 150.0):
        p = dict(zip(BACKGROUND_PARAMETERS, rng.uniform(0.1, 2.0, len(BACKGROUND_PARAMETERS))))
        p |= {
            "zodi": 100.0,
            "scatter": 40.0,
            "glow": 80.0,
            "flare_amp": flare,
            "flare_row": 70.0,
            "flare_col": 120.0,
        }
        want = evaluate_background(p, rows.astype(float), cols.astype(float), (2100.0, 2150.0))
        np.testing.assert_allclose(grid(p), want, rtol=1e-12, atol=1e-9)
