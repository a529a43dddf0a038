"""What travels between the photometry master and its workers (all picklable)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import attrs

from tasoc_core.data.target import Target
from tasoc_core.status import Status

__all__ = ["AttemptRecord", "PhotometryTask", "TargetOutcome"]


@attrs.frozen
class PhotometryTask:
    """One target to measure, starting with ``method``.

    Attributes
    ----------
    priority
        TODO-file row.
    target
        The target.
    method
        The method of the first attempt.
    rule
        Why that method (a rule description, ``--method`` or the forced method).
    follow_rules
        Whether the rule table may choose follow-up attempts from the outcome.
    tpf_path
        The TPF holding the pixels (TPF targets), relative to ``paths.input``.
    handed_out
        When the master handed the task out (epoch seconds), for the worker wait time.
    """

    priority: int
    target: Target
    method: str
    rule: str
    follow_rules: bool
    tpf_path: str | None = None
    handed_out: float = attrs.field(factory=time.time)


@attrs.frozen
class AttemptRecord:
    """One method's try on a target, as stored in the ``photometry`` table."""

    method: str
    status: Status
    rule: str
    elaptime: float
    plugin: str | None = None
    plugin_version: str | None = None
    lightcurve: str | None = None
    diagnostics: Mapping[str, Any] | None = None
    errors: str | None = None
    tags: tuple[str, ...] = ()
    skip_targets: tuple[int, ...] = ()


@attrs.frozen
class TargetOutcome:
    """All attempts on one target (the rule chain), returned by a worker."""

    task: PhotometryTask
    attempts: tuple[AttemptRecord, ...]
    worker_wait_time: float | None = None
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def status(self) -> Status:
        """Status of the last attempt: the one that decides the target."""
        return self.attempts[-1].status
