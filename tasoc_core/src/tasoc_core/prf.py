"""Pixel response functions (PRFs) of the TESS cameras: reading, interpolating, rendering.

File format (the mission's PRF products, ``prf_fitsfiles`` at MAST, and the simulator's
copy of them): per camera/CCD a grid of CCD positions — 5×5 for the mission, 1-based rows
1, 513, 1025, 1536, 2048 and columns 45, 557, 1069, 1580, 2092 — and one FITS file per
position, named ``…-prf-{camera}-{ccd}-row{RRRR}-col{CCCC}.fits`` with the 1-based row and
column of the position, whose primary image is 117×117 floats: 13×13 pixels sampled 9 times
per pixel. The 9×9 sub-pixel phases are interleaved: sample (i, j) (0-based) is the fraction
of a star's flux collected by the pixel whose centre is offset ((i − 58)/9, (j − 58)/9)
pixels (rows, columns) from the star. The samples are therefore already integrated over a
pixel, and the 13×13 samples of one phase (every 9th sample) are the image of a star at that
sub-pixel position. Mission files sit in ``start_s0001/cam{c}_ccd{d}/`` (sectors 1–3) and
``start_s0004/cam{c}_ccd{d}/`` (sectors 4 on); the simulator writes ``cam{c}_ccd{d}/``.

Interpolation: in CCD position, bilinearly between the four surrounding grid positions (as
the mission's own PRF notebook does); between samples, by the cubic B-spline through them
(C², so a star moved by a fraction of a sample changes its image smoothly and positions
have continuous derivatives). "Integrating to pixels" is then evaluating that spline at the
pixel-centre offsets.

Two ways to render:

* :meth:`PRFModel.evaluate` / :meth:`PRFModel.stamps` / :meth:`PRFModel.basis`: arbitrary
  pixel offsets per star (the simulator renders with these);
* :meth:`PRFModel.for_stars` → :class:`StarPRFs`: the PRFs of a set of stars interpolated
  once to their CCD positions, then rendered on a stamp's pixel grid with analytic first and
  second derivatives with respect to the star positions (photometry fits use this; the
  separable evaluation costs a few small array operations per star).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
from astropy.io import fits
from scipy.ndimage import map_coordinates, spline_filter
from scipy.special import erf

from tasoc_core.exceptions import InputFileError

__all__ = [
    "GRID_COLS",
    "GRID_ROWS",
    "OVERSAMPLE",
    "PRF_CENTRE",
    "PRF_PIXELS",
    "PRF_SIZE",
    "PRFModel",
    "StarPRFs",
    "gaussian_prf_image",
]

logger = logging.getLogger(__name__)

#: Samples per pixel of the PRF images.
OVERSAMPLE = 9
#: Pixels covered by a PRF image along each axis.
PRF_PIXELS = 13
#: Samples along each axis of a PRF image (117).
PRF_SIZE = OVERSAMPLE * PRF_PIXELS
#: 0-based sample of a pixel centred on the star (58).
PRF_CENTRE = PRF_SIZE // 2
#: 0-based CCD rows and columns of the mission's PRF grid positions.
GRID_ROWS = np.array([0, 512, 1024, 1535, 2047], dtype=float)
GRID_COLS = np.array([44, 556, 1068, 1579, 2091], dtype=float)

_SIZE = PRF_SIZE
_CENTRE = PRF_CENTRE
# Zero samples added around each image before the spline coefficients are computed, so that
# the spline passes through every sample, the outermost ones included, and falls to zero
# beyond them (what scipy's map_coordinates does for mode "grid-constant" with prefiltering).
_PAD = 12
_PADDED = _SIZE + 2 * _PAD
_FILE_RE = r"-prf-{camera}-{ccd}-row(\d{{4}})-col(\d{{4}})\.fits(?:\.gz)?$"
_START_RE = re.compile(r"^start_s(\d{4})$")
# Files whose phases sum this far from 1 on average are rescaled on reading.
_NORM_TOLERANCE = 0.01


def gaussian_prf_image(sigma: float) -> np.ndarray:
    """117×117 PRF image of a circular Gaussian PSF of ``sigma`` pixels, integrated over pixels.

    Every sample is exact (error functions), so a phase sums to 1 up to the flux beyond
    ±6.5 pixels.
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    offset = (np.arange(_SIZE) - _CENTRE) / OVERSAMPLE
    s = np.sqrt(2.0) * sigma
    frac = 0.5 * (erf((offset + 0.5) / s) - erf((offset - 0.5) / s))
    return np.outer(frac, frac)


