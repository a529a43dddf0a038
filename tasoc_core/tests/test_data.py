"""The data-access object: stamps, default sizes, resizing, read-only cubes, neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_core.data import Stamp, TargetData, default_stamp_size
from tasoc_core.exceptions import TargetError
from tasoc_core.testing import mag_to_flux, synthetic_target


def test_stamp_geometry():
    stamp = Stamp.centred(100.4, 200.6, 11, 15)
    assert stamp.as_tuple() == (95, 106, 194, 209)
    assert stamp.shape == (11, 15)
    assert stamp.contains(100.4, 200.6)
    assert not stamp.contains(94.4, 200)
    assert stamp.grow(down=2, right=3).as_tuple() == (93, 106, 194, 212)
    assert stamp.clip(Stamp(0, 100, 0, 2000)).as_tuple() == (95, 100, 194, 209)
    border = stamp.border_mask()
    assert border.sum() == 2 * 11 + 2 * 15 - 4
    with pytest.raises(ValueError, match="empty or inverted"):
        Stamp(5, 5, 0, 1)


@pytest.mark.parametrize(
    ("tmag", "size"),
    [
        (0.0, (833, 159)),
        (2.0, (163, 69)),
        (6.0, (21, 21)),
        (10.0, (15, 15)),
        (14.0, (13, 13)),
        (18.0, (11, 11)),
    ],
)
def test_default_stamp_sizes_follow_the_tmag_relation(tmag, size):
    assert default_stamp_size(tmag) == size


def test_target_data_serves_the_default_stamp_around_the_target():
    synth = synthetic_target(tmag=10.0, shape=(41, 41))
    data = synth.data
    assert data.stamp.shape == (15, 15)
    row, col = data.position_in_stamp
    assert abs(row - 7) <= 0.5
    assert abs(col - 7) <= 0.5
    assert data.shape == (240, 15, 15)
    # The star's flux is inside the stamp.
    np.testing.assert_allclose(
        np.nansum(data.images, axis=(1, 2)).mean(), mag_to_flux(10.0), rtol=0.02
    )
    with pytest.raises(ValueError, match="read-only"):
        data.images[0, 0, 0] = 1.0
    assert data.stars.starid[0] == data.target.starid


def test_resizing_grows_the_stamp_and_clips_at_the_edge():
    data = synthetic_target(shape=(31, 31)).data
    bigger = data.resized(up=3, left=2)
    assert bigger.stamp.shape == (data.stamp.height + 3, data.stamp.width + 2)
    assert bigger.resizes == 1
    huge = bigger.resized(down=100, up=100, left=100, right=100)
    assert huge.stamp == data.source.max_stamp
    assert huge.resizes == 2


def test_tpf_targets_get_the_whole_stamp_and_neighbours_are_found():
    synth = synthetic_target(
        datasource="tpf", cadence=120, shape=(11, 11), neighbours=[(3.0, -2.0, 12.0)]
    )
    data = synth.data
    assert data.stamp == data.source.max_stamp
    assert len(data.stars) == 2
    positions = data.star_positions()
    assert positions.shape == (240, 2, 2)
    np.testing.assert_allclose(positions[0, 1] - positions[0, 0], [3.0, -2.0], atol=1e-6)


def test_a_stamp_off_the_pixels_is_a_target_error():
    data = synthetic_target().data
    with pytest.raises(TargetError, match="does not overlap"):
        TargetData(data.target, data.source, Stamp(5000, 5011, 5000, 5011))
