"""The cbv corrector as the framework uses it: contract, headers, products, bad input."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

import tasoc_cbv.plugin
from tasoc_cbv import CBVCorrector, CBVSettings, area_of, build_cbvs
from tasoc_core.config import structure
from tasoc_core.exceptions import ConfigError, InputFileError, TargetError
from tasoc_core.geometry import cbv_area
from tasoc_core.status import Status
from tasoc_core.testing import InMemoryCorrectionContext, assert_conformance


def test_plugin_conforms():
    checked = assert_conformance(tasoc_cbv.plugin, name="cbv")
    assert [reg.name for reg in checked] == ["cbv"]


def test_headers_diagnostics_and_quality(sector_corrected):
    sim = sector_corrected.sim
    i = int(sim.quiet_outside_patches()[3])
    result = sector_corrected.results[i]
    h = result.headers
    for key in ("CBV_AREA", "CBV_MET", "CBV_BIC", "CBV_PRI", "CBV_MAX", "CBV_NUM", "CBV_C0"):
        assert key in h, key
    assert h["CBV_AREA"][0] == sim.light_curves[i].cbv_area
    assert (h["CBV_MET"][0], h["CBV_BIC"][0], h["CBV_PRI"][0]) == ("LS", True, False)
    n = h["CBV_NUM"][0]
    assert 1 <= n <= h["CBV_MAX"][0]
    assert len([k for k in h if k.startswith("CBV_C") and k != "CBV_C0"]) == n
    assert len([k for k in h if k.startswith("CBVS_C")]) == n
    assert all(len(k) <= 8 for k in h)
    assert result.diagnostics == {"cbv_num": float(n)}
    assert result.status == Status.OK
    lc = sim.light_curves[i]
    flagged = (lc.quality & 3) != 0
    assert np.isnan(result.flux[flagged]).all()  # dumps and gaps are not corrected
    assert np.isfinite(result.flux[~flagged]).all()
    assert abs(np.nanmedian(result.flux)) < 100  # ppm around the star's level
    # Errors scale with the flux: relative error in ppm.
    expected = lc.flux_err / np.nanmedian(lc.flux) * 1e6
    np.testing.assert_allclose(result.flux_err[~flagged], expected[~flagged], rtol=0.02)


def test_area_from_position_matches_the_geometry(sector_sim):
    lc = sector_sim.light_curves[0]
    assert area_of(attrs.evolve(lc, cbv_area=None)) == lc.cbv_area
    centre_distance_deg = 0.0
    assert cbv_area(1, 1, centre_distance_deg) == 111
    with pytest.raises(TargetError, match="no CBV area and no CCD position"):
        area_of(attrs.evolve(lc, cbv_area=None, position=(np.nan, np.nan)))


def test_bad_light_curves_get_a_clear_error(sector_corrected):
    sim, context = sector_corrected.sim, sector_corrected.context
    corrector = sector_corrected.corrector
    lc = sim.light_curves[int(sim.quiet_outside_patches()[0])]
    with pytest.raises(TargetError, match=r"TIC 4\d+ .*flux is NaN on every cadence"):
        corrector.correct(attrs.evolve(lc, flux=np.full(len(lc), np.nan)), context)
    few = np.full(len(lc), np.nan)
    few[:30] = lc.flux[:30]
    with pytest.raises(TargetError, match="only 30 usable cadences"):
        corrector.correct(attrs.evolve(lc, flux=few), context)
    with pytest.raises(TargetError, match=r"median flux -.* is not positive"):
        corrector.correct(attrs.evolve(lc, flux=-lc.flux), context)


def test_area_with_too_few_stars_fails_its_targets_once_and_clearly(sector_sim, tmp_path):
    # Leave only 20 stars in area 111: its targets are refused, other areas still work.
    keep = [lc for lc in sector_sim.light_curves if lc.cbv_area != 111]
    keep += [lc for lc in sector_sim.light_curves if lc.cbv_area == 111][:20]

    class Counting(InMemoryCorrectionContext):
        calls = 0

        def light_curves(self, **kwargs):
            Counting.calls += 1
            return super().light_curves(**kwargs)

    context = Counting(keep, tmp_path)
    corrector = CBVCorrector()
    corrector.prepare(context)
    small = [lc for lc in keep if lc.cbv_area == 111]
    for lc in small[:3]:
        with pytest.raises(TargetError, match=r"CBV area 111 .*only 20 stars with light curves"):
            corrector.correct(lc, context)
    assert Counting.calls == 1  # the failed build is remembered, not repeated per target
    other = next(lc for lc in keep if lc.cbv_area == 112)
    assert corrector.correct(other, context).status in (Status.OK, Status.WARNING)


def test_missing_raw_file_in_an_area_is_a_target_error(sector_sim, tmp_path):
    class Broken(InMemoryCorrectionContext):
        def light_curves(self, **kwargs):
            yield from list(super().light_curves(**kwargs))[:5]
            raise InputFileError("raw light curve /data/tess00000001-s01.fits does not exist")

    context = Broken(sector_sim.light_curves, tmp_path)
    corrector = CBVCorrector()
    corrector.prepare(context)
    with pytest.raises(TargetError, match=r"tess00000001-s01.fits does not exist"):
        corrector.correct(sector_sim.light_curves[0], context)


def test_without_cbv_files_and_without_building_the_corrector_says_what_to_do(sector_sim, tmp_path):
    corrector = CBVCorrector(CBVSettings(build_missing=False))
    context = InMemoryCorrectionContext(sector_sim.light_curves, tmp_path)
    corrector.prepare(context)
    with pytest.raises(TargetError, match=r"no CBVs for area \d+ .*run `tasoc cbv build` first"):
        corrector.correct(sector_sim.light_curves[0], context)


def test_uses_the_cbv_files_in_the_work_dir(sector_sim, sector_corrected, tmp_path):
    context = InMemoryCorrectionContext(sector_sim.light_curves, tmp_path)
    lc = sector_sim.light_curves[int(sector_sim.quiet_outside_patches()[5])]
    build_cbvs(context, sector=1, camera=1, ccd=1, cadence=1800, method="aperture",
               area=lc.cbv_area, plot=False)  # fmt: skip
    corrector = CBVCorrector(CBVSettings(build_missing=False))
    corrector.prepare(context)
    from_file = corrector.correct(lc, context)
    in_memory = sector_corrected.results[sector_sim.light_curves.index(lc)]
    np.testing.assert_allclose(from_file.flux, in_memory.flux, atol=1.0)  # float32 vectors
    # Another version's files are not used.
    other = CBVCorrector(CBVSettings(build_missing=False, version=2))
    other.prepare(context)
    with pytest.raises(TargetError, match="version 2"):
        other.correct(lc, context)


def test_settings_from_the_run_configuration():
    table = {"use_prior": True, "clip_sigma": 5, "build": {"ncomponents": 8, "min_stars": 40}}
    settings = structure(CBVSettings, table, "correctors.cbv")
    assert settings.use_prior
    assert settings.clip_sigma == 5.0
    assert settings.build.ncomponents == 8
    assert settings.build.threshold_correlation == 0.5
    with pytest.raises(
        ConfigError,
        match=r"correctors.cbv.build: threshold_correlation must be in \(0, 1\], got 1.5",
    ):
        structure(CBVSettings, {"build": {"threshold_correlation": 1.5}}, "correctors.cbv")
    with pytest.raises(ConfigError, match=r"correctors\.cbv: unknown key 'prior'"):
        structure(CBVSettings, {"prior": True}, "correctors.cbv")
