"""Unit tests of the K2P2 building blocks: threshold, DBSCAN, saturation, masks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import gaussian_kde

from tasoc_aperture import ApertureSettings, StampStars, create_masks, flux_threshold, kde_mode
from tasoc_aperture.clusters import find_clusters
from tasoc_aperture.k2p2 import fill_holes, relabel_by_size
from tasoc_aperture.saturation import saturated_pixels
from tasoc_aperture.threshold import scott_bandwidth
from tasoc_aperture.trimming import snr_trim

from .conftest import pixel_psf


def exact_kde_mode(values: np.ndarray, bw: float) -> float:
    kde = gaussian_kde(values, bw_method=bw / np.std(values, ddof=1))
    coarse = np.linspace(values.min(), values.max(), 2001)
    best = coarse[np.argmax(kde(coarse))]
    step = coarse[1] - coarse[0]
    fine = np.linspace(best - 2 * step, best + 2 * step, 2001)
    return float(fine[np.argmax(kde(fine))])


@pytest.mark.parametrize(
    ("kind", "n"), [("normal", 50), ("normal", 5000), ("skewed", 400), ("bimodal", 600)]
)
def test_kde_mode_matches_the_exact_kde_maximum(kind, n):
    rng = np.random.default_rng(n)
    if kind == "normal":
        x = rng.normal(3.0, 2.0, n)
    elif kind == "skewed":
        x = np.concatenate([rng.normal(0.0, 1.0, n), rng.exponential(20.0, n // 3)])
    else:
        x = np.concatenate([rng.normal(0.0, 1.0, n), rng.normal(6.0, 0.7, n // 2)])
    bw = scott_bandwidth(x)
    assert kde_mode(x) == pytest.approx(exact_kde_mode(x, bw), abs=bw / 50)


def test_kde_mode_degenerate_inputs():
    assert kde_mode(np.array([4.0])) == 4.0
    assert kde_mode(np.full(10, 2.5)) == 2.5
    with pytest.raises(ValueError, match="at least one"):
        kde_mode(np.array([]))
    with pytest.raises(ValueError, match="finite"):
        kde_mode(np.array([1.0, np.nan, 2.0]))


def test_flux_threshold_on_sky_noise_with_stars():
    rng = np.random.default_rng(5)
    sky = rng.normal(2.0, 0.5, (60, 60))
    image = (
        sky + 5e3 * pixel_psf(sky.shape, 30.2, 29.7, 0.9) + 2e3 * pixel_psf(sky.shape, 10, 45, 1)
    )
    image[0, :5] = np.nan
    th = flux_threshold(image, 0.8)
    assert th.mode == pytest.approx(2.0, abs=0.1)
    assert th.mad == pytest.approx(0.5, rel=0.1)  # left-side MAD is blind to the stars
    assert th.cut == pytest.approx(th.mode + 0.8 * th.mad)
    assert th.npix == 3595 - int(0.15 * 3595)
    assert flux_threshold(-np.abs(image), 0.8) is None  # no positive flux at all
    assert flux_threshold(np.full((5, 5), np.nan), 0.8) is None


def test_dbscan_joins_diagonal_neighbours_and_drops_small_groups():
    above = np.zeros((12, 12), dtype=bool)
    above[1:4, 1:4] = True  # a 3x3 blob
    above[3 + np.arange(4), 4 + np.arange(4)] = True  # a diagonal chain touching it
    above[9:11, 9:11] = True  # a 2x2 group, separate: 4 pixels, each with 4 within sqrt(2)
    above[0, 11] = True  # a lone pixel: noise
    clusters = find_clusters(above, radius=np.sqrt(2), min_samples=4)
    assert clusters.count == 2
    blob = clusters.labels[2, 2]
    assert blob > 0
    # (3,4) touches the blob diagonally and has 4 pixels within sqrt(2): a core sample. (4,5)
    # has only 3 but is within reach of (3,4): a border sample. (5,6) and (6,7) are reachable
    # only through non-core pixels: noise.
    assert clusters.core[3, 4]
    assert not clusters.core[4, 5]
    assert clusters.labels[4, 5] == blob
    assert clusters.labels[6, 7] == 0
    assert clusters.labels[9, 9] not in (0, blob)
    assert clusters.labels[0, 11] == 0


def test_saturation_needs_a_plateau():
    # An unsaturated star centred between two rows: the original three tests alone call its
    # column saturated; the plateau requirement does not.
    image = 1e5 * pixel_psf((15, 15), 7.5, 7.0, 0.8)
    regions = (image > 1.0).astype(np.int32)
    assert not saturated_pixels(image, regions, regions > 0).any()
    # The same star with its core capped and spilled along the column is saturated.
    capped = image.copy()
    capped[4:11, 7] = 1.2e4
    regions = (capped > 1.0).astype(np.int32)
    sat = saturated_pixels(capped, regions, regions > 0)
    assert sat[4:11, 7].all()
    assert set(np.unique(np.nonzero(sat)[1])) == {7}


def overflow_scene(tmag: float) -> tuple[np.ndarray, StampStars, np.ndarray]:
    """A saturated star whose one-pixel-wide bleed column is not made of DBSCAN core pixels."""
    image = 4e5 * pixel_psf((40, 21), 20.0, 10.0, 0.8)
    image = np.minimum(image, 3e4)
    bleed = np.zeros(image.shape, dtype=bool)
    bleed[6:35, 10] = True
    image[bleed] = 3e4
    stars = StampStars(starid=[1], row=[20.0], col=[10.0], tmag=[tmag])
    return image, stars, bleed


def test_overflow_adds_the_bleed_column_of_a_saturated_star():
    image, stars, bleed = overflow_scene(5.0)
    masks = create_masks(image, stars, ApertureSettings())
    assert masks.count == 1
    assert np.all(masks.labels[bleed] == 1)
    without = create_masks(image, stars, ApertureSettings(extend_overflow=False))
    assert not np.all(without.labels[bleed] == 1)
    # A star fainter than the saturation limit cannot claim a bleed column.
    faint = create_masks(image, StampStars([1], [20.0], [10.0], [8.0]), ApertureSettings())
    np.testing.assert_array_equal(faint.labels, without.labels)


def test_watershed_markers_need_catalog_stars():
    image = 1e4 * pixel_psf((21, 21), 10.0, 7.0, 0.8) + 1e4 * pixel_psf((21, 21), 10.0, 11.0, 0.8)
    two = StampStars([1, 2], [10.0, 10.0], [7.0, 11.0], [10.0, 10.0])
    masks = create_masks(image, two, ApertureSettings())
    assert masks.count == 2
    assert masks.labels[10, 7] != masks.labels[10, 11]
    assert masks.labels[10, 7] > 0
    # Only one catalog star: its basin floods both peaks (paper 003: every basin has a star).
    one = StampStars([1], [10.0], [7.0], [10.0])
    single = create_masks(image, one, ApertureSettings())
    assert single.count == 1
    assert single.labels[10, 11] == single.labels[10, 7] == 1
    # No star near a cluster: the cluster is rejected as noise.
    far = StampStars([1], [0.0], [0.0], [10.0])
    assert create_masks(image, far, ApertureSettings()).count == 0
    # Without segmentation the cluster is kept whole.
    plain = create_masks(image, far, ApertureSettings(segmentation=False))
    assert plain.count == 1


def test_hole_filling_and_size_ordering():
    labels = np.zeros((7, 9), dtype=np.int32)
    labels[1:6, 1:6] = 1
    labels[3, 3] = 0  # a one-pixel hole
    labels[2:4, 7:9] = 2  # a 4-pixel mask
    labels[6, 8] = 3  # a 1-pixel mask
    filled = fill_holes(labels, np.ones(labels.shape, dtype=bool))
    assert filled[3, 3] == 1
    assert fill_holes(labels, labels > 0)[3, 3] == 0  # an uncollected hole stays out
    ordered = relabel_by_size(filled, 4)
    assert ordered[3, 3] == 1
    assert ordered[2, 7] == 2
    assert ordered[6, 8] == 0
    swapped = np.where(filled == 1, 2, np.where(filled == 2, 1, filled))
    np.testing.assert_array_equal(relabel_by_size(swapped, 4), ordered)


def test_snr_trim_selection():
    image = np.array([[100.0, 50.0, 10.0, 1.0]])
    sigma = np.full(image.shape, 5.0)
    mask = np.ones(image.shape, dtype=bool)
    # Cumulative S/N: 100/5, 150/7.07, 160/8.66, 161/10 -> the best is the first two pixels.
    best = snr_trim(mask, image, sigma, min_flux_fraction=0.5)
    assert best.tolist() == [[True, True, False, False]]
    # 95 % of the 161 e-/s needs three pixels.
    assert snr_trim(mask, image, sigma, min_flux_fraction=0.95).tolist() == [
        [True, True, True, False]
    ]
    assert snr_trim(mask, image, sigma, min_flux_fraction=0.5, min_pixels=4).all()
    assert snr_trim(mask, -image, sigma, min_flux_fraction=0.5).all()  # no flux: unchanged
