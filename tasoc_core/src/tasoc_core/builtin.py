"""Core's own defaults, registered through the same hooks as any third-party plugin.

This module is the ``core`` entry point of the ``tasoc`` group. Disabling it
(``--disable-plugin core``) leaves only what other plugins provide.
"""

from __future__ import annotations

__all__: list[str] = []
