"""Building blocks of a report: figures, sections, and the PNG writer.

A report is a list of :class:`ReportSection`; each holds trusted HTML (built with
:func:`html.escape` by its author) and :class:`ReportFigure` files. Plugins contribute
sections through the ``tasoc_report_sections`` hook; :class:`FigureWriter` gives core's
figures and theirs the same treatment: matplotlib's Agg canvas (no GUI, no global pyplot
state), PNG written atomically.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from tasoc_core.output._atomic import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FigureWriter", "ReportFigure", "ReportSection", "new_figure", "slug"]

logger = logging.getLogger(__name__)

_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """A file- and anchor-safe name: lower case, runs of other characters become ``-``."""
    return _SLUG.sub("-", text.lower()).strip("-") or "x"


@attrs.frozen
class ReportFigure:
    """A PNG file shown in the report, with its caption."""

    #: The PNG file (absolute, or relative to the report's directory).
    path: Path = attrs.field(converter=Path)
    #: Plain text shown under the figure.
    caption: str = ""


@attrs.frozen(kw_only=True)
class ReportSection:
    """One section of the HTML report.

    Parameters
    ----------
    title
        Heading (plain text).
    html
        Body before the figures: trusted HTML (escape every value you insert with
        :func:`html.escape`).
    figures
        Figures shown after the body, in order.
    order
        Sections are sorted by this (core uses 10–90; plugin sections default to 70,
        after the population figures and before the per-target pages).
    """

    title: str
    html: str = ""
    figures: tuple[ReportFigure, ...] = attrs.field(default=(), converter=tuple)
    order: int = 70

    @property
    def anchor(self) -> str:
        return slug(self.title)


def new_figure(width: float, height: float, *, wspace: float = 0.3, hspace: float = 0.45) -> Figure:
    """A matplotlib figure on an Agg canvas with fixed margins (in inches).

    Fixed margins rather than a layout engine: constrained layout doubled the time to
    render a figure, and reports draw dozens.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(
        left=1.0 / width, right=1 - 0.25 / width, bottom=0.6 / height, top=1 - 0.55 / height,
        wspace=wspace, hspace=hspace,
    )  # fmt: skip
    return fig


class FigureWriter:
    """Writes figures as PNG files into one directory and remembers them.

    Parameters
    ----------
    directory
        Where the PNG files go (created when the first figure is written).
    dpi
        Resolution of the PNG files.
    """

    def __init__(self, directory: Path, *, dpi: int = 90) -> None:
        self.directory = Path(directory).absolute()
        self.dpi = dpi
        self.written: list[ReportFigure] = []

    def save(self, fig: Figure, name: str, caption: str = "") -> ReportFigure:
        """Render ``fig`` to ``<directory>/<name>.png`` atomically and return it."""
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=self.dpi)
        path = atomic_write_bytes(self.directory / f"{slug(name)}.png", buffer.getvalue())
        figure = ReportFigure(path, caption)
        self.written.append(figure)
        logger.debug("wrote %s", path)
        return figure
