"""tasoc-ensemble: ensemble-photometry co-trending (paper 004 §3.2).

Library use::

    from tasoc_ensemble import EnsembleCorrector, ensemble_correct, prepare_light_curve
"""

from __future__ import annotations

from tasoc_ensemble._stats import PreparedLightCurve, StatsCache, prepare_light_curve
from tasoc_ensemble.corrector import EnsembleCorrector, ensemble_hdu
from tasoc_ensemble.ensemble import (
    EnsembleResult,
    NotEnoughMembers,
    apply_ensemble,
    ensemble_correct,
    ensemble_curve,
    member_curves,
    qualifying,
    scaled_length,
)
from tasoc_ensemble.settings import EnsembleSettings

__all__ = [
    "EnsembleCorrector",
    "EnsembleResult",
    "EnsembleSettings",
    "NotEnoughMembers",
    "PreparedLightCurve",
    "StatsCache",
    "apply_ensemble",
    "ensemble_correct",
    "ensemble_curve",
    "ensemble_hdu",
    "member_curves",
    "prepare_light_curve",
    "qualifying",
    "scaled_length",
]
