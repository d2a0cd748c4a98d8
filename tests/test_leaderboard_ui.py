"""The Leaderboard tab's callbacks over a real store, without a browser: what a repeat costs, what a new store
generation changes, and what the CSV link answers (through the app's real API routes, in process)."""

from __future__ import annotations

import asyncio

import gradio as gr
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from gradio.state_holder import SessionState

from leaderboard import styling, ui
from leaderboard.filters import DIM_CHOICES, PARAM_CHOICES, PROMPT_CHOICES, TOKEN_CHOICES, ZERO_SHOT_CHOICES
from results.vocabulary import PROVENANCE_PREFERENCE
from tests.csv_link import api_client, csv_behind
from webapi import LEADERBOARD_PATH


def _inputs(view="overall", search="", models=(), prompts=PROMPT_CHOICES, params=PARAM_CHOICES, intervals=False) -> list:
    return [view, search, list(models), list(params), list(DIM_CHOICES), list(TOKEN_CHOICES), list(prompts),
            list(ZERO_SHOT_CHOICES), list(PROVENANCE_PREFERENCE), intervals]


def add_a_new_model(store) -> None:
    """One evaluated score for a model the seed does not have: a new store generation."""
    store.upsert_scores(pd.DataFrame([{
        "model": "newlab/patent-embedder", "revision": "r1", "task": "BigPatentClustering.v2", "split": "test",
        "subset": "default", "metric": "v_measure", "value": 0.5123, "provenance": "evaluated",
        "mteb_version": "2.26.24", "evaluated_at": pd.Timestamp("2026-11-01"),
    }]))


@pytest.fixture
def app(seeded_store) -> tuple[ui.LeaderboardTab, gr.Blocks]:
    with gr.Blocks() as demo:
        tab = ui.build(seeded_store, demo, LEADERBOARD_PATH)
    return tab, demo


@pytest.fixture
def tab(app) -> ui.LeaderboardTab:
    return app[0]


@pytest.fixture
def client(seeded_store) -> TestClient:
    return api_client(seeded_store)


def _shown(tab: ui.LeaderboardTab, sent: dict) -> dict:
    """A render's values by output name."""
    outputs = tab.outputs
    return {
        "table": sent[outputs.table],
        "download": sent[outputs.download], "status": sent[outputs.status], "share": sent[outputs.share_query],
        "plots": {name: sent[plot] for name, plot in outputs.plots.items()},
        "generation": sent[outputs.shown_generation],
    }


def test_a_render_fills_every_output_by_name(tab, seeded_store, client):
    shown = _shown(tab, tab.render(*_inputs("retrieval-symmetric")))
    assert shown["table"]["headers"][:4] == ["Rank", "Model", "Rank range", "Mean"]
    assert shown["table"]["headers"][:len(styling.GRID_DATATYPES)] == styling.GRID_LEADING_COLUMNS
    assert "patembed-large" in shown["table"]["data"][0][1]
    assert shown["status"].endswith(f"store generation {seeded_store.snapshot().generation}")
    assert shown["share"] == "?family=retrieval-symmetric"
    assert set(shown["plots"]) == set(ui.FIGURE_NAMES)
    assert all(plot["type"] == "plotly" and '"data"' in plot["plot"] for plot in shown["plots"].values())
    assert shown["generation"] == seeded_store.snapshot().generation
    csv, name = csv_behind(shown["download"], client)
    assert csv["Model"].iloc[0] == "datalyes/patembed-large"
    assert name == "patenteb-retrieval-symmetric.csv"


def test_the_same_view_again_is_sent_from_the_cache(tab):
    first = tab.render(*_inputs("external"))
    misses = tab.sent.views.misses
    again = tab.render(*_inputs("external"))
    assert tab.sent.views.misses == misses and tab.sent.views.hits >= 1
    assert _shown(tab, again)["table"] is _shown(tab, first)["table"]
    assert _shown(tab, again)["download"] is _shown(tab, first)["download"]
    reordered = _inputs("external", params=tuple(reversed(PARAM_CHOICES)))
    tab.render(*reordered)
    assert tab.sent.views.misses == misses


