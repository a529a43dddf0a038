"""A short summary of a run: targets per status and method, DATAVAL counts, median noise
against the expected noise per magnitude bin, and time per stage.

:func:`summarize` computes it from a :class:`~tasoc_core.report.results.RunResults`
(``report.json`` holds it); :func:`format_summary` prints it as the few text tables a
terminal wants (``tasoc report`` prints it; ``tasoc demo`` ends with it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from tasoc_core.flags import DATAVAL
from tasoc_core.report.results import RunResults

__all__ = ["format_summary", "run_seconds", "summarize"]


def run_seconds(run: dict[str, Any]) -> float | None:
    """Seconds between a ``runs`` row's start and finish (None if unfinished)."""
    try:
        start = dt.datetime.fromisoformat(run["started_at"])
        end = dt.datetime.fromisoformat(run["finished_at"])
    except (TypeError, ValueError, KeyError):
        return None
    return (end - start).total_seconds()


def _validation(results: RunResults) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    corr, corr_keys = results.corrections, results.correction_keys
    for table, keys in ((results.photometry, results.photometry["method"]), (corr, corr_keys)):
        done = np.isfinite(table["dataval"])
        for key in sorted(set(keys[done].tolist())):
            sel = done & (keys == key)
            bits = table["dataval"][sel].astype(np.int64)
            out[key] = {
                "validated": int(sel.sum()),
                "approved": int(np.nansum(table["approved"][sel] == 1)),
                "flags": {k: v for k, v in DATAVAL.count(bits).items() if v},
            }
    return out


def _noise(
    results: RunResults, sysnoise: float, bin_width: float
) -> dict[str, list[dict[str, Any]]]:
    """Per method and method/corrector: the comparison's noise per bin, without empty bins."""
    from tasoc_core.compare import magnitude_bins, noise_bins

    out: dict[str, list[dict[str, Any]]] = {}
    edges = magnitude_bins(results.targets["tmag"], bin_width)
    groups = [(m, results.succeeded(m), 1e6) for m in results.methods]
    for corrector in results.correctors:
        for method in results.methods:
            rows = results.corrected(corrector, method)
            if len(rows["priority"]):
                groups.append((f"{method}/{corrector}", rows, 1.0))
    for key, rows, scale in groups:
        bins = noise_bins(rows, edges, scale=scale, sysnoise=sysnoise)
        out[key] = [b for b in bins if b["n"]]
    return out


def _timing(results: RunResults) -> dict[str, Any]:
    stages: dict[str, float] = {}
    for run in results.runs:
        seconds = run_seconds(run)
        if seconds is not None:
            stages[run["stage"]] = stages.get(run["stage"], 0.0) + seconds
    per_target = {}
    for key, table, mask_key in (
        *((m, results.photometry, results.photometry["method"] == m) for m in results.methods),
        *((f"correct: {c}", results.corrections, results.corrections["corrector"] == c)
          for c in results.correctors),
    ):  # fmt: skip
        seconds = table["elaptime"][mask_key]
        seconds = seconds[np.isfinite(seconds)]
        if seconds.size:
            per_target[key] = {
                "n": int(seconds.size),
                "total_s": float(seconds.sum()),
                "median_s": float(np.median(seconds)),
                "max_s": float(seconds.max()),
            }
    return {"stages": stages, "per_target": per_target}


def summarize(
    results: RunResults, *, sysnoise: float = 5.0, bin_width: float = 1.0
) -> dict[str, Any]:
    """The run summary (JSON-able, NaN as None); see the module docstring."""
    t = results.targets
    datasource = np.array(
        ["tpf secondary" if str(d).startswith("tpf:") else str(d) for d in t["datasource"]],
        dtype=object,
    )
    return {
        "todo": str(results.path),
        "schema_version": results.schema_version,
        "targets": {
            "total": results.n_targets,
            **{str(d): int(np.sum(datasource == d)) for d in sorted(set(datasource.tolist()))},
        },
        "methods": list(results.methods),
        "correctors": list(results.correctors),
        "status": {
            "photometry": results.status_counts("photometry"),
            "corrections": results.status_counts("corrections"),
        },
        "skipped_in_brighter_aperture": {
            m: int(np.sum(results.skipped["method"] == m))
            for m in sorted(set(results.skipped["method"].tolist()))
        },
        "validation": _validation(results),
        "noise": _noise(results, sysnoise, bin_width),
        "timing": _timing(results),
        "missing": [{"what": m.what, "hint": m.hint} for m in results.missing()],
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as text tables: status per method, noise per bin, time per stage."""
    from tasoc_core.compare import text_table

    out = [f"TODO-file {summary['todo']}: {summary['targets']['total']} targets"]
    statuses = ["ok", "warning", "error", "skipped", "started", "abort"]
    for label in ("photometry", "corrections"):
        counts = summary["status"][label]
        if counts:
            rows = [[k] + [c.get(s, 0) for s in statuses] for k, c in counts.items()]
            out += ["", text_table([label, *statuses], rows)]
    for key, bins in summary["noise"].items():
        if bins:
            rows = [
                [f"{b['tmag_min']:g}–{b['tmag_max']:g}", b["n"], b["rms_hour_ppm"],
                 b["rms_ratio"], b["ptp_ppm"], b["ptp_ratio"]]
                for b in bins
            ]  # fmt: skip
            header = ["Tmag", "n", "RMS 1h ppm", "RMS/exp", "PTP ppm", "PTP/exp"]
            out += [
                "",
                f"{key}: median noise and noise / expected (Sullivan et al. 2015)",
                text_table(header, rows),
            ]
    stages = summary["timing"]["stages"]
    if stages:
        out += ["", text_table(["stage", "seconds"], [[k, v] for k, v in stages.items()])]
    for item in summary["missing"]:
        out.append(f"missing: {item['what']} (run: {item['hint']})")
    return "\n".join(out)
