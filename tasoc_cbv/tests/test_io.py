"""CBV files: tasoc's product round trip, the real SPOC CBV file, SPOC CBVs as the basis."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from tasoc_cbv import (
    CBVCorrector,
    CBVSettings,
    build_cbv_set,
    cbv_filename,
    find_spoc_cbv_files,
    read_cbv_fits,
    read_spoc_cbvs,
    write_cbv_fits,
)
from tasoc_core.data import Target
from tasoc_core.exceptions import ConfigError, InputFileError, TargetError
from tasoc_core.families import LightCurve
from tasoc_core.testing import InMemoryCorrectionContext


@pytest.fixture(scope="module")
def area_cbvs(sector_sim):
    lcs = [lc for lc in sector_sim.light_curves if lc.cbv_area == 112]
    return build_cbv_set(lcs, sector=1, camera=1, ccd=1, cadence=1800, area=112)


def test_tasoc_cbv_file_round_trip(area_cbvs, tmp_path):
    path = tmp_path / cbv_filename(1, 1800, 112, 1)
    write_cbv_fits(area_cbvs, path, header=area_cbvs.meta)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == [
            "PRIMARY", "CBV.SINGLE-SCALE.112", "CBV.SPIKE.112", "CBV.COEFFICIENTS.112"
        ]  # fmt: skip
        h0 = hdul[0].header
        assert (h0["SECTOR"], h0["CADENCE"], h0["CBV_AREA"], h0["VERSION"]) == (1, 1800, 112, 1)
        assert (h0["CAMERA"], h0["CCD"], h0["FILEVER"], h0["THR_COR"]) == (1, 1, "1.0", 0.5)
        assert h0["NSTARS"] == area_cbvs.nstars
        table = hdul["CBV.SINGLE-SCALE.112"]
        assert table.columns.names[:3] == ["TIME", "CADENCENO", "GAP"]
        assert table.columns["VECTOR_1"].format == "E"
        assert table.header["THR_SNR"] == 5.0
        assert table.header["TIMEREF"] == "LOCAL"
        assert hdul.verify_checksum() if hasattr(hdul, "verify_checksum") else True
    back = read_cbv_fits(path)
    np.testing.assert_array_equal(back.cadenceno, area_cbvs.cadenceno)
    np.testing.assert_allclose(back.time, area_cbvs.time)
    np.testing.assert_allclose(back.single, area_cbvs.single, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(back.spike, area_cbvs.spike, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(back.usable(5.0), area_cbvs.usable(5.0))
    np.testing.assert_allclose(back.coefficients.values, area_cbvs.coefficients.values)
    np.testing.assert_array_equal(back.coefficients.starid, area_cbvs.coefficients.starid)
    assert back.meta["NAREA"] == area_cbvs.meta["NAREA"][0]


def test_unreadable_cbv_files_name_the_file(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_cbv_fits(tmp_path / "nope.fits")
    bad = tmp_path / "tess-s0001-c1800-a111-v01-tasoc_cbv.fits"
    bad.write_bytes(b"not a fits file" * 100)
    with pytest.raises(InputFileError, match=str(bad)):
        read_cbv_fits(bad)
    with pytest.raises(InputFileError, match="not a readable SPOC CBV file"):
        read_spoc_cbvs(bad)


def test_reads_the_real_spoc_cbv_file(spoc_cbv_file, tmp_path):
    cbvs = read_spoc_cbvs(spoc_cbv_file)
    assert (cbvs.sector, cbvs.camera, cbvs.ccd, cbvs.cadence) == (10, 2, 4, 120)
    assert cbvs.source == "spoc"
    assert cbvs.area is None
    assert cbvs.version == 14
    assert cbvs.single.shape == (100, 16)
    assert cbvs.spike.shape == (100, 16)
    assert cbvs.cadenceno[0] == 246223
    assert np.all(np.diff(cbvs.cadenceno) == 1)
    assert cbvs.time[0] == pytest.approx(1569.43175139, abs=1e-7)
    assert cbvs.single[0, 0] == pytest.approx(-0.0117016, abs=1e-6)
    # Over these 100 cadences every vector is flat: the SNR test keeps only CBV 1.
    assert list(cbvs.usable(5.0)) == [0]
    shutil.copy(spoc_cbv_file, tmp_path)
    assert find_spoc_cbv_files(tmp_path, 10, 2, 4) == [tmp_path / spoc_cbv_file.name]
    assert find_spoc_cbv_files(tmp_path, 10, 2, 3) == []


def spoc_target(cadenceno: np.ndarray, time: np.ndarray, flux: np.ndarray, *, sector, camera,
                ccd, cadence=120) -> LightCurve:  # fmt: skip
    n = len(time)
    target = Target(starid=123, sector=sector, camera=camera, ccd=ccd, cadence=cadence,
                    datasource="tpf", tmag=10.0, ra=0.0, dec=0.0, priority=1)  # fmt: skip
    return LightCurve(
        target=target, method="aperture", time=time, timecorr=np.full(n, 0.003),
        cadenceno=cadenceno, flux=flux, flux_err=np.full(n, 5.0), quality=np.zeros(n),
        pixel_quality=np.zeros(n), position=(1000.0, 1000.0), cbv_area=243,
    )  # fmt: skip


def test_corrects_with_the_real_spoc_cbv_file(spoc_cbv_file, tmp_path):
    shutil.copy(spoc_cbv_file, tmp_path)
    spoc = read_spoc_cbvs(spoc_cbv_file)
    rng = np.random.default_rng(0)
    flux = 15000.0 * (1 + 2e-3 * np.sin(np.arange(100) / 7.0)) + rng.normal(0, 5.0, 100)
    lc = spoc_target(spoc.cadenceno, spoc.time, flux, sector=10, camera=2, ccd=4)
    corrector = CBVCorrector(CBVSettings(spoc_cbv_dir=tmp_path))
    context = InMemoryCorrectionContext([lc], tmp_path / "work")
    corrector.prepare(context)
    result = corrector.correct(lc, context)
    assert result.headers["CBV_SRC"][0] == "SPOC"
    assert result.headers["CBV_ALGN"][0] == "cadenceno"
    assert result.headers["CBV_MAX"][0] == 1
    assert result.headers["CBV_NUM"][0] == 1
    # A flat basis can only move the level: the signal is untouched.
    expected = (flux / np.median(flux) - 1) * 1e6
    corrected = result.flux - np.median(result.flux)
    np.testing.assert_allclose(corrected, expected - np.median(expected), atol=1.0)
    # A light curve from another CCD has no SPOC file: a clear per-target error.
    other = spoc_target(spoc.cadenceno, spoc.time, flux, sector=10, camera=2, ccd=3)
    with pytest.raises(TargetError, match="no SPOC CBV file for sector 10, camera 2, CCD 3"):
        corrector.correct(other, context)


def test_spoc_cbv_directory_must_exist(tmp_path):
    corrector = CBVCorrector(CBVSettings(spoc_cbv_dir=tmp_path / "missing"))
    with pytest.raises(
        ConfigError, match=r"correctors\.cbv\.spoc_cbv_dir: .*missing is not a directory"
    ):
        corrector.prepare(InMemoryCorrectionContext([], tmp_path))


def write_spoc_layout(path: Path, time, cadenceno, single, spike, *, sector, camera, ccd):
    """A CBV file in SPOC's layout (CbvExporter), with our own vectors."""
    primary = fits.PrimaryHDU()
    primary.header.update(TELESCOP="TESS", SECTOR=sector, DATA_REL=99, CREATOR="test")
    hdus = [primary]
    for kind, vectors in (("single-scale", single), ("spike", spike)):
        cols = [fits.Column(name="TIME", format="D", array=time),
                fits.Column(name="CADENCENO", format="J", array=cadenceno),
                fits.Column(name="GAP", format="L", array=np.zeros(len(time), bool))]  # fmt: skip
        cols += [fits.Column(name=f"VECTOR_{k + 1}", format="E", array=vectors[:, k])
                 for k in range(vectors.shape[1])]  # fmt: skip
        hdu = fits.BinTableHDU.from_columns(cols, name=f"CBV.{kind}.{camera}.{ccd}")
        hdu.header.update(CAMERA=camera, CCD=ccd, TIMESYS="TDB", JDREFI=2457000)
        hdus.append(hdu)
    fits.HDUList(hdus).writeto(path)


