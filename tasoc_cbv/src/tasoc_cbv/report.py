"""The CBV plugin's section of ``tasoc report``: the CBVs of every CBV area.

For each tasoc CBV file in the corrector's work directory (``<output>/corrections/cbv``,
next to the TODO-file) the section shows the normal and spike vectors
(:func:`~tasoc_cbv.plot.plot_cbvs`, drawn afresh from the file) and a table: stars that
built the vectors, number of CBVs and how many pass the SNR test, and how many light
curves the ``cbv`` corrector corrected in that area with how many CBVs (median).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tasoc_cbv.io import read_cbv_fits
from tasoc_cbv.plot import plot_cbvs
from tasoc_cbv.settings import CBVSettings
from tasoc_core.exceptions import InputFileError
from tasoc_core.report.html import paragraph, table
from tasoc_core.status import Status

if TYPE_CHECKING:
    from tasoc_core.config import Config
    from tasoc_core.report import ReportSection
    from tasoc_core.todo import TodoFile

__all__ = ["cbv_report_sections"]

logger = logging.getLogger(__name__)


def _corrected_per_area(todo: TodoFile) -> dict[int, tuple[int, float]]:
    """Per CBV area: light curves the cbv corrector corrected, median number of CBVs used."""
    rows = todo.conn.execute(
        "SELECT t.cbv_area, c.extra FROM corrections AS c JOIN todolist AS t USING (priority) "
        "WHERE c.corrector = 'cbv' AND c.status IN (?, ?)",
        (int(Status.OK), int(Status.WARNING)),
    ).fetchall()
    per: dict[int, list[float]] = {}
    for area, extra in rows:
        ncbv = json.loads(extra).get("cbv_num", np.nan) if extra else np.nan
        per.setdefault(int(area), []).append(float(ncbv))
    return {
        area: (len(v), float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan"))
        for area, v in per.items()
    }


def cbv_report_sections(todo: TodoFile, config: Config, figure_dir: Path) -> list[ReportSection]:
    """The report section of the CBV areas of this run (none without CBV files)."""
    from tasoc_core.report import ReportFigure, ReportSection

    work_dir = Path(todo.path).parent / "corrections" / "cbv"
    files = sorted(work_dir.glob("tess-s*-tasoc_cbv.fits")) if work_dir.is_dir() else []
    if not files:
        return []
    settings: CBVSettings = config.settings_for("correctors", "cbv", CBVSettings)
    threshold = settings.build.threshold_snrtest
    corrected = _corrected_per_area(todo)
    rows, figures, problems = [], [], []
    for path in files:
        try:
            cbvs = read_cbv_fits(path)
        except InputFileError as exc:
            problems.append(str(exc))
            continue
        snr = cbvs.snr()
        passing = int(np.sum(snr >= threshold)) or 1  # CBV 1 is always fitted
        png = plot_cbvs(cbvs, figure_dir / f"cbv-{path.stem}.png", threshold_snrtest=threshold)
        figures.append(
            ReportFigure(
                png, f"CBV area {cbvs.area} ({path.name}): normal (left) and spike (right) "
                f"vectors; grey: below the {threshold:g} dB SNR threshold.",
            )
        )  # fmt: skip
        n_corr, median_ncbv = corrected.get(int(cbvs.area or 0), (0, float("nan")))
        rows.append((cbvs.area, cbvs.camera, cbvs.ccd, cbvs.cadence, cbvs.nstars,
                     cbvs.ncomponents, passing, n_corr, median_ncbv))  # fmt: skip
    header = ("area", "camera", "CCD", "cadence (s)", "stars", "CBVs", f"SNR ≥ {threshold:g} dB",
              "light curves corrected", "median CBVs fitted")  # fmt: skip
    body = table(header, rows) + "".join(paragraph(p, "error") for p in problems)
    return [ReportSection(title="CBVs per area", html=body, figures=figures, order=65)]
