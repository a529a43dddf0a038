"""The plugin: registration, conformance, default selection rules, cheap import."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

import tasoc_halo.plugin
from tasoc_core.data import Target
from tasoc_core.plugins import get_plugin_manager
from tasoc_core.rules import Attempt, RuleSet
from tasoc_core.status import Status
from tasoc_core.testing import assert_conformance


def test_plugin_conforms():
    checked = assert_conformance(tasoc_halo.plugin, name="halo")
    assert [reg.name for reg in checked] == ["halo"]


def test_installed_entry_point_registers_halo():
    (entry,) = [e for e in entry_points(group="tasoc") if e.name == "halo"]
    assert entry.value == "tasoc_halo.plugin"
    pm = get_plugin_manager()
    registration = pm.lookup("photometry", "halo")
    assert registration.distribution == "tasoc-halo"
    assert registration.version == "0.1.0"


def target(tmag: float, datasource: str = "ffi") -> Target:
    return Target(1, 1, 1, 1, 1800 if datasource == "ffi" else 120, datasource, tmag, 0.0, 0.0)


@pytest.fixture
def rules() -> RuleSet:
    return RuleSet(tasoc_halo.plugin.tasoc_method_rules(), "aperture")


@pytest.mark.parametrize(
    ("tmag", "datasource", "first"),
    [
        (1.2, "ffi", "halo"),
        (2.0, "ffi", "halo"),
        (2.1, "ffi", "aperture"),
        (1.0, "tpf", "aperture"),
    ],
)
def test_the_brightest_ffi_stars_go_straight_to_halo(rules, tmag, datasource, first):
    assert rules.select(target(tmag, datasource)).method == first


@pytest.mark.parametrize(
    ("tmag", "status", "tags", "follow"),
    [
        (5.0, Status.ERROR, {"edge", "error"}, "halo"),
        (6.0, Status.WARNING, {"edge"}, "halo"),
        (6.5, Status.ERROR, {"edge", "error"}, None),
        (5.0, Status.ERROR, {"error"}, None),
        (5.0, Status.OK, set(), None),
    ],
)
def test_halo_follows_aperture_running_off_the_stamp(rules, tmag, status, tags, follow):
    history = [Attempt("aperture", status, frozenset(tags))]
    rule = rules.select(target(tmag), history)
    assert (rule.method if rule else None) == follow


def test_halo_is_not_tried_twice(rules):
    history = [Attempt("halo", Status.ERROR, frozenset({"error"}))]
    assert rules.select(target(1.0), history) is None


def test_importing_the_plugin_does_not_import_the_science_stack():
    code = (
        "import sys, tasoc_halo.plugin; "
        "print(sorted(m for m in ('scipy.optimize', 'sklearn', 'tasoc_halo._optimise') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
