"""Repository-wide pytest set-up, loaded before any test module is collected.

Each distribution keeps its tests in ``<distribution>/tests`` and the test run uses
``--import-mode=importlib``, which names a test module after its path
(``tasoc_aperture.tests.test_x``) and imports missing parent packages *from that path*: the
distribution directory ``tasoc_aperture/`` would become a namespace package shadowing the
installed ``tasoc_aperture``. Importing every installed tasoc plugin first prevents that
(``tasoc_core`` itself is imported early by its pytest plugin).
"""

from __future__ import annotations

import contextlib
import importlib
from importlib.metadata import entry_points

for _entry in entry_points(group="tasoc"):
    with contextlib.suppress(Exception):  # a broken plugin fails its own tests, not collection
        importlib.import_module(_entry.module.split(".")[0])
