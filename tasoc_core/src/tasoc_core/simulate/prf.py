"""The simulator's pixel response function (PRF), in the format of the TESS PRF products.

Format (as the mission's ``tess…-prf-{cam}-{ccd}-row{RRRR}-col{CCCC}.fits`` files): per
camera/CCD a 5×5 grid of CCD positions (1-based rows 1, 513, 1025, 1536, 2048; columns 45,
557, 1069, 1580, 2092), one FITS file per position holding a 117×117 float image: the PRF
sampled 9 times per pixel over 13×13 pixels. Sample (i, j) (0-based) is the fraction of
the star's flux collected by a pixel whose centre is offset by ((i − 58)/9, (j − 58)/9)
pixels (rows, columns) from the star, i.e. the image of the PSF already integrated over a
pixel; sample (58, 58) is a star centred on the pixel. Summing the 13×13 samples of one
sub-pixel phase gives 1. Header keys: CAMERA, CCD, CCDROW, CCDCOL (1-based position),
OVERSAMP = 9, PRFCENT = 59 (1-based centre sample), FOCUS = 1.0.

The model is analytic: a core Gaussian elongated along the direction to the camera centre
(wider with field angle), a wider wing Gaussian (15 %) and a faint halo (3 %). The files
hold the **nominal focus**; the simulator applies a slow width scale on top (focus
variations, ``truth`` ``focus``), the PRF for scale s being P(d/s)/s².

Rendering interpolates the grid bilinearly to the star's CCD position and the image
bilinearly to the sub-pixel offsets (vectorised over stars).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from scipy.ndimage import map_coordinates, spline_filter, uniform_filter

from tasoc_core.exceptions import InputFileError

__all__ = [
    "GRID_COLS",
    "GRID_ROWS",
    "OVERSAMPLE",
    "PRF_PIXELS",
    "PRFModel",
    "analytic_prf_grid",
    "taylor_weights",
]

OVERSAMPLE = 9
PRF_PIXELS = 13
_SIZE = OVERSAMPLE * PRF_PIXELS  # 117
_CENTRE = _SIZE // 2  # 58
#: 0-based CCD rows and columns of the PRF grid positions.
GRID_ROWS = np.array([0, 512, 1024, 1535, 2047], dtype=float)
GRID_COLS = np.array([44, 556, 1068, 1579, 2091], dtype=float)


def _gauss2d(x: np.ndarray, y: np.ndarray, sx: float, sy: float) -> np.ndarray:
    return np.exp(-0.5 * ((x / sx) ** 2 + (y / sy) ** 2)) / (2 * np.pi * sx * sy)


def _analytic_prf(row: float, col: float, centre: tuple[float, float]) -> np.ndarray:
    """117×117 oversampled PRF at CCD position (row, col) for a camera centre (row, col)."""
    pad = OVERSAMPLE  # extra samples so the pixel box filter is exact at the edges
    n = _SIZE + 2 * pad
    off = (np.arange(n) - (_CENTRE + pad)) / OVERSAMPLE
    dy, dx = np.meshgrid(off, off, indexing="ij")
    vr, vc = row - centre[0], col - centre[1]
    radius = float(np.hypot(vr, vc))
    theta = np.arctan2(vr, vc)
    # Coordinates along (u) and across (v) the direction to the camera centre.
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    f = (radius / 3000.0) ** 2
    psf = (
        0.82 * _gauss2d(u, v, 0.55 * (1 + 0.7 * f), 0.55 * (1 + 0.2 * f))
        + 0.15 * _gauss2d(u, v, 1.4 * (1 + 0.4 * f), 1.4)
        + 0.03 * _gauss2d(u, v, 3.5, 3.5)
    ) / OVERSAMPLE**2
    # Integrate over a pixel: box filter of one pixel (9 samples), times 81 samples per pixel².
    prf = uniform_filter(psf, size=OVERSAMPLE, mode="constant") * OVERSAMPLE**2
    prf = prf[pad:-pad, pad:-pad]
    return prf / prf[_CENTRE % OVERSAMPLE :: OVERSAMPLE, _CENTRE % OVERSAMPLE :: OVERSAMPLE].sum()


def analytic_prf_grid(camera_centre: tuple[float, float]) -> np.ndarray:
    """The 5×5 grid of analytic PRFs (5, 5, 117, 117) for a CCD with this camera centre."""
    return np.array([[_analytic_prf(r, c, camera_centre) for c in GRID_COLS] for r in GRID_ROWS])


class PRFModel:
    """A grid of oversampled PRFs of one camera/CCD, interpolated to any star position.

    Parameters
    ----------
    images
        (5, 5, 117, 117) PRF images at (:data:`GRID_ROWS`, :data:`GRID_COLS`).
    camera, ccd
        Which CCD.
    """

    def __init__(self, images: np.ndarray, camera: int, ccd: int):
        images = np.asarray(images, dtype=np.float64)
        if images.shape != (GRID_ROWS.size, GRID_COLS.size, _SIZE, _SIZE):
            raise ValueError(f"PRF grid must be (5, 5, 117, 117), got {images.shape}")
        self.images = images
        self.camera = int(camera)
        self.ccd = int(ccd)
        # The PRF between samples is the cubic spline through them (smooth, C2), so that a
        # star shifted by a fraction of a sample changes its image smoothly.
        self._coeffs = np.array(
            [
                spline_filter(img, order=3, mode="grid-constant")
                for img in images.reshape(-1, _SIZE, _SIZE)
            ]
        )

    # -- files -----------------------------------------------------------------------
    @staticmethod
    def file_name(camera: int, ccd: int, row: int, col: int) -> str:
        """File name of one grid position (1-based row/col), like the mission's files."""
        return f"tasoc-sim-prf-{camera}-{ccd}-row{row:04d}-col{col:04d}.fits"

    def write(self, directory: Path, *, date: str = "simulated") -> list[Path]:
        """Write the grid as FITS files into ``directory/cam{c}_ccd{d}/``.

        ``date`` is the comment of the checksum cards (not the wall clock: same bytes for
        the same grid).
        """
        out = Path(directory) / f"cam{self.camera}_ccd{self.ccd}"
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, r in enumerate(GRID_ROWS):
            for j, c in enumerate(GRID_COLS):
                hdu = fits.PrimaryHDU(self.images[i, j].astype(np.float32))
                h = hdu.header
                h["CAMERA"] = (self.camera, "camera number")
                h["CCD"] = (self.ccd, "CCD number")
                h["CCDROW"] = (int(r) + 1, "[pixel] 1-based CCD row of this PRF")
                h["CCDCOL"] = (int(c) + 1, "[pixel] 1-based CCD column of this PRF")
                h["OVERSAMP"] = (OVERSAMPLE, "samples per pixel")
                h["PRFCENT"] = (_CENTRE + 1, "1-based sample of a pixel centred on the star")
                h["FOCUS"] = (1.0, "nominal focus (width scale)")
                h["ORIGIN"] = ("tasoc simulate", "analytic simulator PRF")
                path = out / self.file_name(self.camera, self.ccd, int(r) + 1, int(c) + 1)
                tmp = path.with_name(f".{path.name}.tmp")
                hdu.add_checksum(when=date)
                hdu.writeto(tmp, overwrite=True, checksum=False)
                tmp.replace(path)
                paths.append(path)
        return paths

    @classmethod
    def read(cls, directory: Path, camera: int, ccd: int) -> PRFModel:
        """Read a grid written by :meth:`write` (or laid out the same way).

        Raises
        ------
        InputFileError
            If a grid file is missing or has the wrong shape.
        """
        base = Path(directory) / f"cam{camera}_ccd{ccd}"
        images = np.empty((GRID_ROWS.size, GRID_COLS.size, _SIZE, _SIZE))
        for i, r in enumerate(GRID_ROWS):
            for j, c in enumerate(GRID_COLS):
                path = base / cls.file_name(camera, ccd, int(r) + 1, int(c) + 1)
                try:
                    data = fits.getdata(path)
                except (OSError, KeyError) as exc:
                    raise InputFileError(f"{path}: cannot read PRF ({exc})") from None
                if data.shape != (_SIZE, _SIZE):
                    raise InputFileError(f"{path}: PRF image is {data.shape}, not {(_SIZE, _SIZE)}")
                images[i, j] = data
        return cls(images, camera, ccd)

    # -- evaluation --------------------------------------------------------------------
    def _grid_weights(self, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat grid indices (N, 4) and bilinear weights (N, 4) for star positions."""

        def axis(x: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            x = np.clip(x, nodes[0], nodes[-1])
            i = np.clip(np.searchsorted(nodes, x, side="right") - 1, 0, nodes.size - 2)
            return i, (x - nodes[i]) / (nodes[i + 1] - nodes[i])

        ir, fr = axis(row, GRID_ROWS)
        ic, fc = axis(col, GRID_COLS)
        idx = np.stack(
            [ir * 5 + ic, ir * 5 + ic + 1, (ir + 1) * 5 + ic, (ir + 1) * 5 + ic + 1], axis=1
        )
        w = np.stack([(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc], axis=1)
        return idx, w

    def evaluate(self, row: np.ndarray, col: np.ndarray, drow: np.ndarray, dcol: np.ndarray,
                 scale: np.ndarray | float = 1.0) -> np.ndarray:  # fmt: skip
        """PRF value of pixels offset (drow, dcol) (…, P) from stars at CCD (row, col) (N,).

        ``drow``/``dcol`` are pixel centre minus star position, shape (N, P). ``scale`` is
        the focus width scale (scalar or broadcastable to (N, P)). Returns (N, P).
        """
        idx, w = self._grid_weights(np.asarray(row, float), np.asarray(col, float))
        y = _CENTRE + OVERSAMPLE * np.asarray(drow, dtype=float) / scale
        x = _CENTRE + OVERSAMPLE * np.asarray(dcol, dtype=float) / scale
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


def taylor_weights(drow: np.ndarray, dcol: np.ndarray, focus: np.ndarray) -> np.ndarray:
    """Weights (…, 10) that combine a :meth:`PRFModel.basis` for shifts and focus scales."""
    drow, dcol, focus = np.broadcast_arrays(
        np.asarray(drow, float), np.asarray(dcol, float), np.asarray(focus, float)
    )
    ds = focus - 1.0
    return np.stack(
        [
            np.ones_like(drow),
            drow,
            dcol,
            0.5 * drow**2,
            0.5 * dcol**2,
            drow * dcol,
            ds,
            0.5 * ds**2,
            drow * ds,
            dcol * ds,
        ],
        axis=-1,
    )
