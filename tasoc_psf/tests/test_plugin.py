"""The two plugins: conformance, registration through the entry points, cheap import."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

import tasoc_psf.plugin_linpsf
import tasoc_psf.plugin_psf
from tasoc_core.plugins import get_plugin_manager
from tasoc_core.testing import assert_conformance


@pytest.mark.parametrize(
    ("module", "name"), [(tasoc_psf.plugin_linpsf, "linpsf"), (tasoc_psf.plugin_psf, "psf")]
)
def test_plugin_conforms(module, name):
    """The conformance target carries its true (Gaussian) PRF: both methods must recover it."""
    checked = assert_conformance(module, name=name)
    assert [reg.name for reg in checked] == [name]


@pytest.mark.parametrize(
    ("name", "module"), [("linpsf", "tasoc_psf.plugin_linpsf"), ("psf", "tasoc_psf.plugin_psf")]
)
def test_installed_entry_points_register_the_methods(name, module):
    (entry,) = [e for e in entry_points(group="tasoc") if e.name == name]
    assert entry.value == module
    registration = get_plugin_manager().lookup("photometry", name)
    assert registration.distribution == "tasoc-psf"
    assert registration.version == "0.1.0"
    assert registration.cls.__doc__


def test_importing_the_plugins_does_not_import_the_science_stack():
    code = (
        "import sys, tasoc_psf.plugin_psf, tasoc_psf.plugin_linpsf; "
        "print(sorted(m for m in ('scipy.optimize', 'tasoc_psf._fit', 'tasoc_psf._solve', "
        "'tasoc_core.prf') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