@pytest.fixture(scope="module")
def spoc_dir(sector_sim, tmp_path_factory):
    """SPOC-layout 2-min CBVs spanning the smooth systematics of the simulated sector."""
    directory = tmp_path_factory.mktemp("spoc")
    step = 120 / 86400
    time = np.concatenate([np.arange(a, b, step) for a, b in sector_sim.orbits])
    cadenceno = 700_000 + np.round((time - time[0]) / step).astype(int)
    shapes = np.column_stack([sector_sim.smooth_at(i, time) for i in (0, 1, 2, 3)])
    q, _ = np.linalg.qr(np.column_stack([np.ones(len(time)), shapes]))
    single = q[:, 1:4]
    spike = np.zeros((len(time), 2))
    write_spoc_layout(directory / "tess2018206045859-s0001-1-1-0120-s_cbv.fits", time,
                      cadenceno, single, spike, sector=1, camera=1, ccd=1)  # fmt: skip
    return directory, time, cadenceno


# lightkurve's load_tess_cbvs opens the file without closing it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_spoc_layout_is_what_lightkurve_reads(spoc_dir):
    lightkurve = pytest.importorskip("lightkurve")
    directory, _time, _ = spoc_dir
    cbvs = lightkurve.correctors.load_tess_cbvs(str(directory), sector=1, camera=1, ccd=1)
    gc.collect()  # release lightkurve's open file while the filters above apply
    ours = read_spoc_cbvs(next(directory.glob("*.fits")))
    np.testing.assert_allclose(np.asarray(cbvs["VECTOR_1"]), ours.single[:, 0], rtol=1e-6)
    assert ours.cadence == 120


