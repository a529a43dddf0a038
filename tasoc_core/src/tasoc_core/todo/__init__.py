"""The TODO-file: targets of a run and the results of every later stage.

``tasoc todo`` writes ``<paths.output>/todo.sqlite`` with :func:`make_todo`; every stage
opens it with :meth:`TodoFile.open`. ``docs/todo-file.md`` documents the schema.
"""

from __future__ import annotations

from tasoc_core.todo.build import TodoBuildResult, make_todo, todo_path
from tasoc_core.todo.schema import APPLICATION_ID, MIGRATIONS, RESULT_TABLES, SCHEMA_VERSION
from tasoc_core.todo.targets import (
    CCDCatalog,
    SecondaryCleanup,
    collected_edge_distance,
    ffi_targets,
    select_secondaries,
    stamp_edge_distance,
    tpf_targets,
    unique_rows,
)
from tasoc_core.todo.todofile import (
    TodoFile,
    TodoFileExistsError,
    TodoRow,
    assign_priorities,
    priority_key,
    utc_now,
)

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "RESULT_TABLES",
    "SCHEMA_VERSION",
    "CCDCatalog",
    "SecondaryCleanup",
    "TodoBuildResult",
    "TodoFile",
    "TodoFileExistsError",
    "TodoRow",
    "assign_priorities",
    "collected_edge_distance",
    "ffi_targets",
    "make_todo",
    "priority_key",
    "select_secondaries",
    "stamp_edge_distance",
    "todo_path",
    "tpf_targets",
    "unique_rows",
    "utc_now",
]
