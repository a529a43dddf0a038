"""``tasoc compare``: photometry methods and correctors side by side on one TODO-file.

:func:`compare_results` returns a JSON-able dict: per method (and per method/corrector)
the status counts and the fractions OK/WARNING/ERROR, the median noise and noise over the
expected noise per magnitude bin, the same on the targets where every compared method
succeeded, pairwise ratios and per-target values, and — for a simulated sector — the
recovery of the injected truth. :func:`format_comparison` renders it as text tables.
``docs/report.md`` documents the layout.
"""

from __future__ import annotations

from tasoc_core.compare._compare import (
    COMPARE_VERSION,
    compare_results,
    expected_ratios,
    magnitude_bins,
    noise_bins,
)
from tasoc_core.compare._format import format_comparison, text_table
from tasoc_core.compare._truth import (
    find_truth,
    recovery_row,
    resolve_truth,
    truth_relative_flux,
    white_noise_ppm,
)

__all__ = [
    "COMPARE_VERSION",
    "compare_results",
    "expected_ratios",
    "find_truth",
    "format_comparison",
    "magnitude_bins",
    "noise_bins",
    "recovery_row",
    "resolve_truth",
    "text_table",
    "truth_relative_flux",
    "white_noise_ppm",
]
