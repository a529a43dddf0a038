"""Focal-plane geometry shared by the simulator, the background estimator and CBV areas.

The camera boresight lies just off each CCD, beyond the corner where the four CCDs of a
camera meet. Its position in each CCD's pixel coordinates is fixed by the rigid focal plane.
The table below is the median over sectors 1–108 of the mosaic centre (the mean sky
position of the four CCDs' inner corners, mapped back through each CCD's TAN-SIP WCS),
computed from the per-CCD WCS solutions fitted to real FFIs that the ``tesswcs`` package
ships (``TESS_wcs_data.json``); the scatter between sectors is below 1 px except for
camera 2 (≤ 6 px). Coordinates are 0-based CCD (row, col) of the SPOC FFI image.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CAMERA_CENTRE_PIXEL",
    "CBV_AREA_RADIUS",
    "PLATE_SCALE",
    "camera_centre_pixel",
    "cbv_area",
    "cbv_ring",
]

#: Mean plate scale, arcsec per pixel.
PLATE_SCALE = 21.0

#: (camera, ccd) → (row, col) of the camera boresight in that CCD's pixel coordinates.
CAMERA_CENTRE_PIXEL: dict[tuple[int, int], tuple[float, float]] = {
    (1, 1): (2100.28, 2149.82), (1, 2): (2098.58, -14.18), (1, 3): (2099.16, 2149.96), (1, 4): (2099.70, -14.34),
    (2, 1): (2099.49, 2150.17), (2, 2): (2101.28, -15.13), (2, 3): (2100.22, 2149.69), (2, 4): (2100.53, -14.72),
    (3, 1): (2099.34, 2148.59), (3, 2): (2099.96, -13.97), (3, 3): (2100.85, 2148.65), (3, 4): (2098.44, -14.02),
    (4, 1): (2100.92, 2149.04), (4, 2): (2102.86, -13.80), (4, 3): (2101.93, 2149.15), (4, 4): (2101.82, -13.95),
}  # fmt: skip

#: Radius (degrees) whose fractions 0.25, 0.5, 0.75 bound the CBV rings: √(12² + 12²).
CBV_AREA_RADIUS = float(np.hypot(12.0, 12.0))


def camera_centre_pixel(camera: int, ccd: int) -> tuple[float, float]:
    """CCD (row, col) of the camera boresight for ``camera`` and ``ccd``."""
    try:
        return CAMERA_CENTRE_PIXEL[(int(camera), int(ccd))]
    except KeyError:
        raise ValueError(f"no camera {camera}, CCD {ccd} (cameras and CCDs are 1-4)") from None


def cbv_ring(distance_deg: np.ndarray | float) -> np.ndarray:
    """Ring 1–4 of a star ``distance_deg`` from its camera's boresight (paper 004 §3.1.1)."""
    d = np.asarray(distance_deg, dtype=float) / CBV_AREA_RADIUS
    return 1 + (d >= 0.25).astype(int) + (d >= 0.5).astype(int) + (d >= 0.75).astype(int)


def cbv_area(camera: int, ccd: int, distance_deg: np.ndarray | float) -> np.ndarray:
    """CBV area code ``camera·100 + ccd·10 + ring``."""
    return camera * 100 + ccd * 10 + cbv_ring(distance_deg)
