"""tasoc-cbv: co-trending basis vectors per CBV area (paper 004 §3.1).

Library use::

    from tasoc_cbv import CBVCorrector, build_cbvs, fit_cbvs, read_cbv_fits, read_spoc_cbvs
"""

from __future__ import annotations

from tasoc_cbv.basis import CBVCoefficients, CBVSet, snr_db
from tasoc_cbv.build import CBVBuildError, build_cbv_set, build_cbvs, fit_area_coefficients
from tasoc_cbv.corrector import CBVCorrector, area_of
from tasoc_cbv.fit import CBVFit, FitError, fit_cbvs
from tasoc_cbv.io import (
    cbv_filename,
    find_spoc_cbv_files,
    read_cbv_fits,
    read_spoc_cbvs,
    write_cbv_fits,
)
from tasoc_cbv.prior import CoefficientPrior, neighbour_prior
from tasoc_cbv.settings import CBVBuildSettings, CBVSettings

__all__ = [
    "CBVBuildError",
    "CBVBuildSettings",
    "CBVCoefficients",
    "CBVCorrector",
    "CBVFit",
    "CBVSet",
    "CBVSettings",
    "CoefficientPrior",
    "FitError",
    "area_of",
    "build_cbv_set",
    "build_cbvs",
    "cbv_filename",
    "find_spoc_cbv_files",
    "fit_area_coefficients",
    "fit_cbvs",
    "neighbour_prior",
    "read_cbv_fits",
    "read_spoc_cbvs",
    "snr_db",
    "write_cbv_fits",
]
