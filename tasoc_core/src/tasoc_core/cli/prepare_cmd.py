"""``tasoc prepare``: backgrounds, pixel flags and HDF5 cubes from the FFIs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from tasoc_core.cli._app import AppContext, cli, echo_json, pass_app
from tasoc_core.cli.options import ccd_options
from tasoc_core.config import Config
from tasoc_core.config._structure import structure
from tasoc_core.exceptions import ConfigError, InputFileError, TasocError
from tasoc_core.families.background import BackgroundEstimator
from tasoc_core.io import find_ffis
from tasoc_core.plugins import TasocPluginManager

__all__ = ["build_estimator", "prepare"]


def build_estimator(config: Config, pm: TasocPluginManager) -> BackgroundEstimator:
    """The configured background estimator with its settings from ``[prepare.estimators.<name>]``."""
    registry = pm.registries.background
    for name in config.prepare.estimators:
        if name not in registry:
            raise ConfigError(
                f"prepare.estimators.{name}: no background estimator named {name!r} is installed "
                f"(installed: {', '.join(registry.names()) or 'none'})"
            )
    reg = pm.lookup("background", config.prepare.background)
    table = config.prepare.estimators.get(reg.name, {})
    settings = structure(reg.cls.Settings, table, f"prepare.estimators.{reg.name}")
    return reg.cls(settings)


_STAGES = {"scan": "reading headers", "backgrounds": "backgrounds", "flags": "pixel flags"}


class _Progress:
    """One click progress bar per stage of one CCD, shown only on a terminal."""

    def __init__(self, enabled: bool, what: str) -> None:
        self.enabled = enabled
        self.what = what
        self._bar: Any = None
        self._stage: str | None = None
        self._done = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self._stage:
            self.close()
            self._stage, self._done = stage, 0
            label = f"{self.what}: {_STAGES.get(stage, stage)}"
            self._bar = click.progressbar(
                length=total, label=label, file=click.get_text_stream("stderr")
            )
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


@contextmanager
def _progress(enabled: bool, what: str) -> Iterator[_Progress]:
    bar = _Progress(enabled, what)
    try:
        yield bar
    finally:
        bar.close()


@cli.command("prepare")
@click.option(
    "--sector",
    type=int,
    help="Sector to prepare (default: selection.sector, or the only sector found).",
)
@ccd_options
@click.option(
    "--movie", is_flag=True, help="Also write a QC movie (MP4 with ffmpeg, else GIF) of each CCD."
)
@click.option(
    "--overwrite", is_flag=True, help="Rebuild existing files (and discard unfinished ones)."
)
@click.option(
    "-j",
    "--workers",
    type=click.IntRange(1),
    help="Worker processes (default: prepare.workers, run.workers, all CPUs).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@pass_app
@click.pass_context
def prepare(
    ctx: click.Context,
    app: AppContext,
    sector: int | None,
    cameras: tuple[int, ...],
    ccds: tuple[int, ...],
    movie: bool,
    overwrite: bool,
    workers: int | None,
    as_json: bool,
) -> None:
    """Estimate backgrounds, flag pixels and write the HDF5 cube file of each camera/CCD.

    FFIs are searched for under paths.input; each camera/CCD gets
    <paths.output>/prepare/sector{SSS}_camera{C}_ccd{D}.hdf5. An interrupted run
    continues where it stopped when run again with the same inputs and settings. Bad
    frames and files are reported by name and the run goes on; the exit status is 1 if
    any camera/CCD failed.
    """
    from tasoc_core.prepare import hdf5_path, prepare_ccd
    from tasoc_core.prepare.movie import make_movie

    config = app.config
    estimator = build_estimator(config, app.pm)
    files = find_ffis(config.paths.input, sector=sector or config.selection.sector)
    if not files:
        raise InputFileError(f"no FFIs found under {config.paths.input}")
    sectors = sorted({f.sector for f in files})
    if len(sectors) > 1:
        raise ConfigError(
            f"FFIs of several sectors under {config.paths.input} ({', '.join(map(str, sectors))}); "
            "choose one with --sector or selection.sector"
        )
    sector = sectors[0]
    wanted_cameras = set(cameras or config.selection.cameras)
    wanted_ccds = set(ccds or config.selection.ccds)
    found = sorted(
        {(f.camera, f.ccd) for f in files if f.camera in wanted_cameras and f.ccd in wanted_ccds}
    )
    if not found:
        raise InputFileError(
            f"no FFIs of sector {sector}, cameras {sorted(wanted_cameras)}, CCDs {sorted(wanted_ccds)} "
            f"under {config.paths.input}"
        )
    nworkers = workers or config.prepare.workers or config.run.workers or os.cpu_count() or 1
    s = config.prepare
    summary: list[dict[str, Any]] = []
    failed = False
    for camera, ccd in found:
        what = f"sector {sector} camera {camera} CCD {ccd}"
        entry: dict[str, Any] = {"sector": sector, "camera": camera, "ccd": ccd}
        try:
            with _progress(app.show_progress, what) as bar:
                result = prepare_ccd(
                    sector, camera, ccd, input_dir=config.paths.input, output_dir=config.paths.output,
                    settings=s, estimator=estimator, workers=nworkers, overwrite=overwrite, progress=bar,
                )  # fmt: skip
            entry = result.as_dict()
            if movie:
                target = hdf5_path(config.paths.output, sector, camera, ccd)
                entry["movie"] = str(
                    make_movie(
                        target, fps=s.movie_fps, max_frames=s.movie_max_frames, size=s.movie_size
                    )
                )
        except TasocError as exc:
            failed = True
            entry["status"] = "failed"
            entry["error"] = str(exc)
            click.echo(f"Error: {what}: {exc}", err=True)
        summary.append(entry)
        if not as_json and entry.get("status") != "failed":
            line = f"{what}: {entry['status']} {entry['path']}"
            if entry["status"] == "created":
                line += (
                    f" ({entry['nframes']} frames, {len(entry['bad_frames'])} bad, "
                    f"{len(entry['skipped_files'])} skipped, {entry['seconds']:.0f} s)"
                )
            click.echo(line)
            for bad in entry.get("bad_frames", []):
                click.echo(f"  bad frame {bad['file']}: {bad['reason']}")
            for skipped in entry.get("skipped_files", []):
                click.echo(f"  skipped {skipped['file']}: {skipped['reason']}")
            if "movie" in entry:
                click.echo(f"  movie {entry['movie']}")
    if as_json:
        echo_json({"prepare": summary})
    if failed:
        ctx.exit(1)
