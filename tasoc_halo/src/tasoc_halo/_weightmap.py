"""The WEIGHTMAP extension: one row of pixel weights per segment."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.io import fits

from tasoc_core.data import Stamp

__all__ = ["weightmap_hdu"]


def weightmap_hdu(
    stamp: Stamp,
    maps: Sequence[np.ndarray],
    cadenceno: Sequence[tuple[int, int]],
    sat_pixels: Sequence[int],
    masked_pixels: Sequence[int],
    objective: Sequence[float],
    norm: Sequence[float],
) -> fits.BinTableHDU:
    """Build the WEIGHTMAP binary table.

    Parameters
    ----------
    stamp
        Stamp the maps cover (the light curve's final stamp).
    maps
        Weight image (rows, cols) per segment: the weight of each pixel in the normalised
        light curve, zero for pixels not used.
    cadenceno
        First and last cadence number of each segment.
    sat_pixels, masked_pixels
        Pixels discarded as saturated and masked as other stars, per segment.
    objective
        Final (exact) TV objective value per segment.
    norm
        Factor turning the weighted pixel sum into flux (e-/s) per segment.

    Returns
    -------
    astropy.io.fits.BinTableHDU
        Columns CADENCENO1, CADENCENO2, SAT_PIXELS (J), MASKED_PIXELS, NPIX (J), TV, NORM
        (D) and WEIGHTMAP (``<rows·cols>E`` with ``TDIM = (cols,rows)``), named WEIGHTMAP.
    """
    rows, cols = stamp.shape
    cube = np.asarray(np.stack(maps), dtype=np.float32).reshape(len(maps), rows, cols)
    first = np.array([c[0] for c in cadenceno], dtype=np.int32)
    last = np.array([c[1] for c in cadenceno], dtype=np.int32)
    columns = [
        fits.Column(name="CADENCENO1", format="J", array=first),
        fits.Column(name="CADENCENO2", format="J", array=last),
        fits.Column(name="SAT_PIXELS", format="J", array=np.asarray(sat_pixels, np.int32)),
        fits.Column(name="MASKED_PIXELS", format="J", array=np.asarray(masked_pixels, np.int32)),
        fits.Column(name="NPIX", format="J", array=np.count_nonzero(cube, axis=(1, 2))),
        fits.Column(name="TV", format="D", array=np.asarray(objective, float)),
        fits.Column(name="NORM", format="D", unit="e-/s", array=np.asarray(norm, float)),
        fits.Column(name="WEIGHTMAP", format=f"{rows * cols}E", dim=f"({cols},{rows})", array=cube),
    ]
    hdu = fits.BinTableHDU.from_columns(columns, name="WEIGHTMAP")
    header = hdu.header
    header["ROW_0"] = (stamp.row_min, "0-based CCD row of WEIGHTMAP[..., 0, 0]")
    header["COL_0"] = (stamp.col_min, "0-based CCD column of WEIGHTMAP[..., 0, 0]")
    header["TTYPE1"] = ("CADENCENO1", "first cadence of the segment")
    header["TTYPE2"] = ("CADENCENO2", "last cadence of the segment")
    header["TTYPE3"] = ("SAT_PIXELS", "pixels discarded as saturated")
    header["TTYPE4"] = ("MASKED_PIXELS", "pixels masked as other stars")
    header["TTYPE5"] = ("NPIX", "pixels with non-zero weight")
    header["TTYPE6"] = ("TV", "TV objective at the final weights")
    header["TTYPE7"] = ("NORM", "[e-/s] flux per unit weighted pixel sum")
    header["TTYPE8"] = ("WEIGHTMAP", "pixel weights, summing to 1 per segment")
    return hdu