def test_a_view_switch_reuses_the_figures_that_follow_only_the_filters(tab):
    overall = _shown(tab, tab.render(*_inputs("overall")))
    built = tab.sent.filter_plots.misses
    classification = _shown(tab, tab.render(*_inputs("classification")))
    assert tab.sent.filter_plots.misses == built
    for name in ("radar", "drop", "bigpatent", "efficiency"):
        assert classification["plots"][name] is overall["plots"][name]
    assert classification["plots"]["params"] != overall["plots"]["params"]
    tab.render(*_inputs("classification", models=["datalyes/patembed-base"]))
    assert tab.sent.filter_plots.misses == built + 2, "models picked by name: new shown-models and chosen-models figures"


def test_filters_that_let_the_same_models_through_share_their_figures(tab):
    lower = _shown(tab, tab.render(*_inputs("overall", search="patembed")))
    built = tab.sent.filter_plots.misses
    upper = _shown(tab, tab.render(*_inputs("overall", search="PATEMBED, patembed-small")))
    assert tab.sent.filter_plots.misses == built, "the same models, so the same figures"
    for name in ("radar", "drop", "bigpatent", "efficiency"):
        assert upper["plots"][name] is lower["plots"][name]
    fewer = _shown(tab, tab.render(*_inputs("overall", search="patembed-small")))
    assert tab.sent.filter_plots.misses == built + 1, "other models shown, the same models picked by name"
    assert fewer["plots"]["drop"] is lower["plots"]["drop"]
    assert fewer["plots"]["bigpatent"] is not lower["plots"]["bigpatent"]


def test_a_table_switch_builds_only_what_it_sends(tab):
    filters_seen_first = _inputs("classification", models=["datalyes/patembed-small"])
    built = tab.sent.filter_plots.misses
    switched = tab.switch(*filters_seen_first)
    assert list(switched) == tab.outputs.switched()
    assert tab.sent.filter_plots.misses == built, "no figure that follows only the filters was built"
    rendered = tab.render(*filters_seen_first)
    assert tab.sent.filter_plots.misses == built + 2
    assert all(switched[component] is rendered[component] for component in switched)


def test_a_table_switch_through_gradio_sends_only_what_follows_the_table(app, seeded_store):
    tab, demo = app
    switch = next(fn for fn in demo.fns.values() if fn.name == "switch")
    assert switch.outputs == tab.outputs.switched()
    assert tab.outputs.plots["radar"] not in switch.outputs and tab.outputs.shown_generation not in switch.outputs
    result = asyncio.run(demo.process_api(switch, _inputs("retrieval-symmetric"), state=SessionState(demo)))
    table, download, share, status, params_plot = result["data"]
    rendered = _shown(tab, tab.render(*_inputs("retrieval-symmetric")))
    assert table == rendered["table"] and download == rendered["download"]
    assert share == "?family=retrieval-symmetric" and "patembed-large" in table["data"][0][1]
    assert params_plot == rendered["plots"]["params"]
    assert status.endswith(f"store generation {rendered['generation']}")


def test_the_first_paint_holds_the_default_table_and_the_load_event_renders_the_same(app, seeded_store):
    tab, demo = app
    config = demo.get_config_file()
    painted = next(c for c in config["components"] if c["id"] == tab.outputs.table._id)["props"]["value"]
    loaded = _shown(tab, tab.render(*_inputs("overall")))["table"]
    assert painted["headers"] == loaded["headers"] and painted["data"] == loaded["data"]
    assert "patembed-large" in painted["data"][0][1]
    status = next(c for c in config["components"] if c["id"] == tab.outputs.status._id)["props"]["value"]
    generation = seeded_store.snapshot().generation
    assert status.endswith(f"store generation {generation}")

    opened = tab.open_page(*_inputs("overall"), generation)
    assert set(opened) == set(tab.outputs.plots.values()), "the paint stands; only its figures follow"
    assert set(tab.open_page(*_inputs("external"), generation)) == set(tab.outputs.components())
    add_a_new_model(seeded_store)
    reopened = _shown(tab, tab.open_page(*_inputs("overall"), generation))
    assert reopened["generation"] > generation and reopened["table"]["headers"] == painted["headers"]


