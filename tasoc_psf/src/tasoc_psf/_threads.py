"""Single-threaded BLAS while a target is measured.

The matrices of one target are small (hundreds of pixels × tens of stars): with a threaded
BLAS on a busy machine their products were measured 5–50 times slower and erratic (a
(256 × 6)·(6 × 2250) product: 0.2 ms on one thread, 0.3–10 ms on two). Local task-farm
workers already run single-threaded; this covers the serial backend and direct use. The
limit is an optimisation only: without threadpoolctl's view of the BLAS libraries the method
runs as it is.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

__all__ = ["prepare", "single_threaded_blas"]

logger = logging.getLogger(__name__)

_controller: Any = None


def prepare() -> None:
    """Find the BLAS libraries now (called when the plugin registers its method).

    Finding them reads ``/proc/self/maps``; doing it at registration keeps that file access
    out of ``photometry()``, where methods may not touch files.
    """
    global _controller
    if _controller is not None:
        return
    try:
        import numpy  # noqa: F401  (loads numpy's BLAS)
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    except Exception as exc:  # an optimisation: never let it fail a measurement
        logger.debug("BLAS libraries not inspected: %s", exc)


def single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """Context manager limiting every known BLAS library to one thread."""
    if _controller is None:
        prepare()
    if _controller is None:
        return contextlib.nullcontext()
    return _controller.limit(limits=1, user_api="blas")
