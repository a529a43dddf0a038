"""Segments: one weight map per orbit, split at the largest gaps."""

from __future__ import annotations

import numpy as np

from tasoc_halo import split_segments


def sector(n_per_orbit: int = 600, gap: float = 1.2, cadence: float = 1 / 48) -> np.ndarray:
    first = 1400.0 + np.arange(n_per_orbit) * cadence
    return np.concatenate([first, first[-1] + gap + np.arange(n_per_orbit) * cadence])


def test_two_orbits_split_at_the_gap():
    time = sector()
    seg = split_segments(time, np.ones(len(time), bool))
    np.testing.assert_array_equal(seg, np.repeat([0, 1], 600))


def test_unusable_cadences_in_the_gap_go_to_the_nearer_side():
    time = sector()
    usable = np.ones(len(time), bool)
    usable[590:610] = False  # the last 10 of orbit 1 and the first 10 of orbit 2
    seg = split_segments(time, usable)
    np.testing.assert_array_equal(seg, np.repeat([0, 1], 600))


def test_small_gaps_and_short_pieces_do_not_split():
    time = sector(gap=0.3)
    assert not split_segments(time, np.ones(len(time), bool)).any()
    # A 2-day gap 50 cadences from the end would leave too short a segment.
    time = 1400.0 + np.arange(1000) / 48.0
    time[950:] += 2.0
    assert not split_segments(time, np.ones(1000, bool), min_cadences=100).any()
    assert split_segments(time, np.ones(1000, bool), min_cadences=50).max() == 1


def test_several_interruptions_give_several_segments_largest_first():
    time = 1400.0 + np.arange(2000) / 48.0
    time[500:] += 0.8
    time[1000:] += 3.0
    time[1500:] += 0.6
    seg = split_segments(time, np.ones(2000, bool))
    np.testing.assert_array_equal(seg, np.repeat([0, 1, 2, 3], 500))
    # With 600 cadences needed per segment, only the largest gap can be used.
    seg = split_segments(time, np.ones(2000, bool), min_cadences=600)
    np.testing.assert_array_equal(seg, np.repeat([0, 1], 1000))


def test_nan_times_and_nothing_usable():
    time = sector()
    time[600] = np.nan
    seg = split_segments(time, np.isfinite(time))
    assert seg[599] == 0
    assert seg[600] == 1
    assert seg[601] == 1
    assert not split_segments(time, np.zeros(len(time), bool)).any()
