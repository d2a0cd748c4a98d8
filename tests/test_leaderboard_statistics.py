"""How sure the leaderboard's numbers are, over a real store: cells with their stored 95% intervals, rank ranges,
the comparison of two models and its drill-down, in the tables, the CSV, the Leaderboard tab and the API.

The store is a copy of the seeded store plus three models "evaluated" here: their per-example rows are written by
hand through Store.upsert_scores(examples=...), which computes and stores each task's interval as an evaluation
does. The demo tasks' example ids come from the evaluator's own split builders (asymmetric_split, example_ids)
over the shipped demo data, so the texts the drill-down shows are checked against the evaluator's, not against
the leaderboard's lookup. Expected values are recomputed here from the stored rows with patenteb.statistics.
"""

from __future__ import annotations

import asyncio
import shutil

import duckdb
import gradio as gr
import numpy as np
import pandas as pd
import pytest
from gradio.state_holder import SessionState

from evaluator.tasks.demo import demo_frames
from evaluator.tasks.examples import example_ids
from evaluator.tasks.retrieval import asymmetric_split
from leaderboard import styling, ui
from leaderboard import views as v
from leaderboard.cache import BoardCache
from leaderboard.compare import (
    GATED_NOTE,
    ComparisonError,
    TEXT_CHARACTERS,
    comparison_display,
    comparison_json,
    delta_figure,
)
from leaderboard.filters import compare_query, parse_compare_query
from leaderboard.tables import build_table
from patenteb.plots import failure_drawn
from patenteb.statistics import StatisticsInputError, compare, rank_intervals, task_bootstrap, task_score
from results.seed import task_catalogue
from results.store import Store
from results.vocabulary import PROVENANCE_PREFERENCE
from tests.csv_link import api_client, csv_behind
from webapi import LEADERBOARD_PATH
from webapi.core import BadRequest, PublicApi

TASKS = task_catalogue()
FACTS = TASKS.set_index("task")
STRONG, WEAK, TWIN = "lab/strong", "lab/weak", "lab/twin"
"""TWIN: STRONG's per-example values shuffled between examples (the same score, other examples)."""
LAB = [STRONG, WEAK, TWIN]
GATED_RETRIEVAL, GATED_CLASSIFICATION = "retrieval_IN", "class_bloom"
DEMO_RETRIEVAL, DEMO_CLASSIFICATION = "demo_uspto_retrieval", "demo_uspto_classification"
EVALUATED_TASKS = [GATED_RETRIEVAL, GATED_CLASSIFICATION, DEMO_RETRIEVAL, DEMO_CLASSIFICATION]
PAPER_MODEL = "datalyes/patembed-large"
"""A seeded model whose scores come from the paper and third parties: no per-example data."""
LABELS = ["A", "B", "C"]


def demo_retrieval_split():
    rows = demo_frames()[DEMO_RETRIEVAL]["test"]
    return asymmetric_split(rows, "first_sentence", "rest")


def demo_classification_rows() -> pd.DataFrame:
    return demo_frames()[DEMO_CLASSIFICATION]["test"]


def retrieval_rows(query_ids: list[str], documents: list[str], mean: float, rng: np.random.Generator) -> pd.DataFrame:
    values = np.clip(rng.normal(mean, 0.2, len(query_ids)), 0.0, 1.0).round(5)
    retrieved = [" ".join(rng.choice(documents, size=10, replace=False)) for _ in query_ids]
    return pd.DataFrame({"example_id": query_ids, "metric": "ndcg_at_10", "value": values, "gold": None,
                         "predicted": None, "retrieved": retrieved})


def classification_rows(ids: list[str], gold: list[str], right: float, rng: np.random.Generator) -> pd.DataFrame:
    gold = np.asarray(gold, dtype=object)
    correct = rng.random(len(ids)) < right
    labels = sorted(set(gold))
    wrong = np.array([labels[(labels.index(label) + 1) % len(labels)] for label in gold], dtype=object)
    predicted = np.where(correct, gold, wrong)
    return pd.DataFrame({"example_id": ids, "metric": "correct", "value": correct.astype(float), "gold": gold,
                         "predicted": predicted, "retrieved": None})


