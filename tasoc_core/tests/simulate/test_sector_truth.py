"""The truth of the ci sector: timestamps, quality flags, saturation, PRF, systematics, geometry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time
from scipy.interpolate import CubicSpline

from tasoc_core.flags import TESS_QUALITY
from tasoc_core.geometry import CAMERA_CENTRE_PIXEL, cbv_ring
from tasoc_core.io import find_ffis, find_tpfs, read_ffi
from tasoc_core.prf import GRID_COLS, GRID_ROWS, PRFModel
from tasoc_core.simulate import Truth
from tasoc_core.timing import read_horizons_vectors

EPHEM = (
    Path(__file__).parents[2] / "src" / "tasoc_core" / "data_files" / "20180720_tess_ephem.csv.bz2"
)
DESAT = TESS_QUALITY["Desat"]
COARSE = TESS_QUALITY["CoarsePoint"]


@pytest.fixture(scope="module")
def truth(ci_sector: Path) -> Truth:
    return Truth(ci_sector)


def _independent_delay(jd_tdb: np.ndarray, ra: float, dec: float) -> np.ndarray:
    """Rømer delay (days) from the real Horizons table and astropy's ICRS geometry."""
    tjd, pos, _, _ = read_horizons_vectors(EPHEM)
    n = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs").cartesian.xyz.value
    return CubicSpline(tjd, pos, axis=0)(jd_tdb) @ n / 299792.458 / 86400.0


def test_ffi_timestamps_match_an_independent_computation(ci_sector: Path, truth: Truth) -> None:
    info = json.loads((ci_sector / "simulation.json").read_text())
    ra, dec = info["frame_centre_sky"]
    ffis = find_ffis(ci_sector)
    heads = [fits.getheader(f.path, 1) for f in ffis[::10]]
    tstart = np.array([h["TSTART"] for h in heads])
    tstop = np.array([h["TSTOP"] for h in heads])
    bary = np.array([h["BARYCORR"] for h in heads])
    # Spacecraft mid-time, TDB, from the UTC DATE-OBS/DATE-END (independent of BTJD keys).
    start_utc = Time([h["DATE-OBS"].rstrip("Z") for h in heads], scale="utc")
    stop_utc = Time([h["DATE-END"].rstrip("Z") for h in heads], scale="utc")
    jd_mid = 0.5 * (start_utc.tdb.jd + stop_utc.tdb.jd)
    assert np.max(np.abs((stop_utc - start_utc).to_value(u.s) - 1800.0)) < 2e-3
    want = _independent_delay(jd_mid, ra, dec)
    assert np.max(np.abs(bary - want)) * 86400 < 1e-4  # < 0.1 ms
    mid_btjd = 0.5 * (tstart + tstop)
    # DATE-OBS/END carry milliseconds, as SPOC writes them.
    assert np.max(np.abs(mid_btjd - (jd_mid - 2457000.0 + want))) * 86400 < 1.5e-3
    # TSTART/TSTOP are the spacecraft times plus BARYCORR, to the microsecond.
    tess = truth.ffi_time_tess[::10]
    assert np.max(np.abs(mid_btjd - bary - tess)) * 86400 < 1e-5
    strict = _independent_delay(tess + 2457000.0, ra, dec)
    assert np.max(np.abs(mid_btjd - (tess + strict))) * 86400 < 1e-4  # < 0.1 ms
    # The frame centre really is the CCD centre seen through the WCS.
    frame = read_ffi(ffis[0].path)
    col, row = frame.header.wcs.all_world2pix([[ra, dec]], 0)[0]
    assert abs(row - 1023.5) < 0.1
    assert abs(col - 1067.5) < 0.1


def test_tpf_timestamps_are_barycentred_at_the_target(ci_sector: Path, truth: Truth) -> None:
    for info in find_tpfs(ci_sector):
        with fits.open(info.path) as hdul:
            data = hdul[1].data
            h0 = hdul[0].header
            good = np.isfinite(data["TIME"])
            time = data["TIME"][good]
            corr = data["TIMECORR"][good].astype(float)
        tess_jd = time[::50] - corr[::50] + 2457000.0
        star = truth.star(info.starid)
        want = _independent_delay(tess_jd, float(star["ra"]), float(star["dec"]))
        assert np.max(np.abs(corr[::50] - want)) * 86400 < 1e-4
        assert abs(h0["RA_OBJ"] - star["ra_j2000"]) < 1e-9
        # The FFI per-target truth agrees with the TPF at the same spacecraft time.
        if info.fast:
            continue
        ffi_time = truth.target_time(info.starid)
        tess_ffi = truth.ffi_time_tess
        interp = np.interp(tess_ffi, time - corr, corr)
        inside = (tess_ffi > (time - corr)[0]) & (tess_ffi < (time - corr)[-1])
        assert np.max(np.abs(ffi_time[inside] - (tess_ffi[inside] + interp[inside]))) * 86400 < 1e-4


