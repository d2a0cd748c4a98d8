"""The Leaderboard tab's callbacks over a real store, without a browser: what a repeat costs, what a new store
generation changes, and where the CSV downloads live."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import time

import gradio as gr
import pandas as pd
import pytest
from gradio.state_holder import SessionState

from leaderboard import ui
from leaderboard.downloads import DownloadFolder
from leaderboard.filters import DIM_CHOICES, PARAM_CHOICES, PROMPT_CHOICES, TOKEN_CHOICES
from results.vocabulary import PROVENANCE_PREFERENCE


def _inputs(view="overall", search="", models=(), prompts=PROMPT_CHOICES, params=PARAM_CHOICES, intervals=False) -> list:
    return [view, search, list(models), list(params), list(DIM_CHOICES), list(TOKEN_CHOICES), list(prompts),
            list(PROVENANCE_PREFERENCE), intervals]


@pytest.fixture
def app(seeded_store, tmp_path) -> tuple[ui.LeaderboardTab, gr.Blocks]:
    with gr.Blocks() as demo:
        tab = ui.build(seeded_store, demo, download_folder=tmp_path / "downloads")
    return tab, demo


@pytest.fixture
def tab(app) -> ui.LeaderboardTab:
    return app[0]


def _shown(tab: ui.LeaderboardTab, sent: dict) -> dict:
    """A render's values by output name."""
    outputs = tab.outputs
    return {
        "table": sent[outputs.table]["value"], "datatypes": sent[outputs.table]["datatype"],
        "download": sent[outputs.download], "status": sent[outputs.status], "share": sent[outputs.share_query],
        "plots": {name: sent[plot] for name, plot in outputs.plots.items()},
        "generation": sent[outputs.shown_generation],
    }


def test_a_render_fills_every_output_by_name(tab, seeded_store):
    shown = _shown(tab, tab.render(*_inputs("retrieval-symmetric")))
    assert shown["table"]["headers"][:4] == ["Rank", "Model", "Rank range", "Mean"]
    assert "patembed-large" in shown["table"]["data"][0][1]
    assert len(shown["datatypes"]) == len(shown["table"]["headers"])
    assert shown["status"].endswith(f"store generation {seeded_store.snapshot().generation}")
    assert shown["share"] == "?family=retrieval-symmetric"
    assert set(shown["plots"]) == set(ui.FIGURE_NAMES)
    assert all(plot["type"] == "plotly" and '"data"' in plot["plot"] for plot in shown["plots"].values())
    assert shown["generation"] == seeded_store.snapshot().generation
    csv = pd.read_csv(shown["download"]["path"])
    assert csv["Model"].iloc[0] == "datalyes/patembed-large"
    assert shown["download"]["orig_name"] == "patenteb-retrieval-symmetric.csv"


def test_the_same_view_again_is_sent_from_the_cache(tab):
    first = tab.render(*_inputs("external"))
    misses = tab.sent.views.misses
    again = tab.render(*_inputs("external"))
    assert tab.sent.views.misses == misses and tab.sent.views.hits >= 1
    assert _shown(tab, again)["table"] is _shown(tab, first)["table"]
    assert _shown(tab, again)["download"]["path"] == _shown(tab, first)["download"]["path"]
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
    assert tab.sent.filter_plots.misses == built + 1


def test_a_new_store_generation_is_rendered_and_refreshed(tab, seeded_store):
    before = _shown(tab, tab.render(*_inputs("external")))
    assert tab.refresh_if_changed(*_inputs("external"), before["generation"]) == gr.skip()
    seeded_store.upsert_scores(pd.DataFrame([{
        "model": "newlab/patent-embedder", "revision": "r1", "task": "BigPatentClustering.v2", "split": "test",
        "subset": "default", "metric": "v_measure", "value": 0.5123, "provenance": "evaluated",
        "mteb_version": "2.26.24", "evaluated_at": pd.Timestamp("2026-11-01"),
    }]))
    refreshed = _shown(tab, tab.refresh_if_changed(*_inputs("external"), before["generation"]))
    assert refreshed["generation"] == before["generation"] + 1
    assert any("patent-embedder" in str(row[1]) for row in refreshed["table"]["data"])
    assert "patent-embedder" in open(refreshed["download"]["path"]).read()


def test_an_unticked_prompt_box_renders_through_gradio(app, seeded_store):
    """The event runs with postprocess=False: what the cache holds must be what Gradio sends."""
    _, demo = app
    render = next(fn for fn in demo.fns.values() if fn.name == "render")
    result = asyncio.run(demo.process_api(render, _inputs("overall", prompts=("yes", "no")), state=SessionState(demo)))
    table, download, share, status = result["data"][:4]
    assert table["__type__"] == "update" and table["value"]["headers"][:2] == ["Rank", "Model"]
    assert table["value"]["metadata"]["display_value"]
    assert download["url"].startswith("/gradio_api/file=") and download["orig_name"] == "patenteb-overall.csv"
    assert share == "?family=overall" and "store generation" in status
    unknown = seeded_store.snapshot().models.query("uses_prompts.isna()", engine="python")["model"]
    shown = " ".join(str(row[1]) for row in table["value"]["data"])
    assert not any(f"/{model})" in shown for model in unknown)


def test_downloads_are_private_files_reused_while_used_and_deleted_when_unused(tmp_path):
    downloads = DownloadFolder(tmp_path / "app-temp", lifetime_s=600)
    assert downloads.folder.parent == tmp_path / "app-temp"
    assert stat.S_IMODE(downloads.folder.stat().st_mode) == 0o700
    first = downloads.file_for("Rank,Model\n1,a\n", "patenteb-overall.csv")
    assert first.name == "patenteb-overall.csv" and first.read_text() == "Rank,Model\n1,a\n"
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700
    assert downloads.file_for("Rank,Model\n1,a\n", "patenteb-overall.csv") == first
    other = downloads.file_for("Rank,Model\n1,b\n", "patenteb-overall.csv")
    assert other != first and other.parent != first.parent

    eleven_minutes_ago = time.time() - 660
    os.utime(first.parent, (eleven_minutes_ago, eleven_minutes_ago))
    newest = downloads.file_for("Rank,Model\n1,c\n", "patenteb-overall.csv")
    assert not first.exists() and other.exists() and newest.exists()
    again = downloads.file_for("Rank,Model\n1,a\n", "patenteb-overall.csv")
    assert again.exists() and again != first

    shutil.rmtree(downloads.folder)
    assert downloads.file_for("Rank,Model\n1,a\n", "patenteb-overall.csv").read_text() == "Rank,Model\n1,a\n"


def test_the_csv_download_is_the_shown_table(tab):
    shown = _shown(tab, tab.render(*_inputs("retrieval-symmetric", search="paecter")))
    path = shown["download"]["path"]
    assert os.path.dirname(os.path.dirname(path)) == str(tab.downloads.folder)
    csv = pd.read_csv(path)
    assert csv["Model"].tolist() == ["mpi-inno-comp/paecter"]
    assert csv["retrieval_IN"].iloc[0] == pytest.approx(42.1)
    assert csv["retrieval_IN source"].iloc[0] == "paper-secondary"
