"""Validators: data-validation (DATAVAL) flags for a group of photometry results."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

import attrs
import numpy as np
from astropy.table import Table

from tasoc_core.families._base import PluginClass

__all__ = ["VALIDATION_COLUMNS", "ValidationResult", "Validator"]

#: Columns of the table every validator receives (one row per target).
VALIDATION_COLUMNS: Mapping[str, str] = {
    "priority": "TODO-file row of the target",
    "starid": "TIC number",
    "tmag": "TESS magnitude",
    "datasource": "'ffi', 'tpf' or 'tpf:<TIC>'",
    "cadence": "cadence in seconds",
    "method": "photometry method that produced the result",
    "status": "photometry Status (integer)",
    "mean_flux": "median flux of good cadences, e-/s",
    "rms_hour": "robust RMS of relative flux on 1-hour bins (fraction)",
    "ptp": "median absolute point-to-point difference of relative flux (fraction)",
    "mask_size": "pixels in the photometric aperture",
    "contamination": "contamination metric (NaN if not computed)",
    "minimal_mask": "True if the method fell back to its minimum aperture",
    "ra": "right ascension, degrees",
    "dec": "declination, degrees",
}


@attrs.frozen
class ValidationResult:
    """DATAVAL bits per row, plus anything the validator measured on the group."""

    flags: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=np.int64))
    info: Mapping[str, float] = attrs.field(factory=dict)


class Validator(PluginClass, ABC):
    """Base class of validators.

    Validators look at a whole group of results at once (one sector, cadence and photometry
    method), because several checks compare a target with the population, e.g. the
    magnitude–flux relation and its fitted zero point.

    Contract
    --------
    A validator

    * shall return one integer per input row holding only bits of
      :data:`tasoc_core.flags.DATAVAL`;
    * shall return 0 for rows it has no opinion on;
    * shall not modify the table and shall not read or write files.
    """

    @abstractmethod
    def validate(self, table: Table) -> ValidationResult:
        """Compute DATAVAL bits for every row of ``table`` (see :data:`VALIDATION_COLUMNS`)."""
