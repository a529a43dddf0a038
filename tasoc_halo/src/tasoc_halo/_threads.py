"""Keeping BLAS single-threaded inside the optimiser.

L-BFGS-B (scipy) does its small linear algebra through BLAS. With a threaded BLAS on a busy
machine these tiny products were measured 10–20 times slower than single-threaded (1.8 ms
instead of ~0.1 ms per iteration on 200 weights), which made thread limiting the largest
single speed-up of TV-min. The limit is an optimisation only: if the BLAS libraries cannot
be inspected (threadpoolctl reads ``/proc/self/maps``), the optimiser runs as it is.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

__all__ = ["prepare", "single_threaded_blas"]

logger = logging.getLogger(__name__)

_controller: Any = None


def prepare() -> None:
    """Find the BLAS libraries now (the plugin calls this when it registers its method).

    Finding them reads ``/proc/self/maps``; doing it at registration keeps that file access
    out of :meth:`~tasoc_halo.method.HaloPhotometry.photometry`, where methods may not
    touch files (the conformance suite forbids it). scipy's own BLAS, which L-BFGS-B uses,
    is loaded first so that it is found too.
    """
    global _controller
    if _controller is not None:
        return
    try:
        import scipy.linalg  # noqa: F401  (loads scipy's BLAS)
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
