"""Shifting a TAN-SIP WCS keeps the distortion in the right place."""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS, Sip

from tasoc_core.wcs import shift_wcs


def sip_wcs() -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    wcs.wcs.crval = [319.4, -41.3]
    wcs.wcs.crpix = [1045.0, 1001.0]
    wcs.wcs.cd = [[0.00548, -0.00173], [0.00159, 0.00544]]
    a = np.zeros((3, 3))
    b = np.zeros((3, 3))
    a[0, 2], a[2, 0], b[1, 1] = 2e-5, 3e-6, 1.7e-5
    wcs.sip = Sip(a, b, None, None, wcs.wcs.crpix)
    return wcs


def test_shifted_wcs_maps_the_same_sky_to_shifted_pixels():
    wcs = sip_wcs()
    x = np.array([10.0, 500.0, 1900.0])
    y = np.array([30.0, 1500.0, 2000.0])
    ra, dec = wcs.all_pix2world(x, y, 0)
    shifted = shift_wcs(wcs, row_offset=-1258, col_offset=376)
    x2, y2 = shifted.all_world2pix(ra, dec, 0)
    np.testing.assert_allclose(x2, x + 376, atol=1e-6)
    np.testing.assert_allclose(y2, y - 1258, atol=1e-6)
    assert wcs.wcs.crpix[0] == 1045.0  # the original is untouched
