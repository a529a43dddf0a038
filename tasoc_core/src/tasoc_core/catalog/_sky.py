"""Sky geometry for catalogs: proper motion, epochs and spherical polygons.

Everything works on unit vectors so that it behaves the same at RA = 0/360 and at the
celestial poles, where RA/Dec boxes break down.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "J2000_JD",
    "SkyPolygon",
    "angular_distance",
    "btjd_to_epoch",
    "propagate_proper_motion",
    "radec_to_vector",
    "vector_to_radec",
]

#: Julian date of the J2000.0 epoch.
J2000_JD = 2451545.0
#: BTJD = BJD - 2457000.
_BTJD_OFFSET = 2457000.0
_MAS_TO_RAD = np.pi / (180.0 * 3.6e6)


def btjd_to_epoch(btjd: float | np.ndarray) -> float | np.ndarray:
    """Julian epoch (years, e.g. 2018.56) of a time given in BTJD."""
    return 2000.0 + (np.asarray(btjd, dtype=float) + _BTJD_OFFSET - J2000_JD) / 365.25


def radec_to_vector(ra: np.ndarray | float, dec: np.ndarray | float) -> np.ndarray:
    """Unit vectors, shape (..., 3), of positions given in degrees."""
    a = np.radians(np.asarray(ra, dtype=float))
    d = np.radians(np.asarray(dec, dtype=float))
    cd = np.cos(d)
    return np.stack([cd * np.cos(a), cd * np.sin(a), np.sin(d)], axis=-1)


def vector_to_radec(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RA in [0, 360) and Dec in degrees of (not necessarily unit) vectors, shape (..., 3)."""
    vec = np.asarray(vec, dtype=float)
    x, y, z = vec[..., 0], vec[..., 1], vec[..., 2]
    ra = np.degrees(np.arctan2(y, x)) % 360.0
    dec = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return ra, dec


def angular_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between unit vectors (broadcasting); accurate at small angles."""
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = np.sum(a * b, axis=-1)
    return np.degrees(np.arctan2(cross, dot))


def propagate_proper_motion(
    ra: np.ndarray,
    dec: np.ndarray,
    pm_ra: np.ndarray,
    pm_dec: np.ndarray,
    years: float | np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Move stars along their proper motion by ``years``.

    The star moves on a straight line in space with its tangential velocity and no radial
    velocity, the model ERFA's ``pmsafe`` (and so astropy's ``apply_space_motion``) uses
    when parallax and radial velocity are unknown. Unlike a linear update of RA and Dec it
    is correct near the poles.

    Parameters
    ----------
    ra, dec
        Positions at the starting epoch, degrees.
    pm_ra
        Proper motion in RA including the cos(Dec) factor (mu_alpha*), mas/yr.
    pm_dec
        Proper motion in Dec, mas/yr.
    years
        Time to move forward (negative to go back), Julian years.

    Returns
    -------
    ra, dec
        Propagated positions in degrees; stars whose proper motion is not finite (either
        component) keep their position.
    """
    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    pm_ra = np.asarray(pm_ra, dtype=float)
    pm_dec = np.asarray(pm_dec, dtype=float)
    known = np.isfinite(pm_ra) & np.isfinite(pm_dec)
    mu_a = np.where(known, pm_ra, 0.0) * _MAS_TO_RAD
    mu_d = np.where(known, pm_dec, 0.0) * _MAS_TO_RAD
    a = np.radians(ra)
    d = np.radians(dec)
    sa, ca, sd, cd = np.sin(a), np.cos(a), np.sin(d), np.cos(d)
    p = np.stack([cd * ca, cd * sa, sd], axis=-1)
    east = np.stack([-sa, ca, np.zeros_like(a)], axis=-1)
    north = np.stack([-sd * ca, -sd * sa, cd], axis=-1)
    t = np.asarray(years, dtype=float)[..., None]
    moved = p + t * (mu_a[..., None] * east + mu_d[..., None] * north)
    new_ra, new_dec = vector_to_radec(moved)
    return np.where(known, new_ra, ra), np.where(known, new_dec, dec)


