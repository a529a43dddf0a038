"""Per-cadence images of the modelled stars, following the pointing jitter.

The stars move with the pointing offset of each cadence. Rendering every star on every
cadence exactly would cost a few hundred milliseconds per target, so cadences are grouped by
their offset on a grid of ``step`` pixels: the PRFs and their first and second derivatives
with respect to position are rendered once at each group's centre, and each cadence's
images are the second-order Taylor expansion around it. With ``step`` = 0.05 px the
expansion is used at most 0.025 px (per axis) from where it was rendered, which keeps its
error below 3e-5 of a star's peak pixel (measured in the tests: a fifth of the photon noise
of the peak pixel of a Tmag 8 star in a 30-min FFI).
"""

from __future__ import annotations

import collections

import attrs
import numpy as np

from tasoc_psf._stars import StarSelection

__all__ = [
    "Design",
    "JitterGroups",
    "jitter_groups",
    "pixel_grid",
    "taylor_weights",
    "width_derivatives",
]

# Terms of the expansion: 1, δr, δc, δr²/2, δc²/2, δr·δc (matching StarPRFs.render order 2).
_TERMS = 6
# Memory for rendered groups; beyond it the least recently used are rendered again if needed.
_CACHE_BYTES = 128 * 2**20


@attrs.frozen
class JitterGroups:
    """Cadences grouped by pointing offset.

    Attributes
    ----------
    reference
        Median pointing offset (Δrow, Δcol) over the cadences where it is known.
    offsets
        Pointing offset per cadence (T, 2); unknown offsets are replaced by ``reference``.
    centres
        Offset at the centre of each group (G, 2).
    group
        Group of each cadence (T,).
    """

    reference: np.ndarray
    offsets: np.ndarray
    centres: np.ndarray
    group: np.ndarray

    @property
    def delta(self) -> np.ndarray:
        """Offset of each cadence from its group's centre (T, 2)."""
        return self.offsets - self.centres[self.group]


def jitter_groups(pos_corr: np.ndarray, step: float) -> JitterGroups:
    """Group cadences by pointing offset ``pos_corr`` (T, 2) on a grid of ``step`` pixels."""
    offsets = np.array(pos_corr, dtype=float).reshape(-1, 2)
    known = np.all(np.isfinite(offsets), axis=1)
    reference = np.median(offsets[known], axis=0) if known.any() else np.zeros(2)
    offsets[~known] = reference
    keys = np.round((offsets - reference) / step).astype(np.int64)
    if len(keys) == 0:
        return JitterGroups(reference, offsets, reference[None, :], np.zeros(0, np.int64))
    unique, group = np.unique(keys, axis=0, return_inverse=True)
    return JitterGroups(reference, offsets, reference + unique * step, group.reshape(-1))


def taylor_weights(delta: np.ndarray) -> np.ndarray:
    """Weights (T, 6) of the expansion terms for offsets ``delta`` (T, 2)."""
    dr, dc = delta[:, 0], delta[:, 1]
    return np.column_stack([np.ones_like(dr), dr, dc, 0.5 * dr * dr, 0.5 * dc * dc, dr * dc])


