"""The ``aperture`` photometry method: K2P2 masks, stamp growth, light curve, contamination."""

from __future__ import annotations

import logging

import attrs
import numpy as np

from tasoc_aperture.contamination import contamination, prf_contamination, stars_in_aperture
from tasoc_aperture.extraction import extract_light_curve
from tasoc_aperture.k2p2 import MaskSet, StampStars, create_masks
from tasoc_aperture.settings import ApertureSettings
from tasoc_aperture.trimming import snr_trim
from tasoc_core.data import TargetData
from tasoc_core.exceptions import TargetError
from tasoc_core.families import PhotometryMethod, PhotometryResult
from tasoc_core.flags import TESS_DEFAULT_BITMASK
from tasoc_core.photometry.magnitudes import mag_to_flux
from tasoc_core.prf import PRF_PIXELS
from tasoc_core.status import Status

__all__ = [
    "SIDES",
    "ApertureChoice",
    "AperturePhotometry",
    "cadence_noise",
    "minimum_aperture",
    "stamp_stars",
    "sum_image_noise",
    "touching_sides",
]

logger = logging.getLogger(__name__)

#: Stamp sides in the vocabulary of :meth:`TargetData.resized`: rows below (``down``, row 0 of
#: the stamp), rows above (``up``), columns to the left (``left``, column 0) and right.
SIDES = ("down", "up", "left", "right")

# The sum image's uncertainty is estimated from at most this many cadences of the error cube.
_NOISE_SAMPLE = 64


def _mag_to_flux(tmag: float) -> float:
    return float(mag_to_flux(tmag))


def _edge_pixels(shape: tuple[int, int], side: str) -> tuple[slice | int, slice | int]:
    return {
        "down": (0, slice(None)),
        "up": (shape[0] - 1, slice(None)),
        "left": (slice(None), 0),
        "right": (slice(None), shape[1] - 1),
    }[side]


def touching_sides(aperture: np.ndarray) -> tuple[str, ...]:
    """The stamp sides (see :data:`SIDES`) on which ``aperture`` has at least one pixel."""
    return tuple(side for side in SIDES if aperture[_edge_pixels(aperture.shape, side)].any())


def _edge_flux(image: np.ndarray, aperture: np.ndarray, sides: tuple[str, ...]) -> float:
    border = np.zeros(aperture.shape, dtype=bool)
    for side in sides:
        border[_edge_pixels(aperture.shape, side)] = True
    return float(np.nansum(np.where(border & aperture, image, 0.0)))


def minimum_aperture(position: tuple[float, float], collected: np.ndarray) -> np.ndarray:
    """The 2×2 pixels whose centres surround ``position`` (stamp coordinates), if collected.

    Pixel centres are at integers, so these are rows ``floor(row)`` and ``floor(row) + 1``
    and likewise for columns: the pixel holding the star and its neighbours on the side the
    star is offset to.
    """
    mask = np.zeros(collected.shape, dtype=bool)
    r0, c0 = int(np.floor(position[0])), int(np.floor(position[1]))
    rs = slice(max(r0, 0), max(min(r0 + 2, mask.shape[0]), 0))
    cs = slice(max(c0, 0), max(min(c0 + 2, mask.shape[1]), 0))
    mask[rs, cs] = True
    return mask & collected


