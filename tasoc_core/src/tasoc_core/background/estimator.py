"""The default background estimator: square tiles plus a radial corner-glow component.

This is the SE-style method of paper 003 §3.2 (and Appendix A):

1. Pixels that are masked by the caller, non-finite, negative or above ``flux_cutoff``
   are not used.
2. *Square component*: the image is cut into ``box × box`` tiles; in each tile the values
   are sigma-clipped about the median and a statistic taken: by default the least-squares
   plane through the kept pixels read at the tile centre (``_plane``), or the paper's
   SExtractor mode (``2.5·median − 1.5·mean``, or the median when
   ``|mean − median|/std ≥ 0.3``), the mean or the median. Tiles
   with more than ``exclude_fraction`` of their pixels masked or clipped are filled by
   inverse-distance weighting of their neighbours; the grid is median-filtered
   (``filter_size × filter_size``) and expanded to full size with a bicubic spline.
3. *Radial component*: pixels farther than ``radial_start`` from the camera boresight
   are binned in rings ``radial_step`` wide, the same clipped mode is taken per ring, the
   profile is smoothed with a running median of ``radial_smooth`` rings and a
   least-squares cubic spline in radius (knots ``radial_knot_spacing`` apart). It is
   measured relative to the innermost ring, so it is zero at and inside ``radial_start``
   and carries only the corner glow.
4. Radial from ``I − B_square``, then square from ``I − B_radial``, ``iterations`` times;
   the background is ``B_square + B_radial``.

Departures from the original code (documented in ``docs/prepare.md``): the ring
statistic is the same clipped SExtractor mode as the tiles (as the paper describes) rather
than a KDE mode of log-flux, and the radial component is anchored at zero at the inner
edge instead of extrapolating the first ring's value over the whole CCD (the sum is the
same, the split is cleaner). Because only tiles touching the rings change between
iterations, the other tiles are measured once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import attrs
import numpy as np
from scipy.interpolate import BSpline, make_interp_spline, make_lsq_spline

from tasoc_core.background._clip import ClippedModes, clipped_modes
from tasoc_core.background._grid import TileLayout, fill_grid, median_filter_grid, spline_knots
from tasoc_core.background._plane import plane_at_centres
from tasoc_core.background._radial import RingLayout
from tasoc_core.families.background import BackgroundEstimate, BackgroundEstimator, FrameGeometry

__all__ = ["TasocBackground", "TasocBackgroundSettings"]


def _at_least(low: float) -> Callable[[object, attrs.Attribute, float], None]:
    def check(instance: object, attribute: attrs.Attribute, value: float) -> None:
        if not value >= low:
            raise ValueError(f"{attribute.name} must be at least {low}, got {value!r}")

    return check


def _fraction(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


def _odd(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 1 or value % 2 == 0:
        raise ValueError(f"{attribute.name} must be a positive odd number, got {value!r}")


@attrs.frozen(kw_only=True)
class TasocBackgroundSettings:
    """Settings of the ``tasoc`` background estimator (``[prepare.estimators.tasoc]``)."""

    #: Pixels brighter than this (e-/s) are not used (saturated stars and their bleed).
    flux_cutoff: float = attrs.field(default=8e4, validator=_at_least(0.0))
    #: Tile size in pixels.
    box: int = attrs.field(default=64, validator=_at_least(4))
    #: Statistic of the clipped pixels of a tile or ring: the SExtractor mode of the paper
    #: (2.5·median − 1.5·mean, robust in crowded tiles), the mean (half the noise of the
    #: mode; right when stars are masked beforehand), the median, or ``plane``: the
    #: least-squares plane through the same pixels read at the tile centre (the mean for
    #: rings), which a mask on one side of a tile under a sky gradient does not bias.
    statistic: Literal["sextractor", "mean", "median", "plane"] = "plane"
    #: Sigma-clipping threshold (standard deviations about the median). It assumes the
    #: caller has masked the stars (prepare's source mask, on by default); the clip is then
    #: only a guard against what is left of outliers. A lower threshold cuts into the
    #: unresolved faint field below the source mask's own threshold, and the pixels near
    #: the cut go in and out from frame to frame: on the simulated demo sector a 5σ clip
    #: took 2 457 px per frame, 479 of them changing between frames, and raised the
    #: estimate's frame-to-frame error from 0.0065 to 0.0107 e-/s/px (3σ also made it
    #: follow the scattered light by ±10 %). Without a source mask use 3–5σ, or star
    #: wings enter the background.
    sigma: float = attrs.field(default=8.0, validator=_at_least(0.5))
    #: Maximum sigma-clipping iterations per tile or ring.
    maxiters: int = attrs.field(default=5, validator=_at_least(1))
    #: A tile is re-filled from its neighbours when more than this fraction of its pixels
    #: is masked or clipped (photutils' ``exclude_percentile`` / 100).
    exclude_fraction: float = attrs.field(default=0.5, validator=_fraction)
    #: Size of the moving median over the tile grid.
    filter_size: int = attrs.field(default=3, validator=_odd)
    #: The median filter works around a least-squares bicubic spline surface through the
    #: tile grid with knots this far apart (pixels; 0: around a plane). The median of a
    #: curved sky is not its centre value: around a plane, the estimate kept a share of
    #: the scattered light that changed with it.
    filter_surface_spacing: float = attrs.field(default=256.0, validator=_at_least(0.0))
    #: Square/radial alternations.
    iterations: int = attrs.field(default=3, validator=_at_least(1))
    #: Model the corner glow with a radial component.
    radial: bool = True
    #: Inner radius of the rings, pixels from the camera boresight.
    radial_start: float = attrs.field(default=2400.0, validator=_at_least(0.0))
    #: Ring width in pixels.
    radial_step: float = attrs.field(default=15.0, validator=_at_least(1.0))
    #: Running median over this many rings before interpolation.
    radial_smooth: int = attrs.field(default=3, validator=_odd)
    #: Knot spacing (pixels of radius) of the least-squares cubic spline through the ring
    #: profile. Ring-to-ring scatter is noise (the glow changes over hundreds of pixels),
    #: and interpolating it linearly put it into every pixel of the corner.
    radial_knot_spacing: float = attrs.field(default=90.0, validator=_at_least(1.0))
    #: Outer rings with fewer pixels are merged inwards.
    min_ring_pixels: int = attrs.field(default=200, validator=_at_least(10))


def _profile_spline(
    centres: np.ndarray, profile: np.ndarray, weights: np.ndarray, spacing: float
) -> BSpline:
    """Least-squares cubic spline through a ring profile, knots about ``spacing`` apart.

    Every piece spans at least two rings: a spline with as many coefficients as rings
    interpolates their noise and swings between them. Falls back to interpolating the
    profile linearly where the rings are too few or too unevenly spread for the knots.
    """
    n = len(centres)
    knots, k = spline_knots(centres, spacing, min(n, (n - 1) // 2 + 3))
    try:
        return make_lsq_spline(centres, profile, knots, k=k, w=weights)
    except (ValueError, np.linalg.LinAlgError):
        return make_interp_spline(centres, profile, k=1)


@attrs.frozen(eq=False)
class _Geometry:
    """Everything about one image geometry that does not depend on pixel values."""

    tiles: TileLayout
    rings: RingLayout | None
    ring_tile: np.ndarray  # tile of each ring pixel
    ring_offset: np.ndarray  # offset within its tile
    affected: np.ndarray  # tiles holding ring pixels (ascending)
    ring_local_tile: np.ndarray  # index of each ring pixel's tile within ``affected``
    ring_bbox_index: np.ndarray  # flat index of each ring pixel within the ring bbox


class TasocBackground(BackgroundEstimator):
    """Square 64-px tiles plus a radial corner-glow component (paper 003 §3.2)."""

    name = "tasoc"
    Settings = TasocBackgroundSettings

    def __init__(self, settings: TasocBackgroundSettings | None = None) -> None:
        super().__init__(settings)
        self._geometries: dict[tuple[Any, ...], _Geometry] = {}

    # -- geometry ---------------------------------------------------------------------------

    def _geometry(self, shape: tuple[int, int], geometry: FrameGeometry) -> _Geometry:
        key = (shape, geometry.origin, geometry.camera_centre)
        cached = self._geometries.get(key)
        if cached is not None:
            return cached
        s = self.settings
        tiles = TileLayout(shape, s.box)
        rings = None
        if s.radial:
            rings = RingLayout.build(
                geometry.radius(shape),
                start=s.radial_start,
                step=s.radial_step,
                min_pixels=s.min_ring_pixels,
            )
        if rings is None:
            empty = np.zeros(0, dtype=np.int64)
            geo = _Geometry(tiles, None, empty, empty, empty, empty, empty)
        else:
            tile, offset = tiles.position(rings.pixels)
            affected, local = np.unique(tile, return_inverse=True)
            rows, cols = np.divmod(rings.pixels, shape[1])
            rs, cs = rings.bbox
            bbox_index = (rows - rs.start) * (cs.stop - cs.start) + (cols - cs.start)
            geo = _Geometry(tiles, rings, tile, offset, affected, local, bbox_index)
        if len(self._geometries) > 8:
            self._geometries.clear()
        self._geometries[key] = geo
        return geo

    # -- components -------------------------------------------------------------------------

    def _tile_stats(
        self, tiles: np.ndarray, sizes: np.ndarray, centres: np.ndarray, *, scratch: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Clipped modes of tile rows, NaN where too few pixels survive; plus clip bounds.

        ``sizes`` are the tiles' image pixels: a partial tile at the image edge (NaN
        padding) is judged by the fraction of its own pixels that survive, otherwise a
        clean partial tile would be discarded and filled from its neighbours, which breaks
        any gradient there. ``centres`` are the tiles' ``TileLayout.centre_offsets``. With
        ``scratch`` the rows may be sorted in place (the caller's temporary copy).
        """
        s = self.settings
        plane = s.statistic == "plane"
        res = clipped_modes(
            tiles, sigma=s.sigma, maxiters=s.maxiters, overwrite=scratch and not plane
        )
        keep = res.count > (1.0 - s.exclude_fraction) * sizes
        if plane:
            with np.errstate(invalid="ignore"):
                kept = (tiles >= res.low[:, None]) & (tiles <= res.high[:, None])
            value = plane_at_centres(tiles, kept, centres, s.box)
        else:
            value = self._statistic(res)
        return np.where(keep, value, np.nan), res.low, res.high

    def _statistic(self, res: ClippedModes) -> np.ndarray:
        return {"sextractor": res.mode, "mean": res.mean, "median": res.median, "plane": res.mean}[
            self.settings.statistic
        ]

    def _square(self, geo: _Geometry, modes: np.ndarray) -> np.ndarray | None:
        grid = modes.reshape(geo.tiles.grid_shape)
        if np.isnan(grid).all():
            return None
        s = self.settings
        return median_filter_grid(
            fill_grid(grid), s.filter_size, geo.tiles.centres, s.filter_surface_spacing or None
        )

    def _radial(self, rings: RingLayout, values: np.ndarray) -> np.ndarray:
        """Radial component at the ring pixels, from their (square-subtracted) values."""
        s = self.settings
        res = clipped_modes(rings.matrix(values), sigma=s.sigma, maxiters=s.maxiters)
        ok = res.count > (1.0 - s.exclude_fraction) * rings.sizes
        if ok.sum() < 2:
            return np.zeros(len(values), dtype=np.float32)
        centres = rings.centres[ok]
        profile = self._statistic(res)[ok]
        if s.radial_smooth > 1 and len(profile) >= s.radial_smooth:
            half = s.radial_smooth // 2
            padded = np.pad(profile, half, mode="edge")
            windows = np.lib.stride_tricks.sliding_window_view(padded, s.radial_smooth)
            profile = np.median(windows, axis=1)
        spline = _profile_spline(centres, profile, np.sqrt(res.count[ok]), s.radial_knot_spacing)
        # Sampled every pixel of radius and interpolated: evaluating the spline at each of
        # the million ring pixels of a full CCD took ~13 ms per iteration.
        grid = np.arange(centres[0], centres[-1] + 1.0)
        values = np.interp(rings.radius, grid, spline(np.minimum(grid, centres[-1])))
        # Beyond the outermost ring centre (the tip of the corner, where the glow is
        # steepest) continue with the end slope rather than holding it constant.
        outer = rings.radius > centres[-1]
        values[outer] = spline(centres[-1]) + spline(centres[-1], 1) * (
            rings.radius[outer] - centres[-1]
        )
        return (values - spline(centres[0])).astype(np.float32)

    # -- the estimate -----------------------------------------------------------------------

    def estimate(
        self, image: np.ndarray, *, mask: np.ndarray, geometry: FrameGeometry
    ) -> BackgroundEstimate:
        s = self.settings
        image = np.asarray(image)
        if image.ndim != 2:
            raise ValueError(f"image must be 2-D, got shape {image.shape}")
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != image.shape:
            raise ValueError(f"mask has shape {mask.shape}, image {image.shape}")
        shape = (int(image.shape[0]), int(image.shape[1]))
        data = image.astype(np.float32, copy=True)
        # NaN fails both comparisons and ±inf fails one, so this also masks non-finite values.
        with np.errstate(invalid="ignore"):
            unusable = ~((data >= 0) & (data <= s.flux_cutoff))
        unusable |= mask
        np.copyto(data, np.float32(np.nan), where=unusable)
        nothing = BackgroundEstimate(np.full(shape, np.nan, np.float32), np.zeros(shape, bool))
        if unusable.all():
            return nothing

        geo = self._geometry(shape, geometry)
        layout = geo.tiles
        tiles = layout.tiles(data)
        rings = geo.rings
        modes = np.full(layout.ntiles, np.nan)
        low = np.full(layout.ntiles, np.nan)
        high = np.full(layout.ntiles, np.nan)
        # Tiles without ring pixels do not change between iterations: measure them once.
        fixed = np.ones(layout.ntiles, dtype=bool)
        fixed[geo.affected] = False
        if fixed.any():
            modes[fixed], low[fixed], high[fixed] = self._tile_stats(
                tiles[fixed], layout.pixel_counts[fixed], layout.centre_offsets[fixed], scratch=True
            )
        radial = None
        if rings is not None:
            ring_values = data.ravel()[rings.pixels]
            affected_tiles = tiles[geo.affected]
            square_at_rings = np.zeros(len(ring_values), dtype=np.float32)
            for _ in range(s.iterations):
                radial = self._radial(rings, ring_values - square_at_rings)
                work = affected_tiles.copy()
                work[geo.ring_local_tile, geo.ring_offset] -= radial
                m, lo, hi = self._tile_stats(
                    work, layout.pixel_counts[geo.affected], layout.centre_offsets[geo.affected]
                )
                modes[geo.affected], low[geo.affected], high[geo.affected] = m, lo, hi
                grid = self._square(geo, modes)
                if grid is None:
                    break
                rs, cs = rings.bbox
                square_at_rings = layout.expand(grid, rs, cs).ravel()[geo.ring_bbox_index]
            tiles[geo.affected] = work
        grid = self._square(geo, modes)
        if grid is None:
            # Too few clean pixels in every tile: fall back to one clipped mode of all of them.
            level = clipped_modes(data.reshape(1, -1), sigma=s.sigma, maxiters=s.maxiters).mode[0]
            if not np.isfinite(level):
                return nothing
            background = np.full(shape, level, dtype=np.float32)
            return BackgroundEstimate(background, ~unusable)
        background = layout.expand(grid)
        if radial is not None:
            background.ravel()[rings.pixels] += radial
        with np.errstate(invalid="ignore"):
            used_tiles = (tiles >= low[:, None]) & (tiles <= high[:, None])
        used_tiles &= np.isfinite(modes)[:, None]
        used = layout.untile(used_tiles) & ~unusable
        return BackgroundEstimate(background.astype(np.float32, copy=False), used)