class SkyPolygon:
    """A polygon on the sphere whose edges are great-circle arcs.

    Membership tests project onto the plane tangent at the polygon's centre (gnomonic
    projection), where great circles are straight lines, so the test is exact for polygons
    smaller than a hemisphere.

    Parameters
    ----------
    ra, dec
        Vertices in degrees, in order around the polygon (either direction), without
        repeating the first vertex.
    """

    def __init__(self, ra: Sequence[float] | np.ndarray, dec: Sequence[float] | np.ndarray) -> None:
        ra = np.asarray(ra, dtype=float)
        dec = np.asarray(dec, dtype=float)
        if ra.shape != dec.shape or ra.ndim != 1 or len(ra) < 3:
            raise ValueError(
                f"a sky polygon needs at least 3 vertices, got RA {ra.shape}, Dec {dec.shape}"
            )
        if not (np.all(np.isfinite(ra)) and np.all(np.isfinite(dec))):
            raise ValueError("sky polygon vertices must be finite")
        self.ra = ra % 360.0
        self.dec = dec
        self._vertices = radec_to_vector(ra, dec)
        centre = self._vertices.sum(axis=0)
        norm = np.linalg.norm(centre)
        if norm < 1e-9:
            raise ValueError("sky polygon vertices surround the whole sphere")
        self._centre = centre / norm
        # Orthonormal basis of the tangent plane at the centre.
        helper = (
            np.array([0.0, 0.0, 1.0]) if abs(self._centre[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        )
        e1 = np.cross(helper, self._centre)
        self._e1 = e1 / np.linalg.norm(e1)
        self._e2 = np.cross(self._centre, self._e1)
        if np.any(self._vertices @ self._centre <= 0.05):
            raise ValueError(
                "sky polygon is too large (vertices more than ~87 deg from its centre)"
            )
        self._plane = self._project(self._vertices)
        #: Largest angle (degrees) between the centre and a vertex.
        self.radius = float(np.max(angular_distance(self._vertices, self._centre)))

    # -- construction / serialisation ------------------------------------------------------

    @property
    def centre(self) -> tuple[float, float]:
        """RA, Dec (degrees) of the normalised mean of the vertices."""
        ra, dec = vector_to_radec(self._centre)
        return float(ra), float(dec)

    def vertices(self) -> np.ndarray:
        """Vertices as an (N, 2) array of RA, Dec in degrees."""
        return np.column_stack([self.ra, self.dec])

    def to_json(self) -> list[list[float]]:
        """Vertices as ``[[ra, dec], ...]`` rounded to 1e-7 deg (0.4 mas)."""
        return [[round(float(r), 7), round(float(d), 7)] for r, d in zip(self.ra, self.dec)]

    @staticmethod
    def dumps(polygons: Iterable[SkyPolygon]) -> str:
        """JSON text of several polygons: ``[[[ra, dec], ...], ...]``."""
        return json.dumps([p.to_json() for p in polygons], separators=(",", ":"))

    @staticmethod
    def loads(text: str) -> list[SkyPolygon]:
        """Polygons from :meth:`dumps` text."""
        data = json.loads(text)
        return [SkyPolygon([v[0] for v in poly], [v[1] for v in poly]) for poly in data]

    @staticmethod
    def hull(polygons: Sequence[SkyPolygon]) -> SkyPolygon:
        """The convex polygon enclosing all vertices of ``polygons`` (smaller than a hemisphere)."""
        from scipy.spatial import ConvexHull

        ra = np.concatenate([p.ra for p in polygons])
        dec = np.concatenate([p.dec for p in polygons])
        vec = radec_to_vector(ra, dec)
        centre = vec.sum(axis=0)
        centre /= np.linalg.norm(centre)
        helper = np.array([0.0, 0.0, 1.0]) if abs(centre[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        e1 = np.cross(helper, centre)
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(centre, e1)
        q = vec / (vec @ centre)[:, None]
        xy = np.column_stack([q @ e1, q @ e2])
        order = ConvexHull(xy).vertices  # counter-clockwise in the tangent plane
        return SkyPolygon(ra[order], dec[order])

    # -- geometry --------------------------------------------------------------------------

    def _project(self, vec: np.ndarray) -> np.ndarray:
        """Gnomonic (x, y) of unit vectors; only meaningful where vec · centre > 0."""
        dot = vec @ self._centre
        with np.errstate(divide="ignore", invalid="ignore"):
            q = vec / dot[..., None]
        return np.stack([q @ self._e1, q @ self._e2], axis=-1)

    def _inside_plane(self, xy: np.ndarray) -> np.ndarray:
        """Even-odd rule on the projected polygon."""
        x, y = xy[:, 0], xy[:, 1]
        inside = np.zeros(len(xy), dtype=bool)
        px, py = self._plane[:, 0], self._plane[:, 1]
        n = len(px)
        for i in range(n):  # loop over edges (few), vectorised over points (many)
            x1, y1, x2, y2 = px[i], py[i], px[(i + 1) % n], py[(i + 1) % n]
            straddles = (y1 > y) != (y2 > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            inside ^= straddles & (x < x_cross)
        return inside

    def _distance_to_edges(self, vec: np.ndarray) -> np.ndarray:
        """Angular distance (degrees) from each point to the polygon's boundary."""
        best = np.full(len(vec), np.inf)
        verts = self._vertices
        n = len(verts)
        for i in range(n):
            a, b = verts[i], verts[(i + 1) % n]
            normal = np.cross(a, b)
            normal /= np.linalg.norm(normal)
            off = vec @ normal
            foot = vec - off[:, None] * normal
            # The foot of the perpendicular lies on the arc if it is between a and b.
            on_arc = (np.cross(a, foot) @ normal >= 0) & (np.cross(foot, b) @ normal >= 0)
            d_line = np.degrees(np.arcsin(np.clip(np.abs(off), 0.0, 1.0)))
            d_end = np.minimum(angular_distance(vec, a), angular_distance(vec, b))
            best = np.minimum(best, np.where(on_arc, d_line, d_end))
        return best

    def contains(self, ra: np.ndarray, dec: np.ndarray, buffer: float = 0.0) -> np.ndarray:
        """True for positions inside the polygon or within ``buffer`` degrees of it."""
        vec = radec_to_vector(ra, dec).reshape(-1, 3)
        result = np.zeros(len(vec), dtype=bool)
        near = angular_distance(vec, self._centre) <= self.radius + buffer
        if not np.any(near):
            return result.reshape(np.shape(ra))
        idx = np.flatnonzero(near)
        sub = vec[idx]
        inside = self._inside_plane(self._project(sub))
        if buffer > 0:
            outside = ~inside
            if np.any(outside):
                dist = self._distance_to_edges(sub[outside])
                inside[outside] = dist <= buffer
        result[idx] = inside
        return result.reshape(np.shape(ra))

    def enlarged(self, buffer: float) -> SkyPolygon:
        """A polygon containing every point within ``buffer`` degrees of this (convex) one.

        Each edge is pushed out in the tangent plane far enough to cover the buffer on the
        sky (the gnomonic projection stretches distances by at most 1/cos² of the angle
        from the centre), and consecutive edges are intersected. Intended for catalog
        queries, which are then trimmed exactly with :meth:`contains`.
        """
        if buffer <= 0:
            return self
        stretch = 1.0 / np.cos(np.radians(min(self.radius + buffer, 80.0))) ** 2
        offset = np.tan(np.radians(buffer)) * stretch * 1.001
        pts = self._plane
        area = 0.5 * np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1])
        sign = 1.0 if area > 0 else -1.0  # outward normal side depends on orientation
        n = len(pts)
        lines = []
        for i in range(n):
            p, q = pts[i], pts[(i + 1) % n]
            d = q - p
            length = np.hypot(*d)
            if length == 0:
                continue
            normal = sign * np.array([d[1], -d[0]]) / length  # outward for CCW when sign>0
            lines.append((p + offset * normal, d / length))
        new = []
        for i in range(len(lines)):
            (p1, d1), (p2, d2) = lines[i - 1], lines[i]
            det = d1[0] * (-d2[1]) - d1[1] * (-d2[0])
            if abs(det) < 1e-12:  # parallel consecutive edges: the offset point will do
                new.append(p2)
                continue
            t = ((p2[0] - p1[0]) * (-d2[1]) - (p2[1] - p1[1]) * (-d2[0])) / det
            new.append(p1 + t * d1)
        xy = np.asarray(new)
        vec = self._centre + xy[:, :1] * self._e1 + xy[:, 1:] * self._e2
        ra, dec = vector_to_radec(vec)
        return SkyPolygon(ra, dec)
