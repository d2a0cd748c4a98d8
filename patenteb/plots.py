"""Figures that never break a page: the one fail-safe wrapper the leaderboard and the explorer share.

`fail_safe(...)` wraps a figure builder: an exception is logged with its traceback and becomes a figure that
shows a short message instead. `failure_drawn(figure)` tells a test whether a figure is such a message.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import plotly.graph_objects as go

log = logging.getLogger(__name__)

FAILURE_ANNOTATION = "fail-safe failure"


def message_figure(
    message: str, title: str = "", layout: go.Layout | dict | None = None, *, annotation_name: str | None = None
) -> go.Figure:
    """An empty figure with `message` in its middle; `layout` styles it like the figures around it."""
    figure = go.Figure(layout=layout)
    figure.add_annotation(
        text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14}, align="center",
        name=annotation_name,
    )
    figure.update_layout(title=title, xaxis_visible=False, yaxis_visible=False)
    return figure


def fail_safe(
    title: str = "", prefix: str = "This plot could not be drawn", layout: go.Layout | dict | None = None
) -> Callable[[Callable[..., go.Figure]], Callable[..., go.Figure]]:
    """Decorate a figure builder: on any exception, log it and return "<prefix>: <error>" drawn as a figure."""

    def decorate(builder: Callable[..., go.Figure]) -> Callable[..., go.Figure]:
        @functools.wraps(builder)
        def build(*args, **kwargs) -> go.Figure:
            try:
                return builder(*args, **kwargs)
            except Exception as error:
                log.exception("figure %s failed; drawing a message instead", builder.__qualname__)
                return message_figure(
                    f"{prefix}: {type(error).__name__}: {error}", title, layout, annotation_name=FAILURE_ANNOTATION
                )

        return build

    return decorate


def failure_drawn(figure: go.Figure) -> str | None:
    """The message a fail-safe builder drew in place of its figure, or None when the figure was drawn."""
    for annotation in figure.layout.annotations:
        if annotation.name == FAILURE_ANNOTATION:
            return annotation.text
    return None
