"""Test harness for plugin authors.

Typical use in a plugin's test suite::

    import my_plugin
    from tasoc_core.testing import assert_conformance

    def test_my_plugin_conforms():
        assert_conformance(my_plugin)

The pytest fixtures ``tasoc_pm``, ``tasoc_register`` and ``synthetic_target`` are available
automatically (this package is registered as a pytest plugin by tasoc-core).
"""

from __future__ import annotations

from tasoc_core.testing.conformance import (
    FileAccessError,
    assert_conformance,
    check_background_estimator,
    check_catalog_source,
    check_corrector,
    check_photometry_method,
    check_registration,
    check_validator,
    forbid_file_access,
)
from tasoc_core.testing.synthetic import (
    ZERO_POINT,
    InMemoryCorrectionContext,
    SyntheticFrame,
    SyntheticTarget,
    mag_to_flux,
    synthetic_frame,
    synthetic_light_curves,
    synthetic_target,
    synthetic_validation_table,
    tan_wcs,
)

__all__ = [
    "ZERO_POINT",
    "FileAccessError",
    "InMemoryCorrectionContext",
    "SyntheticFrame",
    "SyntheticTarget",
    "assert_conformance",
    "check_background_estimator",
    "check_catalog_source",
    "check_corrector",
    "check_photometry_method",
    "check_registration",
    "check_validator",
    "forbid_file_access",
    "mag_to_flux",
    "synthetic_frame",
    "synthetic_light_curves",
    "synthetic_target",
    "synthetic_validation_table",
    "tan_wcs",
]
