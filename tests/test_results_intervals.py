"""Intervals and paired comparisons over a real store: the demo benchmark evaluated by the worker with two tiny
random BERTs (real mteb runs), each task's 95% bootstrap interval written with its scores, and
`python -m results compare` on the stored per-example rows."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from evaluator.runner import ModelSpec, run_evaluation
from evaluator.tasks import DEMO_TASKS
from patenteb import statistics
from patenteb.catalogue import BY_NAME
from results import cli
from results.store import INTERVAL_COLUMNS, Store
from tests.cli import run_in_process
from tests.conftest import REPO

TINY, OTHER, COPY = "test/tiny-bert", "test/other-tiny-bert", "test/tiny-bert-copy"
RETRIEVAL, CLUSTERING, CLASSIFICATION = "demo_uspto_retrieval", "demo_uspto_clustering", "demo_uspto_classification"
RETRIEVAL_ROUNDING = 5.1e-6
RESULT_FILE_ROUNDING = 5.1e-7
TASK_FIELDS = {"task", "family", "n_examples", "a", "b", "delta", "ci_low", "ci_high", "p_value", "p_holm"}


@pytest.fixture(scope="module")
def evaluated(seeded_store_template, tiny_model_path, tmp_path_factory):
    from patenteb.shipped import patent_abstracts
    from patenteb.tiny_model import build_tiny_model

    folder = tmp_path_factory.mktemp("intervals")
    shutil.copy(seeded_store_template, folder / "store.duckdb")
    store = Store(folder / "store.duckdb", record=None)
    assert run_evaluation(store, ModelSpec(TINY, str(tiny_model_path), "r1"), "demo").evaluated == list(DEMO_TASKS)
    other_path = build_tiny_model(folder / "other-tiny", patent_abstracts(500), seed=1)
    assert run_evaluation(store, ModelSpec(OTHER, str(other_path), "o1"), "demo").evaluated == list(DEMO_TASKS)
    return store


@pytest.fixture
def store(evaluated, tmp_path) -> Store:
    """A copy of the evaluated store that a test may write to."""
    shutil.copy(evaluated.path, tmp_path / "store.duckdb")
    return Store(tmp_path / "store.duckdb", record=None)


def write_copy_of(store: Store, model: str, as_model: str, tasks=DEMO_TASKS) -> None:
    """Store `model`'s scores and per-example rows on `tasks` again under another name (the scores' path)."""
    scores = store.all_scores().query("model == @model and task in @tasks").assign(model=as_model)
    examples = store.example_scores(model=model).query("task in @tasks").assign(model=as_model)
    store.upsert_scores(scores, examples=examples)


def compare(store: Store, *args: str):
    return run_in_process(cli.main, ["compare", *args, "--store", str(store.path)])


def test_every_evaluated_task_has_an_interval_around_its_score(evaluated):
    snapshot = evaluated.snapshot()
    assert list(snapshot.intervals.columns) == list(INTERVAL_COLUMNS)
    intervals = snapshot.intervals.query("model in [@TINY, @OTHER]")
    assert sorted(zip(intervals["model"], intervals["task"])) == sorted(
        (model, task) for model in (TINY, OTHER) for task in DEMO_TASKS)
    assert set(intervals["split"]) == {"test"} and set(intervals["subset"]) == {"default"}
    assert set(intervals["n_resamples"]) == {1000}
    assert intervals["method"].str.contains("bootstrap").all()
    assert intervals["method"].str.endswith("1000 resamples, seed 0").all()
    scores = snapshot.scores.query("provenance == 'evaluated'")
    joined = intervals.merge(scores, on=["model", "revision", "task", "subset", "metric"], validate="one_to_one")
    assert len(joined) == len(intervals)
    for row in joined.itertuples():
        assert row.metric == BY_NAME[row.task].metric.key
        recomputed = statistics.task_score(evaluated.example_scores(model=row.model, task=row.task))
        assert row.low < recomputed < row.high, (row.model, row.task)
        if row.task == CLUSTERING:
            continue  # mteb's V-measure is a mean over its own k-means runs, not the stored assignments'
        rounding = RETRIEVAL_ROUNDING if row.task == RETRIEVAL else RESULT_FILE_ROUNDING
        assert recomputed == pytest.approx(row.value, abs=rounding)
        assert row.low - rounding <= row.value <= row.high + rounding


def test_a_stored_interval_is_what_the_statistics_give_for_the_stored_examples(evaluated):
    stored = evaluated.score_intervals(model=OTHER, task=CLASSIFICATION)
    interval = statistics.task_interval(evaluated.example_scores(model=OTHER, task=CLASSIFICATION),
                                        n_resamples=1000, seed=0)
    assert (stored["low"].item(), stored["high"].item(), stored["method"].item()) == (
        interval.low, interval.high, interval.method)
    assert interval.low < interval.high


def test_a_model_compared_with_a_copy_of_itself_differs_nowhere(store):
    write_copy_of(store, TINY, COPY)
    pd.testing.assert_frame_equal(store.score_intervals(model=COPY).drop(columns="model"),
                                  store.score_intervals(model=TINY).drop(columns="model"))
    result = compare(store, TINY, COPY, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [row["task"] for row in document["tasks"]] == sorted(DEMO_TASKS, key=lambda task: BY_NAME[task].display_order)
    for row in document["tasks"]:
        assert (row["delta"], row["ci_low"], row["ci_high"], row["p_value"], row["p_holm"]) == (0.0, 0.0, 0.0, 1.0, 1.0)
        assert row["a"] == row["b"]
    assert document["verdict"] == "better on 0, worse on 0, no significant difference on 3 of 3 tasks"

    itself = compare(store, TINY, TINY)
    assert itself.returncode == 2 and itself.stderr == (
        f"error: {TINY} is compared with itself: choose two different models (or revisions)\n")


def test_saved_draws_are_the_bootstrap_of_the_stored_examples_and_comparisons_reuse_them(evaluated):
    runs = evaluated.score_intervals()[["model", "revision", "task"]]
    saved = evaluated.score_draws(runs)
    assert {key for key in saved if key[0] in (TINY, OTHER)} == {
        (model, revision, task, "test", "default") for model, revision in ((TINY, "r1"), (OTHER, "o1"))
        for task in DEMO_TASKS}
    for (model, revision, task, _, _), draws in saved.items():
        recomputed = statistics.task_bootstrap(evaluated.example_scores(model=model, task=task))
        np.testing.assert_allclose(draws, recomputed, rtol=0, atol=1e-6)

    document = json.loads(compare(evaluated, TINY, OTHER, "--json").stdout)
    examples = pd.concat([evaluated.example_scores(model=model) for model in (TINY, OTHER)], ignore_index=True)
    resampled = statistics.compare(examples, TINY, OTHER).set_index("task")
    for row in document["tasks"]:
        expected = resampled.loc[row["task"]]
        assert (row["ci_low"], row["ci_high"], row["p_value"]) == pytest.approx(
            (expected["ci_low"], expected["ci_high"], expected["p_value"]), abs=1e-6)


def test_a_comparison_on_different_dataset_revisions_says_so(store):
    revisions = store.all_scores().query("model == @TINY").groupby("task")["dataset_revision"].agg(set)
    assert all(len(names) == 1 and next(iter(names)).startswith("sha256:") for names in revisions)
    write_copy_of(store, TINY, COPY)
    assert json.loads(compare(store, TINY, COPY, "--json").stdout)["dataset_revisions_differ"] == {}

    moved = store.all_scores().query("model == @COPY and task == @RETRIEVAL").assign(dataset_revision="abc123")
    store.upsert_scores(moved)
    document = json.loads(compare(store, TINY, COPY, "--json").stdout)
    assert document["dataset_revisions_differ"] == {RETRIEVAL: [next(iter(revisions[RETRIEVAL])), "abc123"]}
    text = compare(store, TINY, COPY).stdout
    assert f"different dataset revisions of {RETRIEVAL} (A: {next(iter(revisions[RETRIEVAL]))}, B: abc123)" in text


def test_compare_as_json_holds_every_task_with_its_test_and_the_verdict(evaluated):
    result = compare(evaluated, TINY, OTHER, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"model_a", "model_b", "revision_a", "revision_b", "tasks", "verdict", "skipped",
                             "dataset_revisions_differ", "n_resamples", "seed", "confidence", "method"}
    assert document["dataset_revisions_differ"] == {}
    assert (document["model_a"], document["revision_a"], document["model_b"], document["revision_b"]) == (
        TINY, "r1", OTHER, "o1")
    assert (document["n_resamples"], document["seed"], document["skipped"]) == (1000, 0, [])
    assert document["method"] == statistics.COMPARE_METHOD
    rows = pd.DataFrame(document["tasks"])
    assert set(rows.columns) == TASK_FIELDS and set(rows["task"]) == set(DEMO_TASKS)
    assert ((rows["ci_low"] <= rows["delta"]) & (rows["delta"] <= rows["ci_high"])).all()
    assert ((0 < rows["p_value"]) & (rows["p_value"] <= rows["p_holm"]) & (rows["p_holm"] <= 1)).all()
    assert document["verdict"] == statistics.verdict(rows)

    retrieval = rows.set_index("task").loc[RETRIEVAL]
    mine = evaluated.example_scores(model=TINY, task=RETRIEVAL).set_index("example_id")["value"]
    theirs = evaluated.example_scores(model=OTHER, task=RETRIEVAL).set_index("example_id")["value"]
    assert retrieval["n_examples"] == len(mine) == len(theirs) == 200
    assert retrieval["delta"] == pytest.approx((mine - theirs.loc[mine.index]).mean(), abs=1e-12)
    assert retrieval["a"] == pytest.approx(evaluated.snapshot().scores.query(
        "model == @TINY and task == @RETRIEVAL")["value"].item(), abs=RETRIEVAL_ROUNDING)


def test_tasks_without_per_example_data_are_skipped_with_the_reason(store):
    write_copy_of(store, TINY, COPY, tasks=[RETRIEVAL, CLASSIFICATION])
    quoted = pd.DataFrame([{"model": COPY, "revision": "r1", "task": CLUSTERING, "split": "test", "subset": "default",
                            "metric": "v_measure", "provenance": "paper", "value": 0.5}])
    store.upsert_scores(quoted)
    result = compare(store, COPY, OTHER, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [row["task"] for row in document["tasks"]] == [RETRIEVAL, CLASSIFICATION]
    assert document["skipped"] == [
        {"task": CLUSTERING, "reason": f"{COPY} has no per-example data (its score: paper)"}]
    assert document["verdict"].endswith("of 2 tasks")

    text = compare(store, COPY, OTHER, "--tasks", f"{CLASSIFICATION}, {RETRIEVAL}")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == f"A = {COPY} (r1), B = {OTHER} (o1)"
    assert [line.split()[0] for line in lines[2:4]] == [CLASSIFICATION, RETRIEVAL]
    assert lines[4].startswith(f"verdict: {COPY} against {OTHER}: better on ")
    assert f"skipped {CLUSTERING}: {COPY} has no per-example data (its score: paper)" in lines

    refused = compare(store, COPY, OTHER, "--tasks", CLUSTERING)
    assert refused.returncode == 2
    assert refused.stderr == f"error: cannot compare on {CLUSTERING} ({COPY} has no per-example data (its score: paper))\n"


def test_bad_input_gets_one_line_and_exit_code_2(store):
    paper_model = store.main_scores().query("provenance == 'paper'")["model"].iloc[0]
    write_copy_of(store, TINY, "solo/retrieval", tasks=[RETRIEVAL])
    write_copy_of(store, OTHER, "solo/classification", tasks=[CLASSIFICATION])
    cases = {
        ("nobody/none", TINY): "error: unknown model 'nobody/none': the store ",
        ("test/tiny-bertt", TINY): f"did you mean {TINY}",
        (paper_model, TINY): f"error: {paper_model} has no per-example data: its scores are authors-readme, paper",
        ("solo/retrieval", "solo/classification"): "error: solo/retrieval and solo/classification share no task "
                                                   f"with per-example data (solo/retrieval: {RETRIEVAL}; "
                                                   f"solo/classification: {CLASSIFICATION})",
        (TINY, OTHER, "--tasks", "no_such_task"): "error: unknown task(s) no_such_task",
        (TINY, OTHER, "--tasks", " , "): "error: --tasks names no task",
    }
    for arguments, message in cases.items():
        result = compare(store, *arguments)
        assert result.returncode == 2, (arguments, result.stdout)
        assert message in result.stderr and result.stderr.count("\n") == 1, (arguments, result.stderr)
        assert result.stdout == ""
    usage = compare(store, TINY, OTHER, "--resamples", "0")
    assert usage.returncode == 2 and "must be at least 1, not 0" in usage.stderr


def test_compare_from_the_command_line(evaluated):
    done = subprocess.run(
        [sys.executable, "-m", "results", "compare", TINY, OTHER, "--store", str(evaluated.path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"A = {TINY} (r1), B = {OTHER} (o1)"
    assert lines[1].split() == ["task", "n", "A", "B", "A-B", "95%", "CI", "of", "A-B", "p", "p", "(Holm)"]
    table = {line.split()[0]: line.split() for line in lines[2:5]}
    assert set(table) == set(DEMO_TASKS) and table[RETRIEVAL][1] == "200"
    assert np.isfinite([float(value) for value in table[RETRIEVAL][2:5]]).all()
    assert lines[5].startswith(f"verdict: {TINY} against {OTHER}: ") and lines[5].endswith("of 3 tasks")
    assert lines[6] == f"method: {statistics.COMPARE_METHOD}"
