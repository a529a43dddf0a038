"""``tasoc simulate``: write a simulated TESS sector with known truth."""

from __future__ import annotations

from pathlib import Path

import click

from tasoc_core.cli._app import AppContext, cli, echo_json, pass_app

__all__ = ["simulate_command"]


@cli.command("simulate")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--profile",
    type=click.Choice(["ci", "demo", "halo", "full"]),
    default="ci",
    show_default=True,
    help="Size: ci (seconds, sub-frame), demo (≤ 2 min), halo (a pulsating saturated star "
    "on a 96-px sub-frame, full-length orbits), full (whole CCD, benchmarks).",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same bytes)."
)
@click.option(
    "--sector", type=int, default=None, help="Sector (default 2: real pointing, WCS and ephemeris)."
)
@click.option("--camera", type=int, default=None, help="Camera 1-4 (default 1).")
@click.option("--ccd", type=int, default=None, help="CCD 1-4 (default 1).")
@click.option(
    "--cadence",
    type=int,
    default=1800,
    show_default=True,
    help="FFI cadence in seconds: 1800, 600 or 200.",
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Processes rendering frames (default: profile's, else all CPUs).",
)
@click.option(
    "--max-frames",
    type=int,
    default=None,
    hidden=True,
    help="Write only the first N FFIs (benchmarks).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace OUT if it exists (only once the new sector is complete).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@pass_app
def simulate_command(
    app: AppContext,
    out: Path,
    profile: str,
    seed: int,
    sector: int | None,
    camera: int | None,
    ccd: int | None,
    cadence: int,
    workers: int | None,
    max_frames: int | None,
    overwrite: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Simulate a TESS sector into directory OUT.

    OUT gets FFIs, TPFs, a TIC-like catalog, SPICE kernels, PRF files, the injected truth
    and a tasoc.toml to run the pipeline on it (tasoc -c OUT/tasoc.toml ...). Nothing is
    written to OUT until the whole sector is complete.
    """
    from tasoc_core.simulate import (
        DEFAULT_CAMERA,
        DEFAULT_CCD,
        DEFAULT_SECTOR,
        get_profile,
        simulate,
    )
    from tasoc_core.simulate._engine import expected_files

    prof = get_profile(profile)
    kwargs = {
        "profile": profile,
        "seed": seed,
        "sector": DEFAULT_SECTOR if sector is None else sector,
        "camera": DEFAULT_CAMERA if camera is None else camera,
        "ccd": DEFAULT_CCD if ccd is None else ccd,
        "cadence": cadence,
        "overwrite": overwrite,
        "workers": workers,
        "max_frames": max_frames,
    }
    if app.show_progress and not as_json:
        total = expected_files(prof, cadence, max_frames)
        with click.progressbar(
            length=total, label=f"Simulating ({profile})", file=click.get_text_stream("stderr")
        ) as bar:
            result = simulate(out, progress=bar.update, **kwargs)
    else:
        result = simulate(out, **kwargs)
    summary = {
        "out": str(result.out),
        "ffis": result.n_ffi,
        "tpfs": result.n_tpf,
        "stars": result.n_stars,
        "seconds": round(result.seconds, 2),
        "seconds_per_ffi": round(result.ffi_seconds / max(result.n_ffi, 1), 4),
        "seconds_per_tpf": round(result.tpf_seconds / max(result.n_tpf, 1), 3),
    }
    if as_json:
        echo_json(summary)
    elif app.verbosity >= 0:
        click.echo(
            f"Simulated {result.n_ffi} FFIs, {result.n_tpf} TPFs and {result.n_stars} stars into {result.out} "
            f"in {result.seconds:.1f} s. Run the pipeline with: tasoc -c {result.out / 'tasoc.toml'} ..."
        )
