"""The sky background: zodiacal light, scattered Earth/Moon light, corner glow, lens flare.

The background of a cadence is a function of CCD pixel coordinates and a handful of
per-cadence parameters (:data:`BACKGROUND_PARAMETERS`), stored in the truth so that
``Truth.background(frame, rows, cols)`` re-evaluates exactly what was injected:

* zodiacal light ``zodi · (1 + grad_row·(row − 1024)/1000 + grad_col·(col − 1068)/1000)``;
* scattered light ``scatter · exp(((row − 1024)·cos φ + (col − 1068)·sin φ) / 700)``:
  strong near perigee (∝ distance⁻³ to the Earth) with a lunar bump, from a slowly
  turning direction φ;
* corner glow ``glow · exp((r − 2950)/200)`` with r the distance (px) from the camera
  centre: negligible within ~2300 px, rising steeply into the far corner;
* an optional lens flare: a sharp elongated Gaussian (σ 6 × 1.2 px) of amplitude
  ``flare_amp`` centred at (``flare_row``, ``flare_col``) and oriented at ``flare_angle``,
  moving across the CCD for about a day.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BACKGROUND_PARAMETERS",
    "FLARE_MASK_LEVEL",
    "BackgroundGrid",
    "evaluate_background",
    "flare_component",
]

#: Per-cadence parameters of the background model, in storage order.
BACKGROUND_PARAMETERS = (
    "zodi",
    "grad_row",
    "grad_col",
    "scatter",
    "scatter_angle",
    "glow",
    "flare_amp",
    "flare_row",
    "flare_col",
    "flare_angle",
)
#: Pixels where the lens flare adds more than this (e-/s) count as touched by it.
FLARE_MASK_LEVEL = 1.0
_ROW0, _COL0 = 1024.0, 1068.0
_GLOW_R1, _GLOW_SCALE = 2950.0, 200.0
_FLARE_SIGMA = (6.0, 1.2)


def flare_component(p: dict[str, float], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Lens-flare contribution (e-/s) at CCD pixel coordinates."""
    if not np.any(np.asarray(p["flare_amp"]) > 0):
        return np.zeros(
            np.broadcast_shapes(np.shape(rows), np.shape(cols), np.shape(p["flare_amp"]))
        )
    amp = np.asarray(p["flare_amp"])
    if amp.ndim and amp.shape[0] > 1:
        # A time series (T, 1): evaluate only the cadences with a flare.
        out = np.zeros(np.broadcast_shapes(np.shape(rows), np.shape(cols), amp.shape))
        on = np.flatnonzero(amp[:, 0] > 0)
        sub = {
            k: np.asarray(p[k])[on] for k in ("flare_amp", "flare_row", "flare_col", "flare_angle")
        }
        r = rows if np.shape(rows)[0] == 1 else rows[on]
        c = cols if np.shape(cols)[0] == 1 else cols[on]
        out[on] = _flare(sub, r, c)
        return out
    return _flare(p, rows, cols)


