"""Single-threaded BLAS while one target is measured (for methods and correctors).

The matrices of one target are small (hundreds of pixels × tens of stars or weights): with a
threaded BLAS on a busy machine their products were measured 5–50 times slower and erratic
(a (256 × 6)·(6 × 2250) product: 0.2 ms on one thread, 0.3–10 ms on two; scipy's L-BFGS-B
iterations on 200 weights: 1.8 ms instead of ~0.1 ms). Local task-farm workers already run
single-threaded; this covers the serial backend and direct use. The limit is an optimisation
only: without threadpoolctl's view of the BLAS libraries the code runs as it is.

Usage in a plugin: call :func:`prepare_blas_limits` when the plugin registers its classes
(finding the libraries reads ``/proc/self/maps``, and methods may not touch files while
measuring), then wrap the numerical work in ``with single_threaded_blas(): ...``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

__all__ = ["prepare_blas_limits", "single_threaded_blas"]

logger = logging.getLogger(__name__)

_controller: Any = None


def prepare_blas_limits() -> None:
    """Find the BLAS libraries of numpy and scipy now (idempotent, never raises)."""
    global _controller
    if _controller is not None:
        return
    try:
        import numpy  # noqa: F401  (loads numpy's BLAS)
        import scipy.linalg  # noqa: F401  (loads scipy's BLAS, which L-BFGS-B uses)
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    except Exception as exc:  # an optimisation: never let it fail a measurement
        logger.debug("BLAS libraries not inspected: %s", exc)


def single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """Context manager limiting every known BLAS library to one thread."""
    if _controller is None:
        prepare_blas_limits()
    if _controller is None:
        return contextlib.nullcontext()
    return _controller.limit(limits=1, user_api="blas")
