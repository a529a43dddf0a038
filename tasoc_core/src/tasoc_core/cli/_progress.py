"""Progress bars for long stages: count, rate and ETA, on stderr, only on a terminal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import click

__all__ = ["progress_callback"]


@contextmanager
def progress_callback(show: bool, label: str) -> Iterator[callable]:
    """A ``progress(done, total)`` callback drawing a click progress bar (or doing nothing)."""
    state: dict = {"bar": None, "done": 0, "start": time.monotonic()}

    def rate(_item: object) -> str:
        elapsed = time.monotonic() - state["start"]
        return f"{state['done'] / elapsed:.1f}/s" if elapsed > 0 and state["done"] else ""

    def update(done: int, total: int) -> None:
        if not show:
            return
        if state["bar"] is None:
            state["bar"] = click.progressbar(
                length=max(total, done, 1), label=label, file=click.get_text_stream("stderr"),
                show_eta=True, show_pos=True, item_show_func=rate,
            ).__enter__()  # fmt: skip
        state["bar"].update(done - state["done"], current_item=done)
        state["done"] = done

    try:
        yield update
    finally:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)
