"""Shared simulated fields for the ensemble tests (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasoc_core.exceptions import TargetError
from tasoc_core.testing import InMemoryCorrectionContext
from tasoc_core.testing.systematics import (
    SimulatedSector,
    signal_kept,
    simulate_sector,
    without_signal,
)
from tasoc_ensemble import EnsembleCorrector, EnsembleSettings


class Corrected:
    """A simulated field with every star corrected once by an ensemble corrector."""

    def __init__(self, sim: SimulatedSector, settings: EnsembleSettings, tmp: Path) -> None:
        self.sim = sim
        self.settings = settings
        self.context = InMemoryCorrectionContext(sim.light_curves, tmp)
        self.corrector = EnsembleCorrector(settings)
        self.results = {}
        self.errors = {}
        for i, lc in enumerate(sim.light_curves):
            try:
                self.results[i] = self.corrector.correct(lc, self.context)
            except TargetError as exc:
                self.errors[i] = str(exc)
        self._twin = EnsembleCorrector(settings)

    def kept(self, i: int) -> float:
        """Fraction of star ``i``'s intrinsic signal kept (injection–recovery).

        The signal-free twin has the same identity as the star, so it goes through its own
        corrector and is dropped from that corrector's cache before and after.
        """
        twin = without_signal(self.sim, i)
        self._twin.cache.forget(twin)
        other = self._twin.correct(twin, self.context)
        self._twin.cache.forget(twin)
        return signal_kept(self.results[i].flux, other.flux, self.sim.intrinsic[i])


def dense_field(**kwargs) -> SimulatedSector:
    """350 stars in a 420 × 420 pixel field with three local-systematics patches."""
    options = dict(nstars=350, region=(800, 1220, 800, 1220), n_patches=3, patch_radius=70,
                   frac_lpv=0.06, seed=1)  # fmt: skip
    options.update(kwargs)
    return simulate_sector(**options)


@pytest.fixture(scope="session")
def field() -> SimulatedSector:
    """Every feature, common modes at full strength."""
    return dense_field()


@pytest.fixture(scope="session")
def local_field() -> SimulatedSector:
    """Common modes at a tenth of their strength: local systematics dominate."""
    return dense_field(systematics_scale=0.1, seed=3)


@pytest.fixture(scope="session")
def field_corrected(field, tmp_path_factory) -> Corrected:
    return Corrected(field, EnsembleSettings(), tmp_path_factory.mktemp("ens"))


@pytest.fixture(scope="session")
def local_corrected(local_field, tmp_path_factory) -> Corrected:
    return Corrected(local_field, EnsembleSettings(), tmp_path_factory.mktemp("ens"))