def pixel_grid(origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """CCD (row, col) of the pixels of a stamp, (2, rows · cols) in flattened order."""
    return np.indices(shape).reshape(2, -1).astype(float) + np.array(origin, float)[:, None]


def width_derivatives(
    terms: np.ndarray, pixels: np.ndarray, positions: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Derivative of unit-flux images with respect to a relative change of the PRF width.

    A PRF P widened by s is P(d / s) / s², whose derivative at s = 1 is
    D = −2P − d·∇_d P = −2U + d_r ∂U/∂row + d_c ∂U/∂col, with d = pixel − star and
    ∇_d = −∇_star (the render's derivatives are with respect to the star).

    Parameters
    ----------
    terms
        (K, N, P) images and their position derivatives from :meth:`StarPRFs.render`
        (K = 3 or 6).
    pixels
        (2, P) CCD row/col of the pixels (:func:`pixel_grid`).
    positions
        (N, 2) CCD row/col of the stars the terms were rendered at.

    Returns
    -------
    tuple of numpy.ndarray
        (D,) for K = 3; (D, ∂D/∂row, ∂D/∂col) for K = 6, each (N, P).
    """
    d_r = pixels[0][None, :] - positions[:, :1]
    d_c = pixels[1][None, :] - positions[:, 1:]
    width = -2.0 * terms[0] + d_r * terms[1] + d_c * terms[2]
    if len(terms) < 6:
        return (width,)
    u_r, u_c, u_rr, u_cc, u_rc = terms[1:6]
    width_r = -3.0 * u_r + d_r * u_rr + d_c * u_rc
    width_c = -3.0 * u_c + d_r * u_rc + d_c * u_cc
    return width, width_r, width_c


class Design:
    """Design matrices of the fitted stars plus the summed image of the fixed ones.

    Parameters
    ----------
    selection
        The modelled stars.
    groups
        The cadences' pointing groups.
    origin, shape
        CCD (row, col) of the stamp's first pixel and the stamp's (rows, cols).

    Notes
    -----
    Column ``k < n_fit`` of a cadence's matrix is the unit-flux image of fitted star k
    (flattened stamp); the last column is the sum of the fixed stars' images times their
    catalog fluxes, in e-/s. :meth:`width_column` gives the derivative of the whole model
    with respect to a common PRF width scale (focus changes).
    """

    def __init__(
        self,
        selection: StarSelection,
        groups: JitterGroups,
        origin: tuple[int, int],
        shape: tuple[int, int],
    ) -> None:
        self.groups = groups
        self.n_fit = selection.n_fit
        self._selection = selection
        self.origin = origin
        self.shape = shape
        self._npix = shape[0] * shape[1]
        self._pix = pixel_grid(origin, shape)
        self._weights = taylor_weights(groups.delta)
        # Groups are rendered when first needed and kept while they fit in the budget
        # (cadences come in time order and the pointing wanders slowly, so the groups of a
        # chunk are mostly those of the previous one).
        per_group = (_TERMS + 1) * self._npix * (self.n_fit + 1) * 8
        self._keep = max(4, _CACHE_BYTES // per_group)
        self._cache: collections.OrderedDict[int, tuple[np.ndarray, np.ndarray]] = (
            collections.OrderedDict()
        )

    @property
    def n_groups(self) -> int:
        return len(self.groups.centres)

    def _group(self, g: int) -> tuple[np.ndarray, np.ndarray]:
        """Taylor terms (6, P, n_fit + 1) and width derivative (P, n_fit + 1) of group g."""
        if g in self._cache:
            self._cache.move_to_end(g)
            return self._cache[g]
        sel = self._selection
        nfit = self.n_fit
        rows, cols = sel.stars.row, sel.stars.col
        fixed_flux = sel.catalog_flux[nfit:]
        dr, dc = self.groups.centres[g]
        terms = sel.prfs.render(rows + dr, cols + dc, self.origin, self.shape, order=2)
        terms = terms.reshape(_TERMS, len(rows), self._npix)
        basis = np.empty((_TERMS, self._npix, nfit + 1))
        basis[:, :, :nfit] = terms[:, :nfit].transpose(0, 2, 1)
        basis[:, :, nfit] = np.einsum("knp,n->kp", terms[:, nfit:], fixed_flux)
        positions = np.column_stack([rows + dr, cols + dc])
        scale = width_derivatives(terms[:3], self._pix, positions)[0]  # (N, P)
        width = np.empty((self._npix, nfit + 1))
        width[:, :nfit] = scale[:nfit].T
        width[:, nfit] = fixed_flux @ scale[nfit:]
        self._cache[g] = (basis, width)
        while len(self._cache) > self._keep:
            self._cache.popitem(last=False)
        return basis, width

    def width_column(self, cadences: slice | np.ndarray, fitted_flux: np.ndarray) -> np.ndarray:
        """Change (t, pixels) of the whole model per unit relative change of the PRF width.

        The fitted stars at ``fitted_flux`` (n,), the fixed ones at their catalog flux; the
        derivative is taken at each cadence's group centre (it is itself a ~1 % correction,
        so the few hundredths of a pixel to the cadence's own offset do not matter).
        """
        group = self.groups.group[cadences]
        weights = np.append(fitted_flux, 1.0)
        out = np.empty((len(group), self._npix))
        for g in np.unique(group):
            out[group == g] = self._group(int(g))[1] @ weights
        return out

    def matrices(self, cadences: slice | np.ndarray) -> np.ndarray:
        """Design matrices (t, pixels, n_fit + 1) of ``cadences`` (a slice or indices)."""
        group = self.groups.group[cadences]
        weights = self._weights[cadences]
        npix, ncol = self._npix, self.n_fit + 1
        out = np.empty((len(group), npix, ncol))
        for g in np.unique(group):
            sel = np.flatnonzero(group == g)
            basis = self._group(int(g))[0]
            flat = weights[sel] @ basis.reshape(_TERMS, npix * ncol)
            out[sel] = flat.reshape(len(sel), npix, ncol)
        return out
