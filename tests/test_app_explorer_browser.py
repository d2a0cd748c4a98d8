"""The explorer in the real app and real Chromium, started the way `make run` starts it: no indexing beforehand.

The corpus is every 83rd shipped patent, 120 in all (PATENTEB_EXPLORER_CORPUS), so the shipped prebuilt indexes do not
match it: the app serves at once and prepares every default model in the background, its progress on the page.
Then a typed query gives one result column per default model (the hybrid saying how it fuses), bad input gets
the service's message, and the UMAP tab opens with two different real models side by side (UMAP's code compiled
in the background once the models were ready, as `make run` does).
"""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from tests.browser import chromium_page, running_app
from tests.conftest import REPO

CORPUS = REPO / "explorer" / "data" / "uspto_random_10000.parquet"
CORPUS_SIZE = 120
QUERY = "A lithium battery electrode with a coated separator that prevents dendrite growth during fast charging"
DEFAULTS = [
    "bm25", "hybrid/bm25+all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "wordllama/l2_supercat-256"
]
PREPARED = "document.querySelector('#explorer-preparation').innerText.includes('Models ready')"


@pytest.mark.slow
def test_query_compare_and_umap_maps_while_models_are_prepared_in_the_background(seeded_store_template, tmp_path):
    store_path = tmp_path / "store.duckdb"
    shutil.copy(seeded_store_template, store_path)
    corpus = tmp_path / f"uspto_{CORPUS_SIZE}.parquet"
    pd.read_parquet(CORPUS).iloc[::83].head(CORPUS_SIZE).to_parquet(corpus)
    env = {"PATENTEB_NO_WORKER": "1", "PATENTEB_EXPLORER_CORPUS": str(corpus), "PATENTEB_COMPILE_MAPS": "1"}
    with running_app(store_path, tmp_path / "app.log", env) as url, chromium_page() as page:
        page.goto(url)
        page.locator("button[role=tab]", has_text="Explorer").first.click()
        page.wait_for_function(PREPARED, timeout=600_000)
        prepared = page.locator("#explorer-preparation").inner_text()
        assert "Hybrid BM25 + MiniLM" in prepared and "WordLlama" in prepared

        query = page.locator("#explorer-query textarea")
        query.fill("")
        query.press_sequentially(QUERY, delay=2)
        page.locator("#explorer-search").click()
        page.wait_for_function(
            "document.querySelectorAll('#explorer-results .explorer-result-column').length === 4", timeout=120_000
        )
        columns = page.locator("#explorer-results .explorer-result-column")
        assert sorted(columns.nth(i).get_attribute("data-model") for i in range(4)) == DEFAULTS
        for i in range(4):
            rows = columns.nth(i).locator("tbody tr").count()
            assert rows == 10 or (rows >= 1 and columns.nth(i).get_attribute("data-model") == "bm25")
            assert len(re.findall(r"US[A-Z]*\d+-\d{8}", columns.nth(i).inner_text())) == rows
        hybrid = page.locator('#explorer-results [data-model="hybrid/bm25+all-MiniLM-L6-v2"]').inner_text()
        assert "BM25 (bm25s) + all-MiniLM-L6-v2, reciprocal rank fusion, k=60" in hybrid
        assert "Jaccard" in page.locator("#explorer-overlap").inner_text()

        page.locator("#explorer-models label", has_text="multilingual-e5-small").click()
        page.locator("#explorer-search").click()
        page.wait_for_function(
            "document.querySelector('#explorer-notes').innerText.includes('pick at most 4 models at once, got 5')"
        )
        assert page.locator("#explorer-results .explorer-result-column").count() == 0
        assert query.input_value() == QUERY

        page.locator("button[role=tab]", has_text="UMAP maps").first.click()
        for side in ("a", "b"):
            page.wait_for_selector(f"#explorer-map-plot-{side} .js-plotly-plot", timeout=600_000)
            page.wait_for_function(
                f"document.querySelector('#explorer-map-metrics-{side}').innerText.includes('V-measure')",
                timeout=60_000,
            )
            points = page.evaluate(
                f"Array.from(document.querySelector('#explorer-map-plot-{side} .js-plotly-plot')._fullData, t => t._length)"
            )
            assert len(points) >= 2 and sum(points) == CORPUS_SIZE
        titles = [page.locator(f"#explorer-map-metrics-{side}").inner_text() for side in ("a", "b")]
        assert "all-MiniLM-L6-v2" in titles[0] and "WordLlama" in titles[1]
