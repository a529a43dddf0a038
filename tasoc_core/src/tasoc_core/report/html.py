"""The HTML page: one self-contained file (figures embedded as data URIs, or linked).

Every value inserted is escaped here; :class:`~tasoc_core.report.sections.ReportSection`
bodies are trusted HTML built the same way (:func:`table`, :func:`paragraph`). A small
script marks the page ``data-figures="ok"`` once every figure has loaded (or
``"broken:N"``), and shows a warning if any did not — tests read it with a headless
browser.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tasoc_core import __version__
from tasoc_core.report.sections import ReportFigure, ReportSection

__all__ = ["figure_src", "page", "paragraph", "table"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1400px; padding: 0 1.5em 3em;
       color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-top: 0.8em; }
nav ul { columns: 3; list-style: none; padding: 0; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.6em; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; max-width: 60em; }
.missing { background: #fff4e5; border-left: 4px solid #f0a020; padding: 0.4em 1em; }
.error { background: #fdecea; border-left: 4px solid #d93025; padding: 0.4em 1em; }
.ok { color: #1e7e34; } .meta { color: #666; font-size: 0.9em; }
#figure-warning { display: none; }
"""

_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = document.querySelectorAll("img.figure"), broken = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (!imgs[i].complete || imgs[i].naturalWidth === 0) { broken++; }
  }
  document.body.setAttribute("data-figures", broken ? "broken:" + broken : "ok");
  document.body.setAttribute("data-figure-count", String(imgs.length));
  if (broken) {
    var w = document.getElementById("figure-warning");
    w.textContent = broken + " figure(s) could not be shown.";
    w.style.display = "block";
  }
});
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table; numbers are right-aligned, every cell is escaped."""
    out = ["<table><thead><tr>"]
    out += [f"<th>{html.escape(str(h))}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for value in row:
            cls = (
                ' class="num"'
                if isinstance(value, int | float) and not isinstance(value, bool)
                else ""
            )
            out.append(f"<td{cls}>{html.escape(_fmt(value))}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def paragraph(text: str, cls: str | None = None) -> str:
    """A paragraph of escaped text."""
    attr = f' class="{html.escape(cls)}"' if cls else ""
    return f"<p{attr}>{html.escape(text)}</p>"


def figure_src(figure: ReportFigure, base: Path, *, embed: bool) -> str:
    """The ``src`` of a figure: a data URI, or its path relative to ``base``."""
    path = figure.path if figure.path.is_absolute() else base / figure.path
    if embed:
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return path.resolve().relative_to(base.resolve()).as_posix()


def _figure_html(figure: ReportFigure, base: Path, embed: bool) -> str:
    src = figure_src(figure, base, embed=embed)
    caption = html.escape(figure.caption)
    name = html.escape(figure.path.name)
    return (
        f'<figure><img class="figure" src="{html.escape(src)}" alt="{caption or name}" '
        f'title="{name}"><figcaption>{caption}</figcaption></figure>'
    )


def page(
    title: str, subtitle: str, sections: Sequence[ReportSection], base: Path, *, embed: bool
) -> str:
    """The whole HTML document."""
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    toc = "".join(
        f'<li><a href="#{html.escape(s.anchor)}">{html.escape(s.title)}</a></li>' for s in sections
    )
    body = []
    for section in sections:
        body.append(
            f'<section id="{html.escape(section.anchor)}"><h2>{html.escape(section.title)}</h2>'
        )
        body.append(section.html)
        body += [_figure_html(f, base, embed) for f in section.figures]
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="meta">{html.escape(subtitle)}<br>generated {generated} by tasoc-core '
        f"{html.escape(__version__)}</p>"
        '<p id="figure-warning" class="error"></p>'
        f"<nav><ul>{toc}</ul></nav>" + "".join(body) + f"<script>{_SCRIPT}</script></body></html>\n"
    )
