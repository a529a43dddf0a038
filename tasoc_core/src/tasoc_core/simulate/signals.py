"""Intrinsic stellar variability with known truth.

Each star has a variability class and a parameter dictionary (JSON-serialisable, stored in
the truth table). :func:`relative_flux` turns them into the noiseless relative flux
``F(t)/F̄ − 1`` at barycentric times (BTJD) — the same function the simulator used, so the
truth can be re-evaluated at any cadence.

Classes
-------
``constant``        no variability.
``solar_like``      stochastically excited p modes (l = 0, 1, 2; νmax, Δν scaling
                    relations, Gaussian envelope, finite mode lifetimes) plus granulation.
``classical``       δ Scuti (several coherent modes) or RR Lyrae (non-sinusoidal, harmonics).
``long_period``     semi-regular variable with periods longer than the sector.
``eclipsing``       detached eclipsing binary: primary and secondary eclipses + ellipsoidal.
``transit``         planetary transit (trapezoid with ingress/egress).
``flare``           flaring star: fast-rise, exponential-decay flares at random times.
``rotation``        spot modulation at the rotation period and its first harmonic,
                    with slowly evolving amplitude.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["VARIABILITY_CLASSES", "draw_parameters", "relative_flux"]

VARIABILITY_CLASSES = (
    "constant",
    "solar_like",
    "classical",
    "long_period",
    "eclipsing",
    "transit",
    "flare",
    "rotation",
)

_UHZ_PER_CPD = 1e6 / 86400.0  # 1 cycle/day in µHz


def draw_parameters(
    kind: str, rng: np.random.Generator, span: tuple[float, float], tmag: float
) -> dict[str, Any]:
    """Random parameters of a variability class for a sector spanning ``span`` (BTJD)."""
    t0, t1 = span
    seed = int(rng.integers(0, 2**31 - 1))
    if kind == "constant":
        return {}
    if kind == "solar_like":
        numax = float(np.exp(rng.uniform(np.log(25.0), np.log(200.0))))  # µHz (red giants)
        return {
            "numax": numax,
            "dnu": 0.263 * numax**0.772,
            "amplitude_ppm": 3.0 * (numax / 3090.0) ** -0.8,
            "lifetime_days": float(rng.uniform(10.0, 30.0)),
            "granulation_ppm": 2.0 * 3.0 * (numax / 3090.0) ** -0.8,
            "epsilon": float(rng.uniform(0.9, 1.2)),
            "seed": seed,
            "span": [t0 - 1.0, t1 + 1.0],
        }
    if kind == "classical":
        if rng.random() < 0.5:
            n = int(rng.integers(2, 6))
            return {
                "type": "delta_scuti",
                "frequencies_cpd": sorted(rng.uniform(6.0, 45.0, n).tolist()),
                "amplitudes": (np.exp(rng.uniform(np.log(5e-4), np.log(2e-2), n))).tolist(),
                "phases": rng.uniform(0, 2 * np.pi, n).tolist(),
            }
        return {
            "type": "rr_lyrae",
            "period": float(rng.uniform(0.45, 0.75)),
            "amplitude": float(rng.uniform(0.15, 0.45)),
            "epoch": float(t0 + rng.uniform(0, 1)),
        }
    if kind == "long_period":
        return {
            "periods": [float(rng.uniform(60.0, 400.0)), float(rng.uniform(30.0, 90.0))],
            "amplitudes": [float(rng.uniform(0.02, 0.25)), float(rng.uniform(0.005, 0.03))],
            "phases": rng.uniform(0, 2 * np.pi, 2).tolist(),
        }
    if kind == "eclipsing":
        period = float(np.exp(rng.uniform(np.log(0.8), np.log(6.0))))
        return {
            "period": period,
            "epoch": float(t0 + rng.uniform(0, period)),
            "depth_primary": float(rng.uniform(0.05, 0.4)),
            "depth_secondary": float(rng.uniform(0.01, 0.15)),
            "half_width_phase": float(rng.uniform(0.02, 0.05)),
            "ellipsoidal": float(rng.uniform(0.0, 0.01)),
        }
    if kind == "transit":
        period = float(np.exp(rng.uniform(np.log(1.0), np.log(4.0))))
        return {
            "period": period,
            # A first transit early enough that a sector holds at least one (or two).
            "epoch": float(t0 + rng.uniform(0.0, max(min(period, 0.45 * (t1 - t0)), 1e-3))),
            "depth": float(np.exp(rng.uniform(np.log(2e-3), np.log(2e-2)))),
            "duration_hours": float(rng.uniform(1.5, 4.0)),
            "ingress_fraction": float(rng.uniform(0.1, 0.25)),
        }
    if kind == "flare":
        rate = float(rng.uniform(0.3, 1.5))
        n = max(1, int(rng.poisson(rate * (t1 - t0))))
        return {
            "times": sorted(rng.uniform(t0, t1, n).tolist()),
            "amplitudes": np.exp(rng.uniform(np.log(0.01), np.log(0.3), n)).tolist(),
            "fwhm_minutes": rng.uniform(8.0, 60.0, n).tolist(),
        }
    if kind == "rotation":
        period = float(np.exp(rng.uniform(np.log(0.8), np.log(12.0))))
        return {
            "period": period,
            "amplitudes": [float(rng.uniform(0.002, 0.03)), float(rng.uniform(0.0005, 0.008))],
            "phases": rng.uniform(0, 2 * np.pi, 2).tolist(),
            "evolution_period": float(rng.uniform(2.0, 4.0) * period),
        }
    raise ValueError(f"unknown variability class {kind!r}")


def _ou_process(
    rng: np.random.Generator, n: int, step: float, tau: float, shape: tuple[int, ...]
) -> np.ndarray:
    """Unit-variance Ornstein–Uhlenbeck series (…, n) with correlation time ``tau``."""
    from scipy.signal import lfilter

    a = np.exp(-step / tau)
    white = rng.normal(0.0, np.sqrt(1 - a * a), (*shape, n))
    white[..., 0] = rng.normal(0.0, 1.0, shape)
    return lfilter([1.0], [1.0, -a], white, axis=-1)


def _solar_like(p: dict[str, Any], t: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(p["seed"])
    lo, hi = p["span"]
    step = 0.01  # days; modes are sampled exactly, only their slow amplitudes are interpolated
    grid = np.arange(lo, hi + step, step)
    numax, dnu = p["numax"], p["dnu"]
    width = 0.66 * numax**0.88 / 2.355
    orders = np.arange(np.floor(numax / dnu) - 4, np.floor(numax / dnu) + 5)
    freqs, vis = [], []
    # l = 1 modes sit half-way between radial modes; l = 2 modes 0.12 Δν below the next l = 0.
    for ell, visibility, shift in ((0, 1.0, 0.0), (1, 1.5, -0.025), (2, 0.5, -0.12)):
        freqs.append(dnu * (orders + ell / 2.0 + p["epsilon"] + shift))
        vis.append(np.full(orders.size, visibility))
    nu = np.concatenate(freqs)  # µHz
    amp = (
        p["amplitude_ppm"]
        * 1e-6
        * np.sqrt(np.concatenate(vis))
        * np.exp(-0.5 * ((nu - numax) / width) ** 2)
    )
    quad = _ou_process(rng, grid.size, step, p["lifetime_days"], (2, nu.size))
    a = np.stack([np.interp(t, grid, quad[0, k]) for k in range(nu.size)])
    b = np.stack([np.interp(t, grid, quad[1, k]) for k in range(nu.size)])
    phase = 2 * np.pi * (nu / _UHZ_PER_CPD)[:, None] * t[None, :]
    modes = np.sum(amp[:, None] * (a * np.cos(phase) + b * np.sin(phase)), axis=0) / np.sqrt(2)
    tau_gran = 1.0 / (2 * np.pi * numax / _UHZ_PER_CPD) * 2.0  # days
    gstep = min(step, tau_gran / 3)
    ggrid = np.arange(lo, hi + gstep, gstep)
    gran = _ou_process(rng, ggrid.size, gstep, tau_gran, ())
    return modes + p["granulation_ppm"] * 1e-6 * np.interp(t, ggrid, gran)


def _classical(p: dict[str, Any], t: np.ndarray) -> np.ndarray:
    if p["type"] == "delta_scuti":
        f = np.asarray(p["frequencies_cpd"])[:, None]
        a = np.asarray(p["amplitudes"])[:, None]
        ph = np.asarray(p["phases"])[:, None]
        return np.sum(a * np.sin(2 * np.pi * f * t[None, :] + ph), axis=0)
    phase = ((t - p["epoch"]) / p["period"]) % 1.0
    # RR Lyrae-like: fast rise (10 % of the cycle), slow decline, as a smooth periodic shape.
    rise = 0.12
    shape = np.where(phase < rise, phase / rise, 1.0 - (phase - rise) / (1 - rise))
    shape = shape**2.2
    return p["amplitude"] * (shape - 0.3)


def _long_period(p: dict[str, Any], t: np.ndarray) -> np.ndarray:
    out = np.zeros_like(t)
    for per, amp, ph in zip(p["periods"], p["amplitudes"], p["phases"]):
        out += amp * np.sin(2 * np.pi * t / per + ph)
    return out


def _eclipse(x: np.ndarray, half_width: float) -> np.ndarray:
    u = np.clip(np.abs(x) / half_width, 0.0, 1.0)
    return np.sqrt(1.0 - u * u)


def _eclipsing(p: dict[str, Any], t: np.ndarray) -> np.ndarray:
    phase = ((t - p["epoch"]) / p["period"] + 0.5) % 1.0 - 0.5
    w = p["half_width_phase"]
    sec = (phase + 1.0) % 1.0 - 0.5
    flux = -p["depth_primary"] * _eclipse(phase, w) - p["depth_secondary"] * _eclipse(sec, w)
    return flux - p["ellipsoidal"] * np.cos(4 * np.pi * phase)


def _transit(p: dict[str, Any], t: np.ndarray) -> np.ndarray:
    half = p["duration_hours"] / 48.0
    ingress = p["ingress_fraction"] * 2 * half
    dt = np.abs(((t - p["epoch"]) / p["period"] + 0.5) % 1.0 - 0.5) * p["period"]
    depth = np.clip((half - dt) / ingress, 0.0, 1.0)
    return -p["depth"] * depth


def _flare(p: dict[str, Any], t: np.ndarray) -> np.ndarray:
    out = np.zeros_like(t)
    for tf, amp, fwhm in zip(p["times"], p["amplitudes"], p["fwhm_minutes"]):
        x = (t - tf) / (fwhm / 1440.0)
        rise = np.exp(-0.5 * (x / 0.3) ** 2)
        xp = np.maximum(x, 0.0)
        decay = 0.7 * np.exp(-xp / 0.6) + 0.3 * np.exp(-xp / 3.0)
        out += amp * np.where(x < 0, rise, decay)
    return out


def _rotation(p: dict[str, Any], t: np.ndarray) -> np.ndarray:
    envelope = 1.0 + 0.3 * np.sin(2 * np.pi * t / p["evolution_period"])
    a1, a2 = p["amplitudes"]
    ph1, ph2 = p["phases"]
    w = 2 * np.pi * t / p["period"]
    return envelope * (a1 * np.sin(w + ph1) + a2 * np.sin(2 * w + ph2))


_MODELS = {
    "solar_like": _solar_like,
    "classical": _classical,
    "long_period": _long_period,
    "eclipsing": _eclipsing,
    "transit": _transit,
    "flare": _flare,
    "rotation": _rotation,
}


def relative_flux(kind: str, params: dict[str, Any], t_btjd: np.ndarray) -> np.ndarray:
    """Noiseless relative flux variation F/F̄ − 1 of a star at barycentric times (BTJD).

    ``t_btjd`` may have any shape; the result has the same shape.
    """
    t = np.asarray(t_btjd, dtype=np.float64)
    if kind == "constant":
        return np.zeros_like(t)
    try:
        model = _MODELS[kind]
    except KeyError:
        raise ValueError(f"unknown variability class {kind!r}") from None
    return model(params, t.ravel()).reshape(t.shape)