def test_spoc_cbvs_correct_two_minute_and_ffi_targets(spoc_dir, sector_sim, tmp_path):
    directory, time, cadenceno = spoc_dir
    corrector = CBVCorrector(CBVSettings(spoc_cbv_dir=directory))
    context = InMemoryCorrectionContext(sector_sim.light_curves, tmp_path)
    corrector.prepare(context)
    rng = np.random.default_rng(1)
    i = int(sector_sim.quiet_outside_patches()[0])
    smooth = sector_sim.smooth_at(i, time)
    noise = rng.normal(0, 3e-4, len(time))
    lc = spoc_target(cadenceno, time, 2e4 * (1 + smooth + noise), sector=1, camera=1, ccd=1)
    result = corrector.correct(lc, context)
    assert result.headers["CBV_ALGN"][0] == "cadenceno"
    resid = result.flux / 1e6 - noise
    assert np.std(resid - np.median(resid)) < 0.05 * np.std(smooth)
    # An FFI star of the same CCD: the 2-min vectors are averaged onto its 30-min cadences.
    ffi = sector_sim.light_curves[i]
    result = corrector.correct(ffi, context)
    assert result.headers["CBV_ALGN"][0] == "binned"
    jitter = sector_sim.common[i] - sector_sim.smooth[i] - sector_sim.spikes[i]
    resid = result.flux / 1e6 - sector_sim.noise[i] - jitter - sector_sim.spikes[i]
    good = np.isfinite(resid)
    truth = sector_sim.smooth[i][good]
    assert np.std(resid[good] - np.median(resid[good])) < 0.1 * np.std(truth)
