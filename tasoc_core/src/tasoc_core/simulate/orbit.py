"""The spacecraft orbit of a simulated sector, written as SPICE kernels.

Where the real TESS ephemeris shipped with tasoc (JPL Horizons, 2018-06 … 2018-12, sectors
1–5) covers the sector, it is converted to an SPK. Otherwise a synthetic orbit is used:
a Keplerian ellipse about the Earth with TESS's perigee (17 R⊕) and apogee (59 R⊕), i.e.
a 13.7-day period, inclined 40° to the ecliptic, phased so that perigee falls in the
mid-sector downlink gap, written relative to the Earth (NAIF 399) so SPICE chains it to
the planetary ephemeris.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from tasoc_core.timing import (
    TESS_NAIF_ID,
    SpiceKernels,
    horizons_ephemeris_to_spk,
    read_horizons_vectors,
    write_leapseconds_kernel,
    write_spacecraft_spk,
)

__all__ = ["EPHEMERIS_FILE", "write_sector_kernels"]

#: Name of the real TESS ephemeris shipped in ``tasoc_core/data_files``.
EPHEMERIS_FILE = "20180720_tess_ephem.csv.bz2"
_MU_EARTH = 398_600.4418  # km^3 s^-2
_R_EARTH = 6378.137
_MARGIN_DAYS = 1.0


def _ephemeris_path() -> Path:
    return Path(str(resources.files("tasoc_core").joinpath("data_files", EPHEMERIS_FILE)))


def _kepler_orbit(jd: np.ndarray, perigee_jd: float) -> tuple[np.ndarray, np.ndarray]:
    rp, ra = 17.0 * _R_EARTH, 59.0 * _R_EARTH
    a = 0.5 * (rp + ra)
    e = (ra - rp) / (ra + rp)
    n = np.sqrt(_MU_EARTH / a**3)  # rad/s
    mean = n * (jd - perigee_jd) * 86400.0
    ecc = mean.copy()
    for _ in range(30):  # Newton on Kepler's equation, vectorised
        ecc -= (ecc - e * np.sin(ecc) - mean) / (1 - e * np.cos(ecc))
    cos_e, sin_e = np.cos(ecc), np.sin(ecc)
    b = a * np.sqrt(1 - e**2)
    x, y = a * (cos_e - e), b * sin_e
    edot = n / (1 - e * cos_e)
    vx, vy = -a * sin_e * edot, b * cos_e * edot
    # Orbit plane: inclined 40° to the ecliptic (itself 23.44° to the equator).
    inc, obl, node, argp = np.radians([40.0, 23.4393, 80.0, 30.0])

    def rz(t: float) -> np.ndarray:
        return np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])

    def rx(t: float) -> np.ndarray:
        return np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])

    rot = rx(obl) @ rz(node) @ rx(inc) @ rz(argp)
    pos = np.stack([x, y, np.zeros_like(x)], axis=1) @ rot.T
    vel = np.stack([vx, vy, np.zeros_like(x)], axis=1) @ rot.T
    return pos, vel


def write_sector_kernels(
    directory: Path, start_jd: float, stop_jd: float, perigee_jd: float
) -> tuple[str, list[Path]]:
    """Write the leap-seconds kernel and a TESS SPK covering [start_jd, stop_jd] ± 1 day.

    Parameters
    ----------
    directory
        Where to write (``OUT/spice``).
    start_jd, stop_jd
        Data span (TDB JD).
    perigee_jd
        Perigee time of a synthetic orbit (the middle of the downlink gap).

    Returns
    -------
    source, paths
        ``"horizons"`` or ``"synthetic"``, and the kernel files written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    lsk = write_leapseconds_kernel(directory / "tasoc_leapseconds.tls")
    spk = directory / "tess_ephemeris.bsp"
    lo, hi = start_jd - _MARGIN_DAYS, stop_jd + _MARGIN_DAYS
    jd, _, _, _ = read_horizons_vectors(_ephemeris_path())
    if jd[0] <= lo and hi <= jd[-1]:
        horizons_ephemeris_to_spk(_ephemeris_path(), spk, jd_range=(lo, hi))
        return "horizons", [lsk, spk]
    grid = np.arange(lo, hi + 1.0 / 48, 1.0 / 48)
    pos, vel = _kepler_orbit(grid, perigee_jd)
    write_spacecraft_spk(spk, grid, pos, vel, center=399, body=TESS_NAIF_ID)
    return "synthetic", [lsk, spk]


def earth_distance(kernels: SpiceKernels, jd_tdb: np.ndarray) -> np.ndarray:
    """Distance (km) between TESS and the Earth's centre."""
    return np.linalg.norm(kernels.position(TESS_NAIF_ID, jd_tdb, 399), axis=1)
