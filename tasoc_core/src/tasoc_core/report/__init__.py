"""``tasoc report``: an HTML page with the diagnostic figures of a TODO-file.

:func:`build_report` writes ``report.html`` (figures embedded), ``figures/*.png`` and
``report.json``: the paper's population figures per photometry method (noise against
the expected noise, aperture sizes, contamination, flux and zero point, stamp sizes),
counts per status, DATAVAL counts, timings, the comparison of methods and correctors
(:mod:`tasoc_core.compare`), sections added by plugins (``tasoc_report_sections``) and
per-target figures. :func:`load_results` reads a TODO-file into column arrays,
:func:`summarize`/:func:`format_summary` give the short text summary. ``docs/report.md``
describes it all.
"""

from __future__ import annotations

from tasoc_core.report.build import FIGURE_DIR, REPORT_NAME, build_report, plugin_sections
from tasoc_core.report.lightcurves import (
    LightCurveData,
    power_density,
    read_lightcurve,
    relative_flux,
)
from tasoc_core.report.results import Missing, RunResults, load_results
from tasoc_core.report.sections import FigureWriter, ReportFigure, ReportSection, new_figure
from tasoc_core.report.summary import format_summary, summarize
from tasoc_core.report.targets import TargetResult, select_targets, target_figure

__all__ = [
    "FIGURE_DIR",
    "REPORT_NAME",
    "FigureWriter",
    "LightCurveData",
    "Missing",
    "ReportFigure",
    "ReportSection",
    "RunResults",
    "TargetResult",
    "build_report",
    "format_summary",
    "load_results",
    "new_figure",
    "plugin_sections",
    "power_density",
    "read_lightcurve",
    "relative_flux",
    "select_targets",
    "summarize",
    "target_figure",
]
