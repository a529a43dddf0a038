"""Proper motion, epochs and spherical polygons against astropy and brute force."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time

from tasoc_core.catalog import (
    SkyPolygon,
    angular_distance,
    btjd_to_epoch,
    propagate_proper_motion,
    radec_to_vector,
)


def test_epoch_of_btjd_matches_astropy_julian_year() -> None:
    for btjd in (1325.3, 2000.0, 3500.25):
        expected = Time(btjd + 2457000.0, format="jd", scale="tdb").jyear
        assert btjd_to_epoch(btjd) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("years", [18.56, -15.5, 60.0])
def test_proper_motion_matches_astropy_apply_space_motion(years: float) -> None:
    rng = np.random.default_rng(1)
    n = 400
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    dec[:20] = rng.uniform(89.0, 89.99, 20)  # near the poles a linear RA/Dec update fails
    dec[20:40] = rng.uniform(-89.99, -89.0, 20)
    ra[40:60] = rng.uniform(359.99, 360.0, 20) % 360.0  # across RA = 0
    pm_ra = rng.normal(0, 300, n)
    pm_dec = rng.normal(0, 300, n)
    pm_ra[:5], pm_dec[:5] = 10_000.0, -8_000.0  # Barnard's-star-like motions

    got_ra, got_dec = propagate_proper_motion(ra, dec, pm_ra, pm_dec, years)

    t0 = Time("J2000", scale="tdb")
    # Distances giving ~100 km/s tangential velocities: realistic, and parallaxes large
    # enough for ERFA to use them.
    distance = 20.0 / np.maximum(np.hypot(pm_ra, pm_dec) / 1000.0, 1e-3) * u.pc
    c = SkyCoord(
        ra=ra * u.deg, dec=dec * u.deg, pm_ra_cosdec=pm_ra * u.mas / u.yr, pm_dec=pm_dec * u.mas / u.yr,
        distance=distance, radial_velocity=0 * u.km / u.s, obstime=t0,
    )  # fmt: skip
    ref = c.apply_space_motion(new_obstime=t0 + years * u.yr)
    sep = SkyCoord(got_ra * u.deg, got_dec * u.deg).separation(ref).to_value(u.mas)
    assert np.max(sep) < 0.05, f"worst disagreement {np.max(sep):.3g} mas"
    # And the stars did move by the expected amount.
    moved = (
        SkyCoord(ra * u.deg, dec * u.deg)
        .separation(SkyCoord(got_ra * u.deg, got_dec * u.deg))
        .to_value(u.mas)
    )
    np.testing.assert_allclose(moved, np.hypot(pm_ra, pm_dec) * abs(years), rtol=1e-4)
    assert np.all((got_ra >= 0) & (got_ra < 360))


def test_unknown_proper_motion_keeps_position() -> None:
    ra, dec = propagate_proper_motion(
        [10.0, 20.0], [5.0, -5.0], [np.nan, 100.0], [3.0, np.nan], 20.0
    )
    np.testing.assert_array_equal(ra, [10.0, 20.0])
    np.testing.assert_array_equal(dec, [5.0, -5.0])


def _boundary_distance_brute(poly: SkyPolygon, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Distance to the boundary from points densely sampled along every great-circle edge."""
    v = radec_to_vector(poly.ra, poly.dec)
    samples = []
    for i in range(len(v)):
        a, b = v[i], v[(i + 1) % len(v)]
        t = np.linspace(0, 1, 2001)[:, None]
        p = a * (1 - t) + b * t  # chord points project onto the great-circle arc
        samples.append(p / np.linalg.norm(p, axis=1, keepdims=True))
    pts = np.concatenate(samples)
    q = radec_to_vector(ra, dec)
    return np.degrees(np.arccos(np.clip(q @ pts.T, -1, 1))).min(axis=1)


@pytest.mark.parametrize(
    ("centre", "label"),
    [((63.0, -69.0), "south"), ((0.2, 10.0), "ra-zero"), ((120.0, 88.0), "near-pole")],
)
def test_polygon_contains_with_buffer_matches_brute_force(
    centre: tuple[float, float], label: str
) -> None:
    # An irregular quadrilateral about 6 deg across around `centre`.
    c = SkyCoord(centre[0] * u.deg, centre[1] * u.deg)
    corners = [
        c.directional_offset_by(pa * u.deg, r * u.deg)
        for pa, r in ((10, 4.0), (95, 3.2), (190, 4.5), (280, 3.0))
    ]
    poly = SkyPolygon([k.ra.deg for k in corners], [k.dec.deg for k in corners])
    rng = np.random.default_rng(7)
    pts = c.directional_offset_by(
        rng.uniform(0, 360, 4000) * u.deg, rng.uniform(0, 6.0, 4000) * u.deg
    )
    ra, dec = pts.ra.deg, pts.dec.deg
    inside = poly.contains(ra, dec)
    # Inside points: reference via winding on the tangent plane is what we test, so use a
    # different criterion: a point is inside iff it is on the inner side of every edge.
    v = radec_to_vector(poly.ra, poly.dec)
    orient = np.sign(np.dot(np.cross(v[0], v[1]), v[2]))
    q = radec_to_vector(ra, dec)
    inner = np.all([orient * (q @ np.cross(v[i], v[(i + 1) % 4])) >= 0 for i in range(4)], axis=0)
    np.testing.assert_array_equal(inside, inner)
    buffer = 0.5
    dist = _boundary_distance_brute(poly, ra, dec)
    expected = inner | (dist <= buffer)
    got = poly.contains(ra, dec, buffer)
    unsure = np.abs(dist - buffer) < 1e-4  # sampling resolution of the brute force
    np.testing.assert_array_equal(got[~unsure], expected[~unsure])
    assert np.sum(got & ~inner) > 20  # the buffer test was exercised


def test_enlarged_polygon_covers_the_buffer() -> None:
    c = SkyCoord(63.0 * u.deg, -69.0 * u.deg)
    corners = [c.directional_offset_by(pa * u.deg, 8.4 * u.deg) for pa in (30, 120, 210, 300)]
    poly = SkyPolygon([k.ra.deg for k in corners], [k.dec.deg for k in corners])
    big = poly.enlarged(0.1)
    rng = np.random.default_rng(3)
    pts = c.directional_offset_by(
        rng.uniform(0, 360, 20000) * u.deg, rng.uniform(5.5, 8.0, 20000) * u.deg
    )
    near = poly.contains(pts.ra.deg, pts.dec.deg, 0.1)
    assert near.sum() > 1000
    assert np.all(big.contains(pts.ra.deg[near], pts.dec.deg[near]))
    # ... without being much larger than needed.
    assert not np.any(
        big.contains(pts.ra.deg, pts.dec.deg) & ~poly.contains(pts.ra.deg, pts.dec.deg, 0.2)
    )


def test_polygon_serialisation_round_trip_and_errors() -> None:
    poly = SkyPolygon([10.0, 11.0, 11.0, 10.0], [5.0, 5.0, 6.0, 6.0])
    (back,) = SkyPolygon.loads(SkyPolygon.dumps([poly]))
    np.testing.assert_allclose(back.vertices(), poly.vertices(), atol=1e-7)
    with pytest.raises(ValueError, match="at least 3 vertices"):
        SkyPolygon([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        SkyPolygon([1.0, 2.0, np.nan], [1.0, 2.0, 3.0])


def test_angular_distance_small_angles() -> None:
    a = radec_to_vector(10.0, 20.0)
    b = radec_to_vector(10.0, 20.0 + 1e-7)
    assert angular_distance(a, b) == pytest.approx(1e-7, rel=1e-6)
