"""Shared helpers for cross-package tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tasoc_cli():
    """Run ``python -m tasoc_core ARGS`` in a subprocess with extra ``sys.path`` entries."""

    def run(
        *args: str, pythonpath: list[Path] = (), cwd: Path | None = None, env: dict | None = None
    ):
        environ = {
            k: v
            for k, v in os.environ.items()
            if k not in ("TASOC_CONFIG", "TASOC_DISABLE_PLUGINS")
        }
        paths = [str(p) for p in pythonpath] + (
            [environ["PYTHONPATH"]] if environ.get("PYTHONPATH") else []
        )
        if paths:
            environ["PYTHONPATH"] = os.pathsep.join(paths)
        environ.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "tasoc_core", *args],
            capture_output=True, text=True, cwd=cwd, env=environ, timeout=300,
        )  # fmt: skip

    return run
