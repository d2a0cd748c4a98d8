"""Submit in the app -> the worker the app started evaluates the model -> its row appears in the leaderboard.

Offline, the worker loads a Hub id from the local Hugging Face cache, so the tiny random BERT is placed there
under a Hub-style id; everything else (app, worker process, mteb, store) is the real thing.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from results.store import Store
from tests.browser import chromium_page, running_app

MODEL = "testlab/tiny-patent-bert"
COMMIT = "89abcdef0123456789abcdef0123456789abcdef"


def _hub_cache_with(model_folder, hf_home):
    cached = hf_home / "hub" / f"models--{MODEL.replace('/', '--')}"
    shutil.copytree(model_folder, cached / "snapshots" / COMMIT)
    (cached / "refs").mkdir()
    (cached / "refs" / "main").write_text(COMMIT)


@pytest.mark.slow
def test_submit_then_worker_then_leaderboard_row(seeded_store_template, tiny_model_path, tmp_path):
    store_path = tmp_path / "store.duckdb"
    shutil.copy(seeded_store_template, store_path)
    _hub_cache_with(tiny_model_path, tmp_path / "hf")
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "MTEB_CACHE": str(tmp_path / "mteb")}

    with running_app(store_path, tmp_path / "app.log", env) as url, chromium_page() as page:
        page.goto(url)
        page.locator("#tab-submit-button, button[role=tab]", has_text="Submit").first.click()
        page.locator("#submit-model textarea").press_sequentially(MODEL, delay=10)
        page.locator("#submit-submitter textarea, #submit-submitter input").first.fill("a researcher")
        page.locator("#submit-tasks label", has_text="Demo").click()
        page.locator("#submit-button").click()
        page.wait_for_function("document.querySelector('#submit-status').innerText.includes('Queued')")

        page.wait_for_function(
            "document.querySelector('#queue-table').innerText.includes('finished')", timeout=240_000
        )

        page.goto(url + "?family=demo")
        page.wait_for_function(
            "(document.querySelector('#lb-table') || {innerText: ''}).innerText.includes('tiny-patent-bert')",
            timeout=60_000,
        )
        table_text = page.locator("#lb-table").inner_text()

    scores = Store(store_path).main_scores()
    evaluated = scores[(scores["model"] == MODEL) & (scores["provenance"] == "evaluated")]
    assert set(evaluated["task"]) == {"demo_uspto_retrieval", "demo_uspto_clustering", "demo_uspto_classification"}
    for value in evaluated["value"]:
        assert pd.notna(value)
        assert f"{value * 100:.2f}" in table_text
