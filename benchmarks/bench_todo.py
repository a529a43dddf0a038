"""Benchmark of ``tasoc catalog`` + ``tasoc todo`` and of the stars-in-stamp lookup.

Run ``python benchmarks/bench_todo.py [--stars 30000] [--tpfs 200]``. It writes a
synthetic full-frame CCD (three gzipped SPOC-sized FFIs with a real TAN-SIP WCS, a TIC
extract, TPFs) to a temporary directory, then times, each against a reference computed in
the same run:

* catalog build vs. the straightforward astropy recipe (``Table.read`` +
  ``SkyCoord.apply_space_motion`` + ``WCS.all_world2pix`` footprint test);
* TODO creation vs. the same stage with the secondary-target search scanning the whole
  catalog for every TPF (no sky index);
* stars-in-stamp lookup per target vs. a numpy scan of the whole catalog and vs. the
  original pipeline's recipe (SQL box query on ra/decl, then WCS projection).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time
from astropy.wcs import WCS, Sip

from tasoc_core.catalog import (
    CatalogFile,
    build_catalog,
    catalog_source_from_config,
    footprint_from_ffis,
    make_catalogs,
    make_stars_lookup,
)
from tasoc_core.config import load_config
from tasoc_core.data import Stamp
from tasoc_core.io import find_ffis
from tasoc_core.plugins import get_plugin_manager
from tasoc_core.todo import make_todo
from tasoc_core.todo import targets as targets_module

ROOT = Path(__file__).resolve().parents[1]
WCS_DATA = ROOT / "tasoc_core" / "tests" / "data" / "tesswcs_s01_camera4.json"
T0 = 1325.3


def real_wcs() -> WCS:
    data = json.loads(WCS_DATA.read_text())["ccds"]["4-1"]
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    w.wcs.crval, w.wcs.crpix, w.wcs.cd = data["crval0"], data["crpix0"], data["cd"]
    w.sip = Sip(*(np.array(data[k]) for k in ("sip_a", "sip_b", "sip_ap", "sip_bp")), w.wcs.crpix)
    return w


def write_sector(root: Path, n_stars: int, n_tpfs: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    wcs = real_wcs()
    (root / "ffi").mkdir(parents=True)
    (root / "tpf").mkdir()
    (root / "catalog").mkdir()
    header = wcs.to_header(relax=True)
    for i, dt in enumerate((0.0, 7.0, 27.0)):
        t = Time(T0 + dt + 2457000, format="jd").utc.to_datetime()
        cards = {"TSTART": T0 + dt, "TSTOP": T0 + dt + 1 / 48, "CAMERA": 4, "CCD": 1, "DQUALITY": 0,
                 "FFIINDEX": 4697 + i, "TIMEDEL": 1 / 48}  # fmt: skip
        image = fits.ImageHDU(np.zeros((2078, 2136), np.float32), header=header)
        image.header.update(cards)
        hdul = fits.HDUList(
            [fits.PrimaryHDU(), image, fits.ImageHDU(np.zeros((2078, 2136), np.float32))]
        )
        hdul[0].header.update(cards)
        hdul.writeto(root / "ffi" / f"tess{t:%Y%j%H%M%S}-s0001-4-1-0120-s_ffic.fits.gz")
    # Stars over the CCD and 0.3 deg around it; a TESS-like magnitude distribution.
    rows = rng.uniform(-60, 2108, n_stars)
    cols = rng.uniform(-16, 2152, n_stars)
    ra, dec = wcs.all_pix2world(cols, rows, 0)
    tmag = 18.5 - rng.exponential(2.5, n_stars).clip(0, 13)
    table = Table({"ID": np.arange(1, n_stars + 1), "ra": ra, "dec": dec, "pmRA": rng.normal(0, 20, n_stars),
                   "pmDEC": rng.normal(0, 20, n_stars), "Tmag": tmag, "Teff": rng.uniform(3000, 8000, n_stars),
                   "disposition": [""] * n_stars, "duplicate_id": np.zeros(n_stars, int)})  # fmt: skip
    table.write(root / "catalog" / "tic.csv", format="ascii.csv")
    # TPFs on bright stars inside the science area.
    on_ccd = np.flatnonzero((rows > 20) & (rows < 2020) & (cols > 70) & (cols < 2060) & (tmag < 12))
    for k, i in enumerate(rng.choice(on_ccd, size=min(n_tpfs, len(on_ccd)), replace=False)):
        r0, c0 = round(rows[i]) - 5, round(cols[i]) - 5
        local = wcs.deepcopy()
        local.wcs.crpix = [wcs.wcs.crpix[0] - c0, wcs.wcs.crpix[1] - r0]
        local.sip = Sip(wcs.sip.a, wcs.sip.b, wcs.sip.ap, wcs.sip.bp, local.wcs.crpix)
        ap = fits.ImageHDU(
            np.full((11, 11), 3, np.int32), header=local.to_header(relax=True), name="APERTURE"
        )
        ap.header.update({"CRVAL1P": c0 + 1, "CRVAL2P": r0 + 1})
        table_hdu = fits.BinTableHDU.from_columns(
            [fits.Column("TIME", "D", array=np.zeros(2))], name="PIXELS"
        )
        table_hdu.header["TIMEDEL"] = 120 / 86400
        primary = fits.PrimaryHDU()
        primary.header.update(
            {
                "TICID": int(i + 1),
                "SECTOR": 1,
                "CAMERA": 4,
                "CCD": 1,
                "TSTART": T0,
                "TSTOP": T0 + 27.4,
            }
        )
        fits.HDUList([primary, table_hdu, ap]).writeto(
            root / "tpf" / f"tess2018206045859-s0001-{i + 1:016d}-0120-s_tp.fits"
        )
        del k
    config = root / "tasoc.toml"
    config.write_text(
        '[paths]\ninput = "."\noutput = "out"\ncatalog = "catalog/tic.csv"\n[selection]\nsector = 1\n'
    )
    return config


def timed(func, repeat: int = 1):
    best, result = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t)
    return best, result


def reference_catalog(root: Path, epoch: Time, wcs: WCS, buffer_px: float) -> int:
    """The obvious astropy recipe for 'stars on the CCD plus a buffer, at the epoch'."""
    t = Table.read(root / "catalog" / "tic.csv", format="ascii.csv")
    c = SkyCoord(ra=t["ra"] * u.deg, dec=t["dec"] * u.deg, pm_ra_cosdec=t["pmRA"] * u.mas / u.yr,
                 pm_dec=t["pmDEC"] * u.mas / u.yr, distance=1 * u.kpc, obstime=Time("J2000"))  # fmt: skip
    moved = c.apply_space_motion(new_obstime=epoch)
    col, row = wcs.all_world2pix(moved.ra.deg, moved.dec.deg, 0, quiet=True)
    inside = (
        (row > -0.5 - buffer_px)
        & (row < 2047.5 + buffer_px)
        & (col > 43.5 - buffer_px)
        & (col < 2091.5 + buffer_px)
    )
    return int(inside.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stars", type=int, default=30000)
    parser.add_argument("--tpfs", type=int, default=200)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    pm = get_plugin_manager(entrypoints=False)
    tmp = Path(tempfile.mkdtemp(prefix="bench_todo_"))
    try:
        t_write, cfg_path = timed(lambda: write_sector(tmp / "sector", args.stars, args.tpfs))
        config = load_config(cfg_path)
        print(
            f"synthetic CCD: {args.stars} stars, {args.tpfs} TPFs, 3 full-size FFIs (written in {t_write:.1f} s)"
        )

        t_cat, results = timed(lambda: make_catalogs(config, pm, overwrite=True))
        (res,) = results
        ffis = find_ffis(tmp / "sector")
        t_fp, footprint = timed(lambda: footprint_from_ffis(1, 4, 1, ffis))
        source = catalog_source_from_config(config, pm)
        out = tmp / "bench_catalog.sqlite"
        t_build, _ = timed(lambda: build_catalog(footprint, source, out), repeat=3)
        fresh = catalog_source_from_config(config, pm)
        t_first, _ = timed(lambda: build_catalog(footprint, fresh, out))
        epoch = Time(footprint.reference_time + 2457000, format="jd", scale="tdb")
        t_ref, n_ref = timed(
            lambda: reference_catalog(tmp / "sector", epoch, real_wcs(), 0.1 * 3600 / 21.0),
            repeat=3,
        )
        print(f"tasoc catalog (whole stage):   {t_cat * 1e3:8.1f} ms  ({res.stars} stars kept)")
        print(f"  reference frame + footprint  {t_fp * 1e3:8.1f} ms  (reads gzipped FFI headers)")
        print(
            f"  query+propagate+trim+write   {t_first * 1e3:8.1f} ms  incl. reading the CSV; {t_build * 1e3:.1f} ms with it cached"
        )
        print(f"  reference astropy recipe     {t_ref * 1e3:8.1f} ms  ({n_ref} stars, pixel-box buffer, no file written)"
              f"   ratio {t_first / t_ref:.2f}")  # fmt: skip

        t_todo, todo = timed(lambda: make_todo(config, overwrite=True))
        c = todo.counts
        print(
            f"TODO creation:      {t_todo * 1e3:8.1f} ms  ({c['targets']} targets: {c['ffi']} FFI, {c['tpf']} TPF, {c['secondaries']} secondaries)"
        )
        original = targets_module.CCDCatalog.bright_near

        def scan_all(self, ra, dec, radius_deg):
            return self._bright

        targets_module.CCDCatalog.bright_near = scan_all
        try:
            t_scan, todo2 = timed(lambda: make_todo(config, overwrite=True))
        finally:
            targets_module.CCDCatalog.bright_near = original
        assert todo2.counts == todo.counts
        print(
            f"  reference full-scan secondary search {t_scan * 1e3:8.1f} ms   ratio {t_todo / t_scan:.2f}"
        )

        # Stars-in-stamp lookup.
        wcs = real_wcs()
        t_build, lookup = timed(lambda: make_stars_lookup(res.path, wcs))
        rng = np.random.default_rng(1)
        centres = rng.uniform([20, 60], [2028, 2070], (args.lookups, 2)).astype(int)
        stamps = [Stamp(r - 7, r + 8, c - 7, c + 8) for r, c in centres]
        t_lookup, _ = timed(lambda: [lookup(s, 2.0) for s in stamps], repeat=3)
        with CatalogFile(res.path) as cat:
            stars = cat.read_all()
        col_all, row_all = wcs.all_world2pix(stars.ra, stars.dec, 0, quiet=True)

        def naive() -> list[int]:
            out = []
            for s in stamps:
                m = (
                    (row_all >= s.row_min - 2.5)
                    & (row_all <= s.row_max + 1.5)
                    & (col_all >= s.col_min - 2.5)
                    & (col_all <= s.col_max + 1.5)
                )
                out.append(int(m.sum()))
            return out

        t_naive, _ = timed(naive, repeat=3)
        conn = sqlite3.connect(f"{res.path.resolve().as_uri()}?mode=ro", uri=True)

        def sql_box() -> None:
            for s in stamps[:200]:
                ra, dec = wcs.all_pix2world([s.col_min - 2.5, s.col_max + 1.5, s.col_min - 2.5, s.col_max + 1.5],
                                            [s.row_min - 2.5, s.row_min - 2.5, s.row_max + 1.5, s.row_max + 1.5], 0)  # fmt: skip
                rows = conn.execute(
                    "SELECT starid, ra, decl, tmag FROM catalog WHERE ra BETWEEN ? AND ? AND decl BETWEEN ? AND ?",
                    (ra.min(), ra.max(), dec.min(), dec.max()),
                ).fetchall()
                if rows:
                    a = np.array(rows)
                    wcs.all_world2pix(a[:, 1], a[:, 2], 0)

        t_sql, _ = timed(sql_box, repeat=1)
        conn.close()
        per = t_lookup / len(stamps) * 1e6
        per_naive = t_naive / len(stamps) * 1e6
        per_sql = t_sql / 200 * 1e6
        print(
            f"stars-in-stamp lookup: {per:8.1f} us per target (index built once in {t_build * 1e3:.0f} ms)"
        )
        print(
            f"  reference numpy full scan         {per_naive:8.1f} us   ratio {per / per_naive:.3f}"
        )
        print(f"  reference SQL box query + WCS     {per_sql:8.1f} us   ratio {per / per_sql:.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
