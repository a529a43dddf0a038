"""Shared simulated sectors and helpers for the CBV tests (built once per session)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tasoc_cbv import CBVCorrector, CBVSettings
from tasoc_core.exceptions import TargetError
from tasoc_core.testing import InMemoryCorrectionContext
from tasoc_core.testing.systematics import (
    SimulatedSector,
    signal_kept,
    simulate_sector,
    without_signal,
)


@pytest.fixture(scope="session")
def spoc_cbv_file() -> Path:
    """The real SPOC CBV file (sector 10, camera 2, CCD 4; 100 cadences)."""
    return Path(__file__).parent / "data" / "tess2019085135100-s0010-2-4-0140-s_cbv.fits"


class Corrected:
    """A simulated sector with every star corrected once by a CBV corrector."""

    def __init__(self, sim: SimulatedSector, settings: CBVSettings, tmp: Path, stars=None) -> None:
        self.sim = sim
        self.context = InMemoryCorrectionContext(sim.light_curves, tmp)
        self.corrector = CBVCorrector(settings)
        self.corrector.prepare(self.context)
        self.results = {}
        self.errors = {}
        for i, lc in enumerate(sim.light_curves):
            if stars is not None and i not in stars:
                continue
            try:
                self.results[i] = self.corrector.correct(lc, self.context)
            except TargetError as exc:
                self.errors[i] = str(exc)

    def kept(self, i: int) -> float:
        """Fraction of star ``i``'s intrinsic signal kept (injection–recovery)."""
        other = self.corrector.correct(without_signal(self.sim, i), self.context)
        return signal_kept(self.results[i].flux, other.flux, self.sim.intrinsic[i])


@pytest.fixture(scope="session", autouse=True)
def _quiet_build_warnings():
    # On-demand builds log a warning per area; keep test output readable.
    logging.getLogger("tasoc_cbv.corrector").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def sector_sim() -> SimulatedSector:
    """Every feature: common modes, dump spikes, jitter, local patches, sines, LPVs, transit."""
    return simulate_sector(nstars=600, seed=2)


@pytest.fixture(scope="session")
def clean_sim() -> SimulatedSector:
    """The same sky without local patches."""
    return simulate_sector(nstars=600, seed=2, n_patches=0)


@pytest.fixture(scope="session")
def sector_corrected(sector_sim, tmp_path_factory) -> Corrected:
    return Corrected(sector_sim, CBVSettings(), tmp_path_factory.mktemp("cbv"))


@pytest.fixture(scope="session")
def clean_corrected(clean_sim, tmp_path_factory) -> Corrected:
    return Corrected(clean_sim, CBVSettings(), tmp_path_factory.mktemp("cbv"))


@pytest.fixture(scope="session")
def correct_all():
    """Factory: ``correct_all(sim, settings, tmp_dir, stars=None)`` corrects a sector's stars."""
    return Corrected
