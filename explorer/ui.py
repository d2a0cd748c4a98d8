"""The Explorer tab: query compare and UMAP maps. The only explorer module that imports gradio.

Reads top to bottom: callbacks (plain functions of an `Explorer`), then the layout, then the wiring.
Nothing here waits for a model being prepared in the background: the panel at the top shows their progress
(refreshed by a timer that stops once nothing is pending), and a search answers with the models that are ready.
"""

from __future__ import annotations

import logging

import gradio as gr
import numpy as np
import pandas as pd

from explorer.builds import READY, BuildStatus
from explorer.corpus import SECTION_TITLES
from explorer.errors import ExplorerError
from explorer.maps import (
    DEFAULT_MAP_SAMPLE,
    MAP_SAMPLE_LIMITS,
    MAP_SAMPLE_STEP,
    map_figure,
    message_figure,
    metrics_markdown,
)
from explorer.registry import Registry
from explorer.render import (
    is_preparing,
    model_frame,
    notes_markdown,
    overlap_frame,
    preparation_markdown,
    results_html,
)
from explorer.service import (
    DEFAULT_K,
    K_LIMITS,
    MAX_MODELS,
    MAX_QUERY_CHARACTERS,
    VISITOR_MAP_LIMIT,
    Explorer,
    model_description,
    picker_label,
)
from results.store import Store

log = logging.getLogger(__name__)

TEXT_MODE = "Text query"
PATENT_MODE = "Patent as query (prior art)"
ALL_SECTIONS = "All sections"
COLOUR_CHOICES = {"CPC section": "section", "Top 10 CPC classes": "class"}
PROGRESS_REFRESH_S = 2.0
MAP_REQUESTS_AT_ONCE = 4
"""Map requests served at once: cached maps need no wait; new projections queue on the explorer's one map lock."""
EXAMPLE_QUERIES = [
    "A rechargeable lithium-ion battery in which a coating on the electrode reduces capacity loss over repeated charge cycles.",
    "Reducing interference between nearby wireless transmitters by steering the antenna beam of each base station.",
    "A surgical stapler that cannot be fired when no staple cartridge is loaded in the jaws.",
    "Encoding video frames by predicting motion from neighbouring blocks to reduce the bit rate.",
    "A wind turbine blade with serrations at the trailing edge that reduce aerodynamic noise.",
    "A tablet formulation that releases the active ingredient slowly in the stomach over twelve hours.",
    "Detecting a pedestrian in front of a vehicle from camera images and braking automatically.",
]


