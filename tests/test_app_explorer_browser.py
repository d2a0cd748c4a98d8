"""The explorer in the real app and real Chromium: a typed query gives one result column per model, and the
UMAP tab draws a map with its scores.

The corpus is the first 2,000 shipped patents (PATENTEB_EXPLORER_CORPUS), indexed beforehand by the same CLI
`make run` uses, so the test spends its time in the browser rather than encoding 10,000 abstracts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pandas as pd

from tests.browser import chromium_page, running_app
from tests.conftest import REPO

CORPUS = REPO / "explorer" / "data" / "uspto_random_10000.parquet"

QUERY = "A lithium battery electrode with a coated separator that prevents dendrite growth during fast charging"


def test_query_compare_and_umap_map(seeded_store_template, tmp_path):
    store_path = tmp_path / "store.duckdb"
    shutil.copy(seeded_store_template, store_path)
    corpus = tmp_path / "uspto_first_2000.parquet"
    pd.read_parquet(CORPUS).head(2000).to_parquet(corpus)
    env = {"PATENTEB_NO_WORKER": "1", "PATENTEB_EXPLORER_CORPUS": str(corpus)}
    indexed = subprocess.run(
        [sys.executable, "-m", "explorer", "index", "--defaults", "--store", str(store_path)],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=600,
    )
    assert indexed.returncode == 0, indexed.stderr[-2000:]
    with running_app(store_path, tmp_path / "app.log", env) as url, chromium_page() as page:
        page.goto(url)
        page.locator("button[role=tab]", has_text="Explorer").first.click()
        query = page.locator("#explorer-query textarea")
        query.fill("")
        query.press_sequentially(QUERY, delay=2)
        page.locator("#explorer-search").click()
        page.wait_for_function(
            "document.querySelectorAll('#explorer-results .explorer-result-column').length === 2", timeout=120_000
        )
        columns = page.locator("#explorer-results .explorer-result-column")
        assert sorted(columns.nth(i).get_attribute("data-model") for i in range(2)) == [
            "bm25", "sentence-transformers/all-MiniLM-L6-v2"
        ]
        for i in range(2):
            assert columns.nth(i).locator("tbody tr").count() == 10
            assert len(re.findall(r"US[A-Z]*\d+-\d{8}", columns.nth(i).inner_text())) == 10
        assert "Jaccard" in page.locator("#explorer-overlap").inner_text()

        page.locator("button[role=tab]", has_text="UMAP maps").first.click()
        page.locator("#explorer-map-draw").click()
        page.wait_for_selector("#explorer-map-plot-a .js-plotly-plot", timeout=300_000)
        page.wait_for_function(
            "document.querySelector('#explorer-map-metrics-a').innerText.includes('V-measure')", timeout=60_000
        )
        points = page.evaluate(
            "Array.from(document.querySelector('#explorer-map-plot-a .js-plotly-plot')._fullData, t => t._length)"
        )
        assert len(points) >= 2
        assert sum(points) == 2000
