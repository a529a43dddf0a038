"""Method selection: an ordered table of rules, first match wins.

A target is processed in *attempts*. The first attempt takes the first rule without an
``after`` condition that matches the target (or the fallback method). When that attempt
ends, rules with ``after = <that method>`` are consulted with the attempt's outcome, so
that for example "aperture still touched the stamp edge → halo" can be expressed as::

    [[photometry.rules]]
    after = "aperture"
    outcome = ["edge"]
    tmag_max = 6.0
    method = "halo"

A method is never attempted twice on the same target, so chains always end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from tasoc_core.data.target import Target
from tasoc_core.status import Status

__all__ = ["DATASOURCE_CHOICES", "Attempt", "Rule", "RuleSet"]

#: Values of :attr:`Rule.datasource`.
DATASOURCE_CHOICES = ("ffi", "tpf", "tpf-primary", "tpf-secondary")


def _ints(value: Iterable[int] | int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value)


def _strs(value: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@attrs.frozen
class Attempt:
    """How one method fared on a target: its status and outcome tags."""

    method: str
    status: Status
    tags: frozenset[str] = frozenset()


@attrs.frozen(kw_only=True)
class Rule:
    """One row of the method-selection table.

    Every condition left at its default matches anything.

    Attributes
    ----------
    method
        Method to run when the rule matches.
    datasource
        ``"ffi"``, ``"tpf"`` (primary or secondary), ``"tpf-primary"`` or ``"tpf-secondary"``.
    cadence
        Cadences in seconds.
    tmag_min, tmag_max
        Inclusive magnitude range.
    tic
        TIC numbers.
    after
        Only consider this rule after an attempt with this method.
    outcome
        With ``after``: only if the attempt had one of these outcome tags, or the status
        name in lower case (``"error"``, ``"warning"``, ``"ok"``).
    origin
        Where the rule came from (``"config"``, ``"plugin:<name>"``, ``"fallback"``).
    index
        Position in its table, for provenance.
    """

    method: str
    datasource: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(DATASOURCE_CHOICES))
    )
    cadence: tuple[int, ...] = attrs.field(default=(), converter=_ints)
    tmag_min: float | None = None
    tmag_max: float | None = None
    tic: tuple[int, ...] = attrs.field(default=(), converter=_ints)
    after: str | None = None
    outcome: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    origin: str = attrs.field(default="config", metadata={"serialize": False})
    index: int | None = attrs.field(default=None, metadata={"serialize": False})

    def __attrs_post_init__(self) -> None:
        if self.outcome and self.after is None:
            raise ValueError("a rule with 'outcome' needs 'after' (which method's outcome?)")
        if (
            self.tmag_min is not None
            and self.tmag_max is not None
            and self.tmag_min > self.tmag_max
        ):
            raise ValueError(f"tmag_min {self.tmag_min} is larger than tmag_max {self.tmag_max}")

    def matches(self, target: Target, previous: Attempt | None) -> bool:
        """True if this rule applies to ``target`` after ``previous`` (None: first attempt)."""
        if self.after is None:
            if previous is not None:
                return False
        else:
            if previous is None or previous.method != self.after:
                return False
            if self.outcome:
                seen = set(previous.tags) | {previous.status.name.lower()}
                if not seen.intersection(self.outcome):
                    return False
        if self.datasource is not None:
            kind = target.datasource
            wanted = {
                "ffi": kind == "ffi",
                "tpf": kind != "ffi",
                "tpf-primary": kind == "tpf",
                "tpf-secondary": target.is_secondary,
            }[self.datasource]
            if not wanted:
                return False
        if self.cadence and target.cadence not in self.cadence:
            return False
        if self.tmag_min is not None and target.tmag < self.tmag_min:
            return False
        if self.tmag_max is not None and target.tmag > self.tmag_max:
            return False
        return not (self.tic and target.starid not in self.tic)

    def describe(self) -> str:
        """Short human-readable form, stored with every result it selected."""
        where = self.origin if self.index is None else f"{self.origin}[{self.index}]"
        parts = []
        if self.after:
            parts.append(
                f"after {self.after}" + (f" ({'/'.join(self.outcome)})" if self.outcome else "")
            )
        if self.datasource:
            parts.append(self.datasource)
        if self.cadence:
            parts.append("cadence " + "/".join(map(str, self.cadence)))
        if self.tmag_min is not None:
            parts.append(f"Tmag>={self.tmag_min:g}")
        if self.tmag_max is not None:
            parts.append(f"Tmag<={self.tmag_max:g}")
        if self.tic:
            parts.append(f"{len(self.tic)} TIC")
        cond = ", ".join(parts) if parts else "any"
        return f"{where}: {cond} -> {self.method}"


class RuleSet:
    """An ordered rule table with a fallback method.

    Parameters
    ----------
    rules
        Rules in priority order (the configuration's, then those plugins contribute).
    fallback
        Method for first attempts no rule matched; None means such targets are not run.
    """

    def __init__(self, rules: Sequence[Rule], fallback: str | None) -> None:
        self.rules = tuple(rules)
        self.fallback = fallback

    @property
    def methods(self) -> set[str]:
        """Every method a rule or the fallback can select."""
        names = {rule.method for rule in self.rules}
        if self.fallback:
            names.add(self.fallback)
        return names

    def select(self, target: Target, history: Sequence[Attempt] = ()) -> Rule | None:
        """The rule deciding the next attempt on ``target``, or None when done."""
        previous = history[-1] if history else None
        tried = {attempt.method for attempt in history}
        for rule in self.rules:
            if rule.method not in tried and rule.matches(target, previous):
                return rule
        if previous is None and self.fallback is not None:
            return Rule(method=self.fallback, origin="fallback")
        return None
