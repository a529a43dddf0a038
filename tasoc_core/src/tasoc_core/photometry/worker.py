"""The photometry worker: from a task to light-curve files and diagnostics.

For each task the worker builds the target's :class:`~tasoc_core.data.TargetData`, runs the
method, computes the diagnostics and writes the light-curve file; with rules enabled it then
asks the rule table whether the outcome calls for another method (for example halo after
aperture ran off the stamp of a bright star) and tries that too. Every attempt is recorded.
Per-target failures become ERROR attempts with their message; nothing a target does stops
the worker.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from tasoc_core.config import Config
from tasoc_core.data.target_data import TargetData
from tasoc_core.exceptions import TargetError, TasocError
from tasoc_core.output import Provenance, write_lightcurve
from tasoc_core.photometry.diagnostics import compute_diagnostics
from tasoc_core.photometry.sources import SourceCache
from tasoc_core.photometry.tasks import AttemptRecord, PhotometryTask, TargetOutcome
from tasoc_core.plugins import get_plugin_manager
from tasoc_core.rules import Attempt
from tasoc_core.status import Status

__all__ = ["PhotometryWorker"]

logger = logging.getLogger(__name__)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Collect(logging.Handler):
    """Keeps WARNING and worse records emitted while one attempt runs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname}: {record.getMessage()}")


@contextmanager
def _collect_warnings() -> Iterator[_Collect]:
    handler = _Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:  # always detached: the original leaked one handler per target
        root.removeHandler(handler)


class PhotometryWorker:
    """Picklable worker factory: calling it (in the worker process) gives the work function.

    Parameters
    ----------
    config
        The run configuration.
    disable
        Plugins not to load (the command line's ``--disable-plugin``).
    """

    def __init__(self, config: Config, *, disable: tuple[str, ...] = ()) -> None:
        self.config = config
        self.disable = disable

    def __call__(self) -> Callable[[PhotometryTask], TargetOutcome]:
        return _WorkerState(self.config, self.disable).process


class _WorkerState:
    def __init__(self, config: Config, disable: tuple[str, ...]) -> None:
        self.config = config
        self.pm = get_plugin_manager(disable=disable)
        self.rules = config.rule_set(self.pm.method_rules())
        self.sources = SourceCache(config)
        self.output = Path(config.paths.output)
        self._methods: dict[str, tuple] = {}

    def method(self, name: str) -> tuple:
        if name not in self._methods:
            registration = self.pm.lookup("photometry", name)
            settings = self.config.settings_for("methods", name, registration.cls.Settings)
            self._methods[name] = (registration, registration.cls(settings))
        return self._methods[name]

    def process(self, task: PhotometryTask) -> TargetOutcome:
        wait = max(0.0, time.time() - task.handed_out)
        started = utc_now()
        attempts: list[AttemptRecord] = []
        history: list[Attempt] = []
        method, rule = task.method, task.rule
        while method is not None:
            record = self.attempt(task, method, rule)
            attempts.append(record)
            if not task.follow_rules:
                break
            history.append(Attempt(method, record.status, frozenset(record.tags)))
            follow = self.rules.select(task.target, history)
            method, rule = (follow.method, follow.describe()) if follow else (None, "")
        return TargetOutcome(task, tuple(attempts), wait, started, utc_now())

    def attempt(self, task: PhotometryTask, method: str, rule: str) -> AttemptRecord:
        start = time.perf_counter()
        target = task.target
        with _collect_warnings() as logged:
            try:
                registration, impl = self.method(method)
                kind = "ffi" if target.is_ffi else "tpf"
                if kind not in impl.datasources:
                    raise TargetError(
                        f"{target}: method {method!r} does not accept {kind.upper()} targets"
                    )
                data = TargetData(target, self.sources.get(target, task.tpf_path))
                result = impl.photometry(data)
                diagnostics = compute_diagnostics(result)
                path = write_lightcurve(
                    result,
                    diagnostics,
                    path=self.output,
                    provenance=Provenance.from_registration(registration, rule),
                    version=self.config.output.version,
                    compresslevel=self.config.output.compression,
                    fsync=self.config.output.fsync,
                )
            except TargetError as exc:
                return self._failed(method, rule, start, str(exc), exc.tags, logged.messages)
            except TasocError as exc:  # a configuration or plugin problem, reported per target
                return self._failed(
                    method, rule, start, f"{type(exc).__name__}: {exc}", (), logged.messages
                )
            except Exception as exc:
                text = "".join(traceback.format_exception(exc)).strip()
                return self._failed(method, rule, start, text, (), logged.messages)
        row = diagnostics.as_row()
        messages = [m for m in (row.pop("errors", None), *logged.messages) if m]
        return AttemptRecord(
            method=method,
            status=result.status,
            rule=rule,
            elaptime=time.perf_counter() - start,
            plugin=registration.plugin,
            plugin_version=registration.version,
            lightcurve=path.relative_to(self.output).as_posix(),
            diagnostics=row,
            errors="\n".join(messages) or None,
            tags=tuple(sorted(result.tags)),
            skip_targets=result.skip_targets,
        )

    @staticmethod
    def _failed(
        method: str, rule: str, start: float, message: str, tags, logged: list[str]
    ) -> AttemptRecord:
        return AttemptRecord(
            method=method,
            status=Status.ERROR,
            rule=rule,
            elaptime=time.perf_counter() - start,
            errors="\n".join([message, *logged]),
            tags=tuple(sorted({*tags, "error"})),
        )
