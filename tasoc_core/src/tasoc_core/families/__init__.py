"""The plugin families: abstract base classes every registered class derives from."""

from __future__ import annotations

from tasoc_core.families._base import NAME_PATTERN, NoSettings, PluginClass
from tasoc_core.families.background import BackgroundEstimate, BackgroundEstimator, FrameGeometry
from tasoc_core.families.catalog_source import CATALOG_COLUMNS, CatalogSource
from tasoc_core.families.correction import (
    CorrectionContext,
    CorrectionResult,
    Corrector,
    LightCurve,
)
from tasoc_core.families.photometry import OUTCOME_TAGS, PhotometryMethod, PhotometryResult
from tasoc_core.families.validation import VALIDATION_COLUMNS, ValidationResult, Validator

__all__ = [
    "CATALOG_COLUMNS",
    "NAME_PATTERN",
    "OUTCOME_TAGS",
    "VALIDATION_COLUMNS",
    "BackgroundEstimate",
    "BackgroundEstimator",
    "CatalogSource",
    "CorrectionContext",
    "CorrectionResult",
    "Corrector",
    "FrameGeometry",
    "LightCurve",
    "NoSettings",
    "PhotometryMethod",
    "PhotometryResult",
    "PluginClass",
    "ValidationResult",
    "Validator",
]
