"""The Explorer tab: it builds inside a Blocks without loading models, and its callbacks answer with messages."""

from __future__ import annotations

import re

import gradio as gr
import pandas as pd
import pytest

from explorer import ui
from explorer.corpus import SHIPPED_CORPUS
from explorer.registry import ModelSpec, load_registry
from explorer.maps import MAP_SAMPLE_LIMITS
from explorer.service import DEFAULT_K, K_LIMITS, MAX_QUERY_CHARACTERS, Explorer
from results.store import Store

UNREACHABLE = "patenteb-tests/not-on-this-machine"
ELEM_IDS = {
    "explorer-tabs", "explorer-tab-compare", "explorer-tab-maps", "explorer-mode", "explorer-query",
    "explorer-example", "explorer-patent-id", "explorer-random-patent", "explorer-models", "explorer-k",
    "explorer-section", "explorer-search", "explorer-notes", "explorer-overlap", "explorer-model-stats",
    "explorer-results", "explorer-model-status", "explorer-models-refresh", "explorer-map-sample",
    "explorer-map-colour", "explorer-map-model-a", "explorer-map-model-b", "explorer-map-plot-a",
    "explorer-map-plot-b", "explorer-map-metrics-a", "explorer-map-metrics-b", "explorer-map-draw",
}


@pytest.fixture(scope="module")
def explorer(tmp_path_factory, tiny_model_path) -> Explorer:
    corpus = tmp_path_factory.mktemp("corpus") / "patents.parquet"
    pd.read_parquet(SHIPPED_CORPUS).iloc[::50].to_parquet(corpus)
    registry = load_registry().with_models(
        ModelSpec(name="tiny-bert", kind="sentence-transformers", display_name="tiny BERT", path=str(tiny_model_path)),
        ModelSpec(name=UNREACHABLE, kind="sentence-transformers", display_name="Unreachable", hub_id=UNREACHABLE),
    )
    return Explorer(Store(tmp_path_factory.mktemp("store") / "store.duckdb"), corpus=str(corpus), registry=registry)


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


def test_search_needs_two_models_and_a_query(explorer):
    notes, *_ = ui.search(explorer, ui.TEXT_MODE, "battery", "", ["bm25"], 10, ui.ALL_SECTIONS)
    assert "two to four models" in notes
    notes, overlap, stats, html = ui.search(explorer, ui.TEXT_MODE, "  ", "", ["bm25", "tiny-bert"], 10, ui.ALL_SECTIONS)
    assert "type a query" in notes and html == "" and overlap.empty
    notes, *_ = ui.search(explorer, ui.TEXT_MODE, "battery", "", ["bm25", "tiny-bert"], "many", ui.ALL_SECTIONS)
    assert "k must be a whole number, got 'many'" in notes


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
    figure_a, metrics_a, figure_b, metrics_b = ui.draw_maps(explorer, "bm25", None, 1000, "CPC section")
    assert "no embeddings to map" in figure_a.layout.annotations[0].text and metrics_a == ""
    assert "Pick a model" in figure_b.layout.annotations[0].text
    too_large, *_ = ui.draw_maps(explorer, "tiny-bert", None, 50_000, "CPC section")
    assert "between 1,000 and 10,000 patents, got 50,000" in too_large.layout.annotations[0].text


def test_model_status_lists_indexes_and_failures(explorer):
    explorer.compare("battery", ["bm25", UNREACHABLE], k=3)
    status = ui.model_status(explorer)
    assert "| BM25 (bm25s) | bm25 | indexed" in status
    assert "cannot load" in status.split("| Unreachable |")[1].split("\n")[0]
