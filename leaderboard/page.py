"""Everything one leaderboard view shows, computed from a store snapshot: table, figures, share link, status."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import plotly.graph_objects as go

from leaderboard import figures, styling
from leaderboard.filters import Filters, matching_models, share_query
from leaderboard.tables import Board, LeaderboardTable, build_table, family_means, mixed_dataset_revisions
from leaderboard.views import MODEL, VIEWS_BY_KEY
from results.store import Snapshot

RADAR_DEFAULT_COUNT = 5


@dataclass(frozen=True)
class Page:
    table: LeaderboardTable
    value: dict
    share_query: str
    status: str
    generation: int
    legend: str = ""
    figures: dict[str, go.Figure] = field(default_factory=dict)


def styled_table(
    snapshot: Snapshot, board: Board, view_key: str, filters: Filters, with_intervals: bool = False
) -> tuple[LeaderboardTable, dict]:
    """The table switch: filter models, build the view's table, style it (with the cells' 95% intervals when
    asked)."""
    shown_models = matching_models(snapshot.models, filters)
    table = build_table(board, view_key, model_subset=shown_models)
    return table, styling.gradio_value(table, board.model_names, with_intervals)


VIEW_FIGURES = {"params": figures.score_vs_params}
"""The figures that follow the table shown (made from it and the models' names); every other figure follows only
the filters, so a table switch leaves those as they are."""


def view_figures(board: Board, table: LeaderboardTable) -> dict[str, go.Figure]:
    """The figures that follow the table shown."""
    return {name: make(table, board.display_names) for name, make in VIEW_FIGURES.items()}


def filter_figures(
    snapshot: Snapshot, board: Board, filters: Filters, overall: LeaderboardTable | None = None
) -> dict[str, go.Figure]:
    """The figures that follow only the filters: the same whichever table is shown."""
    return {**shown_models_figures(snapshot, board, filters, overall), **chosen_models_figures(board, filters)}


def chosen_models_figures(board: Board, filters: Filters) -> dict[str, go.Figure]:
    """The filter figures that follow only the models picked by name (whatever the other filters let through)."""
    return {"drop": figures.domain_drop(board.cells, board.display_names, list(filters.models) or None)}


def shown_models_figures(
    snapshot: Snapshot, board: Board, filters: Filters, overall: LeaderboardTable | None = None
) -> dict[str, go.Figure]:
    """The filter figures that follow the models the filters let through (and those picked by name)."""
    shown_models = matching_models(snapshot.models, filters)
    if overall is None:
        overall = build_table(board, "overall", model_subset=shown_models, with_rank_ranges=False)

    def efficiency_tables() -> Iterator[LeaderboardTable]:
        """PatenTEB first; the Demo table is built only when PatenTEB has no point to plot."""
        yield overall
        if "demo" in board.efficiency:
            yield build_table(board, "demo", model_subset=shown_models, with_rank_ranges=False)

    radar_models = list(filters.models) or overall.frame[MODEL].head(RADAR_DEFAULT_COUNT).tolist()
    return {
        "radar": figures.family_radar(family_means(board), radar_models, board.display_names),
        "bigpatent": figures.patenteb_vs_bigpatent(overall, board.cells, board.display_names),
        "efficiency": figures.score_vs_throughput(efficiency_tables(), board.display_names),
    }


def revision_warning(mixed: dict[str, list[str]]) -> str:
    """One line naming the columns whose scores ran on different dataset revisions."""
    columns = "; ".join(f"{label}: {', '.join(revisions)}" for label, revisions in mixed.items())
    return f"⚠ **Different dataset revisions** — these columns' scores ran on different data: {columns}."


def build_page(
    snapshot: Snapshot, board: Board, view_key: str, filters: Filters, with_figures: bool = True,
    with_intervals: bool = False,
) -> Page:
    view = VIEWS_BY_KEY[view_key]
    table, value = styled_table(snapshot, board, view_key, filters, with_intervals)
    status = (
        f"{len(table.frame)} model{'' if len(table.frame) == 1 else 's'} · {view.title} · "
        f"store generation {snapshot.generation}"
        if not table.empty
        else f"No model matches these filters in {view.title}."
    )
    mixed = mixed_dataset_revisions(board.cells, board.view_columns.get(view_key, {}), table.frame[MODEL])
    if mixed:
        status += "  \n" + revision_warning(mixed)
    page_figures = {}
    if with_figures:
        overall = table if view_key == "overall" else None
        page_figures = {**view_figures(board, table), **filter_figures(snapshot, board, filters, overall)}
    return Page(
        table=table,
        value=value,
        legend=styling.legend_markdown(board.interval_cells),
        share_query=share_query(view_key, filters.models),
        status=status,
        generation=snapshot.generation,
        figures=page_figures,
    )
