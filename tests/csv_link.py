"""Follow the Leaderboard tab's CSV link through the app's real /api/v1 routes, answering in process."""

from __future__ import annotations

import html
import io
import re

import pandas as pd
from fastapi import FastAPI
from fastapi.testclient import TestClient

from results.store import Store
from webapi import PublicApi, http_routes


def api_client(store: Store) -> TestClient:
    return TestClient(FastAPI(routes=http_routes(PublicApi(store))))


def csv_behind(link: str, client: TestClient) -> tuple[pd.DataFrame, str]:
    """(the table the CSV link answers with, the file name it offers), fetched as the page's relative link is."""
    href = html.unescape(re.search(r'href="([^"]+)"', link).group(1))
    assert not href.startswith("/"), "relative, so that the link works under any root path"
    response = client.get("/" + href)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return pd.read_csv(io.BytesIO(response.content)), re.search(r'download="([^"]+)"', link).group(1)