class PRFModel:
    """A grid of oversampled PRFs of one camera/CCD, interpolated to any star position.

    Parameters
    ----------
    images
        (R, C, 117, 117) PRF images at the grid positions.
    camera, ccd
        Which CCD.
    grid_rows, grid_cols
        0-based CCD rows (R,) and columns (C,) of the grid positions, increasing; default
        the mission's 5×5 grid (:data:`GRID_ROWS`, :data:`GRID_COLS`).
    origin
        Where the model came from (shown in light-curve headers and messages).
    """

    def __init__(
        self,
        images: np.ndarray,
        camera: int,
        ccd: int,
        *,
        grid_rows: np.ndarray = GRID_ROWS,
        grid_cols: np.ndarray = GRID_COLS,
        origin: str = "",
    ) -> None:
        images = np.asarray(images, dtype=np.float64)
        self.grid_rows = np.asarray(grid_rows, dtype=float)
        self.grid_cols = np.asarray(grid_cols, dtype=float)
        expected = (self.grid_rows.size, self.grid_cols.size, _SIZE, _SIZE)
        if images.shape != expected:
            raise ValueError(f"PRF grid must be {expected}, got {images.shape}")
        for name, nodes in (("grid_rows", self.grid_rows), ("grid_cols", self.grid_cols)):
            if nodes.size == 0 or np.any(np.diff(nodes) <= 0):
                raise ValueError(f"{name} must be non-empty and increasing, got {nodes}")
        self.images = images
        self.camera = int(camera)
        self.ccd = int(ccd)
        self.origin = origin
        # The PRF between samples is the cubic spline through them (smooth, C2), so that a
        # star shifted by a fraction of a sample changes its image smoothly.
        self._coeffs = np.array(
            [
                spline_filter(np.pad(img, _PAD), order=3, mode="grid-constant")
                for img in images.reshape(-1, _SIZE, _SIZE)
            ]
        )

    def __repr__(self) -> str:
        return (
            f"PRFModel(camera={self.camera}, ccd={self.ccd}, "
            f"grid={self.grid_rows.size}x{self.grid_cols.size}, origin={self.origin!r})"
        )

    @classmethod
    def gaussian(cls, sigma: float, camera: int = 1, ccd: int = 1) -> PRFModel:
        """The same pixel-integrated Gaussian PRF everywhere (synthetic data, tests)."""
        image = gaussian_prf_image(sigma)
        return cls(
            np.broadcast_to(image, (1, 1, _SIZE, _SIZE)),
            camera,
            ccd,
            grid_rows=np.array([1023.5]),
            grid_cols=np.array([1067.5]),
            origin=f"gaussian sigma={sigma:g} px",
        )

    # -- files -----------------------------------------------------------------------
    @staticmethod
    def file_name(camera: int, ccd: int, row: int, col: int) -> str:
        """File name the simulator gives one grid position (1-based row/col)."""
        return f"tasoc-sim-prf-{camera}-{ccd}-row{row:04d}-col{col:04d}.fits"

    def write(self, directory: Path, *, date: str = "simulated") -> list[Path]:
        """Write the grid as FITS files into ``directory/cam{c}_ccd{d}/``.

        ``date`` is the comment of the checksum cards (not the wall clock: same bytes for
        the same grid).
        """
        out = Path(directory) / f"cam{self.camera}_ccd{self.ccd}"
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, r in enumerate(self.grid_rows):
            for j, c in enumerate(self.grid_cols):
                row, col = round(r) + 1, round(c) + 1
                hdu = fits.PrimaryHDU(self.images[i, j].astype(np.float32))
                h = hdu.header
                h["CAMERA"] = (self.camera, "camera number")
                h["CCD"] = (self.ccd, "CCD number")
                h["CCDROW"] = (row, "[pixel] 1-based CCD row of this PRF")
                h["CCDCOL"] = (col, "[pixel] 1-based CCD column of this PRF")
                h["OVERSAMP"] = (OVERSAMPLE, "samples per pixel")
                h["PRFCENT"] = (_CENTRE + 1, "1-based sample of a pixel centred on the star")
                h["FOCUS"] = (1.0, "nominal focus (width scale)")
                h["ORIGIN"] = ("tasoc simulate", "analytic simulator PRF")
                path = out / self.file_name(self.camera, self.ccd, row, col)
                tmp = path.with_name(f".{path.name}.tmp")
                hdu.add_checksum(when=date)
                hdu.writeto(tmp, overwrite=True, checksum=False)
                tmp.replace(path)
                paths.append(path)
        return paths

    @classmethod
    def read(cls, directory: Path, camera: int, ccd: int, *, sector: int | None = None) -> PRFModel:
        """Read the PRF files of one camera/CCD.

        ``directory`` may be the mission's layout (``start_s0001/``, ``start_s0004/``, …
        each holding ``cam{c}_ccd{d}/``: the latest set starting at or before ``sector`` is
        used, the latest of all when ``sector`` is None), a directory holding
        ``cam{c}_ccd{d}/`` (the simulator's), or the directory of the files themselves.
        Files are recognised by their names (``…-prf-{c}-{d}-row{RRRR}-col{CCCC}.fits``);
        they must form a complete rectangular grid. Values are used as they are, unless the
        phases sum to more than 1 % from 1 on average, in which case the whole grid is
        rescaled so that they sum to 1 (a PRF in other units).

        Raises
        ------
        InputFileError
            Naming the directory or file: no PRF files, an incomplete grid, two files for
            one position, an unreadable file, an image that is not 117×117 or not finite, a
            header whose CAMERA, CCD or sampling disagrees.
        """
        base = Path(directory)
        if not base.is_dir():
            raise InputFileError(f"{base}: PRF directory does not exist")
        starts = sorted(
            (int(m.group(1)), p)
            for p in base.iterdir()
            if p.is_dir() and (m := _START_RE.match(p.name))
        )
        if starts:
            usable = [p for first, p in starts if sector is None or first <= sector]
            if not usable:
                raise InputFileError(
                    f"{base}: no PRF set starts at or before sector {sector} "
                    f"(found {', '.join(p.name for _, p in starts)})"
                )
            base = usable[-1]
        sub = base / f"cam{camera}_ccd{ccd}"
        if sub.is_dir():
            base = sub
        pattern = re.compile(_FILE_RE.format(camera=int(camera), ccd=int(ccd)))
        found: dict[tuple[int, int], Path] = {}
        for path in sorted(base.iterdir()):
            m = pattern.search(path.name)
            if m is None or not path.is_file():
                continue
            key = (int(m.group(1)), int(m.group(2)))
            if key in found:
                raise InputFileError(
                    f"{base}: two PRF files for row {key[0]} column {key[1]}: "
                    f"{found[key].name} and {path.name}"
                )
            found[key] = path
        if not found:
            raise InputFileError(
                f"{base}: no PRF files of camera {camera} CCD {ccd} "
                f"(*-prf-{camera}-{ccd}-rowRRRR-colCCCC.fits)"
            )
        rows = sorted({k[0] for k in found})
        cols = sorted({k[1] for k in found})
        missing = [(r, c) for r in rows for c in cols if (r, c) not in found]
        if missing:
            listed = ", ".join(f"row {r} column {c}" for r, c in missing[:4])
            raise InputFileError(
                f"{base}: PRF grid of camera {camera} CCD {ccd} is incomplete: no file for "
                f"{listed}{' …' if len(missing) > 4 else ''}"
            )
        images = np.empty((len(rows), len(cols), _SIZE, _SIZE))
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                images[i, j] = _read_prf_file(found[(r, c)], camera, ccd)
        model = cls(
            images,
            camera,
            ccd,
            grid_rows=np.array(rows, float) - 1.0,
            grid_cols=np.array(cols, float) - 1.0,
            origin=str(base),
        )
        phase_sum = float(images.sum(axis=(2, 3)).mean()) / OVERSAMPLE**2
        if abs(phase_sum - 1.0) > _NORM_TOLERANCE:
            logger.info("%s: PRF phases sum to %.4g on average; rescaled to 1", base, phase_sum)
            model = cls(
                images / phase_sum,
                camera,
                ccd,
                grid_rows=model.grid_rows,
                grid_cols=model.grid_cols,
                origin=str(base),
            )
        return model

    # -- evaluation --------------------------------------------------------------------
    def _grid_weights(self, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat grid indices (N, 4) and bilinear weights (N, 4) for star positions."""

        def axis(x: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            if nodes.size == 1:
                zero = np.zeros(np.shape(x), dtype=np.int64)
                return zero, zero, np.zeros(np.shape(x))
            x = np.clip(x, nodes[0], nodes[-1])
            i = np.clip(np.searchsorted(nodes, x, side="right") - 1, 0, nodes.size - 2)
            return i, i + 1, (x - nodes[i]) / (nodes[i + 1] - nodes[i])

        ncol = self.grid_cols.size
        ir, ir1, fr = axis(row, self.grid_rows)
        ic, ic1, fc = axis(col, self.grid_cols)
        idx = np.stack([ir * ncol + ic, ir * ncol + ic1, ir1 * ncol + ic, ir1 * ncol + ic1], axis=1)
        w = np.stack([(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc], axis=1)
        return idx, w

    def image_at(self, row: float, col: float) -> np.ndarray:
        """The 117×117 PRF image interpolated to CCD position (row, col)."""
        idx, w = self._grid_weights(np.array([float(row)]), np.array([float(col)]))
        flat = self.images.reshape(-1, _SIZE, _SIZE)
        return np.einsum("k,kij->ij", w[0], flat[idx[0]])

    def evaluate(self, row: np.ndarray, col: np.ndarray, drow: np.ndarray, dcol: np.ndarray,
                 scale: np.ndarray | float = 1.0) -> np.ndarray:  # fmt: skip
        """PRF value of pixels offset (drow, dcol) (…, P) from stars at CCD (row, col) (N,).

        ``drow``/``dcol`` are pixel centre minus star position, shape (N, P). ``scale`` is
        the focus width scale (scalar or broadcastable to (N, P)). Returns (N, P).
        """
        idx, w = self._grid_weights(np.asarray(row, float), np.asarray(col, float))
        y = _CENTRE + _PAD + OVERSAMPLE * np.asarray(drow, dtype=float) / scale
        x = _CENTRE + _PAD + OVERSAMPLE * np.asarray(dcol, dtype=float) / scale
        out = np.zeros(np.shape(y))
        # Stars sharing a grid cell share the four corner images: evaluate per cell.
        cells = idx[:, 0]
        for cell in np.unique(cells):
            sel = np.flatnonzero(cells == cell)
            coords = np.stack([y[sel].ravel(), x[sel].ravel()])
            for k in range(4):
                val = map_coordinates(
                    self._coeffs[idx[sel[0], k]],
                    coords,
                    order=3,
                    mode="grid-constant",
                    cval=0.0,
                    prefilter=False,
                ).reshape(sel.size, -1)
                out[sel] += w[sel, k : k + 1] * val
        return out / scale**2

    def stamps(self, row: np.ndarray, col: np.ndarray, size: int, *,
               shift: tuple[np.ndarray | float, np.ndarray | float] = (0.0, 0.0),
               scale: np.ndarray | float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """Pixel images of stars: (N, size²) fractions of flux, and their pixel rows/cols.

        The stamp of each star is ``size``×``size`` pixels centred on the pixel holding
        its (unshifted) position; the star is displaced by ``shift`` (Δrow, Δcol) and its
        PRF widened by ``scale`` (scalars or one value per star).
        """
        row = np.asarray(row, float)
        col = np.asarray(col, float)
        half = size // 2
        r0 = np.round(row).astype(np.int64) - half
        c0 = np.round(col).astype(np.int64) - half
        pr = r0[:, None] + np.repeat(np.arange(size), size)[None, :]
        pc = c0[:, None] + np.tile(np.arange(size), size)[None, :]
        dr = np.broadcast_to(np.asarray(shift[0], float), row.shape)[:, None]
        dc = np.broadcast_to(np.asarray(shift[1], float), row.shape)[:, None]
        sc = np.broadcast_to(np.asarray(scale, float), row.shape)[:, None]
        vals = self.evaluate(row, col, pr - (row[:, None] + dr), pc - (col[:, None] + dc), sc)
        return vals, pr, pc

    def basis(
        self, row: np.ndarray, col: np.ndarray, size: int, h: float = 0.05, eps: float = 0.02
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Taylor basis of star stamps for pointing shifts and focus changes.

        Returns ``B`` (N, 10, size²) such that the stamp of a star displaced by (δr, δc)
        with width scale s = 1 + σ is, to second order in the shift and σ::

            B @ [1, δr, δc, δr²/2, δc²/2, δr·δc, σ, σ²/2, δr·σ, δc·σ]

        (accurate to ~1e-4 of the peak for shifts below 0.05 px; the simulator renders
        frames with larger shifts exactly).

        and the pixel rows/cols (N, size²).
        """
        s0, pr, pc = self.stamps(row, col, size)

        def at(dr: float, dc: float, s: float = 1.0) -> np.ndarray:
            return self.stamps(row, col, size, shift=(dr, dc), scale=s)[0]

        rp, rm, cp, cm = at(h, 0), at(-h, 0), at(0, h), at(0, -h)
        pp, pm, mp, mm = at(h, h), at(h, -h), at(-h, h), at(-h, -h)
        sp, sm = at(0, 0, 1 + eps), at(0, 0, 1 - eps)
        basis = np.stack(
            [
                s0,
                (rp - rm) / (2 * h),
                (cp - cm) / (2 * h),
                (rp - 2 * s0 + rm) / h**2,
                (cp - 2 * s0 + cm) / h**2,
                (pp - pm - mp + mm) / (4 * h * h),
                (sp - sm) / (2 * eps),
                (sp - 2 * s0 + sm) / eps**2,
                (at(h, 0, 1 + eps) - at(h, 0, 1 - eps) - at(-h, 0, 1 + eps) + at(-h, 0, 1 - eps))
                / (4 * h * eps),
                (at(0, h, 1 + eps) - at(0, h, 1 - eps) - at(0, -h, 1 + eps) + at(0, -h, 1 - eps))
                / (4 * h * eps),
            ],
            axis=1,
        )
        return basis, pr, pc

    def for_stars(self, row: np.ndarray, col: np.ndarray) -> StarPRFs:
        """The PRFs of stars at CCD positions (row, col) (N,), ready to render on stamps.

        The grid is interpolated once to each star's position; rendering the star a small
        distance away (pointing jitter, a fitted offset) keeps that interpolated PRF, which
        changes by far less than its own accuracy over a pixel (the grid spacing is ~500 px).
        """
        row = np.atleast_1d(np.asarray(row, dtype=float))
        col = np.atleast_1d(np.asarray(col, dtype=float))
        if row.shape != col.shape or row.ndim != 1:
            raise ValueError(
                f"row and col must be 1-D of equal length, got {row.shape}, {col.shape}"
            )
        idx, w = self._grid_weights(row, col)
        coeffs = np.einsum("nk,nkij->nij", w, self._coeffs[idx])
        return StarPRFs(coeffs)


def _bspline3(t: np.ndarray, order: int) -> np.ndarray:
    """Cubic B-spline β₃(t) (order 0) or its first or second derivative."""
    a = np.abs(t)
    inner = a < 1.0
    outer = (a >= 1.0) & (a < 2.0)
    if order == 0:
        return np.where(
            inner, 2.0 / 3.0 - a * a + 0.5 * a**3, np.where(outer, (2.0 - a) ** 3 / 6.0, 0.0)
        )
    if order == 1:
        s = np.sign(t)
        return np.where(
            inner, s * (1.5 * a * a - 2.0 * a), np.where(outer, -0.5 * s * (2.0 - a) ** 2, 0.0)
        )
    if order == 2:
        return np.where(inner, 3.0 * a - 2.0, np.where(outer, 2.0 - a, 0.0))
    raise ValueError(f"derivative order must be 0, 1 or 2, got {order}")


def _axis_weights(
    centres: np.ndarray, star: np.ndarray, orders: tuple[int, ...]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sample indices (N, P, 4) and B-spline weights per order for pixel centres on one axis.

    ``centres`` (P,) are pixel centres, ``star`` (N,) star positions on the same axis. The
    weights of derivative order k are already multiplied by d(sample)/d(star)^k = (−9)^k.
    """
    u = _CENTRE + _PAD + OVERSAMPLE * (centres[None, :] - star[:, None])  # (N, P)
    first = np.floor(u).astype(np.int64) - 1
    idx = first[:, :, None] + np.arange(4)  # (N, P, 4)
    t = u[:, :, None] - idx
    valid = (idx >= 0) & (idx < _PADDED)
    weights = [np.where(valid, _bspline3(t, k), 0.0) * (-float(OVERSAMPLE)) ** k for k in orders]
    return np.clip(idx, 0, _PADDED - 1), weights


class StarPRFs:
    """PRFs of N stars, each interpolated to its CCD position, rendered on pixel grids.

    Made by :meth:`PRFModel.for_stars`. Rendering is separable: the spline coefficients of
    each star are combined along rows, then along columns, so a (rows × cols) stamp costs
    O(N · rows · 141) operations.
    """

    def __init__(self, coeffs: np.ndarray) -> None:
        self._coeffs = np.asarray(coeffs, dtype=np.float64)  # (N, 141, 141), see _PAD

    def __len__(self) -> int:
        return self._coeffs.shape[0]

    def subset(self, index: np.ndarray) -> StarPRFs:
        """The PRFs of the selected stars (index or boolean mask)."""
        return StarPRFs(self._coeffs[index])

    def render(
        self,
        row: np.ndarray,
        col: np.ndarray,
        origin: tuple[int, int],
        shape: tuple[int, int],
        *,
        order: int = 0,
    ) -> np.ndarray:
        """Unit-flux images of the stars at (row, col) on a stamp, and their derivatives.

        Parameters
        ----------
        row, col
            CCD positions (N,) of the stars (0-based, pixel centres at integers).
        origin
            CCD (row, col) of the stamp's first pixel.
        shape
            (rows, cols) of the stamp.
        order
            0: the images; 1: also ∂/∂row and ∂/∂col of the star position; 2: also
            ∂²/∂row², ∂²/∂col² and ∂²/∂row∂col.

        Returns
        -------
        numpy.ndarray
            (K, N, rows, cols) with K = 1, 3 or 6 in the order [value, d_row, d_col,
            d_row², d_col², d_row d_col]. Beyond the 13×13 pixels of the PRF images the
            values fall to zero within a pixel.
        """
        if order not in (0, 1, 2):
            raise ValueError(f"order must be 0, 1 or 2, got {order}")
        row = np.atleast_1d(np.asarray(row, dtype=float))
        col = np.atleast_1d(np.asarray(col, dtype=float))
        n = len(self)
        if row.shape != (n,) or col.shape != (n,):
            raise ValueError(f"need {n} star positions, got {row.shape} and {col.shape}")
        orders = tuple(range(order + 1))
        rows = origin[0] + np.arange(shape[0], dtype=float)
        cols = origin[1] + np.arange(shape[1], dtype=float)
        ridx, rw = _axis_weights(rows, row, orders)  # (N, H, 4)
        cidx, cw = _axis_weights(cols, col, orders)  # (N, W, 4)
        # Gather the 4 coefficient rows each pixel row needs: (N, H, 4, 141).
        gathered = self._coeffs[np.arange(n)[:, None, None], ridx]
        # Partial sums over rows for each row-derivative order: (N, H, 141).
        along = [np.einsum("nhk,nhks->nhs", w, gathered) for w in rw]
        # Then over columns: pick 4 columns per pixel column, weight them.
        nidx = np.arange(n)[:, None, None, None]
        hidx = np.arange(shape[0])[None, :, None, None]

        def cols_of(partial: np.ndarray, w: np.ndarray) -> np.ndarray:
            picked = partial[nidx, hidx, cidx[:, None, :, :]]  # (N, H, W, 4)
            return np.einsum("nhwk,nwk->nhw", picked, w)

        out = [cols_of(along[0], cw[0])]
        if order >= 1:
            out += [cols_of(along[1], cw[0]), cols_of(along[0], cw[1])]
        if order >= 2:
            out += [cols_of(along[2], cw[0]), cols_of(along[0], cw[2]), cols_of(along[1], cw[1])]
        return np.stack(out)


def _read_prf_file(path: Path, camera: int, ccd: int) -> np.ndarray:
    try:
        with fits.open(path, memmap=False) as hdul:
            header = hdul[0].header
            data = hdul[0].data
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: cannot read PRF ({exc})") from None
    if data is None or data.shape != (_SIZE, _SIZE):
        shape = None if data is None else data.shape
        raise InputFileError(f"{path}: PRF image is {shape}, not {(_SIZE, _SIZE)}")
    data = np.asarray(data, dtype=np.float64)
    if not np.all(np.isfinite(data)):
        raise InputFileError(f"{path}: PRF image holds non-finite values")
    for key, want in (("CAMERA", camera), ("CCD", ccd)):
        if key in header and int(header[key]) != int(want):
            raise InputFileError(f"{path}: header {key} = {header[key]}, expected {want}")
    if "OVERSAMP" in header and int(header["OVERSAMP"]) != OVERSAMPLE:
        raise InputFileError(f"{path}: OVERSAMP = {header['OVERSAMP']}, expected {OVERSAMPLE}")
    for key in ("CDELT1P", "CDELT2P"):
        if key in header and abs(float(header[key]) - 1.0 / OVERSAMPLE) > 1e-3:
            raise InputFileError(
                f"{path}: {key} = {header[key]} pixels per sample, expected 1/{OVERSAMPLE}"
            )
    return data
