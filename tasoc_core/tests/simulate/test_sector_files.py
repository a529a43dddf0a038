"""The simulated ci sector is shaped like a real download and opens with the standard tools."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from tasoc_core.config import load_config
from tasoc_core.io import find_ffis, find_tpfs, read_ffi
from tasoc_core.simulate import Truth

pytestmark = pytest.mark.filterwarnings("ignore:.*oktopus.*:UserWarning")


def test_directory_layout_and_config(ci_sector: Path) -> None:
    for name in (
        "tasoc.toml",
        "simulation.json",
        "ffi",
        "tpf",
        "catalog/tic.csv",
        "spice",
        "truth",
        "prf",
    ):
        assert (ci_sector / name).exists(), name
    info = json.loads((ci_sector / "simulation.json").read_text())
    assert info["profile"] == "ci"
    assert info["sector"] == 2
    assert info["wcs_source"] == "real"
    assert info["ephemeris"] == "horizons"
    config = load_config(ci_sector / "tasoc.toml")
    assert config.paths.input == ci_sector
    assert config.paths.catalog == ci_sector / "catalog" / "tic.csv"
    assert config.paths.spice_kernels == ci_sector / "spice"
    assert config.paths.prf == ci_sector / "prf"
    assert config.paths.output == ci_sector / "work"
    assert config.selection.sector == 2
    assert config.selection.cameras == (1,)
    assert config.selection.ccds == (1,)
    ffis = find_ffis(ci_sector, sector=2, camera=1, ccd=1)
    assert len(ffis) == info["n_ffi"] == Truth(ci_sector).ffi_time.size
    tpfs = find_tpfs(ci_sector, sector=2)
    assert sum(t.fast for t in tpfs) == 1
    assert len(tpfs) == info["n_tpf"] == len(info["tpf_targets"]) + 1
    assert {t.starid for t in tpfs} == set(info["tpf_targets"])
    assert sorted(p.name for p in (ci_sector / "spice").iterdir()) == [
        "tasoc_leapseconds.tls",
        "tess_ephemeris.bsp",
    ]
    assert not list(ci_sector.parent.glob(".*tmp*"))  # nothing half-written left behind


def test_every_file_has_valid_checksums(ci_sector: Path) -> None:
    files = (
        sorted(ci_sector.glob("ffi/*.fits"))
        + sorted(ci_sector.glob("tpf/*.fits"))
        + sorted(ci_sector.glob("prf/*/*.fits"))
    )
    assert len(files) > 200
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # astropy warns on a checksum mismatch
        for path in files:
            with fits.open(path, checksum=True) as hdul:
                for hdu in hdul:
                    assert "CHECKSUM" in hdu.header, path
                    assert hdu.verify_checksum() == 1, path
                    assert hdu.verify_datasum() == 1, path


def test_ffis_follow_the_spoc_format_and_core_reader(ci_sector: Path) -> None:
    truth = Truth(ci_sector)
    r0, r1, c0, c1 = truth.region
    ffis = find_ffis(ci_sector)
    for k in (0, len(ffis) // 2, len(ffis) - 1):
        with fits.open(ffis[k].path) as hdul:
            assert len(hdul) == 3
            assert hdul[1].header["EXTNAME"] == "CAMERA.CCD 1.1 cal"
            assert hdul[2].header["EXTNAME"] == "CAMERA.CCD 1.1 uncert"
            h0, h1 = hdul[0].header, hdul[1].header
            for key in (
                "TSTART",
                "TSTOP",
                "DATE-OBS",
                "DATE-END",
                "BARYCORR",
                "DQUALITY",
                "FFIINDEX",
                "CAMERA",
                "CCD",
            ):
                assert h0[key] == h1[key], key
            assert h1["WCSAXES"] == 2
            assert h1["CTYPE2"] == "DEC--TAN-SIP"
            assert h1["NUM_FRM"] == 900
            assert h1["NREADOUT"] == 720
            assert h1["DEADC"] == pytest.approx(0.792)
            assert h1["CRVAL1P"] == c0 + 1
            assert h1["CRVAL2P"] == r0 + 1
        frame = read_ffi(ffis[k].path)
        assert frame.header.science.as_tuple() == (r0, r1, c0, c1)
        assert frame.image.shape == (r1 - r0, c1 - c0)
        assert frame.header.cadenceno == truth.cadenceno[k]
        assert frame.header.time == pytest.approx(truth.ffi_time[k], abs=1e-9)
        assert np.all(frame.uncertainty > 0)
        # The frame's WCS puts bright stars where the truth says, pointing jitter included.
        stars = truth.stars[(truth.stars["tmag"] < 12) & truth.stars["in_region"]]
        col, row = frame.header.wcs.all_world2pix(stars["ra"], stars["dec"], 0)
        np.testing.assert_allclose(row, stars["row"] + truth.jitter[k, 0], atol=0.02)
        np.testing.assert_allclose(col, stars["col"] + truth.jitter[k, 1], atol=0.02)


def test_lightkurve_opens_every_tpf(ci_sector: Path) -> None:
    import lightkurve as lk
    from astropy import units as u

    truth = Truth(ci_sector)
    for info in find_tpfs(ci_sector):
        tpf = lk.read(info.path)
        assert isinstance(tpf, lk.TessTargetPixelFile)
        assert tpf.flux.unit == u.electron / u.second
        assert tpf.flux_err.unit == u.electron / u.second
        assert tpf.time.format == "btjd"
        assert tpf.time.scale == "tdb"
        assert tpf.targetid == info.starid
        assert (tpf.sector, tpf.camera, tpf.ccd) == (2, 1, 1)
        star = truth.star(info.starid)
        # column/row (1CRV5P/2CRV5P, 1-based) hold the stamp, centred on the target.
        half = tpf.shape[1] // 2
        assert tpf.row - 1 + half == round(float(star["row"]))
        assert tpf.column - 1 + half == round(float(star["col"]))
        assert tpf.pipeline_mask.any()
        assert tpf.background_mask.any() or info.fast or star["saturated"]
        lc = tpf.to_lightcurve(aperture_mask="all")
        assert np.isfinite(lc.flux.value).sum() > 0.8 * len(lc)
        # The celestial WCS of the stamp points at the target (its J2000 position).
        col, row = tpf.wcs.all_world2pix([[star["ra_j2000"], star["dec_j2000"]]], 0)[0]
        assert abs(row + tpf.row - 1 - star["row"]) < 0.3
        assert abs(col + tpf.column - 1 - star["col"]) < 0.3
        tpf.hdu.close()


@pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")
@pytest.mark.filterwarnings("ignore::astropy.utils.exceptions.AstropyWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_astrocut_builds_a_cube_and_cutout_recovers_injected_flux(
    ci_sector: Path, tmp_path: Path
) -> None:
    from astrocut import CubeFactory, TessCubeCutout
    from astropy.coordinates import SkyCoord

    from tasoc_core.prf import PRFModel

    truth = Truth(ci_sector)
    ffis = [str(f.path) for f in find_ffis(ci_sector)]
    cube_file = CubeFactory().make_cube(ffis, str(tmp_path / "cube.fits"), verbose=False)
    star = _isolated_star(truth)
    cut = TessCubeCutout(
        str(cube_file), coordinates=SkyCoord(star["ra"], star["dec"], unit="deg"), cutout_size=11
    )
    tpf_hdul = cut.tpf_cutouts[0]
    data = tpf_hdul[1].data
    assert len(data) == len(ffis)
    np.testing.assert_allclose(data["TIME"], truth.ffi_time, atol=1e-6)
    np.testing.assert_array_equal(data["QUALITY"], truth.ffi_quality)
    # astrocut's cutout limits are image pixels ((x0, x1), (y0, y1)) of the sub-frame FFIs.
    lims = next(iter(cut.cutouts_by_file.values())).cutout_lims
    r0, _, c0, _ = truth.region
    origin = (int(lims[1][0]) + r0, int(lims[0][0]) + c0)
    residual = _residuals(
        truth, PRFModel.read(ci_sector / "prf", 1, 1), star, data["FLUX"], data["FLUX_ERR"], origin
    )
    _assert_within_noise(residual, truth)


def _isolated_star(truth: Truth):
    """A Tmag 9–12 star with no comparable star near it and no saturated column nearby."""
    st = truth.stars
    r0, r1, c0, c1 = truth.region
    cand = st[
        (st["tmag"] > 9)
        & (st["tmag"] < 12)
        & (st["row"] > r0 + 8)
        & (st["row"] < r1 - 8)
        & (st["col"] > c0 + 8)
        & (st["col"] < c1 - 8)
    ]
    for star in cand[np.argsort(cand["tmag"])]:
        near = st[
            (np.abs(st["row"] - star["row"]) < 10)
            & (np.abs(st["col"] - star["col"]) < 10)
            & (st["starid"] != star["starid"])
        ]
        sat = st[st["saturated"] & (np.abs(st["col"] - star["col"]) < 10)]
        if np.all(near["tmag"] > star["tmag"] + 2.5) and len(sat) == 0:
            return star
    raise AssertionError("no isolated star in the ci sector")


def _residuals(truth, prf, star, flux, flux_err, origin) -> np.ndarray:
    """(observed box sum − model) / σ per FFI cadence for an 11×11 box around ``star``."""
    st = truth.stars
    h, w = flux.shape[1:]
    rows, cols = np.mgrid[origin[0] : origin[0] + h, origin[1] : origin[1] + w]
    near = st[(np.abs(st["row"] - star["row"]) < 14) & (np.abs(st["col"] - star["col"]) < 14)]
    out = np.empty(flux.shape[0])
    for k in range(flux.shape[0]):
        jr, jc = truth.jitter[k]
        model = truth.background(k, rows, cols).sum()
        # Stars brighter than Tmag 15 are rendered on 13×13 px, the faint field on 7×7 px.
        for size, group in ((13, near[near["tmag"] < 15]), (7, near[near["tmag"] >= 15])):
            if not len(group):
                continue
            vals, pr, pc = prf.stamps(
                np.asarray(group["row"]),
                np.asarray(group["col"]),
                size,
                shift=(jr, jc),
                scale=truth.focus[k],
            )
            inside = (
                (pr >= origin[0]) & (pr < origin[0] + h) & (pc >= origin[1]) & (pc < origin[1] + w)
            )
            frac = np.where(inside, vals, 0.0).sum(axis=1)
            for j, s in enumerate(group):
                f = truth.true_flux(int(s["starid"]))[k] if s["tmag"] < 15 else s["flux"]
                model += f * frac[j]
        out[k] = (np.sum(flux[k]) - model) / np.sqrt(np.sum(flux_err[k] ** 2))
    return out


def _assert_within_noise(residual: np.ndarray, truth: Truth) -> None:
    good = (truth.ffi_quality == 0) & (np.abs(truth.jitter).max(axis=1) < 0.08)
    r = residual[good]
    assert good.sum() > 100
    assert abs(np.mean(r)) < 0.3, np.mean(r)
    assert 0.75 < np.std(r) < 1.3, np.std(r)


def test_summing_an_isolated_star_in_the_ffis_recovers_its_flux(ci_sector: Path) -> None:
    from tasoc_core.prf import PRFModel

    truth = Truth(ci_sector)
    star = _isolated_star(truth)
    r, c = round(float(star["row"])), round(float(star["col"]))
    frames = [read_ffi(f.path) for f in find_ffis(ci_sector)]
    org = frames[0].header.origin
    box = (slice(r - 5 - org[0], r + 6 - org[0]), slice(c - 5 - org[1], c + 6 - org[1]))
    flux = np.array([f.image[box] for f in frames])
    err = np.array([f.uncertainty[box] for f in frames])
    residual = _residuals(
        truth, PRFModel.read(ci_sector / "prf", 1, 1), star, flux, err, (r - 5, c - 5)
    )
    _assert_within_noise(residual, truth)
    # The summed light curve follows the injected relative variability + systematics.
    assert np.sum(flux[0]) > 0.9 * star["flux"]


def test_catalog_is_a_tic_extract(ci_sector: Path) -> None:
    cat = Table.read(ci_sector / "catalog" / "tic.csv", format="ascii.csv")
    assert cat.colnames == [
        "ID",
        "ra",
        "dec",
        "pmRA",
        "pmDEC",
        "Tmag",
        "Teff",
        "disposition",
        "duplicate_id",
    ]
    truth = Truth(ci_sector)
    assert len(cat) == len(truth.stars) + np.sum(cat["disposition"] == "DUPLICATE")
    dup = cat[cat["disposition"] == "DUPLICATE"]
    assert len(dup) >= 2
    ids = set(cat["ID"][cat["disposition"] != "DUPLICATE"])
    assert all(int(d) in ids for d in dup["duplicate_id"])
    assert np.all(np.asarray(cat["duplicate_id"].mask)[cat["disposition"] != "DUPLICATE"])
    # Catalog positions are J2000; the truth is at the sector reference time.
    ref = truth.attrs["reference_time"] + 2457000.0
    years = (ref - 2451545.0) / 365.25
    st = truth.stars
    row = {int(i): k for k, i in enumerate(cat["ID"])}
    k = np.array([row[int(s)] for s in st["starid"]])
    dec = cat["dec"][k] + cat["pmDEC"][k] * years / 3.6e6
    ra = cat["ra"][k] + cat["pmRA"][k] * years / 3.6e6 / np.cos(np.radians(dec))
    np.testing.assert_allclose(dec, st["dec"], atol=1e-6)
    np.testing.assert_allclose((ra - st["ra"] + 180) % 360 - 180, 0, atol=1e-6)
    fast = np.hypot(cat["pmRA"], cat["pmDEC"]) > 50
    assert fast.sum() >= 5
    # Proper motion matters at the pixel level for the fast stars (≥ 0.05 px over 18 years).
    assert np.max(np.hypot(cat["pmRA"], cat["pmDEC"])) * years / 1000 / 21.0 > 0.05
    # Number counts rise steeply towards faint magnitudes.
    n13, n15, n17 = (np.sum((cat["Tmag"] >= m - 1) & (cat["Tmag"] < m)) for m in (13, 15, 17))
    assert n13 < n15 < n17
    assert n17 > 4 * n13
    assert np.min(cat["Tmag"]) < 4.5


def test_expected_noise_matches_the_scatter_of_aperture_sums(ci_sector: Path) -> None:
    """Summing the truth aperture of a star in the FFIs scatters as expected_noise says."""
    from tasoc_core.prf import PRFModel

    truth = Truth(ci_sector)
    star = _isolated_star(truth)
    rows, cols = truth.aperture(int(star["starid"]))
    assert rows.size == star["ap_npix"]
    frames = [read_ffi(f.path) for f in find_ffis(ci_sector)]
    r0, c0 = frames[0].header.origin
    sums = np.array([f.image[rows - r0, cols - c0].sum() for f in frames])
    prf = PRFModel.read(ci_sector / "prf", 1, 1)
    st = truth.stars
    near = st[(np.abs(st["row"] - star["row"]) < 14) & (np.abs(st["col"] - star["col"]) < 14)]
    model = np.empty(len(frames))
    for k in range(len(frames)):
        jr, jc = truth.jitter[k]
        total = truth.background(k, rows, cols).sum()
        for size, group in ((13, near[near["tmag"] < 15]), (7, near[near["tmag"] >= 15])):
            if not len(group):
                continue
            vals, pr, pc = prf.stamps(
                np.asarray(group["row"]),
                np.asarray(group["col"]),
                size,
                shift=(jr, jc),
                scale=truth.focus[k],
            )
            inside = np.isin(pr * 10000 + pc, rows * 10000 + cols)
            frac = np.where(inside, vals, 0.0).sum(axis=1)
            fl = np.array(
                [
                    truth.true_flux(int(s["starid"]))[k] if s["tmag"] < 15 else s["flux"]
                    for s in group
                ]
            )
            total += np.sum(fl * frac)
        model[k] = total
    good = (truth.ffi_quality == 0) & (np.abs(truth.jitter).max(axis=1) < 0.08)
    ratio = np.std((sums - model)[good]) / np.median(
        truth.expected_noise(int(star["starid"]))[good]
    )
    assert 0.8 < ratio < 1.25, ratio


def test_tpf_light_curves_follow_the_injected_variability(ci_sector: Path) -> None:
    import lightkurve as lk

    truth = Truth(ci_sector)
    checked = 0
    for info in find_tpfs(ci_sector):
        star = truth.star(info.starid)
        if star["saturated"]:
            continue
        tpf = lk.read(info.path, quality_bitmask="none")
        flux = np.nansum(tpf.flux.value[:, tpf.pipeline_mask], axis=1)
        good = np.isfinite(tpf.time.value) & (tpf.quality == 0)
        tpf.hdu.close()
        model = (1 + truth.relative_flux(info.starid, info.cadence)) * truth.systematics(
            info.starid, info.cadence
        )
        f = flux[good] / np.median(flux[good])
        m = model[good] / np.median(model[good])
        if np.std(m) > 5 * np.std(f - m):  # signal well above the noise
            assert np.corrcoef(f, m)[0, 1] > 0.9, info.path.name
            checked += 1
    assert checked >= 1
