"""A :class:`CorrectionContext` backed by the TODO-file and the raw light-curve files.

Every worker opens its own read-only connection (the TODO-file is in WAL mode, so readers
never block the master's writes; the original copied the whole database per worker) and
keeps the light curves it has read in an LRU cache, so a neighbour shared by many targets is
read from disk once.
"""

from __future__ import annotations

import collections
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from tasoc_core.config import Config
from tasoc_core.exceptions import InputFileError, TargetError, TasocError
from tasoc_core.families.correction import CorrectionContext, LightCurve
from tasoc_core.io.fitstable import read_columns
from tasoc_core.status import Status
from tasoc_core.todo import TodoFile, TodoRow, todo_path

__all__ = ["TodoCorrectionContext", "open_context", "read_raw_lightcurve", "usable_results"]

logger = logging.getLogger(__name__)

_USABLE = f"""
SELECT p.priority, p.method, p.lightcurve, p.pos_row, p.pos_column, p.mean_flux, p.variability,
       p.rms_hour, p.ptp, p.variance, d.approved
FROM photometry AS p
LEFT JOIN datavalidation AS d ON d.priority = p.priority AND d.method = p.method AND d.corrector = ''
WHERE p.status IN ({int(Status.OK)}, {int(Status.WARNING)}) AND p.lightcurve IS NOT NULL
"""


def usable_results(todo: TodoFile) -> dict[tuple[int, str], dict]:
    """Successful photometry results by (priority, method), with their diagnostics.

    ``approved`` is None where the result has not been validated yet.
    """
    cursor = todo.conn.execute(_USABLE)
    names = [d[0] for d in cursor.description]
    return {(row[0], row[1]): dict(zip(names, row)) for row in cursor}


_COLUMNS = ("TIME", "TIMECORR", "CADENCENO", "FLUX_RAW", "FLUX_RAW_ERR", "QUALITY",
            "PIXEL_QUALITY")  # fmt: skip


def read_raw_lightcurve(path: Path, row: TodoRow, method: str, info: dict) -> LightCurve:
    """Read a raw light-curve file into a :class:`LightCurve` for correctors."""
    try:
        columns = read_columns(path, "LIGHTCURVE", _COLUMNS)
    except FileNotFoundError:
        raise TargetError(f"{row.to_target()}: raw light curve {path} is missing") from None
    except (OSError, KeyError, ValueError) as exc:
        raise InputFileError(f"{path}: cannot read the raw light curve ({exc})") from None
    return LightCurve(
        target=row.to_target(),
        method=method,
        time=columns["TIME"],
        timecorr=columns["TIMECORR"],
        cadenceno=columns["CADENCENO"],
        flux=columns["FLUX_RAW"],
        flux_err=columns["FLUX_RAW_ERR"],
        quality=columns["QUALITY"],
        pixel_quality=columns["PIXEL_QUALITY"],
        position=(
            np.nan if info.get("pos_row") is None else float(info["pos_row"]),
            np.nan if info.get("pos_column") is None else float(info["pos_column"]),
        ),
        cbv_area=row.cbv_area,
        meta={k: info.get(k) for k in ("mean_flux", "variability", "rms_hour", "ptp", "variance")}
        | {"tmag": row.tmag, "lightcurve": info.get("lightcurve")},
    )


