"""``prepare_ccd`` end to end on synthetic SPOC FFIs with known truth."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.ndimage import binary_dilation, binary_erosion

from tasoc_core.background import TasocBackground
from tasoc_core.config import ExcludeRule, PrepareConfig
from tasoc_core.data import HDF5Source, Stamp
from tasoc_core.exceptions import InputFileError
from tasoc_core.flags import PIXEL_FLAGS, TESS_QUALITY
from tasoc_core.prepare import hdf5_path, prepare_ccd
from tasoc_core.prepare.exclusions import KNOWN_EXCLUSIONS, exclusion_mask

NOT_USED = PIXEL_FLAGS["NotUsedForBackground"]
MANUAL = PIXEL_FLAGS["ManualExclude"]
SHENANIGANS = PIXEL_FLAGS["BackgroundShenanigans"]
BAD = PIXEL_FLAGS["BadFrame"]
DATA = Path(__file__).resolve().parents[1] / "data"


def test_layout_is_as_documented(prepared) -> None:
    s = prepared.sector
    n, (h, w) = len(s.times), s.shape
    assert prepared.path == hdf5_path(prepared.output, 1, 1, 1)
    assert prepared.path.name == "sector001_camera1_ccd1.hdf5"
    assert not prepared.path.with_name(prepared.path.name + ".partial").exists()
    assert not prepared.path.with_name(prepared.path.name + ".work").exists()
    with h5py.File(prepared.path, "r") as f:
        for name, dtype in (
            ("images", "f4"),
            ("images_err", "f4"),
            ("backgrounds", "f4"),
            ("pixel_flags", "u1"),
        ):
            assert f[name].shape == (n, h, w)
            assert f[name].dtype == np.dtype(dtype)
            assert f[name].chunks == (8, 16, 16)
        assert f["pixel_flags"].compression is None  # compression = "none" by default
        assert f["sumimage"].shape == (h, w)
        assert f["pointing"].shape == (n, 2, 3)
        for name in ("time", "timecorr", "time_start", "time_stop", "cadenceno", "quality", "dquality",
                     "quality_transferred", "filenames", "wcs", "bad_frame", "bad_reason", "pointing_rms",
                     "shenanigans_pixels"):  # fmt: skip
            assert f[name].shape == (n,), name
        a = f.attrs
        assert a["format"] == "tasoc-prepare"
        assert a["format_version"] == 1
        assert a["complete"]
        assert (a["sector"], a["camera"], a["ccd"], a["cadence"], a["time_smooth"]) == (
            1,
            1,
            1,
            1800,
            3,
        )
        assert tuple(a["origin"]) == s.origin
        assert tuple(a["shape"]) == (h, w)
        assert a["background_estimator"] == "tasoc"
        assert json.loads(a["background_settings"])["box"] == 64
        np.testing.assert_allclose(f["time"][()], s.times, atol=1e-9)
        np.testing.assert_array_equal(f["cadenceno"][()], 1000 + np.arange(n))
        assert list(f["filenames"].asstr()[()]) == [p.name for p in s.paths]
        assert not f["bad_frame"][()].any()
        keywords = json.loads(a["keywords"])
        assert keywords["NUM_FRM"] == 900
        assert keywords["gain"] == pytest.approx(5.2)


def test_backgrounds_match_the_truth(prepared) -> None:
    s = prepared.sector
    with h5py.File(prepared.path, "r") as f:
        backgrounds = f["backgrounds"][()]
        images = f["images"][()]
        flags = f["pixel_flags"][()]
    quiet = np.ones(len(s.times), bool)
    quiet[8:16] = False  # the lens flare is a sharp feature: flagged, not modelled
    level = 150.0
    resid = (backgrounds[quiet] - s.sky[quiet]) / level
    assert np.sqrt(np.mean(resid**2)) <= 0.01
    # The subtracted image plus the subtracted background is the calibrated image.
    np.testing.assert_allclose(images + backgrounds, s.images, rtol=1e-6, atol=1e-3)
    # Bright star cores are not background pixels.
    bright = s.images[0] > s.sky[0] + 3000
    assert bright.any()
    assert np.all(flags[0][bright] & NOT_USED)


def test_lens_flare_is_flagged_where_injected_and_almost_nowhere_else(prepared) -> None:
    s = prepared.sector
    with h5py.File(prepared.path, "r") as f:
        flagged = (f["pixel_flags"][()] & SHENANIGANS) != 0
        counts = f["shenanigans_pixels"][()]
    injected = s.flare > 40.0
    core = np.array([binary_erosion(m, iterations=3) for m in injected])
    near = np.array([binary_dilation(m, iterations=12) for m in s.flare > 0])
    recall = flagged[core].mean()
    false_rate = flagged[~near].mean()
    assert recall >= 0.95, f"only {recall:.1%} of the injected flare flagged"
    assert false_rate <= 1e-3, f"{false_rate:.2%} of pixels far from the flare flagged"
    np.testing.assert_array_equal(counts, flagged.sum(axis=(1, 2)))
    assert counts[:8].sum() == 0
    assert counts[16:].sum() == 0
    assert np.all(counts[8:16] > 0.5 * injected[8:16].sum(axis=(1, 2)))


def test_sumimage_is_the_mean_subtracted_image(prepared) -> None:
    s = prepared.sector
    with h5py.File(prepared.path, "r") as f:
        sumimage = f["sumimage"][()]
        images = f["images"][()]
        fraction = f["background_used_fraction"][()]
        used = f["backgrounds_pixels_used"][()]
    np.testing.assert_allclose(
        sumimage, np.nanmean(images.astype(np.float64), axis=0), rtol=1e-6, atol=1e-4
    )
    truth = (s.images - s.sky).mean(axis=0)
    assert np.sqrt(np.mean((sumimage - truth) ** 2)) < 0.01 * 150
    np.testing.assert_array_equal(used, fraction > 0.5)


def test_pointing_recovers_the_injected_jitter(prepared) -> None:
    s = prepared.sector
    with HDF5Source(prepared.path) as src:
        ref = src.reference_frame
        expected = s.jitter - s.jitter[ref]
        for row, col in ((10.0, 60.0), (200.0, 250.0)):
            np.testing.assert_allclose(src.jitter(row, col), expected, atol=2e-4)
    with h5py.File(prepared.path, "r") as f:
        assert np.all(f["pointing_rms"][()] < 1e-3)
        # Reference frame: the good frame closest to a quarter of the sector.
        quarter = s.tstart[0] + 0.25 * (s.tstop[-1] - s.tstart[0])
        assert ref == int(np.argmin(np.abs(s.times - quarter)))
        assert f.attrs["reference_time"] == pytest.approx(quarter)


def test_manual_and_known_exclusions(synthetic_sector, prepare_runner, tmp_path: Path) -> None:
    # Camera 1 / CCD 4 of sector 1 over output D: the original's Mars rule applies (cols >= 1580).
    sector = synthetic_sector(
        tmp_path / "in", n=6, shape=(64, 96), origin=(300, 1540), camera=1, ccd=4, nstars=20
    )
    rule = ExcludeRule(rows=(310, 320), cols=(1550, 1560), cadenceno=(1002, 1003), reason="test")
    settings = PrepareConfig(chunk_frames=4, exclude=(rule,))
    result = prepare_runner(sector, tmp_path / "out", settings=settings)
    with h5py.File(result.path, "r") as f:
        flags = f["pixel_flags"][()]
        images = f["images"][()]
        errors = f["images_err"][()]
        rules = json.loads(f.attrs["manual_exclusions"])
    manual = (flags & MANUAL) != 0
    mars = np.zeros((64, 96), bool)
    mars[:, 1580 - 1540 :] = True
    for k in range(6):
        expected = mars.copy()
        if k in (2, 3):  # cadenceno 1002 and 1003
            expected[10:20, 10:20] = True
        np.testing.assert_array_equal(manual[k], expected)
        assert np.isnan(images[k][expected]).all()
        assert np.isnan(errors[k][expected]).all()
        assert np.isfinite(images[k][~expected]).all()
    assert rules[0]["reason"] == "test"
    assert len(rules) == 1 + len(KNOWN_EXCLUSIONS)
    # The known rules are specific: nothing applies to another sector or camera.
    stamp = Stamp(300, 364, 1540, 1636)
    assert (
        exclusion_mask(
            KNOWN_EXCLUSIONS, stamp, sector=2, camera=1, ccd=4, cadenceno=5000, time=1400.0
        )
        is None
    )
    assert (
        exclusion_mask(
            KNOWN_EXCLUSIONS, stamp, sector=1, camera=2, ccd=4, cadenceno=1000, time=1325.3
        )
        is None
    )


def test_bad_inputs_are_reported_and_the_run_completes(
    synthetic_sector, prepare_runner, ffi_writer, ffi_namer, tmp_path: Path, caplog
) -> None:
    sector = synthetic_sector(tmp_path / "in", n=16, shape=(128, 128), nstars=60)
    paths = sector.paths
    common = {"camera": 1, "ccd": 1, "origin": sector.origin}

    def rewrite(k: int, image: np.ndarray, **kwargs: object) -> None:
        ffi_writer(paths[k], image, np.ones_like(image), tstart=float(sector.tstart[k]),
                   tstop=float(sector.tstop[k]), ffiindex=1000 + k, **(common | kwargs))  # fmt: skip

    # Frame 3: truncated download.
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[: len(data) - 5000])
    # Frame 5: different pixels (a sub-frame of another size).
    rewrite(5, sector.images[5][:, :96])
    # Frame 7: all NaN; frame 11: all zeros; frame 9: no WCS at all.
    rewrite(7, np.full((128, 128), np.nan, np.float32))
    rewrite(11, np.zeros((128, 128), np.float32))
    rewrite(9, sector.images[9], wcs_shift=None)
    # Files that are no frame of this CCD: garbage, another camera's header, a duplicate.
    garbage = tmp_path / "in" / ffi_namer(90, 1, 1, 1)
    garbage.write_bytes(b"SIMPLE  = this is not a FITS file")
    other = tmp_path / "in" / ffi_namer(91, 1, 1, 1)
    ffi_writer(other, sector.images[0], np.ones((128, 128)), camera=2, ccd=1, tstart=1330.0,
               tstop=1330.02, origin=sector.origin)  # fmt: skip
    duplicate = tmp_path / "in" / ffi_namer(92, 1, 1, 1)
    shutil.copy(paths[0], duplicate)
    # A TPF of another camera next to the FFIs: passed over for the quality transfer.
    tpf = tmp_path / "in" / "tess2018206045859-s0001-0000000025155310-0120-s_tp.fits.gz"
    shutil.copy(DATA / "tess25155310-s01-first-cadences.fits.gz", tpf)

    with caplog.at_level(logging.INFO):
        result = prepare_runner(sector, tmp_path / "out", settings=PrepareConfig(chunk_frames=4))
    assert result.status == "created"
    assert result.nframes == 15  # 16 frames, the truncated one unreadable
    bad = {p.file: p.reason for p in result.bad_frames}
    skipped = {p.file: p.reason for p in result.skipped_files}
    assert "truncated" in skipped[paths[3].name]
    assert "science pixels" in bad[paths[5].name]
    assert "NaN" in bad[paths[7].name]
    assert "zero" in bad[paths[11].name]
    assert "not a readable FITS file" in skipped[garbage.name]
    assert "camera 2, CCD 1" in skipped[other.name]
    assert "duplicate" in skipped[duplicate.name]
    assert result.frames_without_wcs == (paths[9].name,)
    for name in [*bad, *skipped, paths[9].name]:
        assert name in caplog.text, f"{name} not reported in the log"

    with h5py.File(result.path, "r") as f:
        names = list(f["filenames"].asstr()[()])
        index = {name: i for i, name in enumerate(names)}
        flags = f["pixel_flags"][()]
        images = f["images"][()]
        quality = f["quality"][()]
        assert json.loads(f.attrs["bad_frames"]) == [p.as_dict() for p in result.bad_frames]
        assert {p["file"] for p in json.loads(f.attrs["skipped_files"])} == set(skipped)
        tpf_skipped = json.loads(f.attrs["quality_tpfs_skipped"])
        assert tpf_skipped[0]["file"] == tpf.name
        assert "camera 4, CCD 1" in tpf_skipped[0]["reason"]
        backgrounds = f["backgrounds"][()]
    for name in bad:
        k = index[name]
        assert np.all(flags[k] == BAD)
        assert np.isnan(images[k]).all()
        assert quality[k] & TESS_QUALITY["ManualExclude"]
    good = [index[p.name] for i, p in enumerate(paths) if p.name not in bad and i != 3]
    assert not np.any(flags[good] & BAD)
    # Bad frames do not spoil the smoothed backgrounds of their neighbours (with only 2×2
    # tiles on these small frames the absolute accuracy is a little worse than on a CCD).
    truth = np.delete(sector.sky, 3, axis=0)
    rms = np.sqrt(np.mean(((backgrounds[good] - truth[good]) / 150.0) ** 2, axis=(1, 2)))
    assert rms.max() <= 0.015
    neighbours = [good.index(index[paths[k].name]) for k in (4, 6, 8, 10, 12)]
    assert rms[neighbours].max() <= 1.5 * np.median(rms)
    # The frame without WCS gets its pointing from its neighbours.
    with HDF5Source(result.path) as src:
        jitter = src.jitter(50.0, 100.0)
    k = index[paths[9].name]
    np.testing.assert_allclose(jitter[k], 0.5 * (jitter[k - 1] + jitter[k + 1]), atol=1e-9)


def test_no_input_and_no_wcs_are_errors_naming_the_problem(
    synthetic_sector, prepare_runner, tmp_path: Path
) -> None:
    with pytest.raises(InputFileError, match=r"no FFIs of sector 1, camera 1, CCD 1 under"):
        prepare_ccd(1, 1, 1, input_dir=tmp_path, output_dir=tmp_path / "out")
    sector2 = synthetic_sector(tmp_path / "nowcs", n=3, shape=(64, 64), nstars=5)
    # Strip the WCS from every frame: no pointing and no sky positions are possible.
    from astropy.io import fits

    for path in sector2.paths:
        with fits.open(path, mode="update") as hdul:
            for key in ("CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2"):
                del hdul[1].header[key]
    with pytest.raises(InputFileError, match="no FFI has a celestial WCS"):
        prepare_runner(sector2, tmp_path / "out")
    assert not any((tmp_path / "out").rglob("*.hdf5"))


def _datasets(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in f}


def test_killed_run_resumes_to_the_same_file(
    synthetic_sector, prepare_runner, tmp_path: Path, monkeypatch, caplog
) -> None:
    from tasoc_core.prepare import run

    sector = synthetic_sector(tmp_path / "in", n=20, shape=(96, 96), nstars=40, flare_frames=(5, 9))
    clean = prepare_runner(sector, tmp_path / "clean", settings=PrepareConfig(chunk_frames=4))
    reference = _datasets(clean.path)

    real_write = run._write_block
    calls = {"n": 0}

    def dying_write(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C while writing block 3
        real_write(*args, **kwargs)

    monkeypatch.setattr(run, "_write_block", dying_write)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        prepare_runner(sector, out, settings=PrepareConfig(chunk_frames=4))
    final = hdf5_path(out, 1, 1, 1)
    partial = final.with_name(final.name + ".partial")
    assert not final.exists()  # never a half-written result under the final name
    with h5py.File(partial, "r") as f:
        assert f.attrs["frames_done"] == 8
        assert not f.attrs["complete"]
    monkeypatch.setattr(run, "_write_block", real_write)
    with caplog.at_level(logging.INFO, logger="tasoc_core.prepare.run"):
        result = prepare_runner(sector, out, settings=PrepareConfig(chunk_frames=4))
    assert result.resumed_from == 8
    assert "resuming after frame 8" in caplog.text
    assert not partial.exists()
    resumed = _datasets(final)
    assert set(resumed) == set(reference)
    for name, data in reference.items():
        np.testing.assert_array_equal(resumed[name], data, err_msg=name)


def test_interrupted_flagging_resumes_and_changed_settings_restart(
    synthetic_sector, prepare_runner, tmp_path: Path, monkeypatch, caplog
) -> None:
    from tasoc_core.prepare import run

    sector = synthetic_sector(tmp_path / "in", n=12, shape=(64, 64), nstars=20, flare_frames=(2, 6))
    settings = PrepareConfig(chunk_frames=4)
    real = run._pointing

    def fail(*args: object, **kwargs: object):
        raise RuntimeError("power cut")

    monkeypatch.setattr(run, "_pointing", fail)
    with pytest.raises(RuntimeError, match="power cut"):
        prepare_runner(sector, tmp_path / "out", settings=settings)
    monkeypatch.setattr(run, "_pointing", real)
    partial = hdf5_path(tmp_path / "out", 1, 1, 1).with_name("sector001_camera1_ccd1.hdf5.partial")
    with h5py.File(partial, "r") as f:
        assert f.attrs["frames_done"] == 12
        assert f.attrs["flags_done"] == 12
    # Other settings: the partial file is not reused.
    with caplog.at_level(logging.INFO, logger="tasoc_core.prepare.run"):
        result = prepare_runner(
            sector, tmp_path / "out", settings=PrepareConfig(chunk_frames=4, time_smooth=5)
        )
    assert result.resumed_from is None
    assert "other inputs or settings" in caplog.text
    with h5py.File(result.path, "r") as f:
        assert f.attrs["time_smooth"] == 5
    # An existing file is kept unless overwrite is asked for.
    again = prepare_runner(sector, tmp_path / "out", settings=settings)
    assert again.status == "exists"
    rebuilt = prepare_runner(sector, tmp_path / "out", settings=settings, overwrite=True)
    assert rebuilt.status == "created"
    with h5py.File(rebuilt.path, "r") as f:
        assert f.attrs["time_smooth"] == 3


def test_corrupt_partial_file_is_discarded(
    synthetic_sector, prepare_runner, tmp_path: Path, caplog
) -> None:
    sector = synthetic_sector(tmp_path / "in", n=6, shape=(64, 64), nstars=10)
    final = hdf5_path(tmp_path / "out", 1, 1, 1)
    final.parent.mkdir(parents=True)
    final.with_name(final.name + ".partial").write_bytes(b"\x89HDF garbage")
    with caplog.at_level(logging.WARNING):
        result = prepare_runner(sector, tmp_path / "out")
    assert result.status == "created"
    assert result.resumed_from is None
    assert "cannot be opened" in caplog.text


SIGKILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from tasoc_core.config import PrepareConfig
from tasoc_core.prepare import prepare_ccd, run

real = run._write_block
calls = [0]

def write_then_die(*args, **kwargs):
    calls[0] += 1
    if calls[0] == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, files left open
    real(*args, **kwargs)

run._write_block = write_then_die
prepare_ccd(1, 1, 1, input_dir=Path({input!r}), output_dir=Path({output!r}),
            settings=PrepareConfig(chunk_frames=4))
"""