def test_quality_flags_of_dumps_and_coarse_pointing(ci_sector: Path, truth: Truth) -> None:
    q = truth.ffi_quality
    dumps = truth.momentum_dumps
    assert dumps.size >= 3
    assert np.all(q[dumps] & DESAT)
    # Only the central cadence is flagged; its neighbours are disturbed but unflagged.
    others = np.setdiff1d(np.arange(q.size), dumps)
    assert not np.any(q[others] & DESAT)
    jump = np.abs(np.diff(truth.jitter, axis=0)).max(axis=1)
    at_dump = np.maximum(
        jump[np.clip(dumps - 1, 0, jump.size - 1)], jump[np.clip(dumps, 0, jump.size - 1)]
    )
    assert np.mean(at_dump) > 2 * np.median(jump)
    coarse = truth.coarse_pointing
    assert coarse.size >= 3
    assert np.all(q[coarse[1:-1]] & COARSE)  # frames fully inside the episode
    assert not np.any(q[np.setdiff1d(np.arange(q.size), coarse)] & COARSE)
    after_dump = np.zeros(q.size, dtype=bool)
    for d in dumps:
        after_dump[d : d + 8] = True
    quiet = np.setdiff1d(np.flatnonzero(~after_dump), coarse)
    assert (
        np.std(truth.jitter[coarse], axis=0).max() > 5 * np.std(truth.jitter[quiet], axis=0).max()
    )
    headers = [fits.getheader(f.path, 0)["DQUALITY"] for f in find_ffis(ci_sector)]
    np.testing.assert_array_equal(headers, q)
    # TPFs carry more: every cadence overlapping the coarse episode, Earth point in the gap.
    lo, hi = truth.coarse_interval
    for info in find_tpfs(ci_sector):
        with fits.open(info.path) as hdul:
            d = hdul[1].data
        tq = d["QUALITY"]
        t_tess = truth.tpf_cadences(info.starid, info.cadence)["time_tess"]
        assert np.all(np.diff(t_tess) > 0)
        half = 0.5 * info.cadence / 86400
        overlap = (t_tess + half > lo) & (t_tess - half < hi)
        assert np.all(tq[overlap] & COARSE)
        assert not np.any(tq[~overlap] & COARSE)
        assert np.count_nonzero(tq & DESAT) == dumps.size
        gap = ~np.isfinite(d["TIME"])
        assert gap.sum() > 0
        assert np.all(tq[gap] & TESS_QUALITY["EarthPoint"])
        assert np.all(np.isnan(d["FLUX"][gap]))
        assert np.count_nonzero(tq & TESS_QUALITY["Straylight"]) > 0
        # Flags transferred from a TPF (as prepare does) cover every coarse FFI frame.
        t_ffi = truth.ffi_time_tess
        hit = np.array(
            [
                np.bitwise_or.reduce(tq[(t_tess >= a - 900 / 86400) & (t_tess < a + 900 / 86400)])
                for a in t_ffi
            ]
        )
        assert np.all(hit[coarse] & COARSE)


def test_bright_star_saturates_and_bleeds_off_its_stamp(ci_sector: Path, truth: Truth) -> None:
    st = truth.stars
    bright = st[st["tmag"] < 4.5][0]
    assert bright["saturated"]
    assert "120" in bright["tpf"].split(",")
    from tasoc_core.simulate.render import SATURATION_RATE

    frame = read_ffi(find_ffis(ci_sector)[10].path)
    r0, c0 = frame.header.origin
    col = frame.image[:, round(float(bright["col"])) - c0]
    saturated = np.flatnonzero(col > 0.97 * SATURATION_RATE)
    assert saturated.size > 15  # a bleed column, not a round star
    assert np.all(np.diff(saturated) == 1)
    # Charge is conserved: the columns around the star hold the star's flux.
    k = 10
    box = frame.image[
        :, round(float(bright["col"])) - c0 - 6 : round(float(bright["col"])) - c0 + 7
    ]
    rows, cols = np.mgrid[
        r0 : r0 + frame.image.shape[0],
        c0 + round(float(bright["col"])) - c0 - 6 : c0 + round(float(bright["col"])) - c0 + 7,
    ]
    excess = box.sum() - truth.background(k, rows, cols).sum()
    assert excess == pytest.approx(float(truth.true_flux(int(bright["starid"]))[k]), rel=0.05)
    # In its 9×9 TPF the bleed reaches both stamp edges: it runs off the stamp.
    tpf = next(i for i in find_tpfs(ci_sector) if i.starid == int(bright["starid"]) and not i.fast)
    with fits.open(tpf.path) as hdul:
        pix = hdul[1].data["FLUX"][100] + hdul[1].data["FLUX_BKG"][100]
    centre = pix.shape[1] // 2
    assert pix[0, centre] > 0.97 * SATURATION_RATE
    assert pix[-1, centre] > 0.97 * SATURATION_RATE