class TodoCorrectionContext(CorrectionContext):
    """Light curves of a TODO-file's successful, approved photometry results.

    Parameters
    ----------
    todo
        Path of the TODO-file (opened read-only here).
    output
        The output root (``paths.output``): raw light curves live below it.
    corrector
        The corrector's name; its products go to ``<output>/corrections/<corrector>``.
    cache_size
        How many light curves to keep in memory.
    sector
        The sector, if known (the CBV build uses it when none is given).
    """

    def __init__(
        self,
        todo: Path,
        output: Path,
        *,
        corrector: str,
        cache_size: int = 4000,
        sector: int | None = None,
    ) -> None:
        self._todo = TodoFile.open(todo, readonly=True)
        self._output = Path(output)
        self._corrector = corrector
        self._results = {k: v for k, v in usable_results(self._todo).items() if v["approved"] != 0}
        self._rows = {row.priority: row for row in self._todo.rows()}
        self._cache: collections.OrderedDict[tuple[int, str], LightCurve] = (
            collections.OrderedDict()
        )
        self._cache_size = cache_size
        self._groups: dict[tuple, tuple[np.ndarray, cKDTree | None]] = {}
        sectors = sorted({row.sector for row in self._rows.values()})
        self.sector = sector if sector is not None else (sectors[0] if len(sectors) == 1 else None)

    def close(self) -> None:
        self._todo.close()

    @property
    def work_dir(self) -> Path:
        path = self._output / "corrections" / self._corrector
        path.mkdir(parents=True, exist_ok=True)
        return path

    def light_curve(self, priority: int, method: str) -> LightCurve:
        key = (int(priority), method)
        lc = self._cache.get(key)
        if lc is not None:
            self._cache.move_to_end(key)
            return lc
        info = self._results.get(key)
        if info is None:
            raise TargetError(f"priority {priority}: no usable {method} light curve")
        lc = read_raw_lightcurve(
            self._output / info["lightcurve"], self._rows[key[0]], method, info
        )
        self._cache[key] = lc
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return lc

    def _group(self, t, method: str) -> tuple[np.ndarray, cKDTree | None]:
        key = (t.sector, t.camera, t.ccd, t.cadence, method)
        if key not in self._groups:
            members = [
                (p, info["pos_row"], info["pos_column"])
                for (p, m), info in self._results.items()
                if m == method and info["pos_row"] is not None and info["pos_column"] is not None
                and (lambda r: (r.sector, r.camera, r.ccd, r.cadence))(self._rows[p]) == key[:4]
            ]  # fmt: skip
            priorities = np.array([m[0] for m in members], dtype=np.int64)
            tree = cKDTree(np.array([m[1:] for m in members], dtype=float)) if members else None
            self._groups[key] = (priorities, tree)
        return self._groups[key]

    def candidates(self, lc: LightCurve, *, limit: int) -> list[LightCurve]:
        priorities, tree = self._group(lc.target, lc.method)
        if tree is None or not np.all(np.isfinite(lc.position)):
            return []
        k = min(limit + 1, len(priorities))
        _, index = tree.query(np.asarray(lc.position, float), k=k)
        out = []
        for p in priorities[np.atleast_1d(index)]:
            if p == lc.target.priority:
                continue
            with contextlib.suppress(TargetError, InputFileError):  # unreadable neighbour: skip it
                out.append(self.light_curve(int(p), lc.method))
            if len(out) == limit:
                break
        return out

    def light_curves(
        self, *, camera: int, ccd: int, cadence: int, method: str, cbv_area: int | None = None
    ) -> Iterator[LightCurve]:
        for (priority, m), _info in sorted(self._results.items()):
            row = self._rows[priority]
            if m != method or (row.camera, row.ccd, row.cadence) != (camera, ccd, cadence):
                continue
            if cbv_area is not None and row.cbv_area != cbv_area:
                continue
            if self.sector is not None and row.sector != self.sector:
                continue
            try:
                yield self.light_curve(priority, m)
            except (TargetError, InputFileError) as exc:
                logger.warning("skipping a light curve: %s", exc)


@contextlib.contextmanager
def open_context(config: Config, *, corrector: str) -> Iterator[TodoCorrectionContext]:
    """The correction context of the configured run (the CBV build and plugin commands use it)."""
    path = todo_path(config)
    if not path.is_file():
        raise TasocError(
            f"TODO-file {path} does not exist (run `tasoc todo` and `tasoc run` first)"
        )
    context = TodoCorrectionContext(
        path, Path(config.paths.output), corrector=corrector, sector=config.selection.sector
    )
    try:
        yield context
    finally:
        context.close()
