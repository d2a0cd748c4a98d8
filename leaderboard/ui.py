"""The Leaderboard and Task information tabs: layout and event wiring over leaderboard.page."""

from __future__ import annotations

import hashlib
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Callable

import gradio as gr
import pandas as pd

from leaderboard import styling
from leaderboard.filters import (
    DIM_CHOICES,
    PARAM_CHOICES,
    PROMPT_CHOICES,
    TOKEN_CHOICES,
    Filters,
    parse_share_query,
)
from leaderboard.page import Page, build_page
from leaderboard.tables import Board, choose_cells, prepare_board
from leaderboard.views import AGGREGATION_RULE, VIEWS
from results.store import Snapshot, Store, StoreBusy, StoreCorrupt
from results.vocabulary import PROVENANCE_DESCRIPTIONS, PROVENANCE_PREFERENCE

REFRESH_SECONDS = 10
CSV_FOLDER = Path(tempfile.gettempdir()) / "patenteb-leaderboard-csv"
SHOW_URL_JS = """
(query) => {
    const url = window.location.origin + window.location.pathname + query;
    window.history.replaceState(null, "", url);
    return url;
}
"""


class BoardCache:
    """Chosen cells per (store generation, provenance choice): a table switch never recomputes them."""

    def __init__(self, store: Store):
        self.store = store
        self._boards: dict[tuple, Board] = {}
        self._lock = threading.Lock()

    def get(self, provenances: tuple[str, ...]) -> tuple[Snapshot, Board]:
        snapshot = self.store.snapshot()
        key = (snapshot.generation, provenances)
        with self._lock:
            board = self._boards.get(key)
        if board is None:
            board = prepare_board(choose_cells(snapshot.scores, provenances), snapshot.tasks, snapshot.models)
            with self._lock:
                if len(self._boards) > 16:
                    self._boards.clear()
                self._boards[key] = board
        return snapshot, board


def _filters(search, models, params, dims, tokens, prompts, provenances) -> Filters:
    return Filters(
        params=tuple(params or ()),
        dims=tuple(dims or ()),
        max_tokens=tuple(tokens or ()),
        prompts=tuple(prompts or ()),
        provenances=tuple(p for p in PROVENANCE_PREFERENCE if p in (provenances or ())),
        search=search or "",
        models=tuple(models or ()),
    )


def _write_csv(page: Page, view_key: str) -> str:
    """The shown table as a CSV file, written once per distinct content (a re-render reuses the file)."""
    text = styling.csv_frame(page.table).to_csv(index=False)
    folder = CSV_FOLDER / hashlib.sha256(text.encode()).hexdigest()[:20]
    path = folder / f"patenteb-{view_key}.csv"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{uuid.uuid4().hex}.partial"
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    return str(path)


