"""Run every stage benchmark and write ``docs/benchmarks.md``.

Run: ``python benchmarks/run_all.py [--quick] [--only NAME,...] [--output PATH]
[--timeout SECONDS]``.

Every ``benchmarks/bench_*.py`` runs in its own subprocess (one after the other, so that
they do not compete for the cores), with its default arguments, or with the small ones
listed in :data:`BENCHMARKS` under ``--quick``. Its printed figures go verbatim into
``docs/benchmarks.md`` under its own heading, with the requirement it is measured against,
its command line and wall time, and the machine: CPU model, cores, Python and numpy
versions, date, git commit and the load average before and after (the machine may be
shared; each benchmark measures its reference in the same run, so its ratios stay
comparable). ``bench_photometry.py`` and ``bench_correct.py`` share one simulated sector.

``--quick`` finishes in under 10 minutes on 2 cores (6.9 min measured on a shared, loaded
machine). The defaults take longer: an estimated 30–60 min, extrapolated from the quick
figures, not measured (the demo sector's simulation, prepare, photometry and corrections,
the CBV build of 5000 stars, 48 full-size FFIs through prepare and 40 full-profile frames
of the simulator dominate). A benchmark not
listed below runs with its defaults. The exit status is 1 if any benchmark failed (each
is named on stderr); the file is written either way.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@attrs.frozen
class Benchmark:
    """How ``run_all`` runs one benchmark and what it is held to."""

    requirement: str
    quick: tuple[str, ...] = ()
    default: tuple[str, ...] = ()
    #: Whether it takes ``--dir`` for the sector shared by the end-to-end benchmarks.
    shares_sector: bool = False


#: Requirements (from each benchmark's docstring) and the ``--quick`` arguments.
BENCHMARKS: dict[str, Benchmark] = {
    "taskfarm": Benchmark("≥ 2000 trivial tasks/s through each backend", quick=("5000",)),
    "todo": Benchmark(
        "none fixed; catalog, TODO creation and stars-in-stamp lookup against the "
        "straightforward astropy / full-scan / SQL-box recipes",
        quick=("--stars", "10000", "--tpfs", "50", "--lookups", "500"),
    ),
    "simulate": Benchmark(
        "full profile (1300 full FFIs, ≥ 30 000 stars) projected ≤ 15 min on 2 cores",
        quick=("--full-frames", "4"),
    ),
    "prepare": Benchmark(
        "a full CCD of 1300 frames through `tasoc prepare` ≤ 15 min on 2 cores (extrapolated)",
        quick=("8", "2"),
    ),
    "background": Benchmark(
        "full estimate of one 2048² FFI ≤ ½ of one photutils Background2D pass", quick=("3",)
    ),
    "stamp_read": Benchmark("15×15 stamp over 1300 cadences ≤ 10 ms"),
    "timing": Benchmark(
        "none fixed (per-target timestamps of every FFI target); reference astropy "
        "light_travel_time",
        quick=("--targets", "100", "--reference-targets", "10"),
    ),
    "aperture": Benchmark(
        "aperture method ≤ 15 ms per Tmag-10 FFI target (1300 cadences)", quick=("--repeat", "10")
    ),
    "halo": Benchmark(
        "TV-min on 200 px × 3000 cadences ≤ 0.2 s, objective within 1 % of the reference",
        quick=("--repeat", "5"),
    ),
    "output": Benchmark(
        "none fixed; diagnostics + light-curve file of one target against naive versions "
        "and the astropy HDUList writer"
    ),
    "photometry": Benchmark(
        "`tasoc run` ≤ 40 ms per FFI target end to end on one core",
        quick=("--profile", "ci", "--reference-targets", "30"),
        shares_sector=True,
    ),
    "cbv": Benchmark(
        "CBV fit ≤ 5 ms per star; CBV build of one 5000-star area ≤ 60 s", quick=("1000",)
    ),
    "ensemble": Benchmark("≤ 50 ms per star with a warm neighbour cache", quick=("500", "50")),
    "corrected": Benchmark(
        "none fixed; corrected light-curve file (ensemble, cbv) against the astropy HDUList "
        "writer it replaced"
    ),
    "correct": Benchmark(
        "cbv correct phase ≤ 5 ms and ensemble ≤ 50 ms per light curve inside `tasoc "
        "correct`; end to end reported against lightkurve",
        quick=("--profile", "ci", "--reference-lcs", "30"),
        shares_sector=True,
    ),
}


def discover() -> list[str]:
    """Benchmark names (``bench_NAME.py``), listed ones first in pipeline order."""
    found = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    return [n for n in BENCHMARKS if n in found] + [n for n in found if n not in BENCHMARKS]


def docstring_summary(name: str) -> str:
    """The first line of a benchmark's module docstring."""
    path = HERE / f"bench_{name}.py"
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def machine() -> dict[str, str]:
    """CPU, cores, memory, Python and numpy versions, date and git commit."""
    import numpy as np

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024**2:.0f} GB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "CPU": cpu,
        "cores": f"{os.cpu_count()} ({usable} usable by this process)",
        "memory": memory or "unknown",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "numpy": np.__version__,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git commit": commit,
    }


