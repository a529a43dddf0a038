"""Processing status of a task, shared by photometry and corrections.

The integer values are those of the original TASOC TODO-files, so existing tools that read
``status`` columns keep working.
"""

from __future__ import annotations

import enum

__all__ = ["Status"]


class Status(enum.IntEnum):
    """Outcome of one task (one target with one method or corrector)."""

    UNKNOWN = 0  #: not set; a method must never return this
    OK = 1
    ERROR = 2  #: unrecoverable for this target; the message is stored
    WARNING = 3  #: a result was produced but is suspicious
    ABORT = 4  #: interrupted (Ctrl-C, signal); re-run on resume
    SKIPPED = 5  #: deliberately not processed (inside a brighter star's aperture, not approved)
    STARTED = 6  #: handed to a worker and never finished; re-run on resume

    @property
    def is_success(self) -> bool:
        """True for statuses whose results may be used downstream (OK and WARNING)."""
        return self in (Status.OK, Status.WARNING)
