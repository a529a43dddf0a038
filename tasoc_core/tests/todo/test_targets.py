"""Edge distances and the secondary-target rules, on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_core.data import Stamp
from tasoc_core.todo import (
    TodoRow,
    collected_edge_distance,
    select_secondaries,
    stamp_edge_distance,
    unique_rows,
)


def test_stamp_edge_distance() -> None:
    stamp = Stamp(10, 21, 100, 111)  # pixel edges at rows 9.5/20.5, cols 99.5/110.5
    got = stamp_edge_distance(
        np.array([15.0, 9.6, 20.0, 15.0, 25.0]),
        np.array([105.0, 105.0, 105.0, 110.4, 105.0]),
        stamp,
    )
    np.testing.assert_allclose(got, [5.5, 0.1, 0.5, 0.1, -4.5])


def test_collected_distance_equals_stamp_distance_without_holes() -> None:
    stamp = Stamp(10, 21, 100, 111)
    rng = np.random.default_rng(0)
    row, col = rng.uniform(9.5, 20.5, 300), rng.uniform(99.5, 110.5, 300)
    got = collected_edge_distance(row, col, stamp, np.ones(stamp.shape, bool))
    np.testing.assert_allclose(got, stamp_edge_distance(row, col, stamp), atol=1e-12)


def test_collected_distance_to_holes_and_inner_corners_is_exact() -> None:
    stamp = Stamp(0, 9, 0, 9)
    collected = np.ones(stamp.shape, bool)
    collected[6, 2] = False  # a hole: the square rows 5.5-6.5, cols 1.5-2.5
    collected[:3, 6:] = False  # a missing corner block: inner corner at (2.5, 5.5)
    # Next to the hole: distance to its square edge.
    assert collected_edge_distance([6.0], [3.3], stamp, collected)[0] == pytest.approx(0.8)
    # Diagonal from the hole: distance to its corner (5.5, 2.5).
    assert collected_edge_distance([4.5], [3.5], stamp, collected)[0] == pytest.approx(
        np.hypot(1.0, 1.0)
    )
    # Near the inner corner of the missing block: distance to the corner point, not to a
    # pixel centre (the distance-transform approximation of the original pipeline).
    assert collected_edge_distance([3.3], [5.0], stamp, collected)[0] == pytest.approx(
        np.hypot(0.8, 0.5)
    )
    # On a pixel that was not collected.
    assert collected_edge_distance([1.0], [7.0], stamp, collected)[0] == 0.0
    # Against brute force on random points: the distance to the nearest point of any
    # non-collected pixel square (outside the stamp counts as non-collected).
    rng = np.random.default_rng(1)
    row, col = rng.uniform(-0.5, 8.5, 300), rng.uniform(-0.5, 8.5, 300)
    got = collected_edge_distance(row, col, stamp, collected)
    edge = np.linspace(-0.5, 0.5, 101)
    ring = np.concatenate([np.column_stack([edge, np.full_like(edge, h)]) for h in (-0.5, 0.5)]
                          + [np.column_stack([np.full_like(edge, h), edge]) for h in (-0.5, 0.5)])  # fmt: skip
    pts, centres = [], []
    for r in range(-1, 10):
        for c in range(-1, 10):
            if 0 <= r < 9 and 0 <= c < 9 and collected[r, c]:
                continue
            pts.append(ring + np.array([r, c]))
            centres.append((r, c))
    pts = np.concatenate(pts)
    brute = np.min(np.hypot(row[:, None] - pts[:, 0], col[:, None] - pts[:, 1]), axis=1)
    centres = np.array(centres)
    on_missing = np.any(
        (np.abs(row[:, None] - centres[:, 0]) <= 0.5)
        & (np.abs(col[:, None] - centres[:, 1]) <= 0.5),
        axis=1,
    )
    brute[on_missing] = 0.0
    # Sampling the square edges every 0.01 px over-estimates by at most half of that.
    assert np.all(got <= brute + 1e-12)
    np.testing.assert_allclose(got, brute, atol=0.005)


def _r(starid: int, datasource: str, cadence: int = 120, edge: float | None = None) -> TodoRow:
    return TodoRow(
        starid=starid, sector=1, camera=1, ccd=1, cadence=cadence, datasource=datasource, tmag=10.0,
        ra=0.0, dec=0.0, cbv_area=111, edge_dist=edge,
    )  # fmt: skip


def test_secondary_rules() -> None:
    rows = [
        _r(1, "tpf"), _r(2, "tpf"), _r(3, "tpf"), _r(3, "tpf", cadence=20),
        _r(10, "tpf:1", edge=1.0), _r(10, "tpf:2", edge=2.5), _r(10, "tpf:3", edge=0.5),  # kept in TPF 2
        _r(2, "tpf:1", edge=3.0),  # also a primary at 120 s: removed
        _r(2, "tpf:3", cadence=20, edge=1.0),  # no 20-s primary of TIC 2: kept
        _r(11, "tpf:3", edge=1.5), _r(11, "tpf:2", edge=1.5),  # tie: smaller primary TIC wins
        _r(12, "tpf:1", edge=None), _r(12, "tpf:2", edge=0.2),  # unknown edge loses
        _r(10, "ffi", cadence=1800), _r(2, "ffi", cadence=1800),  # FFI rows untouched
    ]  # fmt: skip
    kept, cleanup = select_secondaries(rows)
    keys = [(r.starid, r.datasource, r.cadence) for r in kept]
    assert keys == [
        (1, "tpf", 120), (2, "tpf", 120), (3, "tpf", 120), (3, "tpf", 20),
        (10, "tpf:2", 120), (2, "tpf:3", 20), (11, "tpf:2", 120), (12, "tpf:2", 120),
        (10, "ffi", 1800), (2, "ffi", 1800),
    ]  # fmt: skip
    assert [(r.starid, r.datasource) for r in cleanup.also_primary] == [(2, "tpf:1")]
    assert sorted((r.starid, r.datasource) for r in cleanup.duplicates) == [
        (10, "tpf:1"), (10, "tpf:3"), (11, "tpf:3"), (12, "tpf:1"),
    ]  # fmt: skip


def test_unique_rows() -> None:
    rows = [_r(1, "tpf"), _r(1, "tpf"), _r(1, "tpf", cadence=20), _r(1, "ffi", cadence=1800)]
    out, removed = unique_rows(rows)
    assert removed == 1
    assert [(r.datasource, r.cadence) for r in out] == [("tpf", 120), ("tpf", 20), ("ffi", 1800)]
