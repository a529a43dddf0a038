"""Spacecraft timing with SPICE: kernels (written offline) and barycentric corrections.

Public API, used by the simulator (FFI ``BARYCORR`` at the frame centre, TPF ``TIME`` and
``TIMECORR`` at the target) and by photometry (per-target times for FFI targets)::

    write_leapseconds_kernel(path) -> Path
    write_spacecraft_spk(path, jd_tdb, position_km, velocity_km_s, *, center=0) -> Path
    horizons_ephemeris_to_spk(csv_path, spk_path) -> Path
    planetary_kernel_path() -> Path
    SpiceKernels(directory_or_paths)              # context manager; .spacecraft_position(jd)
    barycentric_delay(jd_tdb, ra_deg, dec_deg, kernels) -> days
    rebarycentre(time_btjd, timecorr, ra_deg, dec_deg, kernels) -> (time, timecorr)

See ``docs/timing.md``.
"""

from __future__ import annotations

from tasoc_core.timing._barycentre import BTJD_OFFSET, barycentric_delay, rebarycentre, unit_vectors
from tasoc_core.timing._kernels import (
    AU_KM,
    TESS_NAIF_ID,
    SpiceKernels,
    horizons_ephemeris_to_spk,
    jd_to_et,
    planetary_kernel_path,
    read_horizons_vectors,
    write_leapseconds_kernel,
    write_spacecraft_spk,
)

__all__ = [
    "AU_KM",
    "BTJD_OFFSET",
    "TESS_NAIF_ID",
    "SpiceKernels",
    "barycentric_delay",
    "horizons_ephemeris_to_spk",
    "jd_to_et",
    "planetary_kernel_path",
    "read_horizons_vectors",
    "rebarycentre",
    "unit_vectors",
    "write_leapseconds_kernel",
    "write_spacecraft_spk",
]