def build(store: Store, demo: gr.Blocks) -> None:
    boards = BoardCache(store)

    def render(view_key, search, models, params, dims, tokens, prompts, provenances):
        filters = _filters(search, models, params, dims, tokens, prompts, provenances)
        try:
            snapshot, board = boards.get(filters.provenances)
        except (StoreBusy, StoreCorrupt) as error:
            raise gr.Error(f"The results store cannot be read right now: {error}") from error
        page = build_page(snapshot, board, view_key, filters)
        return (
            gr.Dataframe(value=page.value, datatype=page.datatypes),
            _write_csv(page, view_key),
            page.share_query,
            page.status,
            page.figures["params"],
            page.figures["radar"],
            page.figures["drop"],
            page.figures["bigpatent"],
            snapshot.generation,
        )

    def refresh_if_changed(*values):
        *inputs, shown_generation = values
        try:
            generation = store.snapshot().generation
        except (StoreBusy, StoreCorrupt):
            return [gr.skip()] * len(outputs)
        if generation == shown_generation:
            return [gr.skip()] * len(outputs)
        return render(*inputs)

    def restore(request: gr.Request):
        models = store.snapshot().models
        params = dict(request.query_params) if request is not None else {}
        view_key, chosen = parse_share_query(params, set(models["model"]))
        choices = sorted(models["model"].tolist(), key=str.lower)
        return gr.Radio(value=view_key), gr.Dropdown(choices=choices, value=chosen)

    gr.Markdown(
        "# PatenTEB leaderboard\n"
        "Patent text-embedding models on the 15 tasks of [PatenTEB](https://arxiv.org/abs/2510.22264) "
        "(retrieval NDCG@10, classification macro-F1, clustering V-measure, paraphrase Pearson r), "
        "with every number's source shown."
    )
    view = gr.Radio(
        choices=[(v.title, v.key) for v in VIEWS], value="overall", label="Table", elem_id="lb-view"
    )
    with gr.Row():
        search = gr.Textbox(
            label="Search models", placeholder="part of a name; commas for several", elem_id="lb-search", scale=2
        )
        chosen = gr.Dropdown(
            choices=[], value=[], multiselect=True, label="Compare models (table, plots and share link)",
            elem_id="lb-models", scale=3,
        )
    with gr.Accordion("Filters", open=False, elem_id="lb-filters"):
        with gr.Row():
            params = gr.CheckboxGroup(list(PARAM_CHOICES), value=list(PARAM_CHOICES), label="Parameters", elem_id="lb-params")
            dims = gr.CheckboxGroup(list(DIM_CHOICES), value=list(DIM_CHOICES), label="Embedding dim", elem_id="lb-dims")
        with gr.Row():
            tokens = gr.CheckboxGroup(list(TOKEN_CHOICES), value=list(TOKEN_CHOICES), label="Max tokens", elem_id="lb-tokens")
            prompts = gr.CheckboxGroup(list(PROMPT_CHOICES), value=list(PROMPT_CHOICES), label="Uses prompts", elem_id="lb-prompts")
        provenances = gr.CheckboxGroup(
            [(f"{name}: {PROVENANCE_DESCRIPTIONS[name]}", name) for name in PROVENANCE_PREFERENCE],
            value=list(PROVENANCE_PREFERENCE), label="Sources of scores", elem_id="lb-provenance",
        )
    status = gr.Markdown(elem_id="lb-status")
    gr.Markdown(styling.legend_markdown(), elem_id="lb-legend")
    table = gr.Dataframe(
        interactive=False, max_height=640, pinned_columns=2, show_search="search",
        buttons=["fullscreen", "copy"], elem_id="lb-table", label="Leaderboard",
    )
    with gr.Row():
        download = gr.DownloadButton("Download this table (CSV)", elem_id="lb-download", size="sm")
        share_link = gr.Textbox(label="Share link (restores this table and model choice)", elem_id="lb-share",
                                interactive=False, buttons=["copy"], scale=3)
    share_query = gr.Textbox(visible=False)
    shown_generation = gr.State(-1)
    with gr.Accordion("How scores are combined", open=False):
        gr.Markdown(AGGREGATION_RULE, elem_id="lb-rule")
    with gr.Row():
        plot_params = gr.Plot(elem_id="lb-plot-params", show_label=False)
        plot_radar = gr.Plot(elem_id="lb-plot-radar", show_label=False)
    with gr.Row():
        plot_drop = gr.Plot(elem_id="lb-plot-drop", show_label=False)
        plot_bigpatent = gr.Plot(elem_id="lb-plot-bigpatent", show_label=False)
    timer = gr.Timer(REFRESH_SECONDS)

    inputs = [view, search, chosen, params, dims, tokens, prompts, provenances]
    outputs = [table, download, share_query, status, plot_params, plot_radar, plot_drop, plot_bigpatent, shown_generation]

    gr.on(
        [view.input, search.input, chosen.input, params.input, dims.input, tokens.input, prompts.input, provenances.input],
        render, inputs, outputs, trigger_mode="always_last", show_progress="minimal",
    ).then(None, [share_query], [share_link], js=SHOW_URL_JS)
    demo.load(restore, None, [view, chosen]).then(render, inputs, outputs).then(
        None, [share_query], [share_link], js=SHOW_URL_JS
    )
    timer.tick(refresh_if_changed, [*inputs, shown_generation], outputs, show_progress="hidden")


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
    gr.Markdown(
        "# Tasks\nThe 15 PatenTEB tasks (datasets `datalyes/<task>`, gated, CC BY-NC-SA 4.0, loaded only at "
        "evaluation time), the external patent tasks from mteb, and the demo tasks built from the shipped "
        "USPTO sample. Prompts are shown where they are known, with their source."
    )
    gr.Dataframe(
        value=lambda: task_info_frame(store.snapshot().tasks, evaluation_note), interactive=False, wrap=True,
        max_height=900, elem_id="tasks-table", show_search="search",
    )
