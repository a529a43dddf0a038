"""Photometry result → diagnostics → file → validation → DATAVAL in the file → lightkurve."""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from tasoc_core.flags import DATAVAL
from tasoc_core.output import Provenance, read_dataval, update_dataval, write_lightcurve
from tasoc_core.photometry import compute_diagnostics
from tasoc_core.status import Status
from tasoc_core.validation import DEFAULT_VALIDATORS, validate_table


def test_validated_files(make_data, photometry, tmp_path, lightkurve):
    rows, paths = [], []
    tmags = [8.0, 9.0, 10.0, 11.0, 12.0]
    for i, tmag in enumerate(tmags):
        data = make_data(ncadences=96, tmag=tmag, seed=i, position=(500.3 + 30 * i, 900.6))
        # The faintest star gets a 2-pixel aperture (minimum 4): SmallMask, withheld.
        radius = {8.0: 3.5, 12.0: 0.75}.get(tmag, 2.5)  # 37, 21, 21, 21 and 2 pixels
        result = photometry(data, radius=radius)
        diagnostics = compute_diagnostics(result)
        paths.append(
            write_lightcurve(
                result,
                diagnostics,
                path=tmp_path,
                provenance=Provenance(method="aperture", plugin="aperture"),
                version=1,
            )
        )
        target = data.target
        row = {
            "priority": i + 1,
            "starid": target.starid + i,
            "tmag": target.tmag,
            "datasource": target.datasource,
            "cadence": target.cadence,
            "method": "aperture",
            "status": int(Status.OK),
            "ra": target.ra,
            "dec": target.dec,
        }
        row.update(
            {
                k: v
                for k, v in diagnostics.as_row().items()
                if k
                in ("mean_flux", "rms_hour", "ptp", "mask_size", "contamination", "minimal_mask")
            }
        )
        rows.append(row)

    dataval, approved, info = validate_table(Table(rows=rows), [c() for c in DEFAULT_VALIDATORS])
    assert dataval[-1] & DATAVAL["SmallMask"]
    assert approved.tolist() == [True, True, True, True, False]
    # The synthetic pixel noise (2 e-/s per pixel, no photon noise) is above what the noise
    # model expects on these stars, so nothing is flagged as quieter than possible.
    assert dataval[:4].tolist() == [0, 0, 0, 0]
    assert dataval[-1] == DATAVAL["SmallMask"]
    assert "aperture/c1800" in info
    for path, bits in zip(paths, dataval):
        update_dataval(path, int(bits))
        assert read_dataval(path) == bits
    lc = lightkurve.read(paths[-1], flux_column="flux_raw")
    assert lc.meta["DATAVAL"] == dataval[-1]
    assert np.isfinite(lc.flux.value).all()
