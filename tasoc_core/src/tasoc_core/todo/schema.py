"""The TODO-file schema, its version and the forward migrations.

The schema version lives in ``PRAGMA user_version``; ``PRAGMA application_id`` marks the
file as a tasoc TODO-file. Opening a file with an older version migrates it forward, in one
transaction, through :data:`MIGRATIONS`; a file with a newer version is refused with
:class:`~tasoc_core.exceptions.SchemaError`. ``docs/todo-file.md`` documents every table.

Adding a migration
------------------
1. Bump :data:`SCHEMA_VERSION` to N.
2. Add ``MIGRATIONS[N - 1] = function(conn)`` taking a version N-1 file to N (ALTER TABLE,
   CREATE TABLE/INDEX, data fixes). Never edit :data:`SCHEMA_V1` or an earlier migration:
   files in the field were made by them.
3. Describe the change in ``docs/todo-file.md`` under "Schema history".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "RESULT_TABLES",
    "SCHEMA_V1",
    "SCHEMA_VERSION",
    "create_schema",
]

#: Schema version written by this tasoc.
SCHEMA_VERSION = 1

#: ``PRAGMA application_id`` of tasoc TODO-files: ASCII "TSOC".
APPLICATION_ID = 0x54534F43

#: Tables holding results of later stages (a TODO-file with rows in any has results).
RESULT_TABLES = ("photometry", "photometry_skipped", "datavalidation", "corrections")

SCHEMA_V1 = """
CREATE TABLE todolist (
    priority INTEGER PRIMARY KEY NOT NULL,
    starid INTEGER NOT NULL,
    sector INTEGER NOT NULL,
    camera INTEGER NOT NULL CHECK (camera BETWEEN 1 AND 4),
    ccd INTEGER NOT NULL CHECK (ccd BETWEEN 1 AND 4),
    cadence INTEGER NOT NULL CHECK (cadence > 0),
    datasource TEXT NOT NULL CHECK (datasource = 'ffi' OR datasource = 'tpf' OR datasource GLOB 'tpf:[0-9]*'),
    tmag REAL NOT NULL,
    ra DOUBLE NOT NULL,
    decl DOUBLE NOT NULL,
    pm_ra REAL,
    pm_decl REAL,
    teff REAL,
    cbv_area INTEGER NOT NULL,
    edge_dist REAL,
    tpf_path TEXT,
    forced_method TEXT
);
CREATE UNIQUE INDEX todolist_unique_target_idx ON todolist (starid, datasource, sector, camera, ccd, cadence);
CREATE INDEX todolist_starid_idx ON todolist (starid);
CREATE INDEX todolist_selection_idx ON todolist (sector, camera, ccd, cadence, datasource);
CREATE INDEX todolist_tmag_idx ON todolist (tmag);
CREATE INDEX todolist_cbv_area_idx ON todolist (cbv_area);

CREATE TABLE photometry (
    priority INTEGER NOT NULL REFERENCES todolist (priority) ON DELETE CASCADE ON UPDATE CASCADE,
    method TEXT NOT NULL,
    status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 6),
    rule TEXT,
    plugin TEXT,
    plugin_version TEXT,
    lightcurve TEXT,
    elaptime REAL,
    worker_wait_time REAL,
    started_at TEXT,
    finished_at TEXT,
    mean_flux DOUBLE,
    variance DOUBLE,
    variability DOUBLE,
    rms_hour DOUBLE,
    ptp DOUBLE,
    pos_row REAL,
    pos_column REAL,
    contamination REAL,
    mask_size INTEGER,
    edge_flux REAL,
    stamp_width INTEGER,
    stamp_height INTEGER,
    stamp_resizes INTEGER,
    minimal_mask INTEGER CHECK (minimal_mask IN (0, 1)),
    num_good INTEGER,
    errors TEXT,
    extra TEXT CHECK (extra IS NULL OR json_valid(extra)),
    PRIMARY KEY (priority, method)
);
CREATE INDEX photometry_method_status_idx ON photometry (method, status);
CREATE INDEX photometry_status_idx ON photometry (status);
CREATE UNIQUE INDEX photometry_lightcurve_idx ON photometry (lightcurve) WHERE lightcurve IS NOT NULL;

CREATE TABLE photometry_skipped (
    priority INTEGER NOT NULL REFERENCES todolist (priority) ON DELETE CASCADE ON UPDATE CASCADE,
    method TEXT NOT NULL,
    skipped_by INTEGER NOT NULL REFERENCES todolist (priority) ON DELETE RESTRICT ON UPDATE CASCADE,
    PRIMARY KEY (priority, method)
);
CREATE INDEX photometry_skipped_by_idx ON photometry_skipped (skipped_by, method);

CREATE TABLE datavalidation (
    priority INTEGER NOT NULL REFERENCES todolist (priority) ON DELETE CASCADE ON UPDATE CASCADE,
    method TEXT NOT NULL,
    corrector TEXT NOT NULL DEFAULT '',
    dataval INTEGER NOT NULL DEFAULT 0,
    approved INTEGER CHECK (approved IN (0, 1)),
    PRIMARY KEY (priority, method, corrector)
);
CREATE INDEX datavalidation_approved_idx ON datavalidation (method, corrector, approved);

CREATE TABLE corrections (
    priority INTEGER NOT NULL REFERENCES todolist (priority) ON DELETE CASCADE ON UPDATE CASCADE,
    method TEXT NOT NULL,
    corrector TEXT NOT NULL,
    status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 6),
    plugin TEXT,
    plugin_version TEXT,
    lightcurve TEXT,
    elaptime REAL,
    worker_wait_time REAL,
    started_at TEXT,
    finished_at TEXT,
    variance_before DOUBLE,
    rms_hour_before DOUBLE,
    ptp_before DOUBLE,
    variance DOUBLE,
    rms_hour DOUBLE,
    ptp DOUBLE,
    errors TEXT,
    extra TEXT CHECK (extra IS NULL OR json_valid(extra)),
    PRIMARY KEY (priority, method, corrector)
);
CREATE INDEX corrections_status_idx ON corrections (corrector, method, status);
CREATE UNIQUE INDEX corrections_lightcurve_idx ON corrections (lightcurve) WHERE lightcurve IS NOT NULL;

CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stage TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),
    tasoc_version TEXT,
    command TEXT,
    config TEXT CHECK (config IS NULL OR json_valid(config)),
    counts TEXT CHECK (counts IS NULL OR json_valid(counts)),
    message TEXT
);
CREATE INDEX runs_stage_idx ON runs (stage, started_at);
"""

Migration = Callable[[sqlite3.Connection], None]

#: ``MIGRATIONS[n]`` takes a version-n file to version n+1 inside an open transaction.
MIGRATIONS: Mapping[int, Migration] = {}


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the current schema in an empty database (inside the caller's transaction)."""
    for statement in _statements(SCHEMA_V1):
        conn.execute(statement)
    for version in range(1, SCHEMA_VERSION):
        MIGRATIONS[version](conn)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _statements(script: str) -> list[str]:
    # Splitting on ';' is safe here: the schema has no string literals containing ';'.
    return [s.strip() for s in script.split(";") if s.strip()]
