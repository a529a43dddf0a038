"""Tests of the example plugin: the conformance suite, plus one behaviour of its own."""

from __future__ import annotations

import numpy as np
import tasoc_example.plugin
from tasoc_example import CircularAperture

from tasoc_core.testing import assert_conformance, synthetic_target


def test_plugin_conforms():
    checked = assert_conformance(tasoc_example.plugin, name="example")
    assert [reg.name for reg in checked] == ["example"]


def test_larger_radius_collects_more_of_the_star():
    synth = synthetic_target(tmag=9.0, noise=False)
    small = CircularAperture(CircularAperture.Settings(radius=1.0)).photometry(synth.data)
    large = CircularAperture(CircularAperture.Settings(radius=4.0)).photometry(synth.data)
    assert np.median(small.flux) < np.median(large.flux)
    # With a 0.8-px Gaussian PSF, a 4-px radius collects essentially all of the flux.
    np.testing.assert_allclose(np.median(large.flux), np.median(synth.flux), rtol=0.01)
