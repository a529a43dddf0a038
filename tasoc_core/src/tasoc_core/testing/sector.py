"""The simulated ``ci`` sector as a session-scoped pytest fixture (``ci_sector``).

Generated once per test session through the command line (``tasoc simulate OUT --profile
ci --seed 1``) and shared by every test that asks for it: simulator tests, and the
catalog, prepare, photometry and correction stages downstream. Set the environment
variable ``TASOC_CI_SECTOR`` to a directory to keep the sector between sessions (it is
generated there if missing and reused otherwise).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["CI_SECTOR_ENV", "CI_SECTOR_SEED", "ci_sector", "make_ci_sector"]

#: Environment variable naming a directory in which to keep the ci sector between sessions.
CI_SECTOR_ENV = "TASOC_CI_SECTOR"
#: Seed of the shared ci sector.
CI_SECTOR_SEED = 1


def make_ci_sector(out: Path) -> Path:
    """Simulate the ci sector into ``out`` with the command line, unless already there."""
    from click.testing import CliRunner

    from tasoc_core.cli import cli

    if (out / "simulation.json").is_file():
        return out
    result = CliRunner().invoke(
        cli, ["-q", "simulate", str(out), "--profile", "ci", "--seed", str(CI_SECTOR_SEED)]
    )
    if result.exit_code != 0:
        raise RuntimeError(
            f"tasoc simulate failed ({result.exit_code}): {result.output}"
        ) from result.exception
    return out


@pytest.fixture(scope="session")
def ci_sector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory of the simulated ci sector (read it with ``tasoc_core.simulate.Truth``)."""
    keep = os.environ.get(CI_SECTOR_ENV)
    out = Path(keep) if keep else tmp_path_factory.mktemp("ci_sector") / "sector"
    return make_ci_sector(out)