def load() -> str:
    """The 1, 5 and 15-minute load averages."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


@attrs.frozen
class Outcome:
    name: str
    command: str
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    load_before: str
    load_after: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_one(
    name: str, args: tuple[str, ...], timeout: float, shown_args: tuple[str, ...] | None = None
) -> Outcome:
    """Run ``bench_NAME.py ARGS`` in a subprocess from the repository root.

    ``shown_args`` (default ``args``) is what the report shows, without temporary paths.
    """
    cmd = [sys.executable, str(HERE / f"bench_{name}.py"), *args]
    shown = " ".join(["python", f"benchmarks/bench_{name}.py", *(shown_args or args)])
    before = load()
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
        )
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code = -1
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = f"timed out after {timeout:.0f} s"
    return Outcome(name, shown, code, time.perf_counter() - start, out, err, before, load())


def render(outcomes: list[Outcome], info: dict[str, str], quick: bool, loads: tuple[str, str],
           total: float) -> str:  # fmt: skip
    """The Markdown of docs/benchmarks.md."""
    mode = "--quick" if quick else "default arguments"
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `python benchmarks/run_all.py{' --quick' if quick else ''}` ({mode}); "
        "do not edit by hand, run it again. Each section is the benchmark's own output, "
        "verbatim. Every benchmark measures its reference (photutils, lightkurve, astropy or "
        "the naive approach) in the same run, so ratios are comparable even on a loaded "
        "machine; absolute times are not. The end-to-end benchmarks (photometry, correct) "
        "share one simulated sector in a temporary directory (SHARED_TMP), set up by the "
        "first of them.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        f"| load average (1/5/15 min) at start | {loads[0]} |",
        f"| load average (1/5/15 min) at end | {loads[1]} |",
        f"| total wall time | {total / 60:.1f} min |",
        "",
        "## Summary",
        "",
        "| benchmark | requirement | status | wall time |",
        "|---|---|---|---|",
    ]
    for o in outcomes:
        req = BENCHMARKS[o.name].requirement if o.name in BENCHMARKS else "see its docstring"
        status = "ran" if o.ok else f"**FAILED** (exit {o.returncode})"
        lines.append(f"| [{o.name}](#bench_{o.name}) | {req} | {status} | {o.seconds:.0f} s |")
    lines += [
        "",
        '"ran" means the benchmark finished; whether a requirement is met is in its own '
        "figures below.",
    ]
    for o in outcomes:
        req = BENCHMARKS[o.name].requirement if o.name in BENCHMARKS else "see its docstring"
        lines += [
            "",
            f"## bench_{o.name}",
            "",
            f"{docstring_summary(o.name)}",
            "",
            f"* Requirement: {req}",
            f"* Command: `{o.command}`",
            f"* Wall time {o.seconds:.1f} s; load average before {o.load_before}, after "
            f"{o.load_after}",
            "",
            "```text",
            o.stdout.rstrip() or "(no output)",
            "```",
        ]
        if not o.ok:
            tail = "\n".join(o.stderr.rstrip().splitlines()[-30:])
            lines += ["", f"Failed (exit {o.returncode}); end of stderr:", "", "```text", tail,
                      "```"]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small arguments (< 10 min)")
    parser.add_argument("--only", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds per benchmark (default 3600)"
    )
    args = parser.parse_args()

    names = discover()
    if args.only:
        wanted = [n.strip().removeprefix("bench_") for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(names)}")
        names = [n for n in names if n in wanted]

    info = machine()
    start_load, start = load(), time.perf_counter()
    outcomes = []
    shared = Path(tempfile.mkdtemp(prefix="tasoc_bench_sector_"))
    try:
        for name in names:
            spec = BENCHMARKS.get(name, Benchmark("see its docstring"))
            bench_args = shown_args = spec.quick if args.quick else spec.default
            if spec.shares_sector:
                bench_args = (*bench_args, "--dir", str(shared / "sector"))
                shown_args = (*shown_args, "--dir", "SHARED_TMP/sector")
            print(f"==> bench_{name} {' '.join(bench_args)}", file=sys.stderr, flush=True)
            outcome = run_one(name, bench_args, args.timeout, shown_args)
            outcomes.append(outcome)
            state = "ok" if outcome.ok else f"FAILED (exit {outcome.returncode})"
            print(f"    {state} in {outcome.seconds:.0f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    total = time.perf_counter() - start

    text = render(outcomes, info, args.quick, (start_load, load()), total)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, args.output)
    print(f"wrote {args.output} ({total / 60:.1f} min)", file=sys.stderr)
    failed = [o.name for o in outcomes if not o.ok]
    if failed:
        print(f"failed benchmarks: {', '.join('bench_' + n for n in failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
