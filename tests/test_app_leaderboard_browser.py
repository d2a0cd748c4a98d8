"""The real app in real Chromium: switch family, see known rows, filter, download the CSV, share a view,
and see an import made by another process while the app serves."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import urllib.request

import pandas as pd
import pytest

from tests.browser import chromium_page, running_app
from tests.conftest import REPO


@pytest.fixture(scope="module")
def app_url(seeded_store_template, tmp_path_factory):
    folder = tmp_path_factory.mktemp("app")
    store = folder / "store.duckdb"
    shutil.copy(seeded_store_template, store)
    with running_app(store, folder / "app.log", {"PATENTEB_NO_WORKER": "1"}) as url:
        yield url, store


def _table_text(page) -> str:
    return page.locator("#lb-table").inner_text()


def _wait_for_table(page, text: str, present: bool = True) -> None:
    check = f"(document.querySelector('#lb-table') || {{innerText: ''}}).innerText.includes({json.dumps(text)})"
    page.wait_for_function(check if present else f"!{check}")


def _choose_view(page, title: str) -> None:
    page.locator("#lb-view label", has_text=title).first.click()


@pytest.mark.slow
def test_families_filters_download_and_share(app_url, tmp_path):
    url, _ = app_url
    with chromium_page() as page:
        page.goto(url)
        page.wait_for_selector("#lb-table table")
        _wait_for_table(page, "patembed-large")
        assert "Reported overall" in _table_text(page)
        assert "65.40" in _table_text(page)

        _choose_view(page, "Retrieval (symmetric)")
        _wait_for_table(page, "retrieval_MIXED")
        text = _table_text(page)
        assert "patembed-large" in text and "51.20" in text and "PaECTER" in text
        page.wait_for_function("document.querySelector('#lb-share textarea, #lb-share input').value.includes('family=retrieval-symmetric')")
        assert "family=retrieval-symmetric" in page.url

        page.locator("#lb-search textarea").press_sequentially("paecter", delay=30)
        _wait_for_table(page, "patembed-large", present=False)
        text = _table_text(page)
        assert "PaECTER" in text and "42.10" in text
        assert "1 model ·" in page.locator("#lb-status").inner_text()

        with page.expect_download() as download_info:
            page.locator("#lb-download a").click()
        saved = tmp_path / "table.csv"
        download_info.value.save_as(saved)
        csv = pd.read_csv(saved)
        assert len(csv) == 1
        assert csv["retrieval_IN"].iloc[0] == pytest.approx(42.1)
        assert csv["retrieval_IN source"].iloc[0] == "paper-secondary"
        assert csv["Model"].iloc[0] == "mpi-inno-comp/paecter"

        page.goto(url + "?family=external&models=datalyes/patembed-base")
        _wait_for_table(page, "DAPFAM All")
        text = _table_text(page)
        assert "patembed-base" in text and "36.90" in text
        assert "patembed-large" not in text
        assert page.locator("#lb-view input[type=radio]:checked").get_attribute("value") == "external"
        assert page.locator("#lb-plot-bigpatent").is_visible()


def test_an_import_from_another_process_shows_without_restart(app_url, tmp_path):
    url, store = app_url
    folder = tmp_path / "results" / "newlab__patent-embedder" / "0123abcd"
    folder.mkdir(parents=True)
    (folder / "BigPatentClustering.v2.json").write_text(json.dumps({
        "task_name": "BigPatentClustering.v2", "mteb_version": "2.26.24", "evaluation_time": 10.0,
        "scores": {"test": [{"hf_subset": "default", "languages": ["eng-Latn"], "v_measure": 0.5123, "main_score": 0.5123}]},
    }))
    (folder / "model_meta.json").write_text(json.dumps({"name": "newlab/patent-embedder", "revision": "0123abcd",
                                                         "n_parameters": 110_000_000, "embed_dim": 768, "max_tokens": 512}))

    served = []

    def keep_requesting():
        for _ in range(20):
            with urllib.request.urlopen(url, timeout=10) as response:
                served.append(response.status)

    requests = threading.Thread(target=keep_requesting)
    requests.start()
    imported = subprocess.run([sys.executable, "-m", "results", "import-mteb", str(tmp_path), "--store", str(store)],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
    requests.join()
    assert imported.returncode == 0, imported.stderr
    assert served == [200] * 20

    with chromium_page() as page:
        page.goto(url + "?family=external")
        _wait_for_table(page, "patent-embedder")
        assert "51.23" in _table_text(page)
