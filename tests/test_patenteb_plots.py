"""The one fail-safe figure wrapper: a drawn figure passes through, a failing builder is logged and drawn as a message."""

from __future__ import annotations

import logging

import plotly.graph_objects as go

from patenteb.plots import fail_safe, failure_drawn, message_figure


@fail_safe("Scores", layout={"height": 300})
def bar_of(values: list[float]) -> go.Figure:
    return go.Figure(go.Bar(y=values))


@fail_safe(prefix="Cannot draw this", layout={"height": 300})
def broken(values: list[float]) -> go.Figure:
    return go.Figure(go.Bar(y=[values[10]]))


def test_a_figure_that_draws_is_returned_as_built(caplog):
    with caplog.at_level(logging.ERROR):
        figure = bar_of([1.0, 2.0])
    assert list(figure.data[0].y) == [1.0, 2.0]
    assert failure_drawn(figure) is None and not caplog.records


def test_a_failing_builder_is_logged_with_its_traceback_and_drawn_as_a_message(caplog):
    with caplog.at_level(logging.ERROR, logger="patenteb.plots"):
        figure = broken([1.0])
    assert failure_drawn(figure) == "Cannot draw this: IndexError: list index out of range"
    assert not figure.data and figure.layout.height == 300
    [record] = caplog.records
    assert "broken" in record.getMessage()
    assert record.exc_info[0] is IndexError and record.exc_text and "values[10]" in record.exc_text


def test_a_plain_message_is_not_a_failure():
    figure = message_figure("Nothing to plot yet.", "Scores")
    assert figure.layout.annotations[0].text == "Nothing to plot yet."
    assert failure_drawn(figure) is None
