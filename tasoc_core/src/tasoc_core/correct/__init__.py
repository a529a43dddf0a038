"""Systematics correction of raw light curves (the framework around corrector plugins)."""

from __future__ import annotations

from tasoc_core.correct.context import (
    TodoCorrectionContext,
    open_context,
    read_raw_lightcurve,
    usable_results,
)
from tasoc_core.correct.run import CorrectionOutcome, CorrectionTask, run_corrections

__all__ = [
    "CorrectionOutcome",
    "CorrectionTask",
    "TodoCorrectionContext",
    "open_context",
    "read_raw_lightcurve",
    "run_corrections",
    "usable_results",
]
