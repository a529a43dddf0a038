"""``build_report``: the HTML report of one TODO-file.

The report directory holds ``report.html`` (self-contained: figures embedded as data URIs
unless ``embed=False``), the same figures as PNG files under ``figures/``, and
``report.json`` (the summary and the comparison the page shows). Everything is written
atomically; the HTML last, so a page on disk always has its figures.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from tasoc_core.config import Config
from tasoc_core.exceptions import InputFileError, TasocError
from tasoc_core.flags import DATAVAL
from tasoc_core.output._atomic import atomic_write_bytes
from tasoc_core.plugins import TasocPluginManager
from tasoc_core.report import html as H
from tasoc_core.report.lightcurves import read_lightcurve
from tasoc_core.report.population import population_figures
from tasoc_core.report.results import RunResults, load_results, status_name
from tasoc_core.report.sections import FigureWriter, ReportFigure, ReportSection
from tasoc_core.report.summary import run_seconds, summarize
from tasoc_core.report.targets import TargetResult, select_targets, target_figure
from tasoc_core.status import Status
from tasoc_core.todo import TodoFile

__all__ = ["FIGURE_DIR", "REPORT_NAME", "build_report", "plugin_sections"]

logger = logging.getLogger(__name__)

#: Name of the HTML file in the report directory.
REPORT_NAME = "report.html"
#: Directory (in the report directory) of the PNG files.
FIGURE_DIR = "figures"

_SUCCESS = (int(Status.OK), int(Status.WARNING))


def _overview(results: RunResults, summary: dict[str, Any]) -> ReportSection:
    t = results.targets
    parts = []
    if results.n_targets:
        keys = sorted(
            set(
                zip(
                    t["sector"].tolist(),
                    t["camera"].tolist(),
                    t["ccd"].tolist(),
                    t["cadence"].tolist(),
                )
            )
        )
        rows = []
        for sector, camera, ccd, cadence in keys:
            sel = (
                (t["sector"] == sector)
                & (t["camera"] == camera)
                & (t["ccd"] == ccd)
                & (t["cadence"] == cadence)
            )
            ds = t["datasource"][sel]
            rows.append([sector, camera, ccd, cadence, int(sel.sum()), int(np.sum(ds == "ffi")),
                         int(np.sum(ds == "tpf")), int(sum(str(d).startswith("tpf:") for d in ds)),
                         float(np.min(t["tmag"][sel])), float(np.max(t["tmag"][sel]))])  # fmt: skip
        parts.append(
            H.table(
                [
                    "sector",
                    "camera",
                    "CCD",
                    "cadence (s)",
                    "targets",
                    "FFI",
                    "TPF",
                    "TPF secondaries",
                    "Tmag min",
                    "Tmag max",
                ],
                rows,
            )
        )
    else:
        parts.append(H.paragraph("The TODO-file holds no targets.", "missing"))
    missing = summary["missing"]
    if missing:
        item = "<li>{} — run <code>{}</code></li>"
        items = "".join(item.format(escape(m["what"]), escape(m["hint"])) for m in missing)
        parts.append(
            f'<div class="missing"><p>Missing for a complete run:</p><ul>{items}</ul></div>'
        )
    else:
        parts.append(H.paragraph("Every stage has results for every target.", "ok"))
    exists = [
        ["targets", results.n_targets],
        ["photometry results", len(results.photometry["priority"])],
        ["validated results", int(np.isfinite(results.photometry["dataval"]).sum())],
        ["corrections", len(results.corrections["priority"])],
        ["stage runs recorded", len(results.runs)],
    ]
    parts.append(H.table(["what the TODO-file holds", "rows"], exists))
    return ReportSection(title="Overview", html="".join(parts), order=10)


def _status_section(results: RunResults, summary: dict[str, Any]) -> ReportSection:
    names = [s.name.lower() for s in Status]
    parts = []
    for label, counts in (("photometry", summary["status"]["photometry"]),
                          ("corrections", summary["status"]["corrections"])):  # fmt: skip
        if not counts:
            continue
        used = [n for n in names if any(n in c for c in counts.values())]
        rows = [
            [key] + [c.get(n, 0) for n in used] + [sum(c.values())] for key, c in counts.items()
        ]
        parts.append(f"<h3>{label}</h3>" + H.table([label.rstrip("s"), *used, "total"], rows))
    if not parts:
        parts.append(H.paragraph("No results yet.", "missing"))
    errors = _error_rows(results)
    if errors:
        parts.append(f"<h3>errors ({len(errors)} shown)</h3>")
        parts.append(H.table(["priority", "TIC", "Tmag", "method", "corrector", "message"], errors))
    return ReportSection(title="Status", html="".join(parts), order=20)


def _error_rows(results: RunResults, limit: int = 50) -> list[list[Any]]:
    rows = []
    for table, corrector in ((results.photometry, False), (results.corrections, True)):
        sel = np.flatnonzero(table["status"] == int(Status.ERROR))
        for i in sel:
            message = (table["errors"][i] or "").strip().splitlines()
            rows.append(
                [
                    int(table["priority"][i]),
                    int(table["starid"][i]),
                    float(table["tmag"][i]),
                    table["method"][i],
                    table["corrector"][i] if corrector else "",
                    message[0] if message else "(no message)",
                ]
            )
    return rows[:limit]


def _validation_section(summary: dict[str, Any]) -> ReportSection:
    val = summary["validation"]
    if not val:
        return ReportSection(
            title="Data validation",
            html=H.paragraph("No result has been validated yet (run tasoc validate).", "missing"),
            order=30,
        )
    flags = [f.name for f in DATAVAL]
    used = [f for f in flags if any(v["flags"].get(f) for v in val.values())]
    rows = [
        [key, v["validated"], v["approved"], *(v["flags"].get(f, 0) for f in used)]
        for key, v in val.items()
    ]
    bits = "".join(
        f"<li><b>{escape(f.name)}</b> ({f.value}): {escape(f.description)}</li>"
        for f in DATAVAL
        if f.name in used
    )
    body = H.table(["results", "validated", "approved", *used], rows)
    if bits:
        body += f"<ul>{bits}</ul>"
    return ReportSection(title="Data validation", html=body, order=30)


def _timing_section(
    results: RunResults, summary: dict[str, Any], figures: list[ReportFigure]
) -> ReportSection:
    rows = []
    for run in results.runs:
        counts = run.get("counts") or {}
        text = (
            ", ".join(f"{k} {v}" for k, v in counts.items())
            if isinstance(counts, dict)
            else str(counts)
        )
        rows.append(
            [
                run["id"],
                run["stage"],
                run["started_at"],
                run_seconds(run),
                run["status"],
                text[:160],
            ]
        )
    body = (
        H.table(["run", "stage", "started (UTC)", "seconds", "status", "counts"], rows)
        if rows
        else ""
    )
    per = summary["timing"]["per_target"]
    if per:
        body += H.table(
            ["results", "targets timed", "total s", "median s/target", "max s"],
            [[k, v["n"], v["total_s"], v["median_s"], v["max_s"]] for k, v in per.items()],
        )
    if not body:
        body = H.paragraph("No stage has recorded a run yet.", "missing")
    return ReportSection(title="Timings", html=body, figures=figures, order=40)


def _inside(section: ReportSection, figure_dir: Path) -> ReportSection:
    """The section with every figure copied into ``figure_dir`` if it lies elsewhere."""
    figures = []
    for figure in section.figures:
        path = figure.path.resolve()
        if path.parent != figure_dir.resolve():
            copy = figure_dir / f"{section.anchor}-{path.name}"
            shutil.copyfile(path, copy)
            figure = ReportFigure(copy, figure.caption)
        figures.append(figure)
    return attrs.evolve(section, figures=tuple(figures))


def plugin_sections(
    pm: TasocPluginManager, todo: TodoFile, config: Config, figure_dir: Path
) -> list[ReportSection]:
    """Sections contributed by plugins (``tasoc_report_sections``).

    Each plugin is called on its own: one that raises or returns something else than
    :class:`ReportSection` objects gets an error section naming it, the others are kept.
    """
    out: list[ReportSection] = []
    kwargs = {"todo": todo, "config": config, "figure_dir": figure_dir}
    for impl in pm.hook.tasoc_report_sections.get_hookimpls():
        name = impl.plugin_name
        try:
            sections = impl.function(**{k: kwargs[k] for k in impl.argnames})
            sections = list(sections or ())
            bad = [s for s in sections if not isinstance(s, ReportSection)]
            if bad:
                raise TypeError(f"returned {type(bad[0]).__name__}, not ReportSection")
            for section in sections:
                for figure in section.figures:
                    if not figure.path.is_file():
                        raise FileNotFoundError(f"figure {figure.path} does not exist")
            sections = [_inside(s, figure_dir) for s in sections]
        except Exception as exc:
            logger.warning("plugin %r failed to add report sections: %s", name, exc)
            out.append(
                ReportSection(
                    title=f"Plugin {name}: failed",
                    html=H.paragraph(
                        f"plugin {name!r} failed to add its report sections: "
                        f"{type(exc).__name__}: {exc}",
                        "error",
                    ),
                    order=75,
                )
            )
            continue
        out += sections
    return out


def _target_sections(
    results: RunResults,
    chosen: Sequence[TargetResult],
    writer: FigureWriter,
    truth: Any,
    progress: Callable[[], None],
) -> ReportSection:
    from tasoc_core.compare import truth_relative_flux

    phot = results.photometry
    corr = results.corrections
    figures: list[ReportFigure] = []
    problems: list[str] = []
    rows = []
    for choice in chosen:
        info = {k: v[choice.row] for k, v in phot.items()}
        raw_path = results.output / info["lightcurve"]
        try:
            raw = read_lightcurve(raw_path)
        except InputFileError as exc:
            problems.append(str(exc))
            progress()
            continue
        corrected = {}
        sel = np.flatnonzero(
            (corr["priority"] == choice.priority)
            & (corr["method"] == choice.method)
            & np.isin(corr["status"], _SUCCESS)
        )
        for i in sel:
            if corr["lightcurve"][i] is None:
                continue
            try:
                corrected[str(corr["corrector"][i])] = read_lightcurve(
                    results.output / corr["lightcurve"][i], images=False
                )
            except InputFileError as exc:
                problems.append(str(exc))
        truth_raw = truth_corr = None
        if truth is not None:
            common = {"starid": int(info["starid"]), "datasource": str(info["datasource"]),
                      "cadence": int(info["cadence"])}  # fmt: skip
            try:
                truth_raw = truth_relative_flux(
                    truth, cadenceno=raw.cadenceno, corrected=False, **common
                )
                truth_corr = {
                    name: truth_relative_flux(
                        truth, cadenceno=lc.cadenceno, corrected=True, **common
                    )
                    for name, lc in corrected.items()
                }
            except KeyError as exc:
                logger.debug("no truth for TIC %s: %s", info["starid"], exc)
        fig = target_figure(raw, corrected, info, truth_raw=truth_raw, truth_corrected=truth_corr)
        source = str(info["datasource"]).replace(":", "-")
        name = f"target-{info['starid']}-{source}-c{info['cadence']}-{choice.method}"
        figures.append(
            writer.save(fig, name, f"TIC {info['starid']}, {choice.method}: {raw_path.name}")
        )
        rows.append(
            [
                int(info["priority"]),
                int(info["starid"]),
                float(info["tmag"]),
                info["datasource"],
                int(info["cadence"]),
                choice.method,
                status_name(info["status"]),
                float(info["rms_hour"] * 1e6),
                float(info["ptp"] * 1e6),
                ", ".join(sorted(corrected)) or "–",
            ]
        )
        progress()
    body = ""
    if rows:
        body += H.table(
            ["priority", "TIC", "Tmag", "data", "cadence", "method", "status", "RMS 1 h (ppm)",
             "PTP (ppm)", "corrected by"],
            rows,
        )  # fmt: skip
    else:
        body += H.paragraph("No target has a successful light curve to show.", "missing")
    if truth is not None and rows:
        body += H.paragraph("Red lines: the injected light curve of the simulated sector.")
    for problem in problems:
        body += H.paragraph(problem, "error")
    return ReportSection(title="Targets", html=body, figures=figures, order=80)


def _comparison_section(result: dict[str, Any], figures: list[ReportFigure]) -> ReportSection:
    from tasoc_core.compare import format_comparison

    text = format_comparison(result)
    body = (
        H.paragraph("The tables of tasoc compare for this TODO-file (also in report.json):")
        + f"<pre>{escape(text)}</pre>"
    )
    return ReportSection(
        title="Comparison of methods and correctors", html=body, figures=figures, order=60
    )


def build_report(
    todo_path: Path,
    config: Config | None = None,
    out_dir: Path | None = None,
    *,
    pm: TasocPluginManager | None = None,
    targets: int | None = None,
    starids: Sequence[int] = (),
    priorities: Sequence[int] = (),
    methods: Sequence[str] | None = None,
    embed: bool | None = None,
    compare: bool = True,
    truth: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the HTML report of a TODO-file and return the path of ``report.html``.

    Parameters
    ----------
    todo_path
        The TODO-file (or its directory). Opened read-only: a running stage is not
        disturbed.
    config
        Run configuration (``[report]`` settings, validator settings, the input directory
        holding a simulated sector's truth). Default: the defaults.
    out_dir
        Report directory; default ``<directory of the TODO-file>/report``.
    pm
        Plugin manager for plugin sections (``tasoc_report_sections``); None: no plugin
        sections.
    targets
        Number of targets with a per-target figure (default ``report.targets``).
    starids, priorities
        Draw these targets instead of a spread over magnitude.
    methods
        Only these photometry methods (default all with results).
    embed
        Embed the figures in the HTML (default ``report.embed``); the PNG files are
        written either way.
    compare
        Include the comparison of methods and correctors when there is something to compare.
    truth
        Passed to :func:`~tasoc_core.compare.compare_results` (None: look for a simulated
        sector's truth in ``config.paths.input``; False: none).
    progress
        ``progress(done, total)`` over the steps (population figures, comparison, plugin
        sections, one per target figure).

    Raises
    ------
    InputFileError, SchemaError
        If the TODO-file is missing, unreadable, not a tasoc TODO-file, or of a newer
        schema (the message names the file and the versions).
    TasocError
        For an unknown method, or a report directory that cannot be written.
    """
    from tasoc_core.compare import compare_results, resolve_truth
    from tasoc_core.validation.validators import MagnitudeFluxSettings, NoiseSettings

    # Without a configuration there is no input directory to look for a simulated truth in.
    if config is None and truth is None:
        truth = False
    config = config if config is not None else Config()
    settings = config.report
    todo_path = Path(todo_path)
    with TodoFile.open(todo_path, readonly=True) as todo:
        results = load_results(todo)
        shown_methods = results.known_methods(methods)
        out_dir = (Path(out_dir) if out_dir is not None else results.output / "report").absolute()
        figure_dir = out_dir / FIGURE_DIR
        try:
            figure_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TasocError(
                f"cannot create the report directory {out_dir}: {exc.strerror}"
            ) from None
        writer = FigureWriter(figure_dir, dpi=settings.dpi)
        noise = config.settings_for("validators", "noise", NoiseSettings)
        magflux = config.settings_for("validators", "magnitude-flux", MagnitudeFluxSettings)

        chosen = select_targets(
            results,
            count=settings.targets if targets is None else targets,
            starids=starids,
            priorities=priorities,
            methods=methods,
        )
        total = len(shown_methods) + 2 + len(chosen)
        state = {"done": 0}

        def step() -> None:
            state["done"] += 1
            if progress is not None:
                progress(state["done"], total)

        summary = summarize(results, sysnoise=noise.sysnoise, bin_width=settings.bin_width)
        population, zero_points = population_figures(
            results, writer, methods=shown_methods, sysnoise=noise.sysnoise,
            bin_width=settings.bin_width, zp_max_contamination=magflux.zp_max_contamination,
            zp_bin_width=magflux.zp_bin_width,
        )  # fmt: skip
        for _ in shown_methods:
            step()
        summary["zero_points"] = {
            m: {str(c): {"zero_point": f.zero_point, "error": f.error, "stars": f.n_stars}
                for c, f in fits.items()}
            for m, fits in zero_points.items()
        }  # fmt: skip

        sections = [
            _overview(results, summary),
            _status_section(results, summary),
            _validation_section(summary),
            _timing_section(results, summary, population.pop("timing", [])),
        ]
        for key, figs in population.items():
            if key.startswith("correct:"):
                sections.append(
                    ReportSection(title=f"Corrections: {key[8:]}", figures=figs, order=55)
                )
            else:
                zp = "".join(
                    f"<li>{c} s: zp = {f.zero_point:.3f} ± {f.error:.3f} ({f.n_stars} stars)</li>"
                    for c, f in zero_points.get(key, {}).items()
                    if np.isfinite(f.zero_point)
                )
                body = f"<p>Fitted zero points of Eq. 4:</p><ul>{zp}</ul>" if zp else ""
                sections.append(
                    ReportSection(title=f"Photometry: {key}", html=body, figures=figs, order=50)
                )

        truth_obj = resolve_truth(truth, Path(config.paths.input))
        comparison = None
        worth = len(shown_methods) > 1 or len(results.correctors) > 0 or truth_obj is not None
        if compare and worth and len(results.photometry["priority"]):
            comparison = compare_results(
                results, config=config, methods=shown_methods, bin_width=settings.bin_width,
                truth=truth_obj if truth_obj is not None else False, sysnoise=noise.sysnoise,
            )  # fmt: skip
            from tasoc_core.report.compare_figures import comparison_figures

            sections.append(_comparison_section(comparison, comparison_figures(comparison, writer)))
        step()

        if pm is not None:
            sections += plugin_sections(pm, todo, config, figure_dir)
        step()

        if chosen:
            sections.append(_target_sections(results, chosen, writer, truth_obj, step))

    sections.sort(key=lambda s: s.order)
    embed = settings.embed if embed is None else embed
    title = f"tasoc report: {results.path.parent.name or results.path.name}"
    document = H.page(title, f"TODO-file {results.path}", sections, out_dir, embed=embed)
    figures_shown = [f for s in sections for f in s.figures]
    summary["figures"] = [str(f.path) for f in figures_shown]
    report_json = {"summary": summary, "comparison": comparison}
    atomic_write_bytes(
        out_dir / "report.json",
        json.dumps(_clean(report_json), indent=1, allow_nan=False).encode(),
    )
    path = atomic_write_bytes(out_dir / REPORT_NAME, document.encode("utf-8"))
    _remove_stale(figure_dir, {f.path.resolve() for f in figures_shown})
    logger.info("wrote %s (%d figures)", path, len(figures_shown))
    return path


def _clean(value: Any) -> Any:
    """A JSON-able copy: numpy scalars as Python numbers, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _remove_stale(figure_dir: Path, keep: set[Path]) -> None:
    """Remove PNG files of an earlier report that this one does not show."""
    for png in figure_dir.glob("*.png"):
        if png.resolve() not in keep:
            png.unlink(missing_ok=True)
