"""Catalog sources: where the stars of a CCD footprint come from (a TIC extract, a database)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

import numpy as np
from astropy.table import Table

from tasoc_core.families._base import PluginClass

__all__ = ["CATALOG_COLUMNS", "CatalogSource"]

#: Columns a catalog source returns.
CATALOG_COLUMNS: Mapping[str, str] = {
    "starid": "TIC number (int64)",
    "ra": "right ascension at epoch J2000, degrees",
    "dec": "declination at epoch J2000, degrees",
    "pm_ra": "proper motion in RA (mu_alpha* = mu_alpha cos dec), mas/yr; NaN if unknown",
    "pm_dec": "proper motion in Dec, mas/yr; NaN if unknown",
    "tmag": "TESS magnitude",
    "teff": "effective temperature, K; NaN if unknown",
}


class CatalogSource(PluginClass, ABC):
    """Base class of catalog sources used by ``tasoc catalog``.

    Contract
    --------
    A catalog source

    * shall return every star inside the sky polygon it is given (it may return more; the
      caller trims), with the columns of :data:`CATALOG_COLUMNS`;
    * shall leave out entries flagged as duplicates or artefacts;
    * shall raise :class:`~tasoc_core.exceptions.CatalogError` naming the source and the
      problem when it cannot answer.
    """

    @abstractmethod
    def query(self, footprint: np.ndarray, *, tmag_max: float) -> Table:
        """Stars inside ``footprint`` brighter than ``tmag_max``.

        Parameters
        ----------
        footprint
            Polygon vertices on the sky, shape (N, 2): RA and Dec in degrees.
        tmag_max
            Faintest magnitude wanted.
        """
