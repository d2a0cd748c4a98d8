"""While the explorer still prepares the models asked for, the HTTP search answers 503 with Retry-After (come back in
a moment), not 400 (your request is wrong); once they are ready, the same request answers 200. A real uvicorn server on
loopback serves the API's own routes."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from email.message import Message

import uvicorn
from fastapi import FastAPI

from explorer.builds import LOADING, IndexBuilds
from explorer.service import Explorer
from results.store import Store
from tests.api_app import write_corpus, write_registry
from webapi import PublicApi, http_routes


@contextmanager
def serving(app: FastAPI):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def get(url: str) -> tuple[int, Message, dict]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def test_a_search_while_its_models_are_prepared_is_503_then_200(tmp_path, tiny_model_path):
    store = Store(tmp_path / "store.duckdb")
    explorer = Explorer(
        store, corpus=str(write_corpus(tmp_path / "corpus.jsonl")),
        registry=str(write_registry(tmp_path / "models.toml", tiny_model_path)),
    )
    loading, release = threading.Event(), threading.Event()

    def hold_while_loading(status) -> None:
        if status.state == LOADING:
            loading.set()
            release.wait(timeout=120)

    explorer.builds = IndexBuilds(explorer, ["bm25"], listener=hold_while_loading).start()
    assert loading.wait(timeout=60)
    with serving(FastAPI(routes=http_routes(PublicApi(store, explorer)))) as url:
        search = f"{url}/api/v1/search?q=battery+separator&models=bm25&k=3"
        status, headers, body = get(search)
        assert status == 503, body
        assert int(headers["Retry-After"]) > 0
        assert body["error"].startswith("none of the models can search yet: bm25: loading: not ready yet")

        release.set()
        assert explorer.builds.wait(timeout=120)
        status, _, body = get(search)
        assert status == 200 and len(body["results"]["bm25"]) == 3
