"""Settings of the ``ensemble`` corrector (``[correctors.ensemble]`` in the TOML)."""

from __future__ import annotations

from collections.abc import Callable

import attrs

__all__ = ["EnsembleSettings"]


def _at_least(low: float) -> Callable[[object, attrs.Attribute, float], None]:
    def check(instance: object, attribute: attrs.Attribute, value: float) -> None:
        if not value >= low:
            raise ValueError(f"{attribute.name} must be at least {low}, got {value}")

    return check


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen(kw_only=True)
class EnsembleSettings:
    """Ensemble membership and fitting (paper 004 §3.2; defaults from reference §15.5)."""

    #: Nearest stars on the same camera/CCD considered as members.
    max_neighbours: int = attrs.field(default=100, validator=_at_least(1))
    #: Fewest members an ensemble may have; fewer qualifying neighbours is an error.
    min_members: int = attrs.field(default=5, validator=_at_least(1))
    #: A member's point-to-point scatter (std of first differences / median) must be below this.
    drange_limit: float = attrs.field(default=1.0, validator=_positive)
    #: … and below this multiple of the target's.
    drange_relative: float = attrs.field(default=10.0, validator=_positive)
    #: A member's 5–95 % flux range over its median must be below this (no strong variables).
    frange_limit: float = attrs.field(default=0.4, validator=_positive)
    #: Per cadence, members further than this many robust σ from the members' median are
    #: left out of the ensemble median.
    clip_sigma: float = attrs.field(default=3.0, validator=_positive)
    #: Largest |k| of the ensemble offset (the ensemble is divided as m + k, m ≈ 1). The
    #: scaled length that chooses k is dominated by point-to-point noise, so an unbounded
    #: k drifts towards "no correction" whenever the systematics are slow.
    max_offset: float = attrs.field(default=0.05, validator=_at_least(0.0))
    #: Neighbour statistics kept in memory per worker (least recently used are dropped).
    cache_size: int = attrs.field(default=20000, validator=_at_least(1))
