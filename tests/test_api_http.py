"""The plain HTTP API of the running app (/api/v1): tables in three formats, ETags and 304, search, and a JSON 400
for every bad parameter."""

from __future__ import annotations

import io
import json
import shutil
import urllib.error
import urllib.parse
import urllib.request

import pandas as pd
import pytest

from leaderboard import styling
from leaderboard.filters import Filters, matching_models
from leaderboard.cache import BoardCache
from leaderboard.tables import build_table
from leaderboard.views import VIEWS
from results.store import Store
from tests.api_app import TINY, UNREACHABLE, api_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory, seeded_store_template, tiny_model_path):
    with api_app(tmp_path_factory.mktemp("api-http"), seeded_store_template, tiny_model_path) as (url, store):
        yield url + "api/v1", store


@pytest.fixture(scope="module")
def template_store(seeded_store_template, tmp_path_factory) -> Store:
    copy = tmp_path_factory.mktemp("template-copy") / "store.duckdb"
    shutil.copy(seeded_store_template, copy)
    return Store(copy)


@pytest.fixture(scope="module")
def template_snapshot(template_store):
    return template_store.snapshot()


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def get_json(url: str) -> dict:
    status, _, body = get(url)
    assert status == 200, body[:300]
    return json.loads(body)


def expected_table(store: Store, view: str, filters: Filters = Filters()) -> pd.DataFrame:
    """The view as the Leaderboard tab builds it from the store, in the form of its CSV download."""
    snapshot = store.snapshot()
    board = BoardCache(store).get(snapshot, filters.provenances)
    return styling.csv_frame(build_table(board, view, model_subset=matching_models(snapshot.models, filters)))


@pytest.mark.parametrize("view", [view.key for view in VIEWS])
def test_every_view_in_every_format_is_the_leaderboards_table(app, template_store, template_snapshot, view):
    url, _ = app
    expected = expected_table(template_store, view)
    answer = get_json(f"{url}/leaderboard?view={view}&format=json")
    assert answer["view"] == view and answer["generation"] == template_snapshot.generation
    assert answer["columns"] == list(expected.columns)
    from_json = pd.DataFrame(answer["rows"], columns=answer["columns"])
    from_csv = pd.read_csv(f"{url}/leaderboard?view={view}&format=csv")
    status, headers, parquet = get(f"{url}/leaderboard?view={view}&format=parquet")
    assert status == 200 and headers["content-type"] == "application/vnd.apache.parquet"
    from_parquet = pd.read_parquet(io.BytesIO(parquet))
    for served in (from_json, from_csv, from_parquet):
        assert list(served["Model"]) == list(expected["Model"])
        pd.testing.assert_frame_equal(as_read_back(served), as_read_back(expected))


