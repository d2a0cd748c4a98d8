"""The Explorer tab: it builds inside a Blocks without loading models, its callbacks answer with messages, searches
never wait for a model being prepared in the background, and a new map is computed once for everyone."""

from __future__ import annotations

import re
import threading

import gradio as gr
import pandas as pd
import pytest

from explorer import ui
from explorer.corpus import SHIPPED_CORPUS
from explorer.registry import ModelSpec, load_registry
from explorer.maps import MAP_SAMPLE_LIMITS
from explorer.service import DEFAULT_K, K_LIMITS, MAX_QUERY_CHARACTERS, Explorer
from results.explorer_cache import count_projections
from results.store import Store

UNREACHABLE = "patenteb-tests/not-on-this-machine"
ELEM_IDS = {
    "explorer-tabs", "explorer-tab-compare", "explorer-tab-maps", "explorer-mode", "explorer-query",
    "explorer-example", "explorer-patent-id", "explorer-random-patent", "explorer-models", "explorer-k",
    "explorer-section", "explorer-search", "explorer-notes", "explorer-overlap", "explorer-model-stats",
    "explorer-results", "explorer-model-status", "explorer-models-refresh", "explorer-map-sample",
    "explorer-map-colour", "explorer-map-model-a", "explorer-map-model-b", "explorer-map-plot-a",
    "explorer-map-plot-b", "explorer-map-metrics-a", "explorer-map-metrics-b", "explorer-map-draw",
    "explorer-preparation",
}
TINY = "tiny-bert"


