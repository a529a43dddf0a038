"""tasoc-core: the plugin framework and pipeline stages of tasoc.

Plugin authors need three things from here::

    from tasoc_core import hookimpl                       # to mark hook implementations
    from tasoc_core.families import PhotometryMethod, PhotometryResult   # (and the others)
    from tasoc_core.data import TargetData                # what methods receive
"""

from __future__ import annotations

from importlib import metadata

from tasoc_core.exceptions import TasocError
from tasoc_core.hookspecs import hookimpl
from tasoc_core.status import Status

__all__ = ["Status", "TasocError", "__version__", "hookimpl"]

try:
    __version__ = metadata.version("tasoc-core")
except metadata.PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
