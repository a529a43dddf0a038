"""A halo result through core's diagnostics and light-curve writer, read back as users do."""

from __future__ import annotations

import warnings

import numpy as np
from astropy.io import fits

from tasoc_core.output import Provenance, write_lightcurve
from tasoc_core.photometry import compute_diagnostics


def test_halo_light_curve_file(bright_star_result, tmp_path):
    result = bright_star_result
    diagnostics = compute_diagnostics(result)
    assert diagnostics.extra["halo_saturated"] == result.headers["HALO_SAT"][0]
    assert diagnostics.extra["halo_bleed"] == result.headers["HALO_BLD"][0]
    assert diagnostics.extra["halo_segments"] == 2
    path = write_lightcurve(
        result,
        diagnostics,
        path=tmp_path,
        provenance=Provenance(method="halo", plugin="halo", distribution="tasoc-halo"),
        version=1,
    )
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == [
            "PRIMARY",
            "LIGHTCURVE",
            "SUMIMAGE",
            "APERTURE",
            "WEIGHTMAP",
        ]
        assert hdul[0].header["PHOTMET"] == "halo"
        assert hdul[0].header["NEXTEND"] == 4
        cards = {**hdul[0].header, **hdul[1].header}
        for key in ("HALO_OBJ", "HALO_SAT", "HALO_SCL", "HALO_NSG"):
            assert cards[key] == result.headers[key][0]
        maps = hdul["WEIGHTMAP"].data["WEIGHTMAP"]
        assert maps.shape == (2, *result.data.stamp.shape)
        np.testing.assert_allclose(maps.sum(axis=(1, 2)), 1.0, rtol=1e-6)
        # The APERTURE image marks the pixels with weight as the photometric mask (bit 2).
        aperture = hdul["APERTURE"].data
        np.testing.assert_array_equal((aperture & 2) > 0, np.any(maps > 0, axis=0))
        flux = hdul["LIGHTCURVE"].data["FLUX_RAW"]
        np.testing.assert_allclose(flux, result.flux[np.isfinite(result.data.time)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lightkurve

        lc = lightkurve.read(path, flux_column="flux_raw")
    assert np.nanmedian(lc.flux.value) == np.nanmedian(result.flux)
