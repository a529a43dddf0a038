"""Plain-text tables of a comparison (``tasoc compare`` without ``--json``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["format_comparison", "text_table"]


def _cell(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 10 ** (digits + 2) or abs(value) < 10**-digits):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:.0f}"
    return str(value)


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A table with aligned columns: text left, numbers right."""
    cells = [list(header)] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows)
        for i in range(len(header))
    ]
    lines = []
    for k, row in enumerate(cells):
        parts = [
            c.rjust(w) if numeric[i] and k > 0 else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _status_rows(group: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for name in group["names"]:
        st = group["status"][name]
        fr = st["fractions"]
        rows.append([
            name, st["rows"], st["counts"].get("ok", 0), st["counts"].get("warning", 0),
            st["counts"].get("error", 0), st["counts"].get("skipped", 0),
            fr["ok"], fr["warning"], fr["error"],
        ])  # fmt: skip
    return rows


def _bins_rows(
    group: dict[str, Any], bins_key: str, field: str
) -> tuple[list[str], list[list[Any]]]:
    names = group["names"]
    source = group[bins_key] if bins_key == "bins" else group["common"]["bins"]
    header = ["Tmag"] + [f"{n} (n)" for n in names] + list(names)
    rows = []
    first = source[names[0]]
    for b in range(len(first)):
        counts = [source[n][b]["n"] for n in names]
        if not any(counts):
            continue
        label = f"{first[b]['tmag_min']:g}–{first[b]['tmag_max']:g}"
        rows.append([label, *counts, *(source[n][b][field] for n in names)])
    return header, rows


def _group_text(title: str, group: dict[str, Any]) -> list[str]:
    out = [title, ""]
    out.append(
        text_table(
            ["", "rows", "ok", "warning", "error", "skipped", "f(ok)", "f(warning)", "f(error)"],
            _status_rows(group),
        )
    )
    out.append("(fractions of finished attempts: ok + warning + error)")
    for field, label in (
        ("rms_hour_ppm", "median 1-hour RMS (ppm)"),
        ("rms_ratio", "median 1-hour RMS / expected noise"),
        ("ptp_ppm", "median PTP-MDV (ppm)"),
        ("ptp_ratio", "median PTP-MDV / expected noise"),
    ):
        header, rows = _bins_rows(group, "bins", field)
        if rows:
            out += ["", f"{label}, all successful results:", text_table(header, rows)]
    common = group["common"]
    if len(group["names"]) > 1:
        header, rows = _bins_rows(group, "common", "rms_hour_ppm")
        out += ["", f"on the {common['n']} targets where all succeeded, median 1-hour RMS (ppm):"]
        if rows:
            out.append(text_table(header, rows))
        pair_rows = [
            [f"{p['b']} / {p['a']}", p["n"], p["rms_ratio_median"], p["ptp_ratio_median"],
             p["b_quieter_rms_fraction"]]
            for p in common["pairs"]
        ]  # fmt: skip
        if pair_rows:
            out += [
                "",
                text_table(
                    ["pair (b / a)", "targets", "median RMS b/a", "median PTP b/a", "f(b quieter)"],
                    pair_rows,
                ),
            ]
    return out


def _recovery_text(recovery: dict[str, Any]) -> list[str]:
    out = ["", f"Recovery of the simulated truth ({recovery['simulation']}):", ""]
    rows = []
    for kind in ("photometry", "corrections"):
        for name, r in recovery[kind].items():
            rows.append([
                name, r["n"], r["excess_median"], r["residual_ppm_median"], r["white_ppm_median"],
                r["amplitude_median"], r["flux_ratio_median"],
            ])  # fmt: skip
    out.append(
        text_table(
            ["light curves", "n", "excess", "residual ppm", "white ppm", "amplitude", "flux ratio"],
            rows,
        )
    )
    out.append(
        "(medians; excess = robust residual against the truth / the simulator's white noise, "
        "1 is noise-limited; amplitude: injected signal kept; flux ratio: mean flux / true flux)"
    )
    return out


def format_comparison(result: dict[str, Any]) -> str:
    """The comparison of :func:`~tasoc_core.compare.compare_results` as text tables."""
    out = [f"TODO-file {result['todo']}: {result['targets']} targets", ""]
    phot = result["photometry"]
    if not phot["names"]:
        out.append("no photometry results to compare")
    else:
        out += _group_text(f"Photometry methods: {', '.join(phot['names'])}", phot)
    for method, group in result["corrections"].items():
        out += ["", ""]
        out += _group_text(f"Corrections of the {method} light curves", group)
        rows = []
        for name in group["names"]:
            for b in group["bins"][name]:
                if b["n"]:
                    label = f"{b['tmag_min']:g}–{b['tmag_max']:g}"
                    rows.append([name, label, b["n"], b["rms_after_over_before"],
                                 b["ptp_after_over_before"]])  # fmt: skip
        if rows:
            out += [
                "",
                "median corrected / raw noise:",
                text_table(
                    ["corrector", "Tmag", "n", "RMS after/before", "PTP after/before"], rows
                ),
            ]
    if result.get("recovery"):
        out += _recovery_text(result["recovery"])
    return "\n".join(out)