@pytest.fixture(scope="module")
def corpus_path(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus") / "patents.parquet"
    pd.read_parquet(SHIPPED_CORPUS).iloc[::50].to_parquet(corpus)
    return corpus


@pytest.fixture(scope="module")
def registry(tiny_model_path):
    return load_registry().with_models(
        ModelSpec(name=TINY, kind="sentence-transformers", display_name="tiny BERT", path=str(tiny_model_path)),
        ModelSpec(name=UNREACHABLE, kind="sentence-transformers", display_name="Unreachable", hub_id=UNREACHABLE),
    )


@pytest.fixture(scope="module")
def explorer(tmp_path_factory, corpus_path, registry) -> Explorer:
    return Explorer(Store(tmp_path_factory.mktemp("store") / "store.duckdb"), corpus=str(corpus_path), registry=registry)


def test_build_adds_every_component_with_a_stable_id_and_loads_nothing(explorer):
    with gr.Blocks() as demo:
        with gr.Tab("Explorer"):
            ui.build(explorer.store, explorer=explorer)
    props = {component["props"].get("elem_id"): component["props"] for component in demo.config["components"]}
    assert ELEM_IDS <= set(props)
    assert explorer._corpus is None and not explorer.models.is_loaded("bm25")
    assert props["explorer-query"]["max_length"] == MAX_QUERY_CHARACTERS
    assert (props["explorer-k"]["minimum"], props["explorer-k"]["maximum"]) == K_LIMITS
    assert props["explorer-k"]["value"] == DEFAULT_K
    assert (props["explorer-map-sample"]["minimum"], props["explorer-map-sample"]["maximum"]) == MAP_SAMPLE_LIMITS


@pytest.mark.parametrize(
    "query, models, k, message",
    [
        ("  ", ["bm25", TINY], 10, "the query is empty"),
        ("x" * 100_000, ["bm25"], 10, "the query is 100,000 characters long; at most 20,000 are accepted"),
        ("bat\x07tery", ["bm25"], 10, "control character (U+0007)"),
        ("battery", [], 10, "pick at least one model"),
        ("battery", ["bm25", TINY, UNREACHABLE, "wordllama/l2_supercat-256", "sentence-transformers/all-MiniLM-L6-v2"],
         10, "pick at most 4 models at once, got 5"),
        ("battery", ["bm25", "bm26"], 10, "unknown model 'bm26'"),
        ("battery", ["bm25"], "many", "k must be a whole number from 1 to 100, got 'many'"),
        ("battery", ["bm25"], 0, "k must be from 1 to 100, got 0"),
        ("battery", ["bm25"], 101, "k must be from 1 to 100, got 101"),
    ],
)
def test_bad_input_gets_the_services_message_and_no_results(explorer, query, models, k, message):
    notes, overlap, stats, html = ui.search(explorer, ui.TEXT_MODE, query, "", models, k, ui.ALL_SECTIONS)
    assert notes.startswith("⚠️") and message in notes
    assert html == "" and overlap.empty and stats.empty


def test_one_model_is_enough_and_a_long_query_is_taken_whole(explorer):
    notes, overlap, stats, html = ui.search(
        explorer, ui.TEXT_MODE, "battery electrode " * 1000, "", ["bm25"], 3, ui.ALL_SECTIONS
    )
    assert html.count('class="explorer-result-column"') == 1 and overlap.empty and list(stats["hits"]) == [3]


def test_search_shows_one_column_per_model_with_overlaps(explorer):
    notes, overlap, stats, html = ui.search(
        explorer, ui.TEXT_MODE, "a lithium battery electrode", "", ["bm25", "tiny-bert"], 5, ui.ALL_SECTIONS
    )
    assert html.count('class="explorer-result-column"') == 2
    assert 'data-model="bm25"' in html and 'data-model="tiny-bert"' in html
    assert "<mark>" in html
    assert len(overlap) == 1 and list(stats["model"]) == ["BM25 (bm25s)", "tiny BERT"]


def test_prior_art_search_and_an_unloadable_model(explorer):
    patent, mode = ui.random_patent(explorer, seed=1)
    assert mode == ui.PATENT_MODE
    notes, overlap, stats, html = ui.search(
        explorer, mode, "", patent, ["bm25", "tiny-bert", UNREACHABLE], 5, "G · Physics"
    )
    assert f"`{patent}`" in notes and "left out of its own results" in notes
    assert f"{UNREACHABLE} cannot be loaded" in notes
    assert html.count('class="explorer-result-column"') == 2
    assert patent not in re.findall(r"<code>([^<]+)</code>", html)
    assert "share in section" in stats.columns[-1]
    unknown, *_ = ui.search(explorer, mode, "", "US-NOPE", ["bm25", "tiny-bert"], 5, ui.ALL_SECTIONS)
    assert "no patent with id 'US-NOPE'" in unknown


def test_maps_explain_what_cannot_be_drawn(explorer):
    hybrid = "hybrid/bm25+all-MiniLM-L6-v2"
    figure_a, metrics_a, figure_b, metrics_b = ui.draw_maps(explorer, hybrid, None, 1000, "CPC section")
    assert "no embeddings of its own" in figure_a.layout.annotations[0].text and metrics_a == ""
    assert "Pick a model" in figure_b.layout.annotations[0].text
    too_large, *_ = ui.draw_maps(explorer, TINY, None, 50_000, "CPC section")
    assert "between 1,000 and 10,000 patents, got 50,000" in too_large.layout.annotations[0].text
    not_precomputed, metrics, *_ = ui.draw_maps(explorer, TINY, None, 1000, "CPC section", compute_limit=100)
    message = not_precomputed.layout.annotations[0].text
    assert "maps of more than 100 patents are not computed on request" in message and metrics == ""
    assert f"python -m explorer map --model {TINY} --sample 1000" in message


def test_a_new_map_is_computed_once_for_everyone_and_bm25_maps_its_words(explorer):
    """Two visitors ask for the same new BM25 map at once: one computes it (TF-IDF → SVD → UMAP), the other waits
    for the map lock and is served the stored projection."""
    views = []
    visitors = [threading.Thread(target=lambda: views.append(explorer.map_view("bm25", 1000))) for _ in range(2)]
    for visitor in visitors:
        visitor.start()
    for visitor in visitors:
        visitor.join()
    assert sorted(view.from_cache for view in views) == [False, True]
    assert count_projections(explorer.store, "bm25") == 1
    first, second = views
    assert first.points[["x", "y"]].equals(second.points[["x", "y"]]) and len(first.points) == len(explorer.corpus)
    assert first.label == "BM25 (bm25s) · TF-IDF → SVD" and "truncated SVD" in first.metrics["vectors"]
    assert explorer.map_activity() == ""
    figure_a, metrics_a, figure_b, metrics_b = ui.draw_maps(explorer, "bm25", "bm25", 1000, "Top 10 CPC classes")
    assert sum(len(trace.x) for trace in figure_a.data) == len(explorer.corpus)
    assert "TF-IDF (sublinear tf, English stopwords) reduced to 100 dimensions" in metrics_a
    assert "cached projection" in metrics_b


def test_searches_answer_without_waiting_for_models_prepared_in_the_background(tmp_path, corpus_path, registry):
    """As the app starts it: once the models are ready, the build thread compiles UMAP's code (cheap here when the
    map test before ran in this process)."""
    explorer = Explorer(Store(tmp_path / "store.duckdb"), corpus=str(corpus_path), registry=registry)
    assert ui.preparation(explorer)[0] == ""
    explorer.start_warm_up(["bm25"], compile_maps=True)
    assert explorer.builds.wait(timeout=300)
    assert explorer.builds.maps_compiled is True
    panel, timer = ui.preparation(explorer)
    assert panel == "✅ Models ready: BM25 (bm25s)." and timer.active is False

    notes, overlap, stats, html = ui.search(explorer, ui.TEXT_MODE, "battery", "", ["bm25", TINY], 5, ui.ALL_SECTIONS)
    assert 'data-model="bm25"' in html and 'data-model="tiny-bert"' not in html
    assert "tiny BERT: waiting: not ready yet; the other models answer now" in notes
    panel, timer = ui.preparation(explorer)
    assert "Preparing models in the background" in panel and "tiny BERT" in panel

    assert explorer.builds.wait(timeout=300)
    notes, overlap, stats, html = ui.search(explorer, ui.TEXT_MODE, "battery", "", ["bm25", TINY], 5, ui.ALL_SECTIONS)
    assert html.count('class="explorer-result-column"') == 2 and len(overlap) == 1
    assert ui.preparation(explorer)[1].active is False


def test_the_hybrid_says_how_it_fuses_in_the_picker_and_its_column(explorer):
    with gr.Blocks() as demo:
        ui.build(explorer.store, explorer=explorer)
    props = {component["props"].get("elem_id"): component["props"] for component in demo.config["components"]}
    labels = [choice[0] for choice in props["explorer-models"]["choices"]]
    assert "Hybrid BM25 + MiniLM, reciprocal rank fusion, k=60" in labels
    assert [props["explorer-map-model-a"]["value"], props["explorer-map-model-b"]["value"]] == [
        "sentence-transformers/all-MiniLM-L6-v2", "wordllama/l2_supercat-256"
    ]


def test_model_status_lists_indexes_and_failures(explorer):
    explorer.compare("battery", ["bm25", UNREACHABLE], k=3)
    status = ui.model_status(explorer)
    assert "| BM25 (bm25s) | bm25 | indexed" in status
    assert "cannot load" in status.split("| Unreachable |")[1].split("\n")[0]
