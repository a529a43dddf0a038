"""The simulated star field and its TIC-like catalog.

Magnitudes follow number counts rising by ~0.4 dex per magnitude (dN/dT ∝ 10^(0.4 T)),
normalised to a density of stars brighter than Tmag 15, down to the profile's faint limit;
a few very bright stars are added explicitly. Positions are uniform on the region (plus a
margin, so light from stars just outside spills in). Proper motions are a few mas/yr, with
5 % high-proper-motion stars (50–400 mas/yr), so propagating J2000 positions to the
sector matters at the pixel level for those.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from astropy.table import MaskedColumn, Table
from astropy.wcs import WCS

from tasoc_core.data.target import Stamp
from tasoc_core.simulate.signals import draw_parameters

__all__ = ["CATALOG_COLUMNS", "catalog_table", "generate_stars", "julian_year"]

#: Columns of the TIC-like extract (MAST TIC-8 names).
CATALOG_COLUMNS = (
    "ID",
    "ra",
    "dec",
    "pmRA",
    "pmDEC",
    "Tmag",
    "Teff",
    "disposition",
    "duplicate_id",
)
_PIXEL_DEG = 21.0 / 3600.0
_MARGIN = 8
_CLASS_FRACTIONS = {
    "solar_like": 0.07,
    "classical": 0.04,
    "long_period": 0.04,
    "eclipsing": 0.04,
    "transit": 0.04,
    "flare": 0.03,
    "rotation": 0.05,
}
_TEFF_RANGES = {
    "constant": (3500.0, 7500.0),
    "solar_like": (4300.0, 5200.0),
    "classical": (6300.0, 8200.0),
    "long_period": (2900.0, 3700.0),
    "eclipsing": (4500.0, 9000.0),
    "transit": (4500.0, 6500.0),
    "flare": (2900.0, 3800.0),
    "rotation": (3800.0, 6200.0),
}


def julian_year(jd: float) -> float:
    """Julian epoch (e.g. 2018.6) of a Julian date."""
    return 2000.0 + (jd - 2451545.0) / 365.25


def _draw_tmag(
    rng: np.random.Generator, n: int, lo: float, hi: float, slope: float = 0.4
) -> np.ndarray:
    u = rng.random(n)
    a, b = 10 ** (slope * lo), 10 ** (slope * hi)
    return np.log10(a + u * (b - a)) / slope


def generate_stars(
    rng: np.random.Generator,
    wcs: WCS,
    region: Stamp,
    *,
    density_t15: float,
    faint_limit: float,
    n_very_bright: int,
    span_btjd: tuple[float, float],
    reference_jd: float,
    first_id: int = 100_000_000,
    bright_oscillate: bool = False,
) -> Table:
    """Draw the physical stars of the field (truth positions at the sector reference time).

    Parameters
    ----------
    rng
        Random generator.
    wcs
        Nominal WCS of the CCD (full-image pixel coordinates).
    region
        Simulated part of the CCD (science pixels).
    density_t15
        Stars brighter than Tmag 15 per square degree.
    faint_limit
        Faintest magnitude drawn.
    n_very_bright
        Stars with 3 ≤ Tmag < 4.5 placed in the inner half of the region.
    span_btjd
        Sector data span, for variability parameters.
    reference_jd
        Sector reference time (JD): the epoch of the returned positions.
    bright_oscillate
        Replace the very bright stars' variability by a coherent oscillation (drawn last,
        so the other stars are the same as without it).

    Returns
    -------
    Table
        Columns starid, ra, dec, pm_ra, pm_dec (mas/yr), ra_j2000, dec_j2000, tmag, teff,
        row, col (0-based CCD, nominal pointing), var_class, var_params (JSON).
    """
    rows = (region.row_min - _MARGIN, region.row_max + _MARGIN)
    cols = (region.col_min - _MARGIN, region.col_max + _MARGIN)
    area = (rows[1] - rows[0]) * (cols[1] - cols[0]) * _PIXEL_DEG**2
    n = int(rng.poisson(area * density_t15 * 10 ** (0.4 * (faint_limit - 15.0))))
    tmag = _draw_tmag(rng, n, 5.0, faint_limit)
    row = rng.uniform(rows[0] - 0.5, rows[1] - 0.5, n)
    col = rng.uniform(cols[0] - 0.5, cols[1] - 0.5, n)
    if n_very_bright:
        bt = rng.uniform(3.0, 4.5, n_very_bright)
        h, w = region.shape
        br = region.row_min + h * rng.uniform(0.35, 0.65, n_very_bright)
        bc = region.col_min + w * rng.uniform(0.35, 0.65, n_very_bright)
        tmag, row, col = (
            np.concatenate([bt, tmag]),
            np.concatenate([br, row]),
            np.concatenate([bc, col]),
        )
        n += n_very_bright
    ra, dec = wcs.all_pix2world(col, row, 0)
    # Proper motions: mostly small, 5 % large (tens to hundreds of mas/yr).
    pm_ra = rng.normal(0.0, 8.0, n)
    pm_dec = rng.normal(0.0, 8.0, n)
    fast = rng.random(n) < 0.05
    speed = rng.uniform(50.0, 400.0, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    pm_ra = np.where(fast, speed * np.cos(angle), pm_ra)
    pm_dec = np.where(fast, speed * np.sin(angle), pm_dec)
    years = julian_year(reference_jd) - 2000.0
    dec_j2000 = dec - pm_dec * years / 3.6e6
    ra_j2000 = (ra - pm_ra * years / 3.6e6 / np.cos(np.radians(dec))) % 360.0

    var_class = np.full(n, "constant", dtype=object)
    eligible = np.flatnonzero(tmag < 15.0)
    order = rng.permutation(eligible)
    pos = 0
    classes = list(_CLASS_FRACTIONS)
    # Every class at least twice, then the fractions.
    for kind in classes:
        want = max(2, round(_CLASS_FRACTIONS[kind] * eligible.size))
        chosen = order[pos : pos + want]
        if kind == "solar_like":  # red giants: keep them among the brighter stars
            chosen = [i for i in chosen if tmag[i] < 13.5] or list(chosen[:1])
        var_class[chosen] = kind
        pos += want
    teff = np.empty(n)
    params: list[str] = []
    for i in range(n):
        lo, hi = _TEFF_RANGES[var_class[i]]
        teff[i] = round(float(rng.uniform(lo, hi)), 0)
        p: dict[str, Any] = draw_parameters(var_class[i], rng, span_btjd, float(tmag[i]))
        params.append(json.dumps(p))
    # TIC-like identifiers: increasing with random gaps, never reused.
    starid = first_id + np.cumsum(rng.integers(1, 5000, n))
    if bright_oscillate:
        for i in range(n_very_bright):
            var_class[i] = "classical"
            params[i] = json.dumps(
                {
                    "type": "delta_scuti",
                    # δ Scuti range below the FFI Nyquist frequency, and above the
                    # pointing jitter's slowest lines (0.37 d and longer: a mode at
                    # 2.7 c/d beat against it for a whole sector).
                    "frequencies_cpd": sorted(rng.uniform(4.0, 12.0, 2).tolist()),
                    "amplitudes": rng.uniform(3e-3, 1e-2, 2).tolist(),
                    "phases": rng.uniform(0, 2 * np.pi, 2).tolist(),
                }
            )
    table = Table()
    table["starid"] = starid.astype(np.int64)
    table["ra"] = ra % 360.0
    table["dec"] = dec
    table["ra_j2000"] = ra_j2000
    table["dec_j2000"] = dec_j2000
    table["pm_ra"] = pm_ra
    table["pm_dec"] = pm_dec
    table["tmag"] = np.round(tmag, 3)
    table["teff"] = teff
    table["row"] = row
    table["col"] = col
    table["var_class"] = np.array(var_class, dtype=str)
    table["var_params"] = np.array(params, dtype=str)
    return table


def catalog_table(stars: Table, rng: np.random.Generator, n_duplicates: int = 3) -> Table:
    """The TIC-like extract: every star at J2000 plus a few flagged duplicates.

    A duplicate is a second catalog entry of a real star (within 0.5″, magnitude within
    0.05) with ``disposition = DUPLICATE`` and ``duplicate_id`` = the kept star's ID, as in
    TIC-8. Duplicates are not rendered (they are not extra stars).
    """
    n = len(stars)
    cand = np.flatnonzero((stars["tmag"] > 9.0) & (stars["tmag"] < 14.0))
    dup = (
        rng.choice(cand, size=min(n_duplicates, cand.size), replace=False)
        if cand.size
        else np.array([], int)
    )
    ids = np.concatenate(
        [np.asarray(stars["starid"]), int(stars["starid"].max()) + 1 + np.arange(dup.size) * 7]
    )
    jitter = rng.normal(0, 0.2 / 3600, (2, dup.size))
    cat = Table()
    cat["ID"] = ids.astype(np.int64)
    cat["ra"] = np.round(np.concatenate([stars["ra_j2000"], stars["ra_j2000"][dup] + jitter[0]]), 8)
    cat["dec"] = np.round(
        np.concatenate([stars["dec_j2000"], stars["dec_j2000"][dup] + jitter[1]]), 8
    )
    cat["pmRA"] = np.round(np.concatenate([stars["pm_ra"], stars["pm_ra"][dup]]), 3)
    cat["pmDEC"] = np.round(np.concatenate([stars["pm_dec"], stars["pm_dec"][dup]]), 3)
    cat["Tmag"] = np.round(
        np.concatenate([stars["tmag"], stars["tmag"][dup] + rng.uniform(-0.05, 0.05, dup.size)]), 3
    )
    cat["Teff"] = np.concatenate([stars["teff"], stars["teff"][dup]])
    cat["disposition"] = np.array([""] * n + ["DUPLICATE"] * dup.size, dtype=str)
    dup_of = np.zeros(n + dup.size, dtype=np.int64)
    dup_of[n:] = np.asarray(stars["starid"])[dup]
    # Empty for entries that are not duplicates, as MAST returns them.
    cat["duplicate_id"] = MaskedColumn(dup_of, mask=dup_of == 0)
    return cat
