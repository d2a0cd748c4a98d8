"""The running app through gradio_client: exactly the named endpoints, readable parameters, and real answers."""

from __future__ import annotations

import json
import urllib.request

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.api_app import TINY, api_app

pytestmark = pytest.mark.slow

PUBLIC = {
    "/leaderboard": ["view", "search", "models", "params", "dims", "max_tokens", "prompts", "zero_shot", "sources"],
    "/search": ["query", "models", "k"],
    "/submit": ["model", "revision", "precision", "submitter", "tasks", "without_prompts", "statuses"],
    "/queue": ["statuses"],
    "/compare": ["model_a", "model_b", "tasks"],
}


@pytest.fixture(scope="module")
def app(tmp_path_factory, seeded_store_template, tiny_model_path):
    with api_app(tmp_path_factory.mktemp("api-gradio"), seeded_store_template, tiny_model_path) as (url, _):
        yield url, Client(url, verbose=False)


def test_the_api_page_lists_exactly_the_named_endpoints(app):
    _, client = app
    api = client.view_api(return_format="dict", print_info=False)
    assert api["unnamed_endpoints"] == {}
    assert {name: [p["parameter_name"] for p in endpoint["parameters"]] for name, endpoint in api["named_endpoints"].items()} == PUBLIC
    search = api["named_endpoints"]["/search"]
    assert search["description"].startswith("Search the explorer's patent corpus")
    assert [parameter["parameter_default"] for parameter in search["parameters"]] == [None, None, 10]


def test_leaderboard_rows_are_the_http_apis_rows(app):
    url, client = app
    rows = client.predict(view="retrieval-symmetric", search="pat", params=["100M–500M", "500M–1B"], api_name="/leaderboard")
    query = "view=retrieval-symmetric&search=pat&params=100M%E2%80%93500M,500M%E2%80%931B"
    with urllib.request.urlopen(f"{url}api/v1/leaderboard?{query}", timeout=60) as response:
        assert rows == json.loads(response.read())
    assert rows["view"] == "retrieval-symmetric" and rows["rows"]
    assert all("pat" in row["Model"].lower() for row in rows["rows"])

    with pytest.raises(AppError, match="unknown view 'nowhere'"):
        client.predict(view="nowhere", api_name="/leaderboard")


def test_search_answers_with_hits_and_explains_bad_input(app):
    _, client = app
    answer = client.predict(query="wind turbine blade noise", models=["bm25"], k=3, api_name="/search")
    assert list(answer["results"]) == ["bm25"] and answer["errors"] == {}
    hits = answer["results"]["bm25"]
    assert [hit["rank"] for hit in hits] == [1, 2, 3]
    assert all(any(word in hit["text"].lower() for word in ("wind", "turbine", "blade", "noise")) for hit in hits)
    assert client.predict(query="wind turbine", api_name="/search")["results"].keys() == {"bm25"}

    for arguments, message in [
        ({"query": ""}, "the query is empty"),
        ({"query": "battery", "k": 0}, "k must be from 1 to 100"),
        ({"query": "battery", "models": ["bm25", TINY, "a", "b", "c"]}, "at most 4 models"),
        ({"query": "bat\x00tery"}, "control character"),
        ({"query": "battery", "models": ["bm26"]}, "unknown model 'bm26'"),
    ]:
        with pytest.raises(AppError, match=message):
            client.predict(**arguments, api_name="/search")


def test_compare_explains_a_pair_it_cannot_compare(app):
    _, client = app
    for arguments, message in [
        ({"model_a": "datalyes/patembed-base", "model_b": "datalyes/patembed-base"}, "compared with itself"),
        ({"model_a": "datalyes/patembed-base", "model_b": "nobody/nothing"}, "unknown model 'nobody/nothing'"),
        ({"model_a": "datalyes/patembed-base", "model_b": "datalyes/patembed-large"}, "has no per-example data"),
    ]:
        with pytest.raises(AppError, match=message):
            client.predict(**arguments, api_name="/compare")


def test_submit_and_queue_are_the_submit_tabs_events(app):
    _, client = app
    status, *_ = client.predict(
        model="", revision="main", precision="float32", submitter="", tasks="PatenTEB",
        statuses=["pending", "running", "finished", "failed"], api_name="/submit",
    )
    assert status.startswith("**Refused:**")
    queue_table, queue_summary, *_ = client.predict(statuses=["pending"], api_name="/queue")
    assert "Model" in " ".join(queue_table["headers"]) and "pending" in queue_summary
