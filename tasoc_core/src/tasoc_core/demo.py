"""The end-to-end demo: a simulated sector taken through every stage of the pipeline.

``tasoc demo`` lays out a directory::

    DIR/sector/      the simulated sector (FFIs, TPFs, catalog, SPICE kernels, PRFs, truth)
    DIR/tasoc.toml   the run configuration (paths relative to DIR)
    DIR/work/        everything the pipeline writes (TODO-file, cubes, light curves, report)

and runs the stages in order through the same commands a user types, so that every stage
can be re-run or continued by hand (``tasoc -c DIR/tasoc.toml report``). Stages provided
by plugins (``cbv build``) run when the plugin is installed and are skipped otherwise.
The report stage's summary is printed once, at the end, with the time per stage.
Running the demo again continues where it stopped: each stage resumes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import tomli_w

from tasoc_core.config import read_toml
from tasoc_core.exceptions import ConfigError

__all__ = [
    "DEMO_CORRECTORS",
    "DemoStage",
    "demo_stages",
    "existing_sector",
    "write_demo_config",
]

logger = logging.getLogger(__name__)

#: Correctors the demo runs, in order, when they are installed.
DEMO_CORRECTORS = ("cbv", "ensemble")


@attrs.frozen
class DemoStage:
    """One step of the demo: a ``tasoc`` (sub)command and its options."""

    name: str  #: shown in the progress lines and the timing table
    command: tuple[str, ...]  #: the command path, e.g. ``("cbv", "build")``
    params: Mapping[str, Any] = attrs.field(factory=dict)  #: its options (parameter names)
    #: Skipped (not an error) when the command is not installed (a plugin's stage).
    optional: bool = False
    #: Its standard output is dropped because the demo prints the same thing at the end.
    silent: bool = False
    #: Done already when this file exists under the output directory (for stages that
    #: refuse to redo their work rather than resume it; their outputs are written atomically).
    done_if: str | None = None


def demo_stages(workers: int | None, correctors: Sequence[str]) -> list[DemoStage]:
    """The stages of the demo after the simulation.

    ``tasoc run`` validates its results itself, so there is no separate validation stage.
    """
    stages = [
        DemoStage("catalog", ("catalog",)),
        DemoStage("todo", ("todo",), done_if="todo.sqlite"),
        DemoStage("prepare", ("prepare",), {"workers": workers}),
        DemoStage("photometry", ("run",), {"workers": workers}),
    ]
    if "cbv" in correctors:
        stages.append(DemoStage("cbv build", ("cbv", "build"), optional=True))
    if correctors:
        stages.append(
            DemoStage(
                "correct", ("correct",), {"correctors": ",".join(correctors), "workers": workers}
            )
        )
    stages.append(DemoStage("report", ("report",), silent=True))
    return stages


def existing_sector(sector: Path, profile: str, seed: int) -> bool:
    """Whether ``sector`` holds a complete simulation of ``profile`` with ``seed``.

    The simulator writes ``simulation.json`` last, so its presence means complete.
    """
    meta = sector / "simulation.json"
    if not meta.is_file():
        return False
    try:
        info = json.loads(meta.read_text())
    except (OSError, ValueError):
        return False
    return info.get("profile") == profile and info.get("seed") == seed


def write_demo_config(directory: Path, sector: Path) -> Path:
    """``DIR/tasoc.toml``: the sector's own configuration with outputs in ``DIR/work``.

    The sector's relative input paths are rewritten relative to ``directory``; every other
    setting is kept as the simulator wrote it.
    """
    source = sector / "tasoc.toml"
    data = read_toml(source)
    paths = dict(data.get("paths", {}))
    if not paths:
        raise ConfigError(f"{source}: no [paths] section")
    prefix = Path(sector.name)
    for key, value in paths.items():
        if isinstance(value, str) and key != "output" and not Path(value).is_absolute():
            paths[key] = (prefix / value).as_posix() if value != "." else prefix.as_posix()
    paths["output"] = "work"
    data["paths"] = paths
    target = directory / "tasoc.toml"
    header = (
        "# Run configuration of `tasoc demo`; relative paths are relative to this file.\n"
        "# Run any stage again with: tasoc -c tasoc.toml <stage>\n"
    )
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(header + tomli_w.dumps(data))
    tmp.replace(target)
    return target