def test_a_new_store_generation_is_rendered_and_refreshed(tab, seeded_store, client):
    before = _shown(tab, tab.render(*_inputs("external")))
    assert tab.refresh_if_changed(*_inputs("external"), before["generation"]) == gr.skip()
    add_a_new_model(seeded_store)
    refreshed = _shown(tab, tab.refresh_if_changed(*_inputs("external"), before["generation"]))
    assert refreshed["generation"] == before["generation"] + 1
    assert any("patent-embedder" in str(row[1]) for row in refreshed["table"]["data"])
    assert "newlab/patent-embedder" in csv_behind(refreshed["download"], client)[0]["Model"].tolist()


def test_an_unticked_prompt_box_renders_through_gradio(app, seeded_store):
    """The event runs with postprocess=False: what the cache holds must be what Gradio sends."""
    _, demo = app
    render = next(fn for fn in demo.fns.values() if fn.name == "render")
    result = asyncio.run(demo.process_api(render, _inputs("overall", prompts=("yes", "no")), state=SessionState(demo)))
    table, download, share, status = result["data"][:4]
    assert table["headers"][:2] == ["Rank", "Model"]
    assert table["metadata"]["display_value"]
    assert 'download="patenteb-overall.csv"' in download and "prompts=yes,no" in download
    assert share == "?family=overall" and "store generation" in status
    unknown = seeded_store.snapshot().models.query("uses_prompts.isna()", engine="python")["model"]
    shown = " ".join(str(row[1]) for row in table["data"])
    assert not any(f"/{model})" in shown for model in unknown)


def test_the_csv_download_is_the_shown_table(tab, client):
    shown = _shown(tab, tab.render(*_inputs("retrieval-symmetric", search="paecter")))
    csv, _ = csv_behind(shown["download"], client)
    assert csv["Model"].tolist() == ["mpi-inno-comp/paecter"]
    assert csv["retrieval_IN"].iloc[0] == pytest.approx(42.1)
    assert csv["retrieval_IN source"].iloc[0] == "paper-secondary"


@pytest.mark.parametrize("narrowed, some_rows", [
    (dict(params=("100M–500M", "unknown"), prompts=("yes",)), True),
    (dict(params=(), search="e5, paecter"), False),
    (dict(models=("datalyes/patembed-base", "mpi-inno-comp/paecter")), True),
])
def test_the_csv_link_of_a_filtered_table_answers_with_the_rows_shown(tab, client, seeded_store, narrowed, some_rows):
    shown = _shown(tab, tab.render(*_inputs("retrieval-symmetric", **narrowed)))
    csv, _ = csv_behind(shown["download"], client)
    models = seeded_store.snapshot().models.set_index("model")
    as_shown = [styling.model_link(model, models.at[model, "display_name"], models.at[model, "hub_id"])
                for model in csv["Model"]]
    assert as_shown == [row[1] for row in shown["table"]["data"]]
    assert bool(as_shown) == some_rows


def test_the_task_table_is_made_once_at_start_not_on_every_page_open(seeded_store):
    with gr.Blocks() as demo:
        ui.build_task_info(seeded_store)
    table = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "tasks-table")
    assert not any(table in fn.outputs for fn in demo.fns.values()), "no page-load event fills it"
    shown = table.value
    assert len(shown["data"]) == len(seeded_store.snapshot().tasks)
    assert "PatenTEB" in {row[shown["headers"].index("Benchmark")] for row in shown["data"]}


def test_table_switches_run_uncapped_and_full_renders_share_one_small_group(app):
    tab, demo = app
    by_handler = {}
    for block_fn in demo.fns.values():
        handler = getattr(block_fn.fn, "__func__", None)
        if handler is not None and getattr(block_fn.fn, "__self__", None) is tab:
            by_handler[handler.__name__] = block_fn
    assert by_handler["switch"].concurrency_limit is None
    assert by_handler["render"].concurrency_limit == ui.RENDERS_AT_ONCE, "Gradio gives a group its lowest limit"
    renders = [by_handler[name] for name in ("render", "open_page", "refresh_if_changed")]
    assert len({block_fn.concurrency_id for block_fn in renders}) == 1
    assert {block_fn.concurrency_limit for block_fn in renders} == {ui.RENDERS_AT_ONCE}
    assert by_handler["switch"].concurrency_id != by_handler["render"].concurrency_id
