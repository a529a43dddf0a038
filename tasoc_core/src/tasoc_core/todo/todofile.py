"""The TODO-file: one SQLite database per run holding every target and every result.

:class:`TodoFile` is the only code that opens TODO-files. It sets WAL mode and foreign
keys, migrates older schemas forward, refuses newer ones, and offers transactions and typed
target queries. The task farm and later stages add their own queries on top of
:attr:`TodoFile.conn`, always inside :meth:`TodoFile.transaction`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from tasoc_core import __version__
from tasoc_core.data.target import Target
from tasoc_core.exceptions import InputFileError, SchemaError, TasocError
from tasoc_core.todo.schema import (
    APPLICATION_ID,
    MIGRATIONS,
    RESULT_TABLES,
    SCHEMA_VERSION,
    create_schema,
)

__all__ = [
    "TodoFile",
    "TodoFileExistsError",
    "TodoRow",
    "assign_priorities",
    "priority_key",
    "utc_now",
]

logger = logging.getLogger(__name__)

#: Seconds a connection waits for another writer before giving up.
_BUSY_TIMEOUT_MS = 60_000


class TodoFileExistsError(TasocError):
    """A TODO-file with results exists and overwriting it was not asked for."""


def utc_now() -> str:
    """Current UTC time as ISO-8601 text (the format of every timestamp in the file)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


@attrs.frozen(kw_only=True)
class TodoRow:
    """One row of ``todolist``: a target with one data source.

    ``priority`` is None until the row is written; :func:`assign_priorities` numbers rows
    brightest first.
    """

    starid: int = attrs.field(converter=int)
    sector: int = attrs.field(converter=int)
    camera: int = attrs.field(converter=int)
    ccd: int = attrs.field(converter=int)
    cadence: int = attrs.field(converter=int)
    datasource: str
    tmag: float = attrs.field(converter=float)
    ra: float = attrs.field(converter=float)
    dec: float = attrs.field(converter=float)
    cbv_area: int = attrs.field(converter=int)
    pm_ra: float | None = attrs.field(default=None, converter=_opt_float)
    pm_dec: float | None = attrs.field(default=None, converter=_opt_float)
    teff: float | None = attrs.field(default=None, converter=_opt_float)
    edge_dist: float | None = attrs.field(default=None, converter=_opt_float)
    tpf_path: str | None = None
    forced_method: str | None = None
    priority: int | None = None

    def to_target(self) -> Target:
        """The :class:`~tasoc_core.data.Target` of this row."""
        return Target(
            starid=self.starid,
            sector=self.sector,
            camera=self.camera,
            ccd=self.ccd,
            cadence=self.cadence,
            datasource=self.datasource,
            tmag=self.tmag,
            ra=self.ra,
            dec=self.dec,
            priority=self.priority,
            pm_ra=self.pm_ra,
            pm_dec=self.pm_dec,
            teff=self.teff,
        )

    @property
    def key(self) -> tuple[int, str, int, int, int, int]:
        """The unique key: (starid, datasource, sector, camera, ccd, cadence)."""
        return (self.starid, self.datasource, self.sector, self.camera, self.ccd, self.cadence)


_ROW_COLUMNS = (
    "priority", "starid", "sector", "camera", "ccd", "cadence", "datasource", "tmag", "ra", "decl",
    "pm_ra", "pm_decl", "teff", "cbv_area", "edge_dist", "tpf_path", "forced_method",
)  # fmt: skip


def _row_values(row: TodoRow) -> tuple[Any, ...]:
    return (
        row.priority, row.starid, row.sector, row.camera, row.ccd, row.cadence, row.datasource,
        row.tmag, row.ra, row.dec, row.pm_ra, row.pm_dec, row.teff, row.cbv_area, row.edge_dist,
        row.tpf_path, row.forced_method,
    )  # fmt: skip


def _row_from_db(values: Sequence[Any]) -> TodoRow:
    d = dict(zip(_ROW_COLUMNS, values))
    d["dec"] = d.pop("decl")
    d["pm_dec"] = d.pop("pm_decl")
    return TodoRow(**d)


_DATASOURCE_RANK = {"tpf": 0, "ffi": 2}


