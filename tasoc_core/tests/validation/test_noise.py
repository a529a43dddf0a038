"""The Sullivan et al. (2015) noise model against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tasoc_core.validation import (
    galactic_latitude,
    noise_model,
    pixels_in_aperture,
    zodiacal_level,
)

# Hand computation for Tmag 10 on a 1-hour time scale, FFI cadence, RA = Dec = 0:
# pixels: log-linear between (9.198, 61) and (10.091, 49).
_FRAC = (10.0 - 9.198) / (10.091 - 9.198)
PIXELS_10 = 10 ** (math.log10(61) + _FRAC * (math.log10(49) - math.log10(61)))  # 50.11
ELECTRONS_10 = 10 ** (-0.4 * (10.0 - 20.451)) * 3600.0  # 5.4546e7 e- per hour
FACTOR_10 = math.sqrt(3600.0 / 2.0 * PIXELS_10)  # sqrt(1800 reads × pixels)
B_ORIGIN = 60.188  # |galactic latitude| of RA = Dec = 0, degrees
ZODI_ORIGIN = 6.0 * (B_ORIGIN / 90.0 - 1.0) ** 2 + 10.0  # 10.657 e- per pixel per read


def test_pixels_in_aperture_hand_values():
    assert pixels_in_aperture(10.0, 1800) == pytest.approx(PIXELS_10, rel=1e-12)
    assert round(PIXELS_10, 2) == 50.11
    # At the nodes: the tabulated values.
    assert pixels_in_aperture(8.306, 600) == pytest.approx(76.0)
    assert pixels_in_aperture(6.807, 120) == pytest.approx(69.0)
    assert pixels_in_aperture(12.5, 20) == pytest.approx(13.0)
    # Extrapolated beyond the nodes, never below 4 pixels.
    assert pixels_in_aperture(1.0, 1800) > 1484.5
    assert pixels_in_aperture(15.0, 1800) == pytest.approx(
        8 * (8 / 14) ** ((15.0 - 14.553) / (14.553 - 13.660))
    )
    assert pixels_in_aperture(16.0, 200) == 4.0
    assert pixels_in_aperture(18.0, 120) == 4.0


def test_pixels_in_aperture_refuses_unknown_cadences():
    with pytest.raises(ValueError, match=r"cadence \[300\]"):
        pixels_in_aperture([10.0, 11.0], [1800, 300])


def test_components_at_tmag_10_one_hour():
    noise = noise_model(10.0, 1800, 3600.0)
    shot = 1e6 / math.sqrt(ELECTRONS_10)
    read = 10.0 * FACTOR_10 * 1e6 / ELECTRONS_10
    zodi = ZODI_ORIGIN * FACTOR_10 * 1e6 / ELECTRONS_10
    assert shot == pytest.approx(135.41, abs=0.01)  # by hand: 1e6 / sqrt(5.4546e7)
    assert noise.shot == pytest.approx(shot, rel=1e-12)
    assert noise.read == pytest.approx(read, rel=1e-12)
    assert noise.zodiacal == pytest.approx(zodi, rel=1e-4)
    assert noise.systematic == pytest.approx(5.0)
    assert noise.total == pytest.approx(math.sqrt(shot**2 + read**2 + zodi**2 + 25.0), rel=1e-5)
    assert noise.total == pytest.approx(157.6, abs=0.1)


@pytest.mark.parametrize(
    ("tmag", "cadence", "timescale"),
    [(6.0, 1800, 3600.0), (8.0, 120, 120.0), (12.0, 600, 600.0), (14.0, 200, 3600.0)],
)
def test_components_at_several_magnitudes(tmag, cadence, timescale):
    pixels = float(pixels_in_aperture(tmag, cadence))
    electrons = 10 ** (-0.4 * (tmag - 20.451)) * timescale
    factor = math.sqrt(timescale / 2.0 * pixels)
    noise = noise_model(tmag, cadence, timescale, sysnoise=60.0)
    assert noise.shot == pytest.approx(1e6 / math.sqrt(electrons))
    assert noise.read == pytest.approx(10.0 * factor * 1e6 / electrons)
    assert noise.zodiacal == pytest.approx(ZODI_ORIGIN * factor * 1e6 / electrons, rel=1e-4)
    assert noise.systematic == pytest.approx(60.0 / math.sqrt(timescale / 3600.0))
    parts = np.array([noise.shot, noise.read, noise.zodiacal, noise.systematic])
    assert np.all(parts <= noise.total)
    assert noise.total == pytest.approx(np.sqrt(np.sum(parts**2)))


def test_zodiacal_light_depends_on_galactic_latitude():
    assert zodiacal_level(90.0) == 10.0
    assert zodiacal_level(0.0) == 16.0
    assert zodiacal_level(-45.0) == pytest.approx(11.5)
    assert galactic_latitude(0.0, 0.0)[0] == pytest.approx(-B_ORIGIN, abs=1e-3)
    pole = galactic_latitude(192.85948, 27.12825)[0]  # north galactic pole
    assert pole == pytest.approx(90.0, abs=1e-3)
    at_pole = noise_model(12.0, 1800, 3600.0, ra=192.85948, dec=27.12825)
    at_origin = noise_model(12.0, 1800, 3600.0)
    assert at_pole.zodiacal / at_pole.read == pytest.approx(1.0, abs=1e-6)
    assert at_origin.zodiacal / at_origin.read == pytest.approx(ZODI_ORIGIN / 10.0, rel=1e-4)


def test_galactic_latitude_agrees_with_astropy():
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    rng = np.random.default_rng(0)
    ra = rng.uniform(0.0, 360.0, 500)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, 500)))
    expected = SkyCoord(ra=ra * u.deg, dec=dec * u.deg, frame="icrs").galactic.b.deg
    np.testing.assert_allclose(galactic_latitude(ra, dec), expected, atol=1e-8)


def test_missing_coordinates_use_the_dummy_position():
    explicit = noise_model([10.0, 11.0], 1800, 3600.0, ra=[0.0, 0.0], dec=[0.0, 0.0])
    partial = noise_model([10.0, 11.0], 1800, 3600.0, ra=[np.nan, 0.0], dec=[np.nan, 0.0])
    none = noise_model([10.0, 11.0], 1800, 3600.0)
    np.testing.assert_allclose(partial.zodiacal, explicit.zodiacal)
    np.testing.assert_allclose(none.total, explicit.total)


def test_vectorized_over_magnitude_cadence_and_timescale():
    tmag = np.linspace(4.0, 15.0, 12)
    cadence = np.where(np.arange(12) % 2 == 0, 1800, 120)
    noise = noise_model(tmag, cadence, cadence.astype(float))
    assert noise.total.shape == (12,)
    for i in (0, 5, 11):
        one = noise_model(tmag[i], cadence[i], float(cadence[i]))
        assert noise.total[i] == pytest.approx(float(one.total))
    # Fainter stars are noisier; shot noise grows as 10^(0.2 ΔT).
    hour = noise_model(tmag, 1800, 3600.0)
    assert np.all(np.diff(hour.total) > 0)
    np.testing.assert_allclose(hour.shot[1:] / hour.shot[:-1], 10 ** (0.2 * np.diff(tmag)))


def test_given_pixels_override_the_relation():
    default = noise_model(10.0, 1800, 3600.0)
    more = noise_model(10.0, 1800, 3600.0, pixels=4 * PIXELS_10)
    assert more.read == pytest.approx(2 * default.read)
    assert more.shot == pytest.approx(default.shot)


def test_timescale_must_be_positive():
    with pytest.raises(ValueError, match="timescale must be positive"):
        noise_model(10.0, 1800, 0.0)