def as_read_back(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as pandas reads it back from CSV, so that tables from different formats compare by value."""
    return pd.read_csv(io.StringIO(frame.to_csv(index=False)))


def test_filters_are_the_uis_filters(app, template_store, template_snapshot):
    url, _ = app
    filters = Filters(params=("100M–500M", "500M–1B"), provenances=("paper", "authors-readme"))
    expected = expected_table(template_store, "overall", filters)
    query = urllib.parse.urlencode(
        [("view", "overall"), ("params", "100M–500M,500M–1B"), ("sources", "paper"), ("sources", "authors-readme")]
    )
    answer = get_json(f"{url}/leaderboard?{query}")
    assert [row["Model"] for row in answer["rows"]] == list(expected["Model"])
    assert 0 < len(answer["rows"]) < len(template_snapshot.models)

    one = get_json(f"{url}/leaderboard?view=external&models=datalyes/patembed-base")
    assert [row["Model"] for row in one["rows"]] == ["datalyes/patembed-base"]
    by_name = get_json(f"{url}/leaderboard?view=overall&search=paecter")
    assert [row["Model"] for row in by_name["rows"]] == ["mpi-inno-comp/paecter"]
    nothing = get_json(f"{url}/leaderboard?view=overall&prompts=")
    assert nothing["rows"] == [] and "Model" in nothing["columns"]


def test_models_and_tasks_are_the_stores_tables(app, template_snapshot):
    url, _ = app
    models = get_json(f"{url}/models")
    assert [row["model"] for row in models["rows"]] == list(template_snapshot.models["model"])
    tasks = pd.read_csv(f"{url}/tasks?format=csv")
    assert list(tasks["task"]) == list(template_snapshot.tasks["task"])
    search_models = get_json(f"{url}/search/models")["models"]
    assert [model["name"] for model in search_models] == ["bm25", TINY, UNREACHABLE]


@pytest.mark.parametrize(
    "path",
    ["leaderboard?view=clustering&format=csv", "models", "tasks?format=parquet", f"search?q=battery&models=bm25,{TINY}&k=3"],
)
def test_a_repeat_with_the_etag_gets_304(app, path):
    url, _ = app
    status, headers, body = get(f"{url}/{path}")
    assert status == 200 and body
    tag = headers["etag"]
    status, headers, body = get(f"{url}/{path}", {"If-None-Match": tag})
    assert (status, headers["etag"], body) == (304, tag, b"")
    status, _, _ = get(f"{url}/{path}", {"If-None-Match": '"0-someone-elses"'})
    assert status == 200


def test_different_requests_have_different_etags(app):
    url, _ = app
    tags = {
        get(f"{url}/{path}")[1]["etag"]
        for path in (
            "leaderboard?view=overall", "leaderboard?view=overall&format=csv", "leaderboard?view=demo",
            "leaderboard?view=overall&search=pat", "search?q=battery&models=bm25", "search?q=battery&models=bm25&k=3",
            "search?q=antenna&models=bm25",
        )
    }
    assert len(tags) == 7
    assert get(f"{url}/leaderboard?view=overall&models=datalyes/patembed-base&format=json")[1]["etag"] == get(
        f"{url}/leaderboard?format=json&models=datalyes%2Fpatembed-base"
    )[1]["etag"]


def test_search_answers_per_model_and_reports_a_model_that_cannot_load(app):
    url, _ = app
    answer = get_json(f"{url}/search?q=lithium+battery+electrode&models=bm25&models={TINY}&k=4")
    assert list(answer["results"]) == ["bm25", TINY] and answer["errors"] == {}
    for hits in answer["results"].values():
        assert [hit["rank"] for hit in hits] == [1, 2, 3, 4]
        assert all(hit["id"] and hit["text"] for hit in hits)
    assert any("battery" in hit["text"].lower() for hit in answer["results"]["bm25"])

    status, headers, body = get(f"{url}/search?q=battery&models=bm25,{urllib.parse.quote(UNREACHABLE)}&k=2")
    partial = json.loads(body)
    assert status == 200 and "etag" not in headers
    assert list(partial["results"]) == ["bm25"] and len(partial["results"]["bm25"]) == 2
    assert "cannot be loaded" in partial["errors"][UNREACHABLE]


LONG_QUERY = "a" * 100_000


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("leaderboard?view=family-of-nothing", "unknown view 'family-of-nothing'"),
        ("leaderboard?format=xlsx", "unknown format 'xlsx'"),
        ("leaderboard?veiw=overall", "unknown parameter 'veiw'"),
        ("leaderboard?view=overall&view=demo", "give view once"),
        ("leaderboard?params=huge", "unknown params value 'huge'"),
        ("leaderboard?sources=blog", "unknown sources value 'blog'"),
        ("leaderboard?models=nobody/nothing", "unknown model 'nobody/nothing'"),
        ("leaderboard?search=pat%07ent", "control character (U+0007)"),
        ("models?format=xml", "unknown format 'xml'"),
        ("tasks?view=overall", "unknown parameter 'view'"),
        ("search?models=bm25", "the query is empty"),
        ("search?q=+++&models=bm25", "the query is empty"),
        (f"search?q={LONG_QUERY}&models=bm25", "100,000 characters long; at most 20,000"),
        ("search?q=bat%00tery", "control character (U+0000)"),
        ("search?q=battery%1b%5B31m", "control character (U+001B)"),
        ("search?q=battery&k=0", "k must be from 1 to 100, got 0"),
        ("search?q=battery&k=101", "k must be from 1 to 100, got 101"),
        ("search?q=battery&k=ten", "k must be a whole number"),
        ("search?q=battery&models=bm26", "unknown model 'bm26'"),
        (f"search?q=battery&models={urllib.parse.quote(UNREACHABLE)}", "cannot be loaded"),
        (f"search?q=battery&models=bm25,{TINY},a,b,c", "at most 4 models at once, got 5"),
        ("search?q=battery&page=2", "unknown parameter 'page'"),
        ("compare?a=datalyes/patembed-base", "model_b is empty"),
        ("compare?a=datalyes/patembed-base&b=datalyes/patembed-base", "compared with itself"),
        ("compare?a=datalyes/patembed-base&b=nobody/nothing", "unknown model 'nobody/nothing'"),
        ("compare?a=datalyes/patembed-base&b=datalyes/patembed-large", "datalyes/patembed-base has no per-example data"),
        ("compare?a=x&b=y&tasks=no_such_task", "unknown task 'no_such_task'"),
        ("compare?a=x&b=y&model=z", "unknown parameter 'model'"),
    ],
)
def test_a_bad_parameter_gets_400_with_a_json_message(app, path, message):
    url, _ = app
    status, headers, body = get(f"{url}/{path}")
    assert status == 400, body[:300]
    assert headers["content-type"] == "application/json"
    assert message in json.loads(body)["error"]


def test_a_store_write_changes_the_etag(app):
    url, store_path = app
    status, headers, _ = get(f"{url}/leaderboard?view=external")
    old_tag = headers["etag"]
    Store(store_path).upsert_scores(pd.DataFrame([{
        "model": "newlab/api-embedder", "revision": "r1", "task": "BigPatentClustering.v2", "split": "test",
        "subset": "default", "metric": "v_measure", "value": 0.4321, "provenance": "evaluated",
        "mteb_version": "2.26.24", "evaluated_at": pd.Timestamp("2026-11-01"),
    }]))
    status, headers, body = get(f"{url}/leaderboard?view=external", {"If-None-Match": old_tag})
    assert status == 200 and headers["etag"] != old_tag
    assert "newlab/api-embedder" in [row["Model"] for row in json.loads(body)["rows"]]
