"""End to end through the tasoc CLI: TPFs of saturated stars → catalog → TODO-file → run.

The TPFs are SPOC-like files written from the synthetic saturated stars: a Tmag 3 star
whose bleed columns run off its 25-row stamp (aperture photometry cannot contain it), and a
tiny TPF holding only a Tmag 1 star's bleed column (no unsaturated pixel at all).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from click.testing import CliRunner

from tasoc_core.cli import cli
from tasoc_core.status import Status
from tasoc_halo.testing import SaturatedTarget, mag_to_flux, saturated_target

from .conftest import sinusoid_amplitude

SECTOR, CAMERA, CCD, CADENCE = 5, 2, 3, 120


def write_tpf(path: Path, synth: SaturatedTarget) -> None:
    """A SPOC-like 2-min TPF holding the synthetic stamp."""
    data, stamp = synth.data, synth.data.stamp
    nrow, ncol = stamp.shape
    dim, fmt = f"({ncol},{nrow})", f"{nrow * ncol}E"
    target = data.target
    primary = fits.PrimaryHDU()
    primary.header.update(
        {"ORIGIN": "NASA/Ames", "CREATOR": "TargetPixelExporterPipelineModule", "TELESCOP": "TESS",
         "OBJECT": f"TIC {target.starid}", "TICID": target.starid, "SECTOR": SECTOR,
         "CAMERA": CAMERA, "CCD": CCD, "RA_OBJ": target.ra, "DEC_OBJ": target.dec,
         "TESSMAG": target.tmag, "TSTART": float(data.time[0]), "TSTOP": float(data.time[-1]),
         "EQUINOX": 2000.0, "DATA_REL": 7}
    )  # fmt: skip
    cube = {name: np.asarray(getattr(data, name), np.float32) for name in
            ("images", "images_err", "backgrounds")}  # fmt: skip
    table = fits.BinTableHDU.from_columns(
        [
            fits.Column("TIME", "D", array=data.time),
            fits.Column("TIMECORR", "E", array=data.timecorr),
            fits.Column("CADENCENO", "J", array=data.cadenceno),
            fits.Column("FLUX", fmt, dim=dim, unit="e-/s", array=cube["images"]),
            fits.Column("FLUX_ERR", fmt, dim=dim, unit="e-/s", array=cube["images_err"]),
            fits.Column("FLUX_BKG", fmt, dim=dim, unit="e-/s", array=cube["backgrounds"]),
            fits.Column("QUALITY", "J", array=data.quality),
            fits.Column("POS_CORR1", "E", array=synth.jitter[:, 1]),
            fits.Column("POS_CORR2", "E", array=synth.jitter[:, 0]),
        ],
        name="PIXELS",
    )
    header = table.header
    header.update(
        {"TIMEDEL": CADENCE / 86400.0, "BJDREFI": 2457000, "NUM_FRM": CADENCE // 2,
         "TSTART": float(data.time[0]), "TSTOP": float(data.time[-1])}
    )  # fmt: skip
    wcs = data.wcs.deepcopy()  # CCD pixels → stamp pixels
    wcs.wcs.crpix = [wcs.wcs.crpix[0] - stamp.col_min, wcs.wcs.crpix[1] - stamp.row_min]
    w = wcs.to_header()
    for axis in (1, 2):  # the FLUX column is column 4
        for key, src in (
            ("CTYP", "CTYPE"),
            ("CRPX", "CRPIX"),
            ("CRVL", "CRVAL"),
            ("CDLT", "CDELT"),
        ):
            header[f"{axis}{key}4"] = w[f"{src}{axis}"]
    header["1CRV4P"], header["2CRV4P"] = stamp.col_min + 1, stamp.row_min + 1
    aperture = fits.ImageHDU(np.ones(stamp.shape, np.int32), header=w, name="APERTURE")
    aperture.header.update({"CRVAL1P": stamp.col_min + 1, "CRVAL2P": stamp.row_min + 1})
    fits.HDUList([primary, table, aperture]).writeto(path)


@pytest.fixture(scope="module")
def sector(tmp_path_factory) -> tuple[Path, dict[str, SaturatedTarget]]:
    root = tmp_path_factory.mktemp("sector")
    (root / "tpf").mkdir()
    bright = saturated_target(
        tmag=3.0, shape=(25, 45), ncadences=1200, cadence=CADENCE, orbit_gap=0.0,
        datasource="tpf", amplitude=0.01, period=0.3, tic=300_000_001, seed=5,
    )  # fmt: skip
    core = saturated_target(
        tmag=1.0, shape=(15, 3), ncadences=300, cadence=CADENCE, orbit_gap=0.0,
        datasource="tpf", tic=300_000_011, radec=(95.5, -30.5), seed=6,
    )  # fmt: skip
    stars = {"bright": bright, "core": core}
    rows = []
    for synth in stars.values():
        t = synth.data.target
        write_tpf(
            root / "tpf" / f"tess2018319095959-s{SECTOR:04d}-{t.starid:016d}-0125-s_tp.fits", synth
        )
        rows.append((t.starid, t.ra, t.dec, t.tmag))
    ids, ra, dec, tmag = (np.array(c) for c in zip(*rows))
    n = len(ids)
    Table(
        {"ID": ids, "ra": ra, "dec": dec, "pmRA": np.zeros(n), "pmDEC": np.zeros(n), "Tmag": tmag,
         "Teff": np.full(n, 9000.0), "disposition": [""] * n, "duplicate_id": np.zeros(n, int)}
    ).write(root / "tic.csv", format="ascii.csv")  # fmt: skip
    return root, stars


def run_sector(root: Path, out: str, *args: str) -> list[sqlite3.Row]:
    config = root / f"{out}.toml"
    config.write_text(
        f'[paths]\ninput = "{root}"\noutput = "{root / out}"\ncatalog = "{root / "tic.csv"}"\n'
        f'[selection]\nsector = {SECTOR}\n[run]\nbackend = "serial"\n'
    )
    runner = CliRunner()
    for command in (["catalog"], ["todo"], ["run", *args]):
        result = runner.invoke(cli, ["-q", "-c", str(config), *command], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    with sqlite3.connect(root / out / "todo.sqlite") as db:
        db.row_factory = sqlite3.Row
        return db.execute(
            "SELECT t.starid, p.* FROM photometry p JOIN todolist t USING (priority) "
            "ORDER BY t.starid, p.method"
        ).fetchall()


def test_run_with_both_methods_stores_both_results(sector):
    root, stars = sector
    rows = run_sector(root, "both", "--method", "aperture,halo")
    bright = stars["bright"].data.target.starid
    by = {(r["starid"], r["method"]): r for r in rows}
    assert set(by) == {(bright, "aperture"), (bright, "halo"), (stars["core"].data.target.starid,
                       "aperture"), (stars["core"].data.target.starid, "halo")}  # fmt: skip
    # The bleed runs off the TPF: aperture photometry fails with the outcome "edge"...
    assert by[(bright, "aperture")]["status"] == Status.ERROR
    assert "cannot grow" in by[(bright, "aperture")]["errors"]
    # ...halo photometry measures the star.
    halo = by[(bright, "halo")]
    assert halo["status"] == Status.OK
    assert halo["mean_flux"] == pytest.approx(float(mag_to_flux(3.0)), rel=1e-6)
    with fits.open(root / "both" / halo["lightcurve"]) as hdul:
        assert hdul[0].header["PHOTMET"] == "halo"
        table = hdul["LIGHTCURVE"].data
        good = table["PIXEL_QUALITY"] == 0
        amplitude = sinusoid_amplitude(table["TIME"][good], table["FLUX_RAW"][good], 0.3)
        assert amplitude == pytest.approx(0.01, rel=0.05)
        assert hdul["WEIGHTMAP"].data["SAT_PIXELS"][0] > 50
    # The TPF holding only saturated pixels: a clear per-target error; the run went on.
    core = by[(stars["core"].data.target.starid, "halo")]
    assert core["status"] == Status.ERROR
    assert "no unsaturated pixels" in core["errors"]
    assert f"TIC {stars['core'].data.target.starid}" in core["errors"]


def test_rules_send_the_star_aperture_cannot_contain_to_halo(sector):
    root, stars = sector
    rows = run_sector(root, "rules")
    bright = [r for r in rows if r["starid"] == stars["bright"].data.target.starid]
    assert [(r["method"], r["status"]) for r in bright] == [
        ("aperture", Status.ERROR),
        ("halo", Status.OK),
    ]
    assert bright[1]["rule"] == "plugin:halo[1]: after aperture (edge), Tmag<=6 -> halo"
