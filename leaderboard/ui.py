"""The Leaderboard and Task information tabs: layout and event wiring over leaderboard.page and
leaderboard.compare.

A filter change sends what `SentViews` kept for the same (store generation, view, filters, intervals shown or
not) when it can: the table, status, share link, CSV link, legend and figures already in the form Gradio sends
(events run with postprocess=False). A table switch sends only what follows the table (`TableOutputs.switched`)
and builds nothing else: the figures that follow only the filters stay as they are on the page. Comparisons and
drill-downs are kept by the shared `BoardCache`.

The page's first paint already holds the default table (`first_page`), so a visitor sees rows before the load
event runs; that event (`open_page`) then sends only the figures unless a share link asked for another view, or
the store has moved on since the paint.

The CSV download is a link to the public API's answer for the same view and filters (the same table, made by
the same pure core), so a table switch writes no file and Gradio copies none.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr
import pandas as pd
from gradio.data_classes import GradioModel, GradioRootModel

from leaderboard import styling
from leaderboard.cache import BoardCache
from leaderboard.compare import (
    DRILLABLE_FAMILIES,
    GATED_NOTE,
    comparison_display,
    delta_figure,
)
from leaderboard.filters import (
    DEFAULT_VIEW,
    DIM_CHOICES,
    PARAM_CHOICES,
    PROMPT_CHOICES,
    TOKEN_CHOICES,
    ZERO_SHOT_CHOICES,
    Filters,
    MAX_SEARCH_CHARACTERS,
    compare_query,
    matching_models,
    parse_compare_query,
    parse_share_query,
    table_query,
)
from leaderboard.page import (
    VIEW_FIGURES,
    Page,
    build_page,
    chosen_models_figures,
    shown_models_figures,
    view_figures,
)
from leaderboard.views import AGGREGATION_RULE, EFFICIENCY_RULE, INTERVAL_RULE, RANK_RULE, VIEWS
from patenteb.catalogue import BY_NAME
from patenteb.lru import LruCache
from patenteb.statistics import COMPARE_METHOD, StatisticsInputError
from results.store import Snapshot, Store, StoreBusy, StoreCorrupt
from results.vocabulary import PROVENANCE_DESCRIPTIONS, PROVENANCE_PREFERENCE

__all__ = ["BoardCache", "CompareSection", "LeaderboardTab", "SentViews", "build", "build_task_info"]

REFRESH_SECONDS = 10
MAX_SENT_VIEWS = 32
MAX_FILTER_FIGURES = 32
RENDERS_AT_ONCE = 4
"""Full renders (a filter change, a page's load event, a refresh after a store change) running at once; more wait
in Gradio's queue, so that table switches and searches share the app's one GIL with fewer of them (bench/load.py)."""
FIGURE_NAMES = ("params", "radar", "drop", "bigpatent", "efficiency")
SHOW_URL_JS = """
(query) => {
    const url = window.location.origin + window.location.pathname + query;
    window.history.replaceState(null, "", url);
    return url;
}
"""
FULL_URL_JS = "(query) => query ? window.location.origin + window.location.pathname + query : ''"


@dataclass(frozen=True)
class TableOutputs:
    """The components one render fills; a render returns a dict keyed by them."""

    table: gr.Dataframe
    download: gr.HTML
    share_query: gr.Textbox
    status: gr.Markdown
    plots: dict[str, gr.Plot]
    shown_generation: gr.State
    legend: gr.Markdown

    def components(self) -> list[gr.components.Component]:
        return [self.table, self.download, self.share_query, self.status, *self.plots.values(), self.shown_generation,
                self.legend]

    def switched(self) -> list[gr.components.Component]:
        """What a table switch changes. The shown generation is not among them: a switch leaves the filters'
        figures as they were, so the refresh timer still renders everything once the store has moved on."""
        return [self.table, self.download, self.share_query, self.status, *(self.plots[name] for name in VIEW_FIGURES)]


@dataclass(frozen=True)
class SentView:
    """One view as Gradio sends it (values already postprocessed); `plots` holds the figures that follow the table."""

    table: dict
    download: str
    share_query: str
    status: str
    plots: dict[str, dict]
    legend: str


@contextmanager
def store_errors_shown() -> Iterator[None]:
    """A store held by another process, or a damaged one, becomes a message on the page."""
    try:
        yield
    except (StoreBusy, StoreCorrupt) as error:
        raise gr.Error(f"The results store cannot be read right now: {error}") from error


def sent_form(component: gr.components.Component, value: Any) -> Any:
    """`value` as Gradio would send it for `component` (what its postprocess step makes of it)."""
    processed = component.postprocess(value)
    return processed.model_dump() if isinstance(processed, (GradioModel, GradioRootModel)) else processed


def download_link(table_api_path: str, view_key: str, filters: Filters) -> str:
    """A link to this table as CSV from the API, relative to the page so that it works under any root path."""
    href = html.escape(table_api_path.lstrip("/") + table_query(view_key, filters))
    return (f'<a class="lb-download" href="{href}" download="patenteb-{html.escape(view_key)}.csv">'
            "Download this table (CSV)</a>")


class SentViews:
    """What a table switch sends, kept per (store generation, view, filters) so that a repeat is a lookup.

    Bounds: at most MAX_SENT_VIEWS (32) views and MAX_FILTER_FIGURES (32) sets of the figures that follow only
    the filters (those following the models shown and the one following the models picked by name are kept
    apart), least recently used dropped first, plus the shared BoardCache's bounds. Measured at 1,000 models:
    about 1.6 MB per view with its figures, so under ~110 MB in all; a few MB for today's leaderboard. A new store
    generation makes new keys, and the old entries age out.
    """

    def __init__(self, outputs: TableOutputs, table_api_path: str, boards: BoardCache | None = None):
        self.outputs = outputs
        self.table_api_path = table_api_path
        self.boards = boards or BoardCache()
        self.views: LruCache[SentView] = LruCache(MAX_SENT_VIEWS)
        self.filter_plots: LruCache[dict[str, dict]] = LruCache(MAX_FILTER_FIGURES)

    def get(self, snapshot: Snapshot, view_key: str, filters: Filters, with_intervals: bool = False) -> SentView:
        return self.views.get(
            (snapshot.generation, view_key, filters, with_intervals),
            lambda: self._make(snapshot, view_key, filters, with_intervals),
        )

    def filter_figures(self, snapshot: Snapshot, filters: Filters) -> dict[str, dict]:
        """The figures that follow only the filters, whichever table is shown: kept per models they show (and
        per models picked by name), so filters that let the same models through share them."""
        board = self.boards.get(snapshot, filters.provenances)
        shown = tuple(matching_models(snapshot.models, filters))
        by_board = (snapshot.generation, filters.provenances)
        return {
            **self.filter_plots.get(
                (*by_board, "shown", shown, filters.models),
                lambda: self._plots(shown_models_figures(snapshot, board, filters)),
            ),
            **self.filter_plots.get(
                (*by_board, "chosen", filters.models), lambda: self._plots(chosen_models_figures(board, filters))
            ),
        }

    def _make(self, snapshot: Snapshot, view_key: str, filters: Filters, with_intervals: bool) -> SentView:
        board = self.boards.get(snapshot, filters.provenances)
        page = build_page(snapshot, board, view_key, filters, with_figures=False, with_intervals=with_intervals)
        return SentView(
            table=sent_form(self.outputs.table, page.value),
            download=sent_form(self.outputs.download, download_link(self.table_api_path, view_key, filters)),
            share_query=sent_form(self.outputs.share_query, page.share_query),
            status=sent_form(self.outputs.status, page.status),
            plots=self._plots(view_figures(board, page.table)),
            legend=sent_form(self.outputs.legend, page.legend),
        )

    def _plots(self, figures: dict) -> dict[str, dict]:
        return {name: sent_form(self.outputs.plots[name], figure) for name, figure in figures.items()}


def _filters(search, models, params, dims, tokens, prompts, zero_shot, provenances) -> Filters:
    """The filters of one request; checkbox choices in a fixed order so that click order makes no new view."""

    def in_order(chosen, choices) -> tuple[str, ...]:
        return tuple(choice for choice in choices if choice in (chosen or ()))

    return Filters(
        params=in_order(params, PARAM_CHOICES),
        dims=in_order(dims, DIM_CHOICES),
        max_tokens=in_order(tokens, TOKEN_CHOICES),
        prompts=in_order(prompts, PROMPT_CHOICES),
        zero_shot=in_order(zero_shot, ZERO_SHOT_CHOICES),
        provenances=in_order(provenances, PROVENANCE_PREFERENCE),
        search=search or "",
        models=tuple(models or ()),
    )


DEFAULT_FILTERS = _filters("", [], PARAM_CHOICES, DIM_CHOICES, TOKEN_CHOICES, PROMPT_CHOICES, ZERO_SHOT_CHOICES,
                           PROVENANCE_PREFERENCE)
"""What the filter boxes hold when a page opens (everything ticked), and so what its first paint shows."""


def first_page(store: Store, boards: BoardCache) -> Page | None:
    """The default view without figures, for the page's first paint (None while the store cannot be read)."""
    try:
        snapshot = store.snapshot()
        board = boards.get(snapshot, DEFAULT_FILTERS.provenances)
    except (StoreBusy, StoreCorrupt):
        return None
    return build_page(snapshot, board, DEFAULT_VIEW, DEFAULT_FILTERS, with_figures=False)


@dataclass
class LeaderboardTab:
    """The tab's callbacks over one store: plain methods, so tests can call them without a browser."""

    store: Store
    outputs: TableOutputs
    table_api_path: str
    boards: BoardCache | None = None
    compare: CompareSection | None = None

    def __post_init__(self):
        self.sent = SentViews(self.outputs, self.table_api_path, self.boards or BoardCache(self.store))

    def render(self, view_key, search, models, params, dims, tokens, prompts, zero_shot, provenances,
               intervals=False) -> dict:
        """Every output: the view, its figures and the figures that follow only the filters."""
        filters = _filters(search, models, params, dims, tokens, prompts, zero_shot, provenances)
        with store_errors_shown():
            snapshot = self.store.snapshot()
            shown = self.sent.get(snapshot, view_key, filters, bool(intervals))
            filter_plots = self.sent.filter_figures(snapshot, filters)
        return {
            **self._switched_values(shown),
            **{self.outputs.plots[name]: plot for name, plot in filter_plots.items()},
            self.outputs.shown_generation: snapshot.generation,
            self.outputs.legend: shown.legend,
        }

    def switch(self, view_key, *filter_values) -> dict:
        """A table switch: the components `TableOutputs.switched` names, and nothing else is built."""
        *filter_values, intervals = filter_values
        with store_errors_shown():
            shown = self.sent.get(self.store.snapshot(), view_key, _filters(*filter_values), bool(intervals))
        return self._switched_values(shown)

    def _switched_values(self, shown: SentView) -> dict:
        """The view's values for the components `TableOutputs.switched` names, in that order."""
        return {
            self.outputs.table: shown.table,
            self.outputs.download: shown.download,
            self.outputs.share_query: shown.share_query,
            self.outputs.status: shown.status,
            **{self.outputs.plots[name]: plot for name, plot in shown.plots.items()},
        }

    def open_page(self, *values) -> dict:
        """The load event's render. A page that still shows its first paint's view and generation gets only the
        figures, so that a switch made while this runs is not undone."""
        *inputs, shown_generation = values
        view_key, *filter_values, intervals = inputs
        rendered = self.render(*inputs)
        painted = (view_key == DEFAULT_VIEW and _filters(*filter_values) == DEFAULT_FILTERS and not intervals
                   and rendered[self.outputs.shown_generation] == shown_generation)
        if not painted:
            return rendered
        return {plot: rendered[plot] for plot in self.outputs.plots.values()}

    def refresh_if_changed(self, *values):
        *inputs, shown_generation = values
        try:
            generation = self.store.snapshot().generation
        except (StoreBusy, StoreCorrupt):
            return gr.skip()
        if generation == shown_generation:
            return gr.skip()
        return self.render(*inputs)

    def restore(self, request: gr.Request):
        models = self.store.snapshot().models
        params = dict(request.query_params) if request is not None else {}
        view_key, chosen = parse_share_query(params, set(models["model"]))
        choices = sorted(models["model"].tolist(), key=str.lower)
        shared_view = gr.Radio(value=view_key) if view_key != DEFAULT_VIEW else gr.skip()
        return shared_view, gr.Dropdown(choices=choices, value=chosen)


@dataclass(frozen=True)
class CompareOutputs:
    """The components of the "Compare two models" section."""

    accordion: gr.Accordion
    model_a: gr.Dropdown
    model_b: gr.Dropdown
    tasks: gr.CheckboxGroup
    verdict: gr.Markdown
    table: gr.Dataframe
    plot: gr.Plot
    share_query: gr.Textbox
    drill_task: gr.Dropdown
    drill_note: gr.Markdown
    drill_table: gr.Dataframe

    def results(self) -> list[gr.components.Component]:
        """What a comparison fills."""
        return [self.verdict, self.table, self.plot, self.share_query, self.drill_task, self.drill_note, self.drill_table]


NO_COMPARISON_YET = "Choose two models with per-example data (evaluated here) and press **Compare**."


@dataclass
class CompareSection:
    """The comparison's callbacks: plain methods over the shared BoardCache, so tests can call them directly."""

    store: Store
    boards: BoardCache
    outputs: CompareOutputs

    def _snapshot(self) -> Snapshot:
        with store_errors_shown():
            return self.store.snapshot()

    def _refused(self, message: str) -> dict:
        out = self.outputs
        return {
            out.verdict: f"**Cannot compare:** {message}", out.table: None, out.plot: delta_figure(None),
            out.share_query: "", out.drill_task: gr.update(choices=[], value=None), out.drill_note: "",
            out.drill_table: None,
        }

    def compare(self, model_a, model_b, tasks=None) -> dict:
        """Compare A with B on the ticked tasks (every task both have when none is ticked)."""
        snapshot = self._snapshot()
        try:
            with store_errors_shown():
                comparison = self.boards.comparison(snapshot, model_a or "", model_b or "", tuple(tasks or ()))
        except StatisticsInputError as error:
            return self._refused(str(error))
        drillable = [task for task in comparison.tasks
                     if task in BY_NAME and BY_NAME[task].family in DRILLABLE_FAMILIES]
        out = self.outputs
        return {
            out.verdict: f"**{comparison.verdict}**  \nA = {comparison.model_a}, B = {comparison.model_b}; scores "
                         "and differences ×100." + "".join(f"  \n{note}" for note in comparison.notes),
            out.table: comparison_display(comparison),
            out.plot: delta_figure(comparison),
            out.share_query: compare_query(comparison.model_a, comparison.model_b),
            out.drill_task: gr.update(choices=drillable, value=drillable[0] if drillable else None),
            out.drill_note: "" if drillable else "No task of this comparison can be drilled into (retrieval and "
                                                 "classification can).",
            out.drill_table: None,
        }

    def compare_chosen(self, chosen, tasks=None) -> dict:
        """Compare the first two models chosen in the table's "Compare models" box."""
        chosen = list(chosen or ())
        if len(chosen) < 2:
            return self._refused("choose two models in the table's *Compare models* box first")
        return {self.outputs.model_a: chosen[0], self.outputs.model_b: chosen[1], self.outputs.accordion: gr.update(open=True),
                **self.compare(chosen[0], chosen[1], tasks)}

    def drill(self, model_a, model_b, task) -> dict:
        out = self.outputs
        if not task:
            return {out.drill_note: "Compare two models, then choose one of their tasks.", out.drill_table: None}
        try:
            with store_errors_shown():
                found = self.boards.drill_down(self._snapshot(), model_a or "", model_b or "", task)
        except StatisticsInputError as error:
            return {out.drill_note: f"**Cannot drill down:** {error}", out.drill_table: None}
        return {out.drill_note: found.note, out.drill_table: found.frame}

    def restore(self, request: gr.Request) -> dict:
        """Fill the model and task choices; `?compare=A,B` opens the section with that comparison made."""
        snapshot = self._snapshot()
        out = self.outputs
        models = self.boards.models_with_examples(snapshot)
        shown = {
            out.model_a: gr.update(choices=models), out.model_b: gr.update(choices=models),
            out.tasks: gr.update(choices=self.boards.tasks_with_examples(snapshot)),
        }
        params = dict(request.query_params) if request is not None else {}
        pair = parse_compare_query(params, set(snapshot.models["model"]))
        if pair is None:
            if params.get("compare"):
                return {**shown, out.accordion: gr.update(open=True),
                        **self._refused(f"the share link's compare={params['compare']!r} does not name two known models")}
            return {**shown, out.verdict: NO_COMPARISON_YET}
        return {
            **shown, out.model_a: gr.update(choices=models, value=pair[0]),
            out.model_b: gr.update(choices=models, value=pair[1]), out.accordion: gr.update(open=True),
            **self.compare(*pair),
        }


def build_compare(
    store: Store, demo: gr.Blocks, boards: BoardCache, chosen: gr.Dropdown, from_table: gr.Button
) -> CompareSection:
    """The "Compare two models" section (an accordion) and its wiring; `chosen` is the table's model choice and
    `from_table` the button beside it that compares its first two models (and opens the section)."""
    with gr.Accordion("Compare two models", open=False, elem_id="lb-compare") as accordion:
        gr.Markdown(
            "Is A really better than B? Per task: both scores, the difference, its 95% paired-bootstrap interval, "
            "a paired permutation-test p-value and the Holm-adjusted p over the tasks compared. Only models "
            "evaluated here have the per-example data this needs."
        )
        with gr.Row():
            model_a = gr.Dropdown(choices=[], label="Model A", elem_id="lb-compare-a", allow_custom_value=True, scale=2)
            model_b = gr.Dropdown(choices=[], label="Model B", elem_id="lb-compare-b", allow_custom_value=True, scale=2)
        tasks = gr.CheckboxGroup(choices=[], label="Tasks (every task both models have when none is ticked)",
                                 elem_id="lb-compare-tasks")
        run = gr.Button("Compare", variant="primary", size="sm", elem_id="lb-compare-run")
        verdict = gr.Markdown(NO_COMPARISON_YET, elem_id="lb-compare-verdict")
        table = gr.Dataframe(interactive=False, wrap=True, elem_id="lb-compare-table", label="Per task")
        plot = gr.Plot(elem_id="lb-compare-plot", show_label=False)
        share_link = gr.Textbox(label="Share link (opens this comparison)", elem_id="lb-compare-share",
                                interactive=False, buttons=["copy"])
        share_query = gr.Textbox(visible=False)
        gr.Markdown("**Drill-down**: the examples of a task where one model beats the other most. " + GATED_NOTE)
        with gr.Row():
            drill_task = gr.Dropdown(choices=[], label="Task", elem_id="lb-drill-task", scale=2)
            drill_run = gr.Button("Show the examples", size="sm", elem_id="lb-drill-run")
        drill_note = gr.Markdown(elem_id="lb-drill-note")
        drill_table = gr.Dataframe(interactive=False, wrap=True, max_height=500, elem_id="lb-drill-table",
                                   label="Examples")
        with gr.Accordion("Method", open=False):
            gr.Markdown(COMPARE_METHOD, elem_id="lb-compare-method")

    outputs = CompareOutputs(accordion, model_a, model_b, tasks, verdict, table, plot, share_query, drill_task,
                             drill_note, drill_table)
    section = CompareSection(store, boards, outputs)
    show_link = dict(fn=None, inputs=[share_query], outputs=[share_link], js=FULL_URL_JS)
    run.click(section.compare, [model_a, model_b, tasks], outputs.results(), api_name="leaderboard_compare").then(**show_link)
    from_table.click(section.compare_chosen, [chosen, tasks], [model_a, model_b, accordion, *outputs.results()],
                     api_name="leaderboard_compare_chosen").then(**show_link)
    gr.on([drill_run.click, drill_task.input], section.drill, [model_a, model_b, drill_task], [drill_note, drill_table],
          api_name="leaderboard_drill_down")
    demo.load(section.restore, None, [accordion, model_a, model_b, tasks, *outputs.results()],
              api_name="leaderboard_compare_restore").then(**show_link)
    return section


def build(store: Store, demo: gr.Blocks, table_api_path: str, boards: BoardCache | None = None) -> LeaderboardTab:
    """Add the Leaderboard tab's layout to the current Blocks and wire it.

    `table_api_path`: the app's route answering `table_query` (the CSV link). `boards` lets the tab share its
    per-generation boards, comparisons and drill-downs with another reader (the public API); `tab.compare` is
    the "Compare two models" section.
    """
    boards = boards or BoardCache(store)
    first = first_page(store, boards)
    gr.Markdown(
        "# PatenTEB leaderboard\n"
        "Patent text-embedding models on the 15 tasks of [PatenTEB](https://arxiv.org/abs/2510.22264) "
        "(retrieval NDCG@10, classification macro-F1, clustering V-measure, paraphrase Pearson r), "
        "with every number's source shown."
    )
    view = gr.Radio(
        choices=[(v.title, v.key) for v in VIEWS], value=DEFAULT_VIEW, label="Table", elem_id="lb-view"
    )
    with gr.Row():
        search = gr.Textbox(
            label="Search models", placeholder="part of a name; commas for several", elem_id="lb-search", scale=2,
            max_length=MAX_SEARCH_CHARACTERS,
        )
        chosen = gr.Dropdown(
            choices=[], value=[], multiselect=True, label="Compare models (table, plots and share link)",
            elem_id="lb-models", scale=3,
        )
        compare_chosen = gr.Button("Compare the first two (paired tests)", size="sm", elem_id="lb-compare-chosen",
                                   scale=0, min_width=160)
    with gr.Accordion("Filters", open=False, elem_id="lb-filters"):
        with gr.Row():
            params = gr.CheckboxGroup(list(PARAM_CHOICES), value=list(DEFAULT_FILTERS.params), label="Parameters",
                                      elem_id="lb-params")
            dims = gr.CheckboxGroup(list(DIM_CHOICES), value=list(DEFAULT_FILTERS.dims), label="Embedding dim",
                                    elem_id="lb-dims")
        with gr.Row():
            tokens = gr.CheckboxGroup(list(TOKEN_CHOICES), value=list(DEFAULT_FILTERS.max_tokens), label="Max tokens",
                                      elem_id="lb-tokens")
            prompts = gr.CheckboxGroup(list(PROMPT_CHOICES), value=list(DEFAULT_FILTERS.prompts), label="Uses prompts",
                                       elem_id="lb-prompts")
            zero_shot = gr.CheckboxGroup(
                list(ZERO_SHOT_CHOICES), value=list(DEFAULT_FILTERS.zero_shot), elem_id="lb-zero-shot",
                label="Zero-shot on PatenTEB (no: trained on its training split)",
            )
        provenances = gr.CheckboxGroup(
            [(f"{name}: {PROVENANCE_DESCRIPTIONS[name]}", name) for name in PROVENANCE_PREFERENCE],
            value=list(DEFAULT_FILTERS.provenances), label="Sources of scores", elem_id="lb-provenance",
        )
    with gr.Row():
        status = gr.Markdown(first.status if first else "", elem_id="lb-status")
        intervals = gr.Checkbox(label="Show 95% intervals", value=False, elem_id="lb-intervals", scale=0,
                                min_width=200)
    legend = gr.Markdown(first.legend if first else styling.legend_markdown(), elem_id="lb-legend")
    table = gr.Dataframe(
        first.value if first else None, interactive=False, max_height=640, pinned_columns=3, show_search="search",
        datatype=styling.GRID_DATATYPES, buttons=["fullscreen", "copy"], elem_id="lb-table", label="Leaderboard",
    )
    with gr.Row():
        download = gr.HTML(download_link(table_api_path, DEFAULT_VIEW, DEFAULT_FILTERS), elem_id="lb-download")
        share_link = gr.Textbox(label="Share link (restores this table and model choice)", elem_id="lb-share",
                                interactive=False, buttons=["copy"], scale=3)
    share_query = gr.Textbox(first.share_query if first else "", visible=False)
    shown_generation = gr.State(first.generation if first else -1)
    compare = build_compare(store, demo, boards, chosen, compare_chosen)
    with gr.Accordion("How scores are combined", open=False):
        gr.Markdown("\n\n".join([AGGREGATION_RULE, RANK_RULE, INTERVAL_RULE, EFFICIENCY_RULE]), elem_id="lb-rule")
    with gr.Row():
        plot_params = gr.Plot(elem_id="lb-plot-params", show_label=False)
        plot_radar = gr.Plot(elem_id="lb-plot-radar", show_label=False)
    with gr.Row():
        plot_drop = gr.Plot(elem_id="lb-plot-drop", show_label=False)
        plot_bigpatent = gr.Plot(elem_id="lb-plot-bigpatent", show_label=False)
    with gr.Row():
        plot_efficiency = gr.Plot(elem_id="lb-plot-efficiency", show_label=False)
    timer = gr.Timer(REFRESH_SECONDS)

    outputs = TableOutputs(
        table=table, download=download, share_query=share_query, status=status,
        plots={"params": plot_params, "radar": plot_radar, "drop": plot_drop, "bigpatent": plot_bigpatent,
               "efficiency": plot_efficiency},
        shown_generation=shown_generation, legend=legend,
    )
    tab = LeaderboardTab(store, outputs, table_api_path, boards, compare)
    inputs = [view, search, chosen, params, dims, tokens, prompts, zero_shot, provenances, intervals]
    sent_as_is = dict(postprocess=False)
    one_render_group = dict(concurrency_limit=RENDERS_AT_ONCE, concurrency_id="leaderboard-render")

    view.input(
        tab.switch, inputs, outputs.switched(), trigger_mode="always_last", show_progress="minimal",
        concurrency_limit=None, **sent_as_is
    ).then(None, [share_query], [share_link], js=SHOW_URL_JS)
    gr.on(
        [search.input, chosen.input, params.input, dims.input, tokens.input, prompts.input, zero_shot.input,
         provenances.input, intervals.input],
        tab.render, inputs, outputs.components(), trigger_mode="always_last", show_progress="minimal",
        **one_render_group, **sent_as_is,
    ).then(None, [share_query], [share_link], js=SHOW_URL_JS)
    demo.load(tab.restore, None, [view, chosen]).then(
        tab.open_page, [*inputs, shown_generation], outputs.components(), **one_render_group, **sent_as_is
    ).then(
        None, [share_query], [share_link], js=SHOW_URL_JS
    )
    timer.tick(tab.refresh_if_changed, [*inputs, shown_generation], outputs.components(), show_progress="hidden",
               **one_render_group, **sent_as_is)
    return tab


TASK_INFO_COLUMNS = {
    "task": "Task",
    "benchmark": "Benchmark",
    "family": "Family",
    "subfamily": "Sub-family",
    "metric_label": "Metric",
    "description": "Description",
    "test_size": "Test size",
    "train_subset": "Train subset (classifier)",
    "dataset": "Dataset",
    "query_prompt": "Query prompt",
    "document_prompt": "Document prompt",
    "prompt_source": "Prompt source",
}


def task_info_frame(tasks: pd.DataFrame, evaluation_note: Callable[[str], str | None] | None = None) -> pd.DataFrame:
    frame = tasks[list(TASK_INFO_COLUMNS)].rename(columns=TASK_INFO_COLUMNS)
    frame["Test size"] = frame["Test size"].map(lambda n: "" if pd.isna(n) else f"{int(n):,}")
    if evaluation_note is not None:
        frame.insert(6, "How it is evaluated here", [evaluation_note(task) or "" for task in tasks["task"]])
    return frame.fillna("")


def build_task_info(store: Store, evaluation_note: Callable[[str], str | None] | None = None) -> None:
    """The tasks change only with the code (the catalogue is part of the store's schema), so the table is made once,
    when the app starts, not on every page open; a store that cannot be read then is read at page load instead."""

    def table() -> pd.DataFrame:
        return task_info_frame(store.snapshot().tasks, evaluation_note)

    try:
        value = table()
    except (StoreBusy, StoreCorrupt):
        value = table
    gr.Markdown(
        "# Tasks\nThe 15 PatenTEB tasks (datasets `datalyes/<task>`, gated, CC BY-NC-SA 4.0, loaded only at "
        "evaluation time), the external patent tasks from mteb, and the demo tasks built from the shipped "
        "USPTO sample. Prompts are shown where they are known, with their source."
    )
    gr.Dataframe(
        value=value, interactive=False, wrap=True,
        max_height=900, elem_id="tasks-table", show_search="search",
    )
