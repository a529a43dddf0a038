"""The TODO-file DB layer: schema, WAL, transactions, queries, migrations, refusals."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tasoc_core.data import Target
from tasoc_core.exceptions import InputFileError, SchemaError
from tasoc_core.todo import (
    APPLICATION_ID,
    RESULT_TABLES,
    SCHEMA_VERSION,
    TodoFile,
    TodoFileExistsError,
    TodoRow,
    assign_priorities,
)


def _row(starid: int, tmag: float, datasource: str = "ffi", **kw: object) -> TodoRow:
    values = {
        "starid": starid, "sector": 1, "camera": 1, "ccd": 1, "cadence": 1800 if datasource == "ffi" else 120,
        "datasource": datasource, "tmag": tmag, "ra": 10.0 + starid * 1e-3, "dec": -20.0, "cbv_area": 111,
    }  # fmt: skip
    values.update(kw)
    return TodoRow(**values)  # type: ignore[arg-type]


def _rows() -> list[TodoRow]:
    rows = [
        _row(i, 5.0 + 0.1 * i, sector=1 + i % 2, camera=1 + i % 4, ccd=1 + (i // 4) % 4)
        for i in range(1, 41)
    ]
    rows += [
        _row(7, 5.7, "tpf", tpf_path="tpf/a.fits", edge_dist=None, teff=5800.0),
        _row(7, 5.7, "tpf", cadence=20, tpf_path="tpf/a_fast.fits"),
        _row(500, 13.0, "tpf:7", tpf_path="tpf/a.fits", edge_dist=2.5, pm_ra=1.0, pm_dec=-2.0),
        _row(501, 14.0, "tpf:8", tpf_path="tpf/b.fits", edge_dist=1.0, forced_method="halo"),
    ]
    return rows


@pytest.fixture
def todo(tmp_path: Path) -> TodoFile:
    with TodoFile.create(tmp_path / "todo.sqlite", _rows()) as t:
        yield t


def test_new_file_has_schema_wal_and_priorities(todo: TodoFile) -> None:
    conn = todo.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert todo.schema_version == SCHEMA_VERSION == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"todolist", "runs", *RESULT_TABLES} <= tables
    rows = todo.rows()
    assert [r.priority for r in rows] == list(range(1, len(rows) + 1))
    tmags = [r.tmag for r in rows]
    assert tmags == sorted(tmags)  # brightest first
    # The same star: TPF primary (20 s, then 120 s) before its FFI row.
    star7 = [(r.datasource, r.cadence) for r in rows if r.starid == 7]
    assert star7 == [("tpf", 20), ("tpf", 120), ("ffi", 1800)]
    runs = todo.runs()
    assert runs[0]["stage"] == "todo"
    assert runs[0]["status"] == "ok"
    assert runs[0]["counts"] == {"targets": 44}
    assert todo.result_counts() == dict.fromkeys(RESULT_TABLES, 0)


def test_rows_round_trip(tmp_path: Path) -> None:
    rows = assign_priorities(_rows())
    with TodoFile.create(tmp_path / "todo.sqlite", rows) as t:
        back = t.rows()
    assert back == rows
    secondary = next(r for r in back if r.datasource == "tpf:7")
    assert (secondary.edge_dist, secondary.pm_ra, secondary.pm_dec, secondary.teff) == (
        2.5,
        1.0,
        -2.0,
        None,
    )
    assert next(r for r in back if r.starid == 501).forced_method == "halo"


def test_target_queries(todo: TodoFile) -> None:
    assert todo.count() == 44
    assert todo.count(datasource="ffi") == 40
    assert todo.count(datasource="tpf") == 4  # primaries and secondaries
    assert [t.starid for t in todo.targets(datasource="tpf:7")] == [500]
    assert todo.count(datasource=["tpf:7", "tpf:8"]) == 2
    assert todo.count(cadence=20) == 1
    assert todo.count(sector=2, datasource="ffi") == 20
    assert todo.count(camera=[1, 2], ccd=1, datasource="ffi") == sum(
        1 for i in range(1, 41) if 1 + i % 4 in (1, 2) and 1 + (i // 4) % 4 == 1
    )
    assert todo.count(tmag_min=6.0, tmag_max=7.0) == 11  # inclusive: 6.0, 6.1, ..., 7.0
    assert todo.count(starid=7) == 3
    big = list(range(1, 5000))  # many values go through json_each, not SQL parameters
    assert todo.count(priorities=big) == 44
    targets = todo.targets(datasource="tpf", limit=2)
    assert all(isinstance(t, Target) for t in targets)
    assert [t.priority for t in targets] == sorted(t.priority for t in targets)
    assert len(targets) == 2
    first = todo.target(1)
    assert first.priority == 1
    assert first.tmag == 5.1
    with pytest.raises(KeyError, match="no target with priority 999"):
        todo.target(999)


def test_results_are_keyed_by_method_and_corrector(todo: TodoFile) -> None:
    with todo.transaction() as conn:
        conn.execute("INSERT INTO photometry (priority, method, status) VALUES (1, 'aperture', 1)")
        conn.execute(
            "INSERT INTO photometry (priority, method, status, extra) VALUES (1, 'halo', 3, '{\"x\": 1}')"
        )
        conn.execute(
            "INSERT INTO corrections (priority, method, corrector, status) VALUES (1, 'aperture', 'cbv', 1)"
        )
        conn.execute(
            "INSERT INTO corrections (priority, method, corrector, status) VALUES (1, 'aperture', 'ensemble', 1)"
        )
        conn.execute(
            "INSERT INTO datavalidation (priority, method, dataval, approved) VALUES (1, 'aperture', 0, 1)"
        )
        conn.execute(
            "INSERT INTO photometry_skipped (priority, method, skipped_by) VALUES (2, 'aperture', 1)"
        )
    assert todo.result_counts() == {
        "photometry": 2,
        "photometry_skipped": 1,
        "datavalidation": 1,
        "corrections": 2,
    }
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"), todo.transaction() as conn:
        conn.execute("INSERT INTO photometry (priority, method, status) VALUES (1, 'aperture', 2)")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), todo.transaction() as conn:
        conn.execute(
            "INSERT INTO photometry (priority, method, status) VALUES (999, 'aperture', 1)"
        )
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"), todo.transaction() as conn:
        conn.execute(
            "INSERT INTO photometry (priority, method, status, extra) VALUES (3, 'x', 1, 'not json')"
        )
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), todo.transaction() as conn:
        conn.execute("DELETE FROM todolist WHERE priority = 1")  # skipped_by RESTRICT protects it
    assert todo.result_counts()["photometry"] == 2


def test_transactions_roll_back_whole_or_savepoint(todo: TodoFile) -> None:
    class Boom(Exception):
        pass

    def insert_then_fail(priority: int) -> None:
        with todo.transaction() as conn:
            conn.execute(
                "INSERT INTO photometry (priority, method, status) VALUES (?, 'aperture', 1)",
                (priority,),
            )
            raise Boom

    with pytest.raises(Boom):
        insert_then_fail(1)
    assert todo.result_counts()["photometry"] == 0
    with todo.transaction() as conn:
        conn.execute("INSERT INTO photometry (priority, method, status) VALUES (1, 'aperture', 1)")
        with pytest.raises(Boom):
            insert_then_fail(2)  # nested: rolls back to its savepoint only
    assert [r[0] for r in todo.conn.execute("SELECT priority FROM photometry")] == [1]


def test_wal_lets_a_reader_see_committed_data_while_a_writer_is_busy(todo: TodoFile) -> None:
    with TodoFile.open(todo.path, readonly=True) as reader, todo.transaction() as conn:
        conn.execute("INSERT INTO photometry (priority, method, status) VALUES (1, 'aperture', 1)")
        assert reader.result_counts()["photometry"] == 0  # not blocked, sees the committed state
    with TodoFile.open(todo.path, readonly=True) as reader:
        assert reader.result_counts()["photometry"] == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.conn.execute("DELETE FROM photometry")


def test_runs_are_recorded(todo: TodoFile) -> None:
    run = todo.start_run("run", command="tasoc run", config={"run": {"backend": "serial"}})
    assert todo.runs()[-1]["status"] == "running"
    todo.finish_run(run, status="interrupted", counts={"done": 3}, message="Ctrl-C")
    last = todo.runs()[-1]
    assert (last["stage"], last["status"], last["counts"], last["message"]) == (
        "run",
        "interrupted",
        {"done": 3},
        "Ctrl-C",
    )
    assert last["config"] == {"run": {"backend": "serial"}}
    assert last["finished_at"] >= last["started_at"]


def _set_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={version}")
    conn.close()


def test_newer_schema_is_refused_with_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "todo.sqlite"
    TodoFile.create(path, _rows()).close()
    _set_version(path, SCHEMA_VERSION + 1)
    with pytest.raises(
        SchemaError, match=rf"{path}: TODO-file schema version 2 is newer .* \(version 1\)"
    ):
        TodoFile.open(path)


def test_forward_migration_runs_in_one_transaction(tmp_path: Path) -> None:
    path = tmp_path / "todo.sqlite"
    TodoFile.create(path, _rows()).close()

    def v1_to_v2(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE photometry ADD COLUMN flux_ratio REAL")
        conn.execute("CREATE TABLE cbv_areas (cbv_area INTEGER PRIMARY KEY, n INTEGER)")

    def v2_to_v3(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO cbv_areas SELECT cbv_area, COUNT(*) FROM todolist GROUP BY cbv_area"
        )

    steps = {1: v1_to_v2, 2: v2_to_v3}
    with pytest.raises(SchemaError, match="needs migrating to 3; open it once with write access"):
        TodoFile.open(path, readonly=True, migrations=steps, schema_version=3)
    with TodoFile.open(path, migrations=steps, schema_version=3) as t:
        assert t.schema_version == 3
        cols = [r[1] for r in t.conn.execute("PRAGMA table_info(photometry)")]
        assert "flux_ratio" in cols
        assert t.conn.execute("SELECT n FROM cbv_areas").fetchone()[0] == 44
        assert t.count() == 44
        assert t.runs()[-1]["message"] == "schema 1 -> 3"
    with TodoFile.open(path, readonly=True, migrations=steps, schema_version=3) as t:
        assert t.schema_version == 3


def test_failed_migration_leaves_the_file_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "todo.sqlite"
    TodoFile.create(path, _rows()).close()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE photometry ADD COLUMN flux_ratio REAL")
        conn.execute("SELECT no_such_function()")

    with pytest.raises(
        SchemaError, match=r"migrating schema 1 -> 2 failed .* the file is unchanged"
    ):
        TodoFile.open(path, migrations={1: broken}, schema_version=2)
    with pytest.raises(SchemaError, match="no migration from schema version 1 to 2"):
        TodoFile.open(path, migrations={}, schema_version=2)
    with TodoFile.open(path) as t:
        assert t.schema_version == 1
        assert "flux_ratio" not in [r[1] for r in t.conn.execute("PRAGMA table_info(photometry)")]


def test_files_that_are_not_tasoc_todo_files(tmp_path: Path) -> None:
    with pytest.raises(
        InputFileError, match=r"TODO-file .*nope.sqlite does not exist \(run 'tasoc todo' first\)"
    ):
        TodoFile.open(tmp_path / "nope.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"junk" * 1000)
    with pytest.raises(InputFileError, match=rf"{junk}: not a readable SQLite database"):
        TodoFile.open(junk)
    original = tmp_path / "original.sqlite"
    conn = sqlite3.connect(original)
    conn.execute("CREATE TABLE todolist (priority INTEGER PRIMARY KEY, starid INTEGER)")
    conn.close()
    with pytest.raises(SchemaError, match="original TASOC pipeline"):
        TodoFile.open(original)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (a)").connection.close()
    with pytest.raises(SchemaError, match="not a tasoc TODO-file"):
        TodoFile.open(other)
    TodoFile.create(tmp_path / "todo.sqlite", _rows()).close()
    with TodoFile.open(tmp_path) as t:  # a directory means its todo.sqlite
        assert t.path == tmp_path / "todo.sqlite"


def test_create_refuses_to_replace_results_unless_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "todo.sqlite"
    with TodoFile.create(path, _rows()) as t, t.transaction() as conn:
        conn.execute("INSERT INTO photometry (priority, method, status) VALUES (1, 'aperture', 1)")
    with pytest.raises(
        TodoFileExistsError, match=r"holds results \(1 photometry\); use --overwrite"
    ):
        TodoFile.create(path, _rows()[:3])
    with TodoFile.open(path) as t:
        assert t.count() == 44  # untouched
    with TodoFile.create(path, _rows()[:3], overwrite=True) as t:
        assert t.count() == 3
        assert t.result_counts()["photometry"] == 0
    with TodoFile.create(path, _rows()[:5]) as t:  # no results: replaced without asking
        assert t.count() == 5
    path.write_bytes(b"junk" * 1000)
    with pytest.raises(TodoFileExistsError, match="cannot be checked for results"):
        TodoFile.create(path, _rows())


def test_failed_create_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "todo.sqlite"
    TodoFile.create(path, _rows()).close()
    dup = [*_rows()[:5], _rows()[0]]  # the same target twice violates the unique key
    with pytest.raises(ValueError, match="TODO rows violate the schema: UNIQUE"):
        TodoFile.create(path, dup, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["todo.sqlite"]
    with TodoFile.open(path) as t:
        assert t.count() == 44
    with pytest.raises(ValueError, match="either all rows or none"):
        TodoFile.create(path, [_row(1, 5.0, priority=1), _row(2, 6.0)], overwrite=True)


def test_a_stale_write_ahead_log_is_never_replayed(tmp_path: Path) -> None:
    """A valid but stale WAL of the old file (left by a killed process) must be removed."""
    path = tmp_path / "todo.sqlite"
    TodoFile.create(path, _rows()).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("DELETE FROM todolist WHERE priority > 1")
    stale = Path(f"{path}-wal").read_bytes()  # committed to the WAL, not yet to the file
    conn.close()
    Path(f"{path}-wal").write_bytes(stale)
    with TodoFile.create(path, _rows()[:6], overwrite=True) as t:
        assert t.count() == 6
        assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_bad_datasource_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CHECK constraint"):
        TodoFile.create(tmp_path / "todo.sqlite", [_row(1, 5.0, datasource="tess")])


def test_photometry_table_holds_every_standard_diagnostic(todo: TodoFile) -> None:
    from tasoc_core.photometry.diagnostics import DIAGNOSTIC_COLUMNS

    columns = {r[1] for r in todo.conn.execute("PRAGMA table_info(photometry)")}
    assert set(DIAGNOSTIC_COLUMNS) <= columns
    assert {
        "priority",
        "method",
        "status",
        "rule",
        "plugin",
        "plugin_version",
        "lightcurve",
        "extra",
    } <= columns