def empty_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The overlap and per-model tables before a search, or after one that failed: headers, no rows."""
    return (
        pd.DataFrame(columns=["model A", "model B", "Jaccard@k", "RBO (p=0.9)"]),
        pd.DataFrame(columns=["model", "hits", "time (ms)"]),
    )


# callbacks ---------------------------------------------------------------------------------------------

def search(explorer: Explorer, mode, query, patent_id, models, k, section, progress=None):
    """(notes, overlap table, per-model table, results HTML); a problem becomes a message, never an exception."""
    empty = (*empty_tables(), "")
    prior_art = mode == PATENT_MODE
    try:
        comparison = explorer.compare(
            query="" if prior_art else query,
            patent_id=patent_id if prior_art else None,
            models=list(models or []),
            k=k,
            section=None if section in (None, "", ALL_SECTIONS) else section[0],
            progress=_stage_progress(progress),
            background=True,
        )
    except ExplorerError as error:
        return (_warn(str(error)), *empty)
    except Exception as error:
        log.exception("explorer search failed")
        return (_warn(f"The search failed unexpectedly: {error}"), *empty)
    corpus = explorer.corpus
    return (
        notes_markdown(comparison, corpus),
        overlap_frame(comparison),
        model_frame(comparison),
        results_html(comparison, corpus),
    )


def random_patent(explorer: Explorer, seed: int | None = None) -> tuple[str, str]:
    """A random patent id (one with a CPC section when there is any), and the mode switched to prior art."""
    corpus = explorer.corpus
    labelled = np.flatnonzero(corpus.sections != "")
    candidates = labelled if labelled.size else np.arange(len(corpus))
    position = int(np.random.default_rng(seed).choice(candidates))
    return corpus.ids[position], PATENT_MODE


def draw_maps(explorer: Explorer, model_a, model_b, sample_size, colour, progress=None,
              compute_limit: int = VISITOR_MAP_LIMIT):
    """(figure A, metrics A, figure B, metrics B): each side draws, or shows why it cannot (metrics then "")."""
    outputs = []
    for name in (model_a, model_b):
        outputs.extend(_one_map(explorer, name, sample_size, colour, progress, compute_limit))
    return tuple(outputs)


def _one_map(explorer: Explorer, name, sample_size, colour, progress, compute_limit):
    if not name:
        return message_figure("Pick a model for this side."), ""
    try:
        view = explorer.map_view(
            name, sample_size, progress=_stage_progress(progress), compute_limit=compute_limit
        )
    except ExplorerError as error:
        return message_figure(str(error)), ""
    except Exception as error:
        log.exception("explorer map failed")
        return message_figure(f"The map failed unexpectedly: {error}"), ""
    colour_by = COLOUR_CHOICES.get(colour, "section")
    figure = map_figure(view.points, colour_by=colour_by, title=f"{view.label} · {len(view.points):,} patents")
    origin = (
        f"cached projection from {view.computed_at:%Y-%m-%d %H:%M}"
        if view.from_cache
        else f"computed now in {view.compute_seconds:.1f} s and cached"
    )
    return figure, metrics_markdown(view.metrics, view.label) + f"\n\n<small>{origin}</small>"


def build_statuses(explorer: Explorer) -> list[BuildStatus]:
    """The background builds' states; none when nothing was started in the background."""
    return explorer.builds.status() if explorer.builds is not None else []


def preparation(explorer: Explorer) -> tuple[str, gr.Timer]:
    """(the background-preparation panel, the timer that refreshes it: stopped once nothing is pending)."""
    statuses = build_statuses(explorer)
    activity = explorer.map_activity()
    busy = is_preparing(statuses) or bool(activity)
    return preparation_markdown(statuses, activity), gr.Timer(active=busy)


def model_status(explorer: Explorer) -> str:
    try:
        indexed = explorer.indexed_models()
    except Exception as error:
        return _warn(f"Cannot read the model status: {error}")
    building = {status.name: status for status in build_statuses(explorer)}
    rows = ["| model | kind | status | notes |", "|---|---|---|---|"]
    for spec in explorer.registry:
        failure = explorer.models.failure(spec.name)
        parts_indexed = spec.is_hybrid and all(part in indexed for part in spec.fuses)
        if failure:
            status = f"cannot load: {failure}"
        elif spec.name in building and building[spec.name].state != READY:
            status = building[spec.name].line()
        elif spec.name in indexed or parts_indexed:
            status = "indexed"
        else:
            status = "no index yet (built in the background when first picked)"
        if explorer.models.is_loaded(spec.name):
            status += f"; loaded from {explorer.models.get(spec.name).source}"
        notes = model_description(explorer.registry, spec) if spec.is_hybrid else spec.notes
        rows.append(f"| {spec.label} | {spec.kind} | {_cell(status)} | {_cell(notes)} |")
    return "\n".join(rows)


def default_map_models(registry: Registry) -> tuple[str | None, str | None]:
    """Two different models for the maps: the first two dense defaults, else any dense models, else BM25."""
    mappable = [spec for spec in registry if not spec.is_hybrid]
    ranked = sorted(mappable, key=lambda spec: (not spec.default, not spec.is_dense))
    names = [spec.name for spec in ranked][:2]
    return tuple(names + [None] * (2 - len(names)))


def map_label(spec) -> str:
    return f"{spec.label} (TF-IDF → SVD)" if spec.kind == "bm25" else spec.label


def _stage_progress(progress):
    if progress is None:
        return None
    return lambda done, total, stage: progress((done, total), desc=stage, unit="docs")


