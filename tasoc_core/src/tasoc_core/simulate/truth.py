"""Reading the truth of a simulated sector: ``Truth(out_dir)``.

On disk (``OUT/truth/``, documented in ``docs/simulator.md``):

* ``stars.ecsv``: one row per physical star (duplicates of the catalog are not stars);
* ``truth.h5``: per-cadence truth for the FFIs (group ``ffi``) and each TPF (groups
  ``tpf/c120/<TIC>`` and ``tpf/c20/<TIC>``), the systematics coefficients and events.

Every later test reads the truth through this class, never the files directly.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from astropy.table import Table

from tasoc_core.exceptions import InputFileError
from tasoc_core.geometry import CAMERA_CENTRE_PIXEL
from tasoc_core.simulate.background import (
    BACKGROUND_PARAMETERS,
    FLARE_MASK_LEVEL,
    evaluate_background,
    flare_component,
)
from tasoc_core.simulate.writers import exposure_setup

__all__ = ["Truth"]


class Truth:
    """The injected truth of a simulated sector.

    Parameters
    ----------
    out_dir
        The directory written by ``tasoc simulate``.

    Raises
    ------
    InputFileError
        If ``out_dir`` holds no truth.
    """

    def __init__(self, out_dir: Path | str):
        self.out_dir = Path(out_dir)
        self._h5_path = self.out_dir / "truth" / "truth.h5"
        self._stars_path = self.out_dir / "truth" / "stars.ecsv"
        if not self._h5_path.is_file() or not self._stars_path.is_file():
            raise InputFileError(
                f"{self.out_dir}: no simulation truth (truth/truth.h5, truth/stars.ecsv)"
            )
        with h5py.File(self._h5_path, "r") as h5:
            self.attrs: dict[str, Any] = {k: _plain(v) for k, v in h5.attrs.items()}
            self._ffi = {k: h5["ffi"][k][()] for k in h5["ffi"]}
            self._coeff = h5["systematics"]["coefficients"][()]
            self._coeff_ids = h5["systematics"]["starids"][()]
            self._sys_names = [
                s.decode() if isinstance(s, bytes) else s for s in h5["systematics"].attrs["names"]
            ]
            self.systematics_areas: dict[str, Any] = json.loads(h5["systematics"].attrs["areas"])
            self._tpf: dict[tuple[int, int], dict[str, np.ndarray]] = {}
            for key in h5.get("tpf", {}):
                cadence = int(key[1:])
                for tic in h5["tpf"][key]:
                    g = h5["tpf"][key][tic]
                    self._tpf[(cadence, int(tic))] = {k: g[k][()] for k in g}
            ap = h5["apertures"]
            self._ap_ids = ap["starids"][()]
            self._ap_offsets = ap["offsets"][()]
            self._ap_rows = ap["rows"][()]
            self._ap_cols = ap["cols"][()]
            events = h5["events"]
            self.dump_times = events["dumps"][()]
            self.coarse_interval = tuple(events["coarse"][()])
            self.gap_interval = tuple(events["gap"][()])
        self._row_of = {int(s): i for i, s in enumerate(self.stars["starid"])}
        self._var_row = {int(s): i for i, s in enumerate(self._ffi["variable_starids"])}
        self._delay_row = {int(s): i for i, s in enumerate(self._ffi["delay_starids"])}
        self._coeff_row = {int(s): i for i, s in enumerate(self._coeff_ids)}

    # -- basic tables -------------------------------------------------------------------
    @cached_property
    def stars(self) -> Table:
        """Physical stars: starid, ra, dec (reference epoch), tmag, teff, camera, ccd, row,
        col (0-based CCD at zero jitter), flux, var_class, var_params (JSON), saturated,
        tpf (TPF cadences, e.g. "120,20"), secondary_of, aperture quantities…"""
        return Table.read(self._stars_path, format="ascii.ecsv")

    def star(self, starid: int) -> Any:
        """The row of one star (KeyError naming it if unknown)."""
        try:
            return self.stars[self._row_of[int(starid)]]
        except KeyError:
            raise KeyError(f"TIC {starid} is not a simulated star") from None

    @property
    def region(self) -> tuple[int, int, int, int]:
        """Simulated CCD region (row_min, row_max, col_min, col_max), half-open."""
        return tuple(int(v) for v in self.attrs["region"])  # type: ignore[return-value]

    @property
    def ffi_time(self) -> np.ndarray:
        """Frame-centre BTJD (mid-exposure, as in the FFI headers) per FFI cadence."""
        return self._ffi["time"]

    @property
    def ffi_time_tess(self) -> np.ndarray:
        """Spacecraft mid-exposure time (TDB, BTJD scale, no barycentric correction)."""
        return self._ffi["time_tess"]

    @property
    def ffi_quality(self) -> np.ndarray:
        return self._ffi["quality"]

    @property
    def cadenceno(self) -> np.ndarray:
        return self._ffi["cadenceno"]

    @property
    def jitter(self) -> np.ndarray:
        """(T, 2) pointing offset (Δrow, Δcol) in pixels of every FFI cadence."""
        return self._ffi["jitter"]

    @property
    def focus(self) -> np.ndarray:
        """PRF width scale per FFI cadence (1 = the nominal focus of the PRF files)."""
        return self._ffi["focus"]

    @property
    def momentum_dumps(self) -> np.ndarray:
        """FFI cadence indices whose exposure contains a momentum dump."""
        start, stop = self._ffi["time_tess"] - self._half(), self._ffi["time_tess"] + self._half()
        t = self.dump_times
        return np.flatnonzero(
            ((start[:, None] <= t[None, :]) & (t[None, :] < stop[:, None])).any(axis=1)
        )

    @property
    def coarse_pointing(self) -> np.ndarray:
        """FFI cadence indices whose exposure overlaps the coarse-pointing episode."""
        lo, hi = self.coarse_interval
        t = self._ffi["time_tess"]
        return np.flatnonzero((t + self._half() > lo) & (t - self._half() < hi))

    def _half(self) -> float:
        return 0.5 * int(self.attrs["cadence"]) / 86400.0

    @property
    def camera_centre(self) -> dict[tuple[int, int], tuple[float, float]]:
        """CCD (row, col) of the camera boresight for every (camera, CCD)."""
        return dict(CAMERA_CENTRE_PIXEL)

    # -- per-star time series ----------------------------------------------------------
    def target_time(self, starid: int) -> np.ndarray:
        """True BTJD of the star (its own barycentric correction) per FFI cadence."""
        try:
            i = self._delay_row[int(starid)]
        except KeyError:
            raise KeyError(
                f"TIC {starid} has no per-target times (Tmag ≥ 15 or outside the region)"
            ) from None
        return self._ffi["time"] + self._ffi["delay_minus_barycorr"][i].astype(np.float64)

    def _tpf_group(self, starid: int, cadence: int) -> dict[str, np.ndarray]:
        for (cad, _tic), g in self._tpf.items():
            if cad == cadence and int(starid) in set(g["starids"].tolist()):
                return g
        raise KeyError(f"TIC {starid} is in no {cadence}-s TPF")

    def relative_flux(self, starid: int, cadence: str | int = "ffi") -> np.ndarray:
        """Noiseless intrinsic relative variability F/F̄ − 1 per cadence (exposure-averaged)."""
        if cadence == "ffi":
            self.star(starid)
            i = self._var_row.get(int(starid))
            return (
                np.zeros(self.ffi_time.size)
                if i is None
                else self._ffi["relative_flux"][i].astype(np.float64)
            )
        g = self._tpf_group(starid, int(cadence))
        j = int(np.flatnonzero(g["starids"] == int(starid))[0])
        return g["relative_flux"][j].astype(np.float64)

    def systematics(self, starid: int, cadence: str | int = "ffi") -> np.ndarray:
        """Multiplicative systematics factor applied to the star's flux per cadence."""
        basis = (
            self._ffi["systematics_basis"]
            if cadence == "ffi"
            else self._tpf_group(starid, int(cadence))["systematics_basis"]
        )
        i = self._coeff_row.get(int(starid))
        if i is None:
            self.star(starid)
            return np.ones(basis.shape[1])
        return 1.0 + self._coeff[i] @ basis

    def true_flux(self, starid: int, cadence: str | int = "ffi") -> np.ndarray:
        """Noiseless total flux (e-/s) of the star per cadence: flux × (1 + rel) × systematics."""
        return (
            float(self.star(starid)["flux"])
            * (1.0 + self.relative_flux(starid, cadence))
            * self.systematics(starid, cadence)
        )

    def expected_noise(self, starid: int, cadence: str | int = "ffi") -> np.ndarray:
        """The simulator's 1σ flux noise (e-/s) per cadence in the star's optimal aperture.

        Photon noise of everything in the aperture (the star, its neighbours and the
        background of that cadence) plus read noise of every co-added 2-s exposure:
        ``sqrt((F_ap + n·B(t))·t_exp + n·N_read·σ_read²) / t_exp`` with ``n`` =
        ``ap_npix`` pixels, ``F_ap`` = ``ap_flux``; divide by ``flux·ap_star_fraction``
        for the relative noise.
        """
        star = self.star(starid)
        if int(star["ap_npix"]) == 0:
            raise KeyError(f"TIC {starid} has no aperture (outside the simulated region)")
        if cadence == "ffi":
            params = self._ffi["background"]
            setup = exposure_setup(int(self.attrs["cadence"]))
        else:
            params = self._tpf_group(starid, int(cadence))["background"]
            setup = exposure_setup(int(cadence))
        bkg = self._evaluate(
            params, np.array([float(star["row"])]), np.array([float(star["col"])])
        )[:, 0]
        n = int(star["ap_npix"])
        return setup.sigma(float(star["ap_flux"]) + n * bkg, n)

    def aperture(self, starid: int) -> tuple[np.ndarray, np.ndarray]:
        """CCD (rows, cols) of the star's optimal aperture (the one ``expected_noise`` uses)."""
        hit = np.flatnonzero(self._ap_ids == int(starid))
        if hit.size == 0:
            raise KeyError(f"TIC {starid} has no aperture (Tmag ≥ 15)")
        lo, hi = self._ap_offsets[hit[0]], self._ap_offsets[hit[0] + 1]
        return self._ap_rows[lo:hi].astype(np.int64), self._ap_cols[lo:hi].astype(np.int64)

    # -- images --------------------------------------------------------------------------
    def _params(self, table: np.ndarray, index: int | slice) -> dict[str, Any]:
        return {name: table[index, k] for k, name in enumerate(BACKGROUND_PARAMETERS)}

    def _evaluate(self, table: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        p = {name: table[:, k, None] for k, name in enumerate(BACKGROUND_PARAMETERS)}
        cc = tuple(self.attrs["camera_centre"])
        return evaluate_background(p, rows[None, :], cols[None, :], cc)  # type: ignore[arg-type]

    @property
    def background_parameters(self) -> dict[str, np.ndarray]:
        """Per-FFI-cadence parameters of the background model (``simulate.background``)."""
        return {name: self._ffi["background"][:, k] for k, name in enumerate(BACKGROUND_PARAMETERS)}

    def background(
        self, frame_index: int, rows: np.ndarray | None = None, cols: np.ndarray | None = None
    ) -> np.ndarray:
        """True background (e-/s) of FFI cadence ``frame_index`` at CCD pixel coordinates.

        Without ``rows``/``cols`` the whole simulated region is returned (rows × cols).
        """
        p = self._params(self._ffi["background"], int(frame_index))
        if rows is None or cols is None:
            r0, r1, c0, c1 = self.region
            rows, cols = np.mgrid[r0:r1, c0:c1]
        return evaluate_background(
            p, np.asarray(rows, float), np.asarray(cols, float), tuple(self.attrs["camera_centre"])
        )

    def background_at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """True background (e-/s) of every FFI cadence at CCD pixels: (cadences, pixels)."""
        return self._evaluate(
            self._ffi["background"], np.asarray(rows, float), np.asarray(cols, float)
        )

    def flare(self, frame_index: int) -> np.ndarray:
        """The lens flare's share of the background (e-/s) over the region (rows × cols)."""
        p = self._params(self._ffi["background"], int(frame_index))
        r0, r1, c0, c1 = self.region
        rows, cols = np.mgrid[r0:r1, c0:c1]
        return flare_component(p, rows.astype(float), cols.astype(float))

    def flare_mask(self, frame_index: int) -> np.ndarray:
        """Pixels of the region (rows × cols) where the lens flare adds > 1 e-/s."""
        return self.flare(frame_index) > FLARE_MASK_LEVEL

    def tpf_cadences(self, starid: int, cadence: int = 120) -> dict[str, np.ndarray]:
        """Per-cadence truth of a TPF: time_tess, time, timecorr, quality, jitter, focus, …"""
        try:
            return dict(self._tpf[(int(cadence), int(starid))])
        except KeyError:
            raise KeyError(f"no {cadence}-s TPF of TIC {starid}") from None


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