def test_sigkilled_run_resumes(synthetic_sector, prepare_runner, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    sector = synthetic_sector(tmp_path / "in", n=16, shape=(64, 64), nstars=20)
    clean = prepare_runner(sector, tmp_path / "clean", settings=PrepareConfig(chunk_frames=4))
    script = SIGKILL_SCRIPT.format(tests=str(Path(__file__).parent), input=str(sector.directory),
                                   output=str(tmp_path / "out"))  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    final = hdf5_path(tmp_path / "out", 1, 1, 1)
    assert not final.exists()
    result = prepare_runner(sector, tmp_path / "out", settings=PrepareConfig(chunk_frames=4))
    assert result.resumed_from == 8
    expected, got = _datasets(clean.path), _datasets(final)
    for name, data in expected.items():
        np.testing.assert_array_equal(got[name], data, err_msg=name)


@pytest.mark.parametrize("transport", ["frame buffer", "pipes"])
def test_worker_processes_give_the_same_file(
    prepared, prepare_runner, tmp_path: Path, monkeypatch, transport: str
) -> None:
    from tasoc_core.prepare import _worker

    if transport == "pipes":
        monkeypatch.setattr(_worker.FrameBuffer, "create", classmethod(lambda cls, *a: None))
    result = prepare_runner(prepared.sector, tmp_path / "out", workers=2)
    expected, got = _datasets(prepared.path), _datasets(result.path)
    for name, data in expected.items():
        np.testing.assert_array_equal(got[name], data, err_msg=name)
    assert not list(Path("/dev/shm").glob(f"tasoc-prepare-{os.getpid()}-*"))  # cleaned up


def test_frame_buffer_views_and_stale_buffers() -> None:
    from tasoc_core.prepare._worker import FrameBuffer

    if not Path("/dev/shm").is_dir():
        pytest.skip("no /dev/shm on this system")
    stale = Path("/dev/shm") / "tasoc-prepare-999999999-deadbeef.buf"  # no such process
    stale.write_bytes(b"x")
    buffer = FrameBuffer.create(3, (4, 5))
    assert buffer is not None
    try:
        assert not stale.exists()
        other = FrameBuffer(buffer.path, 3, (4, 5), create=False)  # as a worker attaches
        image, _error, _background, flags = other.views(4)  # slot 4 is slot 1
        image[...] = 1.5
        flags[...] = 9
        got = buffer.views(1)
        assert np.all(got[0] == 1.5)
        assert np.all(got[3] == 9)
        assert np.all(buffer.views(0)[0] == 0)
        other.close()
    finally:
        buffer.close(unlink=True)
    assert not buffer.path.exists()


def test_a_worker_that_cannot_start_reports_instead_of_hanging(prepared) -> None:
    from tasoc_core.prepare import _worker

    class Broken(TasocBackground):
        def __init__(self, settings: object = None) -> None:
            raise RuntimeError("no licence for this estimator")

    saved = dict(_worker._STATE)
    try:
        _worker._STATE.clear()
        _worker.init_worker(Broken, None)  # must not raise: a pool would respawn it for ever
        s = prepared.sector
        task = _worker.FrameTask(
            0, _frame(s.paths[0]), _frame(s.paths[0]).science, 1, s.geometry, ()
        )
        with pytest.raises(RuntimeError, match="no licence for this estimator"):
            _worker.process_frame(task)
    finally:
        _worker._STATE.clear()
        _worker._STATE.update(saved)


def _frame(path: Path):
    from tasoc_core.prepare._frames import frame_info

    return frame_info(path)


def test_without_a_source_mask_a_high_clip_is_warned_about(
    synthetic_sector, prepare_runner, tmp_path: Path, caplog
) -> None:
    """The default 8σ tile clip assumes the stars are masked; with the mask off prepare
    says so and names the setting to change. With 5σ it stays quiet."""
    from tasoc_core.background import TasocBackgroundSettings

    sector = synthetic_sector(tmp_path / "in", n=4, shape=(64, 64), nstars=5)
    settings = PrepareConfig(chunk_frames=4, source_mask=False)
    with caplog.at_level(logging.WARNING, logger="tasoc_core.prepare.run"):
        prepare_runner(sector, tmp_path / "a", settings=settings)
    assert "prepare.source_mask is off" in caplog.text
    assert "prepare.estimators.tasoc.sigma" in caplog.text
    caplog.clear()
    low = TasocBackground(TasocBackgroundSettings(sigma=5.0))
    with caplog.at_level(logging.WARNING, logger="tasoc_core.prepare.run"):
        prepare_runner(sector, tmp_path / "b", settings=settings, estimator=low)
    assert "prepare.source_mask is off" not in caplog.text
