"""Method-selection rules: first match wins, follow-ups on outcomes, chains end."""

from __future__ import annotations

import pytest

from tasoc_core.data import Target
from tasoc_core.rules import Attempt, Rule, RuleSet
from tasoc_core.status import Status


def target(
    tmag: float = 10.0, datasource: str = "ffi", cadence: int = 1800, starid: int = 1
) -> Target:
    return Target(starid, 1, 1, 1, cadence, datasource, tmag, 10.0, -20.0)


RULES = RuleSet(
    [
        Rule(method="halo", datasource="ffi", tmag_max=2.0),
        Rule(method="linpsf", tic=(42,)),
        Rule(method="halo", after="aperture", outcome=("edge",), tmag_max=6.0),
        Rule(method="psf", after="aperture", outcome=("error",)),
    ],
    fallback="aperture",
)


def test_first_match_wins_and_fallback_applies():
    assert RULES.select(target(tmag=1.5)).method == "halo"
    assert RULES.select(target(tmag=1.5, datasource="tpf")).method == "aperture"
    assert RULES.select(target(starid=42)).method == "linpsf"
    chosen = RULES.select(target(tmag=9))
    assert chosen.method == "aperture"
    assert chosen.origin == "fallback"


def test_follow_up_rules_need_the_right_method_and_outcome():
    bright = target(tmag=5.0)
    edge = Attempt("aperture", Status.ERROR, frozenset({"edge"}))
    assert RULES.select(bright, [edge]).method == "halo"
    # A faint star that hit the edge matches the generic error rule instead.
    assert RULES.select(target(tmag=9.0), [edge]).method == "psf"
    # A successful attempt ends the chain.
    assert RULES.select(bright, [Attempt("aperture", Status.OK)]) is None


def test_a_method_is_never_attempted_twice():
    rules = RuleSet(
        [Rule(method="a", after="b"), Rule(method="b", after="a")],
        fallback="a",
    )
    t = target()
    history = [Attempt("a", Status.ERROR)]
    assert rules.select(t, history).method == "b"
    history.append(Attempt("b", Status.ERROR))
    assert rules.select(t, history) is None


def test_datasource_kinds():
    secondary = target(datasource="tpf:123")
    assert Rule(method="x", datasource="tpf").matches(secondary, None)
    assert Rule(method="x", datasource="tpf-secondary").matches(secondary, None)
    assert not Rule(method="x", datasource="tpf-primary").matches(secondary, None)
    assert not Rule(method="x", datasource="ffi").matches(secondary, None)


def test_invalid_rules_are_refused():
    with pytest.raises(ValueError, match="needs 'after'"):
        Rule(method="x", outcome=("edge",))
    with pytest.raises(ValueError, match="larger than"):
        Rule(method="x", tmag_min=5, tmag_max=2)
    with pytest.raises(ValueError, match="datasource"):
        Rule(method="x", datasource="tess")


def test_describe_names_origin_and_conditions():
    rule = Rule(method="halo", after="aperture", outcome=("edge",), tmag_max=6.0, index=2)
    assert rule.describe() == "config[2]: after aperture (edge), Tmag<=6 -> halo"
