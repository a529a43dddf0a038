"""The per-frame transient mask: glints crossing masked stars."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from tasoc_core.prepare.source_mask import SourceMask, transient_mask

SHAPE = (96, 96)
SKY, NOISE = 150.0, 0.5
STAR = (48.0, 44.0)
STAR_RADIUS = 11.0


def _grid() -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(float)


def _reference() -> SourceMask:
    """A bright star whose static mask is a disk of 11 px on a flat sky (noiseless median)."""
    rows, cols = _grid()
    r2 = (rows - STAR[0]) ** 2 + (cols - STAR[1]) ** 2
    median = (SKY + 5e4 * np.exp(-0.5 * r2 / 1.5**2)).astype(np.float32)
    return SourceMask(median, r2 <= STAR_RADIUS**2, sigma=NOISE, frames=25)


def _glint(amp: float, centre: tuple[float, float], angle: float) -> np.ndarray:
    """The simulator's lens-flare shape: an elongated Gaussian (σ 6 × 1.2 px)."""
    rows, cols = _grid()
    dr, dc = rows - centre[0], cols - centre[1]
    u = dr * np.cos(angle) + dc * np.sin(angle)
    v = -dr * np.sin(angle) + dc * np.cos(angle)
    return amp * np.exp(-0.5 * ((u / 6.0) ** 2 + (v / 1.2) ** 2))


def _frame(reference: SourceMask, extra: np.ndarray, seed: int = 3) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, NOISE, SHAPE)
    return (reference.median + noise + extra).astype(np.float32)


def test_a_glint_seen_only_in_pieces_either_side_of_a_star_is_flagged_on_the_star() -> None:
    """A narrow glint across a masked star shows as two pieces outside the mask, each
    smaller than ``min_pixels``: together they are one feature. On the star it is flagged
    wherever it stands out against the star's own light (≥ 90 % of the pixels where it
    exceeds 5σ of noise plus 10 % of the star), so the star's aperture (6 px) holds flagged
    pixels and its cadence is flagged. Measured on the ci sector, an unflagged glint on
    one cadence was what made a Tmag 8.4 star's 1-h noise 1.33× the model."""
    reference = _reference()
    glint = _glint(80.0, STAR, np.radians(35.0))
    visible = (glint > 5 * NOISE) & ~reference.static
    pieces, count = ndimage.label(visible, structure=np.ones((3, 3), bool))
    sizes = np.bincount(pieces.ravel())[1:]
    assert count == 2, sizes  # the case in point: two pieces, each too small alone
    assert sizes.max() < 20 <= sizes.sum(), sizes
    mask = transient_mask(_frame(reference, glint), reference, min_pixels=20)
    light = reference.median - SKY
    visible_on_star = reference.static & (glint > 5 * np.hypot(NOISE, 0.1 * light))
    assert visible_on_star.sum() > 20
    assert mask[visible_on_star].mean() >= 0.9
    rows, cols = _grid()
    aperture = (rows - STAR[0]) ** 2 + (cols - STAR[1]) ** 2 <= 6.0**2
    assert (mask & aperture).sum() >= 5
    # Nothing far from the glint.
    assert not (mask & ~ndimage.binary_dilation(glint > 1.0, iterations=6)).any()


def test_small_residuals_around_a_star_are_not_transients() -> None:
    """Scattered residuals of a few pixels at the edge of a star's mask (what pointing
    jitter leaves) do not add up to a feature, nor do two small blobs not joined through
    a masked star."""
    reference = _reference()
    extra = np.zeros(SHAPE)
    angles = np.radians(np.arange(0, 360, 30))
    for a in angles:  # 12 residuals of 2 px each just outside the mask
        r = round(STAR[0] + (STAR_RADIUS + 1.5) * np.sin(a))
        c = round(STAR[1] + (STAR_RADIUS + 1.5) * np.cos(a))
        extra[r, c : c + 2] = 20.0
    # Two 12-px blobs in open sky, 20 px apart.
    for r0, c0 in ((10, 10), (10, 30)):
        extra[r0 : r0 + 3, c0 : c0 + 4] = 20.0
    mask = transient_mask(_frame(reference, extra), reference, min_pixels=20)
    assert not mask.any()


def test_a_ring_of_residuals_around_a_star_is_not_a_glint() -> None:
    """Pieces big enough to be parts of a glint (≥ ``min_pixels // 4``, up to 13 px) all round
    a star's mask, joined through it, add up to more than ``min_pixels`` but do not lie
    along a line: the ring a change of focus leaves around a bright star. Before the line
    test, 4, 6 or 12 such pieces flagged the whole star (508–602 px)."""
    reference = _reference()
    rows, cols = _grid()
    radius = np.hypot(rows - STAR[0], cols - STAR[1])
    angle = np.arctan2(rows - STAR[0], cols - STAR[1])
    for npieces, width in ((4, 0.35), (6, 0.3), (12, 0.15)):
        extra = np.zeros(SHAPE)
        for centre in np.linspace(-np.pi, np.pi, npieces, endpoint=False):
            off = np.abs(np.angle(np.exp(1j * (angle - centre))))
            extra[(radius > 11.2) & (radius < 12.9) & (off < width)] = 20.0
        pieces, count = ndimage.label(extra > 0, structure=np.ones((3, 3), bool))
        sizes = np.bincount(pieces.ravel())[1:]
        parts = sizes[sizes >= 20 // 4]  # big enough to count as parts of one feature
        assert count == npieces, sizes
        assert sizes.max() < 20 <= parts.sum(), sizes
        mask = transient_mask(_frame(reference, extra), reference, min_pixels=20)
        assert not mask.any(), (npieces, int(mask.sum()))