def test_secondary_star_in_a_tpf(ci_sector: Path, truth: Truth) -> None:
    st = truth.stars
    secondaries = st[st["secondary_of"] > 0]
    assert len(secondaries) >= 1
    close = []
    for comp in secondaries:
        host = truth.star(int(comp["secondary_of"]))
        assert "120" in host["tpf"].split(",")
        sep = np.hypot(comp["row"] - host["row"], comp["col"] - host["col"])
        assert sep < 6.5  # inside the 9×9 stamp
        close.append(sep < 5 and comp["tmag"] - host["tmag"] < 2.5)
    assert any(close)  # a comparable neighbour sharing the stamp


def test_prf_files_follow_the_tess_prf_format(ci_sector: Path) -> None:
    files = sorted((ci_sector / "prf" / "cam1_ccd1").glob("*.fits"))
    assert len(files) == 25
    assert files[0].name.endswith("-row0001-col0045.fits")
    prf = PRFModel.read(ci_sector / "prf", 1, 1)
    cr, cc = CAMERA_CENTRE_PIXEL[(1, 1)]
    ratios = []
    for i, r in enumerate(GRID_ROWS):
        for j, c in enumerate(GRID_COLS):
            img = prf.images[i, j]
            assert img.shape == (117, 117)
            for phase in (0, 4, 8):  # every sub-pixel phase sums to the full flux
                assert img[phase::9, phase::9].sum() == pytest.approx(1.0, abs=2e-3)
            # Second moments along and across the direction to the camera centre.
            y, x = (np.mgrid[0:117, 0:117] - 58) / 9.0
            theta = np.arctan2(r - cr, c - cc)
            along = x * np.cos(theta) + y * np.sin(theta)
            across = -x * np.sin(theta) + y * np.cos(theta)
            ratios.append(
                (np.hypot(r - cr, c - cc), np.sum(img * along**2) / np.sum(img * across**2))
            )
    ratios = np.array(ratios)
    near, far = ratios[np.argmin(ratios[:, 0]), 1], ratios[np.argmax(ratios[:, 0]), 1]
    assert near < 1.1 < 1.3 < far  # elongation grows with field angle
    with fits.open(files[0]) as hdul:
        h = hdul[0].header
        assert (h["CAMERA"], h["CCD"], h["CCDROW"], h["CCDCOL"], h["OVERSAMP"], h["FOCUS"]) == (
            1,
            1,
            1,
            45,
            9,
            1.0,
        )


def test_relative_flux_truth_by_class(truth: Truth) -> None:
    st = truth.stars
    bright = st[st["tmag"] < 15]
    seen = set(bright["var_class"])
    assert seen == {
        "constant",
        "solar_like",
        "classical",
        "long_period",
        "eclipsing",
        "transit",
        "flare",
        "rotation",
    }
    for star in bright:
        rel = truth.relative_flux(int(star["starid"]))
        params = json.loads(star["var_params"])
        kind = star["var_class"]
        if kind == "constant":
            assert np.all(rel == 0)
        elif kind == "transit":
            # Depth (averaged over 30-min exposures) reaches most of the injected depth.
            assert -rel.min() > 0.3 * params["depth"]
            assert rel.max() <= 1e-9
        elif kind == "eclipsing":
            assert -rel.min() > 0.3 * params["depth_primary"]
        elif kind == "flare":
            assert rel.max() > 0
            assert rel.min() >= 0
        elif kind == "long_period":
            assert np.ptp(rel) > 0
        else:
            assert np.std(rel) > 0
    # TPF truth at 120 s resolves what 30-min FFIs smear.
    target = next(
        int(s)
        for s in st["starid"][st["var_class"] == "transit"]
        if "120" in truth.star(int(s))["tpf"]
    )
    assert truth.relative_flux(target, 120).min() <= truth.relative_flux(target).min() + 1e-9


