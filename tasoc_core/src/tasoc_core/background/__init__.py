"""Background estimation for full-frame images.

:class:`TasocBackground` (registered as ``"tasoc"`` by core) is the default estimator
used by ``tasoc prepare``; :func:`clipped_modes` is its vectorised per-row statistic.
"""

from __future__ import annotations

from tasoc_core.background._clip import ClippedModes, clipped_modes
from tasoc_core.background.estimator import TasocBackground, TasocBackgroundSettings

__all__ = ["ClippedModes", "TasocBackground", "TasocBackgroundSettings", "clipped_modes"]
