"""Simulation profiles: how big a simulated sector is.

=========  ============================================================================
``ci``     a 144×144-px sub-frame holding the CCD corner far from the camera centre,
           4.8 days (two "orbits" and a gap), ~180 stars with Tmag < 15 and ~1700
           fainter, 4 TPFs (9×9) plus one 20-s TPF (5×5). Seconds to run, ~65 MB.
           Used by the test suite (fixture ``ci_sector``).
``demo``   a 512×512-px sub-frame, a full ~27-day sector (1268 FFIs), ~2000 stars with
           Tmag < 15 (~12 000 in all), 14 TPFs plus one 20-s TPF; ~2 min on 2 cores.
``halo``   the demo's sky and orbits on a 96×96-px sub-frame around one saturated star
           with two injected δ Scuti modes and its 11×11 TPF (fixture ``halo_photometry``).
``full``   the whole CCD, 1300 FFIs, ≳30 000 stars with Tmag < 15 (benchmarks).
=========  ============================================================================
"""

from __future__ import annotations

import attrs

from tasoc_core.exceptions import SimulationError

__all__ = ["PROFILES", "Profile", "get_profile"]


@attrs.frozen(kw_only=True)
class Profile:
    """Size and content of a simulated sector.

    Attributes
    ----------
    name
        Profile name.
    region_size
        (rows, cols) of the simulated sub-frame; None for the whole CCD.
    orbit_days
        Length of each of the two orbits of data (days).
    gap_days
        Data-downlink gap between the orbits (days).
    density_t15
        Stars brighter than Tmag 15 per square degree.
    faint_limit
        Faintest simulated star (Tmag); stars with Tmag ≥ 15 are a static field.
    n_very_bright
        Stars with Tmag < 4.5 forced into the field (bleed columns off their stamps).
    n_tpf
        Number of 120-s TPF targets (one of them also gets a 20-s TPF, see ``fast_tpf``).
    tpf_size
        Side of the 120-s TPF stamps (pixels).
    fast_tpf_size
        Side of the 20-s TPF stamp.
    dump_interval_days
        Time between momentum dumps.
    coarse_days
        Length of the coarse-pointing episode in the second orbit.
    lens_flare
        Whether a moving lens-flare feature crosses the region.
    workers
        Worker processes for frame rendering (None: all CPUs).
    fast_tpf
        Whether one TPF target also gets a 20-s TPF.
    bright_oscillate
        Give the very bright stars a coherent oscillation (two δ Scuti-like modes of
        0.3–1 % at 4–12 cycles per day, below the FFI Nyquist frequency) instead of a
        drawn variability class: the case halo photometry is for.
    """

    name: str
    region_size: tuple[int, int] | None
    orbit_days: float
    gap_days: float
    density_t15: float
    faint_limit: float
    n_very_bright: int
    n_tpf: int
    tpf_size: int = 11
    fast_tpf_size: int = 11
    dump_interval_days: float = 3.125
    coarse_days: float = 0.3
    lens_flare: bool = True
    workers: int | None = None
    fast_tpf: bool = True
    bright_oscillate: bool = False


_DEMO = Profile(
    name="demo",
    region_size=(512, 512),
    orbit_days=13.2,
    gap_days=1.0,
    density_t15=210.0,
    faint_limit=17.0,
    n_very_bright=2,
    n_tpf=14,
)

PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci",
        region_size=(144, 144),
        orbit_days=2.2,
        gap_days=0.4,
        density_t15=210.0,
        faint_limit=17.5,
        n_very_bright=1,
        n_tpf=4,
        tpf_size=9,
        fast_tpf_size=5,
        dump_interval_days=1.0,
        coarse_days=0.1,
        workers=1,
    ),
    "demo": _DEMO,
    # The demo's sky and orbits on a 96-px sub-frame around one saturated, oscillating star.
    "halo": attrs.evolve(
        _DEMO,
        name="halo",
        region_size=(96, 96),
        n_very_bright=1,
        n_tpf=1,
        tpf_size=11,
        fast_tpf=False,
        lens_flare=False,
        bright_oscillate=True,
    ),
    "full": Profile(
        name="full",
        region_size=None,
        orbit_days=650 * 1800 / 86400,
        gap_days=1.0,
        density_t15=215.0,
        faint_limit=16.5,
        n_very_bright=4,
        n_tpf=20,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; SimulationError listing the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise SimulationError(
            f"profile {name!r} is unknown (known: {', '.join(PROFILES)})"
        ) from None