def test_systematics_and_expected_noise(ci_sector: Path, truth: Truth) -> None:
    st = truth.stars
    bright = st[(st["tmag"] < 15) & st["in_region"]]
    sys = np.array([truth.systematics(int(s)) for s in bright["starid"]])
    assert np.all(np.abs(sys - 1) < 0.05)
    assert np.std(sys) > 1e-4
    dumps = truth.momentum_dumps
    quiet = np.setdiff1d(np.arange(sys.shape[1]), np.concatenate([dumps - 1, dumps, dumps + 1]))
    # Spikes at momentum dumps.
    spike = np.abs(np.diff(sys, axis=1))
    assert np.median(spike[:, np.clip(dumps - 1, 0, spike.shape[1] - 1)]) > 2 * np.median(
        spike[:, quiet[:-1]]
    )
    # Common-mode trends vary smoothly with the distance from the camera centre.
    areas = truth.systematics_areas
    assert {"common1", "common2", "common3", "dump"} <= set(areas["radial"])
    assert len(areas["patches"]) >= 1
    # Expected noise: photon + read + background, same as the uncertainty images say.
    star = bright[np.argmin(np.abs(bright["tmag"] - 11))]
    sigma = truth.expected_noise(int(star["starid"]))
    assert sigma.shape == truth.ffi_time.shape
    assert np.all(sigma > 0)
    assert 1e-5 < np.median(sigma) / (star["flux"] * star["ap_star_fraction"]) < 1e-2
    frame = read_ffi(find_ffis(ci_sector)[0].path)
    # A single pixel: the image uncertainty is the same noise model.
    r, c = round(float(star["row"])), round(float(star["col"]))
    unc = frame.uncertainty[r - frame.header.origin[0], c - frame.header.origin[1]]
    from tasoc_core.simulate.writers import exposure_setup

    value = frame.image[r - frame.header.origin[0], c - frame.header.origin[1]]
    assert unc == pytest.approx(float(exposure_setup(1800).sigma(np.array(value))), rel=0.05)
    with pytest.raises(KeyError, match="TIC 1 "):
        truth.expected_noise(1)


def test_background_truth_glow_and_flare(ci_sector: Path, truth: Truth) -> None:
    r0, r1, c0, c1 = truth.region
    bkg = truth.background(0)
    assert bkg.shape == (r1 - r0, c1 - c0)
    cr, cc = truth.attrs["camera_centre"]
    # Corner glow: the corner farthest from the camera centre is the brightest.
    far = (0 if abs(r0 - cr) > abs(r1 - cr) else -1, 0 if abs(c0 - cc) > abs(c1 - cc) else -1)
    near = (-1 - far[0], -1 - far[1])
    assert bkg[far] > bkg[near] + 20
    # All cadences at once at given pixels: the same values, frame by frame.
    rows, cols = np.array([r0, r0 + 5, r1 - 1]), np.array([c0, c1 - 1, c0 + 7])
    series = truth.background_at(rows, cols)
    assert series.shape == (len(truth.cadenceno), 3)
    for k in (0, len(truth.cadenceno) // 2, len(truth.cadenceno) - 1):
        np.testing.assert_allclose(series[k], truth.background(k, rows, cols), rtol=1e-12)
    np.testing.assert_allclose(series[0], bkg[rows - r0, cols - c0], rtol=1e-6)
    # The image follows the truth in star-free pixels (median over the region).
    frame = read_ffi(find_ffis(ci_sector)[0].path)
    diff = frame.image - bkg
    assert abs(np.median(diff)) < 0.05 * np.median(bkg) + 5  # stars push the median up a little
    # Scattered light is strongest near perigee (Earth distance from the SPICE kernels).
    from tasoc_core.timing import SpiceKernels

    with SpiceKernels(ci_sector / "spice") as kernels:
        dist = np.linalg.norm(kernels.position(-95, truth.ffi_time_tess + 2457000.0, 399), axis=1)
    scatter = truth.background_parameters["scatter"]
    order = np.argsort(dist)
    near_earth, far_earth = order[: dist.size // 5], order[-(dist.size // 5) :]
    assert scatter[near_earth].mean() > scatter[far_earth].mean() + 10
    t = truth.ffi_time
    # The lens flare touches some frames and not others.
    touched = [truth.flare_mask(k).sum() for k in range(t.size)]
    assert max(touched) > 10
    assert min(touched) == 0


def test_camera_centre_is_consistent_with_the_wcs(ci_sector: Path, truth: Truth) -> None:
    info = json.loads((ci_sector / "simulation.json").read_text())
    frame = read_ffi(find_ffis(ci_sector)[0].path)
    jr, jc = truth.jitter[0]
    cr, cc = truth.camera_centre[(1, 1)]
    ra, dec = frame.header.wcs.all_pix2world([[cc + jc, cr + jr]], 0)[0]
    sep = SkyCoord(ra, dec, unit="deg").separation(SkyCoord(*info["camera_centre_sky"], unit="deg"))
    assert sep.arcsec < 1.0
    # CBV rings from sky distances agree with pixel radii × plate scale.
    st = truth.stars[truth.stars["in_region"]]
    d_sky = (
        SkyCoord(st["ra"], st["dec"], unit="deg")
        .separation(SkyCoord(*info["camera_centre_sky"], unit="deg"))
        .deg
    )
    d_pix = np.hypot(st["row"] - cr, st["col"] - cc) * 21.0 / 3600
    assert np.all(np.abs(d_sky - d_pix) < 0.05 * d_pix)
    assert set(cbv_ring(d_sky)) == {4}  # the far corner of CCD 1 lies in the outer ring