def priority_key(row: TodoRow) -> tuple[Any, ...]:
    """Sort key of the processing order: brightest first.

    Ties are broken so that the order is reproducible: TPF primary rows before TPF
    secondaries before FFI rows of the same star, then by cadence (shortest first).
    """
    rank = _DATASOURCE_RANK.get(row.datasource, 1)
    return (
        row.tmag,
        row.starid,
        rank,
        row.datasource,
        row.cadence,
        row.sector,
        row.camera,
        row.ccd,
    )


def assign_priorities(rows: Iterable[TodoRow]) -> list[TodoRow]:
    """Rows sorted by :func:`priority_key` with priorities 1, 2, 3, …"""
    ordered = sorted(rows, key=priority_key)
    return [attrs.evolve(r, priority=i + 1) for i, r in enumerate(ordered)]


def _in_list(column: str, values: Iterable[Any]) -> tuple[str, list[Any]]:
    return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(list(values))]


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str | int | float):
        return [value]
    return list(value)


class TodoFile:
    """An open TODO-file.

    Use :meth:`open` for an existing file and :meth:`create` for a new one; both return an
    open object that is also a context manager (closing on exit).
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly

    # -- opening ---------------------------------------------------------------------------

    @staticmethod
    def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
        uri = path.resolve().as_uri() + ("?mode=ro" if readonly else "?mode=rw")
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        readonly: bool = False,
        migrations: Mapping[int, Any] | None = None,
        schema_version: int | None = None,
    ) -> TodoFile:
        """Open an existing TODO-file, migrating an older schema forward.

        Parameters
        ----------
        path
            The file, or a directory holding ``todo.sqlite``.
        readonly
            Open without write access; a file that needs migrating is then an error.
        migrations, schema_version
            Override :data:`~tasoc_core.todo.schema.MIGRATIONS` and
            :data:`~tasoc_core.todo.schema.SCHEMA_VERSION` (tests).

        Raises
        ------
        InputFileError
            If the file does not exist or is not an SQLite database.
        SchemaError
            If it is not a tasoc TODO-file, has a newer schema than this tasoc, or needs a
            migration but was opened read-only.
        """
        path = Path(path)
        if path.is_dir():
            path = path / "todo.sqlite"
        if not path.is_file():
            raise InputFileError(f"TODO-file {path} does not exist (run 'tasoc todo' first)")
        target = SCHEMA_VERSION if schema_version is None else schema_version
        steps = MIGRATIONS if migrations is None else migrations
        try:
            conn = cls._connect(path, readonly=readonly)
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.DatabaseError as exc:
            raise InputFileError(f"{path}: not a readable SQLite database ({exc})") from None
        try:
            if app_id != APPLICATION_ID:
                if "todolist" in tables:
                    raise SchemaError(
                        f"{path}: a TODO-file of the original TASOC pipeline (no tasoc schema version); "
                        "re-create it with 'tasoc todo'"
                    )
                raise SchemaError(f"{path}: not a tasoc TODO-file (application_id {app_id:#x})")
            if version > target:
                raise SchemaError(
                    f"{path}: TODO-file schema version {version} is newer than this tasoc-core "
                    f"{__version__} understands (version {target}); upgrade tasoc-core"
                )
            if version < target:
                if readonly:
                    raise SchemaError(
                        f"{path}: TODO-file schema version {version} needs migrating to {target}; "
                        "open it once with write access"
                    )
                cls._migrate(conn, path, version, target, steps)
            if not readonly:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, readonly=readonly)

    @staticmethod
    def _migrate(
        conn: sqlite3.Connection, path: Path, version: int, target: int, steps: Mapping[int, Any]
    ) -> None:
        missing = [v for v in range(version, target) if v not in steps]
        if missing:
            raise SchemaError(
                f"{path}: no migration from schema version {missing[0]} to {missing[0] + 1}"
            )
        logger.info("%s: migrating TODO-file schema %d -> %d", path, version, target)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            for v in range(version, target):
                steps[v](conn)
            conn.execute(f"PRAGMA user_version={target}")
            conn.execute(
                "INSERT INTO runs (stage, started_at, finished_at, status, tasoc_version, message) "
                "VALUES ('migrate', ?, ?, 'ok', ?, ?)",
                (utc_now(), utc_now(), __version__, f"schema {version} -> {target}"),
            )
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, TasocError):
                raise
            raise SchemaError(
                f"{path}: migrating schema {version} -> {target} failed ({type(exc).__name__}: {exc}); "
                "the file is unchanged"
            ) from exc

    @classmethod
    def create(
        cls,
        path: Path,
        rows: Iterable[TodoRow],
        *,
        overwrite: bool = False,
        run: Mapping[str, Any] | None = None,
    ) -> TodoFile:
        """Write a new TODO-file atomically and open it.

        Parameters
        ----------
        path
            Where to write (``todo.sqlite``); the file is built under a temporary name in
            the same directory and renamed into place.
        rows
            The targets. If none has a priority they are numbered with
            :func:`assign_priorities`; otherwise every row must have one.
        overwrite
            Replace an existing TODO-file even if it holds results. Without it, an existing
            file with results is refused and one without results is replaced.
        run
            Recorded in ``runs``: keys ``stage`` (default ``"todo"``), ``command``,
            ``config`` and ``counts`` (JSON-able), ``started_at``.

        Raises
        ------
        TodoFileExistsError
            If ``path`` holds results (or is unreadable) and ``overwrite`` is False.
        ValueError
            If only some rows have priorities.
        """
        path = Path(path)
        rows = list(rows)
        with_priority = sum(r.priority is not None for r in rows)
        if with_priority == 0:
            rows = assign_priorities(rows)
        elif with_priority != len(rows):
            raise ValueError("either all rows or none must have a priority")
        if path.exists() and not overwrite:
            cls._check_replaceable(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
            leftover.unlink(missing_ok=True)
        run = dict(run or {})
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA page_size=4096")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("BEGIN")
            create_schema(conn)
            conn.executemany(
                f"INSERT INTO todolist ({', '.join(_ROW_COLUMNS)}) VALUES ({', '.join('?' * len(_ROW_COLUMNS))})",
                (_row_values(r) for r in rows),
            )
            conn.execute(
                "INSERT INTO runs (stage, started_at, finished_at, status, tasoc_version, command, config, counts) "
                "VALUES (?, ?, ?, 'ok', ?, ?, ?, ?)",
                (
                    run.get("stage", "todo"),
                    run.get("started_at") or utc_now(),
                    utc_now(),
                    __version__,
                    run.get("command"),
                    json.dumps(run["config"], default=str)
                    if run.get("config") is not None
                    else None,
                    json.dumps(run.get("counts", {"targets": len(rows)}), default=str),
                ),
            )
            conn.execute("COMMIT")
            conn.execute("ANALYZE")
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.IntegrityError as exc:
            conn.close()
            tmp.unlink(missing_ok=True)
            raise ValueError(f"TODO rows violate the schema: {exc}") from None
        except BaseException:
            conn.close()
            tmp.unlink(missing_ok=True)
            raise
        conn.close()
        # A stale write-ahead log next to the old file must never be replayed into the new one.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, path)
        return cls.open(path)

    @classmethod
    def _check_replaceable(cls, path: Path) -> None:
        try:
            with cls.open(path, readonly=True) as old:
                results = old.result_counts()
        except (SchemaError, InputFileError) as exc:
            raise TodoFileExistsError(
                f"{path} exists and cannot be checked for results ({exc}); use --overwrite"
            ) from None
        if any(results.values()):
            held = ", ".join(f"{n} {t}" for t, n in results.items() if n)
            raise TodoFileExistsError(
                f"{path} exists and holds results ({held}); use --overwrite to replace it"
            )
        logger.info("%s exists without results; replacing it", path)

    # -- basics ------------------------------------------------------------------------------

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> TodoFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    @contextlib.contextmanager
    def transaction(self, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        """A transaction: committed on success, rolled back on any exception.

        Nested use becomes a savepoint. ``immediate`` takes the write lock at the start,
        so a transaction never fails half-way for lack of it.
        """
        if self.conn.in_transaction:
            name = f"sp{id(self)}_{os.getpid()}"
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
                raise
            self.conn.execute(f"RELEASE {name}")
            return
        self.conn.execute("BEGIN IMMEDIATE" if immediate and not self.readonly else "BEGIN")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def result_counts(self) -> dict[str, int]:
        """Number of rows in each result table."""
        return {
            t: int(self.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
            for t in RESULT_TABLES
        }

    # -- targets ---------------------------------------------------------------------------

    def _where(
        self,
        *,
        priorities: Iterable[int] | int | None = None,
        starid: Iterable[int] | int | None = None,
        sector: Iterable[int] | int | None = None,
        camera: Iterable[int] | int | None = None,
        ccd: Iterable[int] | int | None = None,
        cadence: Iterable[int] | int | None = None,
        datasource: Iterable[str] | str | None = None,
        tmag_min: float | None = None,
        tmag_max: float | None = None,
        cbv_area: Iterable[int] | int | None = None,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("priority", priorities), ("starid", starid), ("sector", sector), ("camera", camera),
            ("ccd", ccd), ("cadence", cadence), ("cbv_area", cbv_area),
        ):  # fmt: skip
            if value is not None:
                clause, p = _in_list(column, [int(v) for v in _as_list(value)])
                clauses.append(clause)
                params += p
        if datasource is not None:
            parts = []
            for ds in _as_list(datasource):
                if ds == "tpf":  # primary and secondary TPF targets
                    parts.append("datasource GLOB 'tpf*'")
                else:
                    parts.append("datasource = ?")
                    params.append(ds)
            clauses.append("(" + " OR ".join(parts) + ")")
        if tmag_min is not None:
            clauses.append("tmag >= ?")
            params.append(float(tmag_min))
        if tmag_max is not None:
            clauses.append("tmag <= ?")
            params.append(float(tmag_max))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def rows(self, *, limit: int | None = None, **filters: Any) -> list[TodoRow]:
        """``todolist`` rows matching the filters, in priority order.

        Filters (all optional, combined with AND; list values mean "any of"):
        ``priorities``, ``starid``, ``sector``, ``camera``, ``ccd``, ``cadence``,
        ``cbv_area``, ``datasource`` (``"tpf"`` matches primary and secondary TPF rows,
        ``"tpf:<TIC>"`` one primary's secondaries), ``tmag_min``, ``tmag_max`` (inclusive).
        """
        where, params = self._where(**filters)
        sql = f"SELECT {', '.join(_ROW_COLUMNS)} FROM todolist{where} ORDER BY priority"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [_row_from_db(r) for r in self.conn.execute(sql, params)]

    def targets(self, *, limit: int | None = None, **filters: Any) -> list[Target]:
        """Like :meth:`rows`, as :class:`~tasoc_core.data.Target` objects."""
        return [r.to_target() for r in self.rows(limit=limit, **filters)]

    def row(self, priority: int) -> TodoRow:
        """The row with this priority; raises KeyError if there is none."""
        found = self.rows(priorities=[priority])
        if not found:
            raise KeyError(f"{self.path}: no target with priority {priority}")
        return found[0]

    def target(self, priority: int) -> Target:
        """The target with this priority; raises KeyError if there is none."""
        return self.row(priority).to_target()

    def count(self, **filters: Any) -> int:
        """Number of ``todolist`` rows matching the filters of :meth:`rows`."""
        where, params = self._where(**filters)
        return int(self.conn.execute(f"SELECT COUNT(*) FROM todolist{where}", params).fetchone()[0])

    # -- runs --------------------------------------------------------------------------------

    def start_run(self, stage: str, *, command: str | None = None, config: Any = None) -> int:
        """Record the start of a stage invocation; returns the run id."""
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO runs (stage, started_at, status, tasoc_version, command, config) "
                "VALUES (?, ?, 'running', ?, ?, ?)",
                (
                    stage,
                    utc_now(),
                    __version__,
                    command,
                    json.dumps(config, default=str) if config is not None else None,
                ),
            )
        return int(cur.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        *,
        status: str = "ok",
        counts: Mapping[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        """Record the end of a stage invocation."""
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, counts = ?, message = ? WHERE id = ?",
                (utc_now(), status, json.dumps(dict(counts or {}), default=str), message, run_id),
            )

    def runs(self) -> list[dict[str, Any]]:
        """All ``runs`` rows as dicts (JSON columns decoded)."""
        cur = self.conn.execute("SELECT * FROM runs ORDER BY id")
        names = [d[0] for d in cur.description]
        out = []
        for values in cur:
            row = dict(zip(names, values))
            for key in ("config", "counts"):
                if row[key] is not None:
                    row[key] = json.loads(row[key])
            out.append(row)
        return out