def examples_of(model: str, skill: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gated_queries = [f"q{number}" for number in range(300)]
    gated_documents = [f"d{number}" for number in range(500)]
    gated_items = [f"p{number}" for number in range(240)]
    split = demo_retrieval_split()
    demo_rows = demo_classification_rows()
    frames = {
        GATED_RETRIEVAL: retrieval_rows(gated_queries, gated_documents, 0.2 + 0.5 * skill, rng),
        GATED_CLASSIFICATION: classification_rows(gated_items, [LABELS[i % 3] for i in range(240)], 0.4 + 0.5 * skill, rng),
        DEMO_RETRIEVAL: retrieval_rows(list(split.queries), list(split.corpus), 0.2 + 0.5 * skill, rng),
        DEMO_CLASSIFICATION: classification_rows(example_ids(demo_rows, ("q",)), demo_rows["label"].tolist(),
                                                 0.4 + 0.5 * skill, rng),
    }
    return pd.concat(
        [frame.assign(model=model, revision="r1", task=task, split=FACTS.loc[task, "eval_split"], subset="default")
         for task, frame in frames.items()],
        ignore_index=True,
    )


def shuffled_within_tasks(examples: pd.DataFrame, model: str, seed: int) -> pd.DataFrame:
    """The same task scores on other examples: per task (and gold label, which stays with its id), each example's
    value, prediction and ranking moved to another example."""
    rng = np.random.default_rng(seed)
    moved_columns = ["value", "predicted", "retrieved"]
    parts = []
    for _, rows in examples.groupby(["task", "gold"], sort=False, dropna=False):
        moved = rows[moved_columns].iloc[rng.permutation(len(rows))].reset_index(drop=True)
        parts.append(pd.concat([rows.drop(columns=moved_columns).reset_index(drop=True), moved], axis=1))
    return pd.concat(parts, ignore_index=True).assign(model=model)


def scores_of(examples: pd.DataFrame) -> pd.DataFrame:
    """Each task's main score as the evaluator stores it: the metric of the per-example rows."""
    rows = []
    for (model, task), task_rows in examples.groupby(["model", "task"], sort=False):
        rows.append({"model": model, "revision": "r1", "task": task, "split": FACTS.loc[task, "eval_split"],
                     "subset": "default", "metric": FACTS.loc[task, "main_metric"], "value": task_score(task_rows),
                     "provenance": "evaluated", "source": "test", "mteb_version": "2.26.24",
                     "evaluated_at": pd.Timestamp("2026-11-20")})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def store(seeded_store_template, tmp_path_factory) -> Store:
    path = tmp_path_factory.mktemp("statistics") / "store.duckdb"
    shutil.copy(seeded_store_template, path)
    store = Store(path)
    strong = examples_of(STRONG, skill=0.9, seed=1)
    examples = {STRONG: strong, WEAK: examples_of(WEAK, skill=0.2, seed=2), TWIN: shuffled_within_tasks(strong, TWIN, 3)}
    for model, rows in examples.items():
        store.upsert_scores(scores_of(rows), pd.DataFrame([{"model": model, "display_name": model.split("/")[1]}]),
                            examples=rows)
    paper = scores_of(strong[strong["task"] == GATED_RETRIEVAL]).assign(provenance="paper", value=0.5, source="a paper")
    store.upsert_scores(paper)
    return store


@pytest.fixture(scope="module")
def cache(store) -> BoardCache:
    return BoardCache(store)


def stored_interval(store: Store, model: str, task: str) -> tuple[float, float]:
    row = store.score_intervals(model=model, task=task)
    assert len(row) == 1
    return float(row["low"].iloc[0]) * 100, float(row["high"].iloc[0]) * 100


# ---------------------------------------------------------------------------------------------------------------
# Intervals in the tables


def test_evaluated_cells_carry_their_stored_interval_and_quoted_cells_none(store, cache):
    board = cache.get(store.snapshot(), PROVENANCE_PREFERENCE)
    table = build_table(board, "retrieval-symmetric")
    rows = pd.Index(table.frame[v.MODEL])
    for model in (WEAK, TWIN):
        low, high = stored_interval(store, model, GATED_RETRIEVAL)
        assert table.ci_low.at[rows.get_loc(model), GATED_RETRIEVAL] == pytest.approx(low)
        assert table.ci_high.at[rows.get_loc(model), GATED_RETRIEVAL] == pytest.approx(high)
        assert low < table.frame.at[rows.get_loc(model), GATED_RETRIEVAL] < high
    quoted_row = rows.get_loc(PAPER_MODEL)
    assert table.provenance.at[quoted_row, GATED_RETRIEVAL] == "paper-secondary"
    assert table.ci_low.loc[quoted_row].isna().all() and table.ci_high.loc[quoted_row].isna().all()
    assert set(table.ci_low.columns) == set(table.score_columns) - {v.MEAN}

    plain = styling.gradio_value(table, board.model_names)
    with_intervals = styling.gradio_value(table, board.model_names, with_intervals=True)
    column = plain["headers"].index(GATED_RETRIEVAL)
    weak_row = rows.get_loc(WEAK)
    low, high = stored_interval(store, WEAK, GATED_RETRIEVAL)
    shown = with_intervals["metadata"]["display_value"][weak_row][column]
    assert shown == plain["metadata"]["display_value"][weak_row][column] + f" [{low:.1f}, {high:.1f}]"
    assert "[" not in plain["metadata"]["display_value"][weak_row][column]
    assert "[" not in with_intervals["metadata"]["display_value"][quoted_row][column]
    assert with_intervals["data"] == plain["data"]

    csv = styling.csv_frame(table)
    position = list(csv.columns).index(GATED_RETRIEVAL)
    assert list(csv.columns[position:position + 4]) == [
        GATED_RETRIEVAL, f"{GATED_RETRIEVAL} source", f"{GATED_RETRIEVAL} ci_low", f"{GATED_RETRIEVAL} ci_high",
    ]
    assert csv.at[weak_row, f"{GATED_RETRIEVAL} ci_low"] == round(low, 2)
    assert csv.at[weak_row, f"{GATED_RETRIEVAL} ci_high"] == round(high, 2)
    assert np.isnan(csv.at[quoted_row, f"{GATED_RETRIEVAL} ci_high"])


def test_a_quoted_score_shown_in_place_of_an_evaluated_one_has_no_interval(store, cache):
    snapshot = store.snapshot()
    preferred = build_table(cache.get(snapshot, PROVENANCE_PREFERENCE), "retrieval-symmetric")
    row = list(preferred.frame[v.MODEL]).index(STRONG)
    assert preferred.provenance.at[row, GATED_RETRIEVAL] == "paper"
    assert preferred.frame.at[row, GATED_RETRIEVAL] == pytest.approx(50.0)
    assert np.isnan(preferred.ci_low.at[row, GATED_RETRIEVAL])

    evaluated_only = build_table(cache.get(snapshot, ("evaluated",)), "retrieval-symmetric")
    row = list(evaluated_only.frame[v.MODEL]).index(STRONG)
    assert evaluated_only.ci_low.at[row, GATED_RETRIEVAL] == pytest.approx(stored_interval(store, STRONG, GATED_RETRIEVAL)[0])


def test_the_legend_states_the_stored_method_and_why_other_cells_have_none(store, cache):
    board = cache.get(store.snapshot(), PROVENANCE_PREFERENCE)
    legend = styling.legend_markdown(board.interval_cells)
    [method] = store.score_intervals()["method"].unique()
    assert "1000 resamples" in method and f"95% intervals ({method})" in legend
    assert f"for the {len(board.interval_cells)} scores" in legend
    assert "paper, third-party and MTEB scores come without them" in legend
    lab_cells = board.interval_cells[board.interval_cells["model"].isin(LAB)]
    assert len(lab_cells) == 3 * len(EVALUATED_TASKS) - 1  # STRONG's retrieval_IN shows the paper's
    assert "No score shown has a 95% interval yet" in styling.legend_markdown()
    assert "1,000 times" in v.INTERVAL_RULE and "1,000 times" in v.RANK_RULE


# ---------------------------------------------------------------------------------------------------------------
# Rank ranges


def independent_draws(store: Store, board, table) -> dict:
    """The bootstrap distribution ×100 of each evaluated cell with a stored interval, recomputed here from its
    stored rows."""
    intervals = store.score_intervals()
    with_interval = set(zip(intervals.loc[intervals["low"].notna(), "model"], intervals.loc[intervals["low"].notna(), "task"]))
    draws = {}
    for row, model in enumerate(table.frame[v.MODEL]):
        for column in table.score_columns:
            task, _ = board.view_columns[table.view.key][column]
            if table.provenance.at[row, column] == "evaluated" and (model, task) in with_interval:
                draws[(model, column)] = task_bootstrap(store.example_scores(model=model, task=task)) * 100
    return draws


@pytest.mark.parametrize("view", ["classification", "demo"])
def test_rank_ranges_are_the_statistics_rank_intervals_of_the_table(store, cache, view):
    board = cache.get(store.snapshot(), PROVENANCE_PREFERENCE)
    table = build_table(board, view)
    wide = table.frame.set_index(v.MODEL)[list(table.score_columns)]
    wide = wide.loc[:, wide.notna().any(axis=0)]
    draws = independent_draws(store, board, table)
    assert {(model, column) for model in LAB for column in wide.columns if pd.notna(wide.at[model, column])} <= set(draws)
    expected = rank_intervals(wide, draws)
    shown = table.frame.set_index(v.MODEL)
    assert shown[v.RANK_RANGE].to_dict() == expected["rank_range"].to_dict()
    assert shown[v.RANK].to_dict() == expected["rank"].to_dict()

    low, high = expected["rank_low"].reindex(table.frame[v.MODEL]), expected["rank_high"].reindex(table.frame[v.MODEL])
    overlaps = [False] + [low.iloc[i] <= high.iloc[i - 1] for i in range(1, len(low))]
    assert table.frame[v.TIED].tolist() == overlaps

    value = styling.gradio_value(table, cache.get(store.snapshot(), PROVENANCE_PREFERENCE).model_names)
    rank_cells = [row[value["headers"].index(v.RANK)] for row in value["metadata"]["display_value"]]
    assert [cell.endswith(v.TIED_MARKER) for cell in rank_cells] == overlaps
    assert v.TIED not in value["headers"] and value["headers"][:3] == [v.RANK, v.MODEL, v.RANK_RANGE]


def test_on_the_demo_the_twins_tie_and_the_weak_model_ranks_apart(store, cache):
    table = build_table(cache.get(store.snapshot(), PROVENANCE_PREFERENCE), "demo", model_subset=LAB)
    shown = table.frame.set_index(v.MODEL)
    assert set(shown.index) == set(LAB)
    assert shown.at[WEAK, v.RANK] == 3 and shown.at[WEAK, v.RANK_RANGE] == "3" and not shown.at[WEAK, v.TIED]
    second = table.frame.iloc[1]
    assert second[v.MODEL] in (STRONG, TWIN) and second[v.TIED]
    assert set(shown.loc[[STRONG, TWIN], v.RANK_RANGE]) == {"1\u20132"}


def test_statistics_are_computed_once_per_store_generation(store, tmp_path):
    copy = tmp_path / "store.duckdb"
    shutil.copy(store.path, copy)
    fresh = Store(copy)
    cache = BoardCache(fresh)
    board = cache.get(fresh.snapshot(), PROVENANCE_PREFERENCE)
    assert len(board.interval_cells) == len(board.draws) and cache.cell_draws.misses == 0
    for (model, task, subset), draws in board.draws.items():
        rows = fresh.example_scores(model=model, task=task).query("subset == @subset")
        np.testing.assert_allclose(draws, task_bootstrap(rows), rtol=0, atol=1e-6)
    for _ in range(3):
        build_table(board, "classification")
    assert board.rank_tables.misses == 1 and board.rank_tables.hits == 2

    fresh.upsert_scores(scores_of(examples_of("lab/newcomer", 0.5, 9)[lambda rows: rows["task"] == DEMO_RETRIEVAL]))
    newer = cache.get(fresh.snapshot(), PROVENANCE_PREFERENCE)
    assert newer is not board and cache.cell_draws.misses == 0
    assert all(np.array_equal(newer.draws[key], board.draws[key]) for key in board.draws)


@pytest.mark.slow
def test_a_store_written_before_draws_were_saved_has_them_computed_once_per_cell(store, tmp_path):
    copy = tmp_path / "older.duckdb"
    shutil.copy(store.path, copy)
    with duckdb.connect(str(copy)) as connection:
        connection.execute("DELETE FROM score_draws")
    older = Store(copy)
    cache = BoardCache(older)
    board = cache.get(older.snapshot(), PROVENANCE_PREFERENCE)
    assert cache.cell_draws.misses == len(board.interval_cells) == len(board.draws)
    for (model, task, subset), draws in board.draws.items():
        rows = older.example_scores(model=model, task=task).query("subset == @subset")
        np.testing.assert_array_equal(draws, task_bootstrap(rows))
    older.upsert_scores(scores_of(examples_of("lab/newcomer", 0.5, 9)[lambda rows: rows["task"] == DEMO_RETRIEVAL]))
    newer = cache.get(older.snapshot(), PROVENANCE_PREFERENCE)
    assert cache.cell_draws.misses == len(board.interval_cells)
    assert all(newer.draws[key] is board.draws[key] for key in board.draws)


# ---------------------------------------------------------------------------------------------------------------
# Comparing two models


def test_a_comparison_is_the_statistics_paired_comparison_of_the_stored_examples(store, cache):
    comparison = cache.comparison(store.snapshot(), STRONG, WEAK)
    examples = pd.concat([store.example_scores(model=STRONG), store.example_scores(model=WEAK)], ignore_index=True)
    expected = compare(examples, STRONG, WEAK)
    pd.testing.assert_frame_equal(comparison.table, expected)
    assert comparison.tasks == EVALUATED_TASKS
    for task, a in zip(comparison.table["task"], comparison.table["a"]):
        assert a == pytest.approx(task_score(store.example_scores(model=STRONG, task=task)))
    assert comparison.verdict == (f"{STRONG} against {WEAK}: better on 4, worse on 0, no significant difference on 0 "
                                  "of 4 tasks (Holm-adjusted p < 0.05).")
    assert cache.comparison(store.snapshot(), STRONG, WEAK) is comparison

    twins = cache.comparison(store.snapshot(), STRONG, TWIN)
    assert twins.verdict.endswith("better on 0, worse on 0, no significant difference on 4 of 4 tasks (Holm-adjusted p < 0.05).")

    shown = comparison_display(comparison)
    assert list(shown.columns) == ["Task", "Family", "Examples", "A", "B", "Δ (A − B)", "95% CI of Δ", "p", "p (Holm)", "Result"]
    assert shown["Δ (A − B)"].tolist() == pytest.approx((expected["delta"] * 100).round(2).tolist())
    assert shown["Result"].tolist() == ["A better"] * 4
    first = expected.iloc[0]
    assert shown["95% CI of Δ"].iloc[0] == f"[{first.ci_low * 100:.2f}, {first.ci_high * 100:.2f}]"

    answer = comparison_json(comparison)
    assert [row["task"] for row in answer["tasks"]] == EVALUATED_TASKS
    assert {"task", "a", "b", "delta", "ci_low", "ci_high", "p_value", "p_holm"} <= set(answer["tasks"][0])
    assert answer["tasks"][0]["delta"] == pytest.approx(first.delta) and answer["verdict"] == comparison.verdict

    figure = delta_figure(comparison)
    assert failure_drawn(figure) is None
    plotted = {task: x for trace in figure.data for task, x in zip(trace.y, trace.x)}
    assert plotted == pytest.approx({task: delta * 100 for task, delta in zip(expected["task"], expected["delta"])})


def test_the_chosen_tasks_only_and_bad_pairs_get_a_clear_message(store, cache):
    snapshot = store.snapshot()
    chosen = cache.comparison(snapshot, WEAK, STRONG, (DEMO_CLASSIFICATION, GATED_RETRIEVAL))
    assert chosen.tasks == [DEMO_CLASSIFICATION, GATED_RETRIEVAL]
    assert chosen.verdict.startswith(f"{WEAK} against {STRONG}: better on 0, worse on 2")
    assert chosen.table["p_holm"].max() < 0.05
    for a, b, tasks, message in [
        (STRONG, STRONG, None, "compared with itself"),
        (STRONG, "lab/nobody", None, "unknown model 'lab/nobody'"),
        (PAPER_MODEL, STRONG, None, f"{PAPER_MODEL} has no per-example data: only scores evaluated by this"),
        (STRONG, WEAK, ("clusters_inventor",), "has no per-example data on clusters_inventor"),
        ("", WEAK, None, "choose two models"),
    ]:
        with pytest.raises(StatisticsInputError, match=message):
            cache.comparison(snapshot, a, b, tasks)


def test_compare_share_links_round_trip():
    query = compare_query(STRONG, WEAK)
    assert query == "?compare=lab/strong,lab/weak"
    params = dict([query[1:].split("=")])
    assert parse_compare_query(params, {STRONG, WEAK}) == (STRONG, WEAK)
    assert parse_compare_query(params, {STRONG}) is None
    assert parse_compare_query({"compare": STRONG}, {STRONG}) is None
    assert parse_compare_query({}, {STRONG, WEAK}) is None


# ---------------------------------------------------------------------------------------------------------------
# Drill-down


def test_drill_down_on_gated_data_lists_ids_and_the_largest_differences(store, cache):
    found = cache.drill_down(store.snapshot(), STRONG, WEAK, GATED_RETRIEVAL)
    a = store.example_scores(model=STRONG, task=GATED_RETRIEVAL).set_index("example_id")
    b = store.example_scores(model=WEAK, task=GATED_RETRIEVAL).set_index("example_id")
    delta = (a["value"] - b["value"]).sort_values(kind="stable")
    a_wins = delta[delta > 0].sort_values(ascending=False, kind="stable").head(10)
    b_wins = delta[delta < 0].head(10)
    frame = found.frame
    assert "Text" not in frame.columns and GATED_NOTE in found.note
    assert frame["Query id"].tolist()[:len(a_wins)] == a_wins.index.tolist()
    assert set(frame["Query id"].tolist()[len(a_wins):]) == set(b_wins.index)
    assert frame["Δ (A − B)"].tolist() == pytest.approx((delta.reindex(frame["Query id"]) * 100).round(2).tolist())
    assert (frame["Better"] == np.where(frame["Δ (A − B)"] > 0, "A", "B")).all()
    assert frame["A retrieved (best first)"].tolist() == a.loc[frame["Query id"], "retrieved"].tolist()
    assert frame["B retrieved (best first)"].tolist() == b.loc[frame["Query id"], "retrieved"].tolist()
    assert f"{len(a):,} examples of {GATED_RETRIEVAL} scored by both" in found.note


def shortened(text: str) -> str:
    return text if len(text) <= TEXT_CHARACTERS else text[: TEXT_CHARACTERS - 1] + "…"


def test_drill_down_on_the_shipped_demo_shows_the_texts(store, cache):
    split = demo_retrieval_split()
    found = cache.drill_down(store.snapshot(), STRONG, WEAK, DEMO_RETRIEVAL)
    frame = found.frame
    assert len(frame) == 20 and GATED_NOTE not in found.note
    assert frame["Text"].tolist() == [shortened(split.queries[query]) for query in frame["Query id"]]
    first_documents = frame["A retrieved (best first)"].str.split().str[0]
    assert frame["A's first document"].tolist() == [shortened(split.corpus[doc]) for doc in first_documents]
    assert all(frame["B's first document"].str.len() > 0)

    classification = cache.drill_down(store.snapshot(), STRONG, WEAK, DEMO_CLASSIFICATION).frame
    rows = demo_classification_rows()
    texts = dict(zip(example_ids(rows, ("q",)), rows["text"]))
    assert len(classification) > 0
    assert classification["Text"].tolist() == [shortened(texts[item]) for item in classification["Example id"]]
    right = classification["Better"] == "A"
    assert (classification.loc[right, "A predicted"] == classification.loc[right, "Gold"]).all()
    assert (classification.loc[right, "B predicted"] != classification.loc[right, "Gold"]).all()


def test_clustering_and_paraphrase_cannot_be_drilled_and_say_why(store, cache):
    for task in ("clusters_inventor", "para_problem"):
        with pytest.raises(ComparisonError, match="do not split into per-example scores"):
            cache.drill_down(store.snapshot(), STRONG, WEAK, task)


# ---------------------------------------------------------------------------------------------------------------
# The Leaderboard tab and the API


@pytest.fixture
def tab(store) -> tuple[ui.LeaderboardTab, gr.Blocks]:
    with gr.Blocks() as demo:
        tab = ui.build(store, demo, LEADERBOARD_PATH)
    return tab, demo


def test_the_tab_shows_intervals_on_request_and_compares_from_a_share_link(tab, store):
    tab, demo = tab
    inputs = ["classification", "", [], None, None, None, None, None, list(PROVENANCE_PREFERENCE)]
    inputs[3:8] = [list(choices) for choices in (ui.PARAM_CHOICES, ui.DIM_CHOICES, ui.TOKEN_CHOICES, ui.PROMPT_CHOICES,
                                                 ui.ZERO_SHOT_CHOICES)]
    plain = tab.render(*inputs, False)[tab.outputs.table]
    shown = tab.render(*inputs, True)
    table = shown[tab.outputs.table]
    column, row = table["headers"].index(GATED_CLASSIFICATION), [r[1] for r in table["data"]].index("strong")
    low, high = stored_interval(store, STRONG, GATED_CLASSIFICATION)
    assert table["metadata"]["display_value"][row][column].endswith(f" [{low:.1f}, {high:.1f}]")
    assert "[" not in plain["metadata"]["display_value"][row][column]
    assert "1000 resamples" in shown[tab.outputs.legend]
    csv, _ = csv_behind(shown[tab.outputs.download], api_client(store))
    assert f"{GATED_CLASSIFICATION} ci_low" in csv.columns

    section = tab.compare
    out = section.outputs
    restored = section.restore(gr.Request(query_params={"compare": f"{STRONG},{WEAK}"}))
    assert restored[out.model_a]["value"] == STRONG and restored[out.model_b]["value"] == WEAK
    assert [model for model in restored[out.model_a]["choices"] if model in LAB] == [STRONG, TWIN, WEAK]
    assert restored[out.accordion]["open"] is True
    assert restored[out.verdict].startswith(f"**{STRONG} against {WEAK}: better on 4")
    assert restored[out.share_query] == "?compare=lab/strong,lab/weak"
    assert restored[out.drill_task]["choices"] == EVALUATED_TASKS
    assert len(restored[out.table]) == 4 and failure_drawn(restored[out.plot]) is None

    refused = section.restore(gr.Request(query_params={"compare": f"{STRONG},lab/nobody"}))
    assert "does not name two known models" in refused[out.verdict]
    assert "has no per-example data" in section.compare(PAPER_MODEL, STRONG, [])[out.verdict]
    assert "choose two models" in section.compare_chosen([STRONG])[out.verdict]
    chosen = section.compare_chosen([WEAK, STRONG, TWIN], [GATED_RETRIEVAL])
    assert chosen[out.model_a] == WEAK and chosen[out.verdict].startswith(f"**{WEAK} against {STRONG}: better on 0, worse on 1")

    drilled = section.drill(STRONG, WEAK, DEMO_RETRIEVAL)
    assert len(drilled[out.drill_table]) == 20 and "Text" in drilled[out.drill_table].columns
    assert "do not split" in section.drill(STRONG, WEAK, "clusters_inventor")[out.drill_note]

    event = next(fn for fn in demo.fns.values() if fn.api_name == "leaderboard_compare")
    sent = asyncio.run(demo.process_api(event, [STRONG, TWIN, []], state=SessionState(demo)))
    verdict, table, *_ = sent["data"]
    assert "no significant difference on 4 of 4" in verdict and table["headers"][0] == "Task"


def test_the_api_compares_and_refuses_with_a_reason(store):
    api = PublicApi(store, boards=BoardCache(store))
    answer = api.compare(STRONG, WEAK, [GATED_CLASSIFICATION, GATED_RETRIEVAL])
    assert answer["generation"] == store.snapshot().generation
    assert [row["task"] for row in answer["tasks"]] == [GATED_CLASSIFICATION, GATED_RETRIEVAL]
    assert all(row["result"] == "a better" for row in answer["tasks"])
    assert answer["verdict"].endswith("better on 2, worse on 0, no significant difference on 0 of 2 tasks (Holm-adjusted p < 0.05).")
    for a, b, tasks, message in [
        (STRONG, STRONG, None, "compared with itself"),
        ("lab/nobody", WEAK, None, "unknown model 'lab/nobody'"),
        (STRONG, WEAK, ["no_such_task"], "unknown task 'no_such_task'"),
        (STRONG, "", None, "model_b is empty"),
        (PAPER_MODEL, WEAK, None, "has no per-example data"),
    ]:
        with pytest.raises(BadRequest, match=message):
            api.compare(a, b, tasks)
    frame, about = api.leaderboard_table(api.leaderboard_query("classification"))
    assert f"{GATED_CLASSIFICATION} ci_low" in frame.columns and "1,000 times" in about["interval_method"]
    assert frame.loc[frame["Model"] == STRONG, f"{GATED_CLASSIFICATION} ci_high"].iloc[0] == round(
        stored_interval(store, STRONG, GATED_CLASSIFICATION)[1], 2)
