"""WCS helpers shared by readers and writers."""

from __future__ import annotations

from astropy.wcs import WCS, Sip

__all__ = ["shift_wcs"]


def shift_wcs(wcs: WCS, row_offset: float, col_offset: float) -> WCS:
    """A copy of ``wcs`` whose pixel coordinates are shifted by (row_offset, col_offset).

    Pixel (x, y) of ``wcs`` becomes (x + col_offset, y + row_offset) of the result: use
    the origin of a sub-image to go from image to CCD coordinates, and minus a stamp's
    corner to go from CCD to stamp coordinates. SIP distortion keeps its own reference
    pixel, which must move with CRPIX or the distortion is evaluated at the wrong place.
    """
    shifted = wcs.deepcopy()
    crpix = [wcs.wcs.crpix[0] + col_offset, wcs.wcs.crpix[1] + row_offset]
    shifted.wcs.crpix = crpix
    if wcs.sip is not None:
        shifted.sip = Sip(wcs.sip.a, wcs.sip.b, wcs.sip.ap, wcs.sip.bp, crpix)
    shifted.wcs.set()
    return shifted