def _flare(p: dict[str, float], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    dr, dc = rows - p["flare_row"], cols - p["flare_col"]
    ca, sa = np.cos(p["flare_angle"]), np.sin(p["flare_angle"])
    u = dr * ca + dc * sa
    v = -dr * sa + dc * ca
    return p["flare_amp"] * np.exp(-0.5 * ((u / _FLARE_SIGMA[0]) ** 2 + (v / _FLARE_SIGMA[1]) ** 2))


def evaluate_background(
    p: dict[str, float], rows: np.ndarray, cols: np.ndarray, camera_centre: tuple[float, float]
) -> np.ndarray:
    """Background (e-/s per pixel) at CCD (rows, cols) (broadcast) for parameters ``p``."""
    rows = np.asarray(rows, dtype=np.float64)
    cols = np.asarray(cols, dtype=np.float64)
    dr, dc = rows - _ROW0, cols - _COL0
    zodi = p["zodi"] * (1.0 + p["grad_row"] * dr / 1000.0 + p["grad_col"] * dc / 1000.0)
    ang = p["scatter_angle"]
    scatter = p["scatter"] * np.exp((dr * np.cos(ang) + dc * np.sin(ang)) / 700.0)
    r = np.hypot(rows - camera_centre[0], cols - camera_centre[1])
    glow = p["glow"] * np.exp((r - _GLOW_R1) / _GLOW_SCALE)
    return zodi + scatter + glow + flare_component(p, rows, cols)


def background_parameters(
    rng: np.random.Generator,
    base_time: np.ndarray,
    earth_distance_km: np.ndarray,
    flare_window: tuple[float, float] | None,
    flare_track: tuple[tuple[float, float], tuple[float, float]] | None,
) -> dict[str, np.ndarray]:
    """Background parameters on the base grid (each an array like ``base_time``)."""
    t = base_time - base_time[0]
    span = max(t[-1], 1.0)
    n = t.size
    zodi0 = rng.uniform(70.0, 140.0)
    out = {
        "zodi": zodi0
        * (1.0 + 0.06 * (t / span - 0.5) + 0.01 * np.sin(2 * np.pi * t / 13.0 + rng.uniform(0, 6))),
        "grad_row": np.full(n, rng.uniform(-0.08, 0.08)),
        "grad_col": np.full(n, rng.uniform(-0.08, 0.08)),
    }
    perigee = np.min(earth_distance_km)
    earth = 60.0 * (perigee / earth_distance_km) ** 3
    moon_t = rng.uniform(0.2, 0.8) * span
    moon = 25.0 * np.exp(-0.5 * ((t - moon_t) / 0.8) ** 2)
    out["scatter"] = earth + moon
    out["scatter_angle"] = rng.uniform(0, 2 * np.pi) + 0.5 * np.sin(2 * np.pi * t / span)
    out["glow"] = rng.uniform(60.0, 120.0) * (
        1.0 + 0.15 * np.sin(2 * np.pi * t / 13.7 + rng.uniform(0, 6))
    )
    amp = np.zeros(n)
    frow = np.zeros(n)
    fcol = np.zeros(n)
    if flare_window is not None and flare_track is not None:
        lo, hi = flare_window
        active = (base_time >= lo) & (base_time < hi)
        x = (base_time[active] - lo) / (hi - lo)
        amp[active] = 150.0 * np.sin(np.pi * x) ** 0.5
        (r0, c0), (r1, c1) = flare_track
        frow[active] = r0 + (r1 - r0) * x
        fcol[active] = c0 + (c1 - c0) * x
    out["flare_amp"] = amp
    out["flare_row"] = frow
    out["flare_col"] = fcol
    out["flare_angle"] = np.full(n, rng.uniform(0, np.pi))
    return out


class BackgroundGrid:
    """Fast evaluation of :func:`evaluate_background` on one fixed pixel grid.

    The zodiacal gradient and the corner-glow shape do not change from frame to frame and
    the scattered-light ramp is separable in rows and columns, so a frame costs a few
    passes over the image; the flare is evaluated only in a box around it. Equal to
    :func:`evaluate_background` to rounding.
    """

    def __init__(
        self,
        row_min: int,
        row_max: int,
        col_min: int,
        col_max: int,
        camera_centre: tuple[float, float],
    ):
        self.rows = np.arange(row_min, row_max, dtype=np.float64)
        self.cols = np.arange(col_min, col_max, dtype=np.float64)
        self.dr = self.rows - _ROW0
        self.dc = self.cols - _COL0
        r = np.hypot(self.rows[:, None] - camera_centre[0], self.cols[None, :] - camera_centre[1])
        self.glow_shape = np.exp((r - _GLOW_R1) / _GLOW_SCALE)
        self.shape = (self.rows.size, self.cols.size)

    def __call__(self, p: dict[str, float]) -> np.ndarray:
        """Background image (rows × cols) for the parameters of one cadence."""
        out = self.glow_shape * p["glow"]
        out += p["zodi"] * (1.0 + p["grad_row"] * self.dr / 1000.0)[:, None]
        out += (p["zodi"] * p["grad_col"] / 1000.0) * self.dc[None, :]
        ang = p["scatter_angle"]
        out += np.outer(
            p["scatter"] * np.exp(self.dr * np.cos(ang) / 700.0),
            np.exp(self.dc * np.sin(ang) / 700.0),
        )
        if p["flare_amp"] > 0:
            reach = 8.0 * _FLARE_SIGMA[0]
            rs = np.flatnonzero(np.abs(self.rows - p["flare_row"]) <= reach)
            cs = np.flatnonzero(np.abs(self.cols - p["flare_col"]) <= reach)
            if rs.size and cs.size:
                box = (slice(rs[0], rs[-1] + 1), slice(cs[0], cs[-1] + 1))
                out[box] += _flare(p, self.rows[box[0], None], self.cols[None, box[1]])
        return out