def _warn(message: str) -> str:
    return f"⚠️ {message}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# layout and wiring -------------------------------------------------------------------------------------

def build(store: Store, explorer: Explorer | None = None) -> None:
    """Add the explorer's inner tabs to the current Blocks context; loads nothing heavy until first use."""
    explorer = explorer or Explorer(store)
    registry = explorer.registry
    model_choices = [(picker_label(spec), spec.name) for spec in registry]
    map_choices = [(map_label(spec), spec.name) for spec in registry if not spec.is_hybrid]
    default_models = [spec.name for spec in registry.defaults()][:MAX_MODELS]
    left_map, right_map = default_map_models(registry)
    section_choices = [ALL_SECTIONS] + [f"{letter} · {title}" for letter, title in SECTION_TITLES.items()]

    preparing = gr.Markdown(elem_id="explorer-preparation")
    timer = gr.Timer(PROGRESS_REFRESH_S)
    with gr.Tabs(elem_id="explorer-tabs"):
        with gr.Tab("Query compare", elem_id="explorer-tab-compare"):
            gr.Markdown(
                "Type a patent-style query, or use a patent as the query (prior-art mode), and compare what "
                "each model retrieves from real patent abstracts (by default 10,000 USPTO grants). The default "
                "models are prepared in the background when the app starts; a model picked later is indexed in "
                "the background too (MiniLM: about 3 minutes for 10,000 abstracts on 2 CPU cores), and searches "
                "answer with the others meanwhile."
            )
            mode = gr.Radio([TEXT_MODE, PATENT_MODE], value=TEXT_MODE, label="Query", elem_id="explorer-mode")
            query = gr.Textbox(
                label="Query text", lines=3, value=EXAMPLE_QUERIES[0], max_length=MAX_QUERY_CHARACTERS,
                elem_id="explorer-query",
            )
            example = gr.Dropdown(
                EXAMPLE_QUERIES, value=None, label="Example queries", elem_id="explorer-example"
            )
            with gr.Row():
                patent_id = gr.Textbox(
                    label="Patent id (prior-art mode)", placeholder="e.g. US08814955-20140826", scale=3,
                    elem_id="explorer-patent-id",
                )
                pick_patent = gr.Button("Random patent", scale=1, elem_id="explorer-random-patent")
            with gr.Row():
                models = gr.CheckboxGroup(
                    model_choices, value=default_models, label=f"Models (one to {MAX_MODELS})", elem_id="explorer-models"
                )
            with gr.Row():
                k = gr.Slider(
                    *K_LIMITS, value=DEFAULT_K, step=1, label="Results per model (k)", elem_id="explorer-k"
                )
                section = gr.Dropdown(
                    section_choices, value=ALL_SECTIONS, label="CPC section filter (first code)",
                    elem_id="explorer-section",
                )
            run = gr.Button("Search", variant="primary", elem_id="explorer-search")
            notes = gr.Markdown(elem_id="explorer-notes")
            with gr.Row():
                no_overlap, no_stats = empty_tables()
                overlap = gr.Dataframe(
                    no_overlap, label="Overlap between models", interactive=False, elem_id="explorer-overlap"
                )
                per_model = gr.Dataframe(no_stats, label="Per model", interactive=False, elem_id="explorer-model-stats")
            results = gr.HTML(elem_id="explorer-results")
            with gr.Accordion("Models and indexes", open=False):
                status = gr.Markdown(elem_id="explorer-model-status")
                refresh = gr.Button("Check models", size="sm", elem_id="explorer-models-refresh")

        with gr.Tab("UMAP maps", elem_id="explorer-tab-maps") as maps_tab:
            gr.Markdown(
                "UMAP of each model's embeddings of a random sample of the corpus (BM25: TF-IDF vectors reduced by "
                "truncated SVD). The scores beside each map are computed on the full-dimensional vectors. A new "
                "projection takes from seconds to a minute and is computed once for every visitor; one is computed "
                f"at a time, and maps of more than {VISITOR_MAP_LIMIT:,} patents are shown only when precomputed."
            )
            with gr.Row():
                sample = gr.Slider(
                    *MAP_SAMPLE_LIMITS, value=DEFAULT_MAP_SAMPLE, step=MAP_SAMPLE_STEP, label="Patents in each map",
                    info=f"up to {VISITOR_MAP_LIMIT:,} computed on request; more when precomputed",
                    elem_id="explorer-map-sample",
                )
                colour = gr.Radio(
                    list(COLOUR_CHOICES), value="CPC section", label="Colour by", elem_id="explorer-map-colour"
                )
            with gr.Row():
                with gr.Column():
                    model_a = gr.Dropdown(
                        map_choices, value=left_map, label="Left map",
                        elem_id="explorer-map-model-a",
                    )
                    plot_a = gr.Plot(elem_id="explorer-map-plot-a")
                    metrics_a = gr.Markdown(elem_id="explorer-map-metrics-a")
                with gr.Column():
                    model_b = gr.Dropdown(
                        map_choices, value=right_map, label="Right map",
                        elem_id="explorer-map-model-b",
                    )
                    plot_b = gr.Plot(elem_id="explorer-map-plot-b")
                    metrics_b = gr.Markdown(elem_id="explorer-map-metrics-b")
            draw = gr.Button("Draw maps", variant="primary", elem_id="explorer-map-draw")
            drawn = gr.State(False)

    def on_search(mode, query, patent_id, models, k, section, progress=gr.Progress()):
        """The search, the preparation panel, and the model status only when the search changed a build's state
        (one event: under load every chained event waits in the queue again)."""
        builds_before = build_statuses(explorer)
        found = search(explorer, mode, query, patent_id, models, k, section, progress)
        status_now = model_status(explorer) if build_statuses(explorer) != builds_before else gr.skip()
        return (*found, *preparation(explorer), status_now)

    def on_draw(model_a, model_b, sample_size, colour, progress=gr.Progress()):
        drawn = draw_maps(explorer, model_a, model_b, sample_size, colour, progress)
        return (*drawn, bool(drawn[1] and drawn[3]))

    def on_open_maps(drawn, model_a, model_b, sample_size, colour, progress=gr.Progress()):
        if drawn:
            return (gr.update(),) * 5
        return on_draw(model_a, model_b, sample_size, colour, progress)

    def on_recolour(drawn, model_a, model_b, sample_size, colour, progress=gr.Progress()):
        if not drawn:
            return (gr.update(),) * 5
        return on_draw(model_a, model_b, sample_size, colour, progress)

    def refresh_preparation():
        return preparation(explorer)

    def refresh_status():
        return model_status(explorer)

    timer.tick(refresh_preparation, None, [preparing, timer], show_progress="hidden")

    search_inputs = [mode, query, patent_id, models, k, section]
    search_outputs = [notes, overlap, per_model, results, preparing, timer, status]
    gr.on([run.click, query.submit, patent_id.submit], on_search, search_inputs, search_outputs,
          show_progress_on=[notes, results], concurrency_limit=None)
    mode.change(lambda chosen: gr.update(visible=chosen == TEXT_MODE), mode, query)
    example.change(lambda chosen: (chosen, TEXT_MODE) if chosen else (gr.update(), gr.update()), example, [query, mode])
    pick_patent.click(lambda: random_patent(explorer), None, [patent_id, mode])
    refresh.click(refresh_status, None, status)

    draw_inputs = [model_a, model_b, sample, colour]
    draw_outputs = [plot_a, metrics_a, plot_b, metrics_b, drawn]
    maps_tab.select(refresh_preparation, None, [preparing, timer], show_progress="hidden")
    maps_tab.select(on_open_maps, [drawn, *draw_inputs], draw_outputs, concurrency_limit=MAP_REQUESTS_AT_ONCE)
    draw.click(on_draw, draw_inputs, draw_outputs, concurrency_limit=MAP_REQUESTS_AT_ONCE)
    colour.change(on_recolour, [drawn, *draw_inputs], draw_outputs, concurrency_limit=MAP_REQUESTS_AT_ONCE)
