"""Multiplicative systematics with truth: ``factor = 1 + C @ V``.

Basis time series ``V`` (:data:`SYSTEMATICS_BASIS`, on the base grid, averaged into any
cadence) and per-star coefficients ``C``:

``common1..3``  smooth common-mode trends (thermal settling after each orbit start plus
                slow wander); coefficients vary smoothly with the distance r from the
                camera centre (quadratic in r/3000 px): stars in one CBV ring share them.
``dump``        spikes at momentum dumps (a sharp kick decaying over ~1 h); coefficient
                smooth in r plus a little per-star scatter.
``jitter_row``, ``jitter_col``
                flux changes driven by the pointing jitter (Δrow, Δcol), per-star gains.
``scatter``     a ramp following the scattered-light level (normalised to 1 at its peak),
                stronger towards one side of the CCD.
``patchN``      local, spatially correlated patches: a smooth time series whose
                coefficient is a Gaussian blob (radius 40–150 px) on the CCD.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SYSTEMATICS_BASIS", "systematics_basis", "systematics_coefficients"]

SYSTEMATICS_BASIS = ("common1", "common2", "common3", "dump", "jitter_row", "jitter_col", "scatter")


def _smooth(rng: np.random.Generator, t: np.ndarray, scale: float) -> np.ndarray:
    periods = np.array([0.7, 1.6, 3.5, 7.0, 15.0]) * scale
    out = np.sin(
        2 * np.pi * t[:, None] / periods + rng.uniform(0, 2 * np.pi, periods.size)
    ) @ rng.normal(0, 1, periods.size)
    out -= out.mean()
    return out / max(np.abs(out).max(), 1e-12)


def systematics_basis(
    rng: np.random.Generator,
    base_time: np.ndarray,
    orbit_starts: tuple[float, ...],
    dumps: np.ndarray,
    jitter: np.ndarray,
    scatter: np.ndarray,
    n_patches: int,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Basis series on the base grid (each normalised to order unity) and their names."""
    t = base_time - base_time[0]
    basis: dict[str, np.ndarray] = {}
    settle = np.zeros_like(t)
    for t0 in orbit_starts:
        after = base_time >= t0
        settle[after] = np.exp(-(base_time[after] - t0) / 1.2)
    basis["common1"] = settle
    basis["common2"] = _smooth(rng, t, 1.0)
    basis["common3"] = (t / max(t[-1], 1e-9) - 0.5) + 0.3 * _smooth(rng, t, 2.0)
    spikes = np.zeros_like(t)
    for td in dumps:
        dt = (base_time - td) * 24.0
        spikes += np.where(
            dt >= 0, np.exp(-np.clip(dt, 0, None) / 0.7), np.exp(-0.5 * (dt / 0.1) ** 2)
        )
    basis["dump"] = spikes
    basis["jitter_row"] = jitter[0]
    basis["jitter_col"] = jitter[1]
    peak = np.max(scatter)
    basis["scatter"] = scatter / peak if peak > 0 else np.zeros_like(t)
    names = list(SYSTEMATICS_BASIS)
    for k in range(n_patches):
        name = f"patch{k + 1}"
        basis[name] = _smooth(rng, t, 0.5 + k)
        names.append(name)
    return basis, names


def systematics_coefficients(
    rng: np.random.Generator,
    names: list[str],
    rows: np.ndarray,
    cols: np.ndarray,
    camera_centre: tuple[float, float],
    region_centre: tuple[float, float],
    region_size: float,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-star coefficients (N, K) and the per-area description (JSON-serialisable)."""
    rows = np.asarray(rows, dtype=float)
    cols = np.asarray(cols, dtype=float)
    n = rows.size
    x = np.hypot(rows - camera_centre[0], cols - camera_centre[1]) / 3000.0
    coeff = np.zeros((n, len(names)))
    area: dict[str, Any] = {"radial": {}, "patches": []}
    radial_scale = {"common1": 4e-3, "common2": 1.5e-3, "common3": 2e-3, "dump": 1.5e-3}
    for name, amp in radial_scale.items():
        poly = (rng.uniform(0.3, 1.0), rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0))
        poly = tuple(float(amp * c) for c in poly)
        area["radial"][name] = {"poly_r_over_3000px": poly}
        k = names.index(name)
        coeff[:, k] = poly[0] + poly[1] * x + poly[2] * x * x
        if name == "dump":
            coeff[:, k] *= 1.0 + 0.2 * rng.normal(0, 1, n)
    coeff[:, names.index("jitter_row")] = rng.normal(0, 2e-3, n)
    coeff[:, names.index("jitter_col")] = rng.normal(0, 2e-3, n)
    ang = rng.uniform(0, 2 * np.pi)
    side = (
        (rows - region_centre[0]) * np.cos(ang) + (cols - region_centre[1]) * np.sin(ang)
    ) / max(region_size, 1.0)
    coeff[:, names.index("scatter")] = 1e-3 * (1.0 + np.clip(side, -0.5, 0.5))
    area["scatter"] = {"angle": float(ang), "amplitude": 1e-3}
    for name in names:
        if not name.startswith("patch"):
            continue
        pr = region_centre[0] + rng.uniform(-0.4, 0.4) * region_size
        pc = region_centre[1] + rng.uniform(-0.4, 0.4) * region_size
        radius = float(rng.uniform(40.0, 150.0)) * max(region_size / 2048.0, 0.25)
        amp = float(rng.uniform(1e-3, 4e-3))
        coeff[:, names.index(name)] = amp * np.exp(
            -0.5 * ((rows - pr) ** 2 + (cols - pc) ** 2) / radius**2
        )
        area["patches"].append(
            {"name": name, "row": float(pr), "col": float(pc), "radius": radius, "amplitude": amp}
        )
    return coeff, area