def cadence_noise(data: TargetData) -> np.ndarray:
    """Per-pixel typical 1σ uncertainty (e-/s) of one cadence.

    The RMS over an evenly spaced sample of at most 64 cadences of the uncertainty cube;
    NaN where a pixel has no finite uncertainty.
    """
    err = data.images_err
    sample = err[:: max(1, err.shape[0] // _NOISE_SAMPLE)]
    finite = np.isfinite(sample)
    squares = np.where(finite, np.square(sample, dtype=np.float64), 0.0).sum(axis=0)
    count = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(squares / count)


def sum_image_noise(data: TargetData) -> np.ndarray:
    """Per-pixel 1σ uncertainty (e-/s) of the sum image, the mean of the good cadences.

    ``σ_mean = σ_cadence / sqrt(N_good)`` with σ_cadence from :func:`cadence_noise`.
    """
    good = (data.quality & TESS_DEFAULT_BITMASK) == 0
    ngood = int(good.sum()) or len(good)
    return cadence_noise(data) / np.sqrt(ngood)


def stamp_stars(data: TargetData) -> StampStars:
    """Catalog stars around the stamp in stamp coordinates; the target is always included."""
    stars = data.stars
    starid, row, col, tmag = stars.starid, stars.row, stars.col, stars.tmag
    if data.target.starid not in starid:
        starid = np.append(starid, data.target.starid)
        row = np.append(row, data.position[0])
        col = np.append(col, data.position[1])
        tmag = np.append(tmag, data.target.tmag)
    return StampStars(
        starid=starid, row=row - data.stamp.row_min, col=col - data.stamp.col_min, tmag=tmag
    )


@attrs.frozen
class ApertureChoice:
    """The aperture chosen for a target on one stamp.

    Attributes
    ----------
    aperture
        Boolean image of the target's pixels.
    minimal
        True when no K2P2 mask held the target and the 2×2 minimum aperture was used.
    masks
        Every mask K2P2 found on the stamp.
    stars
        Catalog stars in stamp coordinates.
    """

    aperture: np.ndarray
    minimal: bool
    masks: MaskSet
    stars: StampStars


class AperturePhotometry(PhotometryMethod):
    """K2P2 aperture photometry: threshold, DBSCAN clusters, star-seeded watershed."""

    name = "aperture"
    Settings = ApertureSettings

    def choose_aperture(self, data: TargetData) -> ApertureChoice:
        """Run K2P2 on the stamp's sum image and pick the mask holding the target.

        Raises
        ------
        TargetError
            If the target lies outside the stamp or no pixel around it was collected.
        """
        image = np.asarray(data.sumimage, dtype=np.float64)
        collected = np.isfinite(image)
        if not collected.any():
            raise TargetError(f"{data.target}: no collected pixel in stamp {data.stamp.as_tuple()}")
        position = data.position_in_stamp
        r, c = int(np.floor(position[0] + 0.5)), int(np.floor(position[1] + 0.5))
        if not (0 <= r < image.shape[0] and 0 <= c < image.shape[1]):
            raise TargetError(
                f"{data.target}: position (row {data.position[0]:.2f}, col "
                f"{data.position[1]:.2f}) is outside stamp {data.stamp.as_tuple()}"
            )
        stars = stamp_stars(data)
        masks = create_masks(image, stars, self.settings, noise=sum_image_noise(data))
        label = int(masks.labels[r, c])
        if label > 0:
            return ApertureChoice(masks.labels == label, False, masks, stars)
        aperture = minimum_aperture(position, collected)
        if not aperture.any():
            raise TargetError(f"{data.target}: no collected pixel at the target position")
        return ApertureChoice(aperture, True, masks, stars)

    def _max_resizes(self, data: TargetData) -> int:
        s = self.settings
        return s.max_resizes_bright if data.target.tmag < s.bright_tmag else s.max_resizes

    def _quick_break(
        self, data: TargetData, choice: ApertureChoice, stuck: tuple[str, ...]
    ) -> None:
        """Give up early on a bright primary whose aperture is cut by an edge that cannot move."""
        s = self.settings
        target = data.target
        if not stuck or target.is_secondary or target.tmag > s.haloswitch_tmag:
            return
        fraction = _edge_flux(data.sumimage, choice.aperture, stuck) / _mag_to_flux(target.tmag)
        if fraction > s.edge_flux_limit:
            raise TargetError(
                f"{target}: aperture reaches the {'/'.join(stuck)} edge of stamp "
                f"{data.stamp.as_tuple()}, which cannot grow, with {fraction:.1%} of the "
                f"star's flux on the edge (limit {s.edge_flux_limit:.1%})",
                tags={"edge"},
            )

    def photometry(self, data: TargetData) -> PhotometryResult:
        """Measure the target with K2P2 aperture photometry (see the package README)."""
        s = self.settings
        target = data.target
        max_resizes = self._max_resizes(data)
        resizes = 0
        while True:
            choice = self.choose_aperture(data)
            sides = () if choice.minimal else touching_sides(choice.aperture)
            if not sides:
                break
            grown, moved = None, ()
            if target.is_ffi:
                grown = data.resized(**{side: s.resize_step for side in sides})
                old, new = data.stamp, grown.stamp
                moved = tuple(
                    side
                    for side, changed in zip(
                        SIDES,
                        (
                            new.row_min < old.row_min,
                            new.row_max > old.row_max,
                            new.col_min < old.col_min,
                            new.col_max > old.col_max,
                        ),
                    )
                    if changed and side in sides
                )
            self._quick_break(data, choice, tuple(x for x in sides if x not in moved))
            if not moved:
                break
            if resizes >= max_resizes:
                raise TargetError(
                    f"{target}: aperture still touches the {'/'.join(sides)} edge of stamp "
                    f"{data.stamp.as_tuple()} after {resizes} resizes (limit {max_resizes})",
                    tags={"edge"},
                )
            logger.debug("%s: aperture touches %s; growing stamp", target, "/".join(moved))
            data = grown
            resizes += 1
        return self._result(data, choice)

    def _result(self, data: TargetData, choice: ApertureChoice) -> PhotometryResult:
        s = self.settings
        target = data.target
        aperture = choice.aperture
        if s.snr_trim and not choice.minimal:
            aperture = snr_trim(
                aperture,
                data.sumimage,
                cadence_noise(data),
                min_flux_fraction=s.min_flux_fraction,
                min_pixels=s.min_pixels,
            )
        lc = extract_light_curve(
            data.images,
            data.images_err,
            data.backgrounds,
            aperture,
            origin=(data.stamp.row_min, data.stamp.col_min),
        )
        status = Status.OK
        warnings: list[str] = []
        tags: set[str] = set()
        if choice.minimal:
            status = Status.WARNING
            tags.add("minimal-aperture")
            warnings.append(
                "Using minimum aperture: no K2P2 mask contains the target, "
                f"the {int(aperture.sum())} pixels around its position were used"
            )
        sides = () if choice.minimal else touching_sides(aperture)
        edge_flux = _edge_flux(data.sumimage, aperture, touching_sides(aperture))
        if sides:
            fraction = edge_flux / _mag_to_flux(target.tmag)
            message = (
                f"aperture touches the {'/'.join(sides)} edge of stamp {data.stamp.as_tuple()}, "
                f"which cannot grow; {fraction:.2%} of the catalog flux is on edge pixels"
            )
            if fraction > s.edge_flux_limit:
                # Kept OK, as in the original: the edge of a TPF or of the detector is a
                # fact of the data; the tag lets rules send bright stars to another method.
                tags.add("edge")
            warnings.append(message)
        others = stars_in_aperture(choice.stars, aperture, target.starid)
        catalog_cont = contamination(target.tmag, others.tmag)
        cont = catalog_cont
        if data.prf is not None:
            # With the PRF, the light every star puts on the aperture (paper 003's Eq. 2
            # only counts stars whose position is inside it: a lower bound).
            ap_rows, ap_cols = np.nonzero(aperture)
            cont = prf_contamination(
                data.prf,
                data.stars_near(PRF_PIXELS // 2 + 1),
                target.starid,
                ap_rows + data.stamp.row_min,
                ap_cols + data.stamp.col_min,
            )
            if not np.isfinite(cont):
                cont = catalog_cont
        if cont > s.crowded_limit:
            tags.add("crowded")
        brighter = others.brighter_than(target.tmag, target.starid)
        if brighter:
            warnings.append(
                "brighter stars inside the aperture: " + ", ".join(f"TIC {t}" for t in brighter)
            )
        if (choice.masks.saturated & aperture).any():
            tags.add("saturated")
        if not np.any(np.isfinite(lc.flux)):
            raise TargetError(f"{target}: every cadence of the aperture sum is NaN")
        th = choice.masks.threshold
        # edge_flux and stamp_resizes are standard diagnostics computed by core.
        diagnostics = {
            "edge_fraction": edge_flux / _mag_to_flux(target.tmag),
            "k2p2_mask_pixels": float(choice.aperture.sum()),
            "k2p2_masks": float(choice.masks.count),
            "k2p2_clusters": float(choice.masks.nclusters),
            "k2p2_cut": th.cut if th is not None else float("nan"),
            "k2p2_mode": th.mode if th is not None else float("nan"),
            "k2p2_mad": th.mad if th is not None else float("nan"),
        }
        return PhotometryResult(
            data=data,
            flux=lc.flux,
            flux_err=lc.flux_err,
            background=lc.background,
            centroid=lc.centroid,
            aperture=aperture,
            status=status,
            warnings=tuple(warnings),
            tags=frozenset(tags),
            contamination=cont,
            skip_targets=others.fainter_than(target.tmag, target.starid),
            headers=self.headers(cont, catalog_cont, self._max_resizes(data)),
            diagnostics=diagnostics,
        )

    def headers(
        self, contamination: float, catalog_contamination: float, max_resizes: int
    ) -> dict[str, tuple[object, str]]:
        """Light-curve header cards recording the K2P2 settings and the contamination (the
        one reported, and paper 003's Eq. 2)."""
        s = self.settings
        return {
            "KP_THRES": (s.thresh, "K2P2 sum-image threshold"),
            "KP_MIPIX": (s.min_pixels, "K2P2 min pixels in mask"),
            "KP_MICLS": (s.min_for_cluster, "K2P2 min pix. for cluster"),
            "KP_CLSRA": (s.cluster_radius, "K2P2 cluster radius"),
            "KP_WS": (s.segmentation, "K2P2 watershed segmentation"),
            "KP_WSBLR": (s.ws_blur, "K2P2 watershed blur"),
            "KP_WSTHR": (s.ws_threshold, "K2P2 watershed threshold"),
            "KP_WSFOT": (s.ws_footprint, "K2P2 watershed footprint"),
            "KP_NFLOR": (s.noise_floor, "K2P2 noise floor [sigma of sum image]"),
            "KP_EX": (s.extend_overflow, "K2P2 extend overflow"),
            "KP_SNRTR": (s.snr_trim, "aperture trimmed to best S/N"),
            "KP_MINFF": (s.min_flux_fraction, "min flux fraction kept by trimming"),
            "KP_SATLM": (s.saturation_limit, "[mag] K2P2 saturation limit"),
            "KP_RSTEP": (s.resize_step, "[pixels] stamp resize step"),
            "KP_RSMAX": (max_resizes, "max stamp resizes for this star"),
            "AP_CONT": (contamination, "AP contamination (PRF if available)"),
            "AP_CONTC": (catalog_contamination, "AP contamination, catalog (Eq. 2)"),
        }
