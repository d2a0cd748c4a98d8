"""Per-example scores: kept by a real mteb run of the demo benchmark (plus one symmetric retrieval, one pair
classification and one paraphrase task from the PatenTEB-shaped fixtures) with tiny random BERTs, stored in a real
DuckDB store, restored from the result files, and exported by the CLI.

Each family's own metric is recomputed independently from the stored rows and compared with the stored main
score, to mteb's rounding (retrieval metrics to 5 decimals, every score to 6 in the result file): the mean of
per-query NDCG@10, scikit-learn's macro-F1 of the stored gold and predicted labels, scipy's Pearson r of the
stored similarities and labels. Clustering's main score is mteb's
mean over bootstrap resamples, so the stored assignments (one k-means over every item) are checked against a
scikit-learn k-means on the same embeddings, and their V-measure is only checked to be a valid number.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics import f1_score, v_measure_score

from evaluator.embedding_cache import EmbeddingCache
from evaluator.runner import ModelSpec, run_evaluation
from evaluator.tasks import DEMO_TASKS
from evaluator.tasks.demo import demo_frames
from evaluator.tasks.retrieval import text_id
from patenteb.fixtures import write_patenteb_fixtures
from results import cli
from results.record import examples_file, result_files_of
from results.store import EXAMPLE_COLUMNS, Store
from tests.conftest import REPO

TINY, REVISION = "test/tiny-bert", "r1"
OTHER = "test/other-tiny-bert"
NOT_A_MODEL = "/nonexistent/model-folder"
RETRIEVAL_ROUNDING = 5.1e-6
RESULT_FILE_ROUNDING = 5.1e-7
FIXTURE_TASKS = ["retrieval_IN", "class_nli_oldnew", "para_problem"]
TASKS = [*DEMO_TASKS, *FIXTURE_TASKS]
EXPORTED_COLUMNS = [
    "model", "revision", "task", "split", "subset", "example_id", "metric", "value", "gold", "predicted", "retrieved"
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_patenteb_fixtures(tmp_path_factory.mktemp("patenteb") / "data")


@pytest.fixture(scope="module")
def evaluated(seeded_store_template, tiny_model_path, data_dir, tmp_path_factory):
    """Two tiny models: the first on every task of TASKS, a second (other random weights) on the demo."""
    from patenteb.shipped import patent_abstracts
    from patenteb.tiny_model import build_tiny_model

    folder = tmp_path_factory.mktemp("run")
    shutil.copy(seeded_store_template, folder / "store.duckdb")
    store = Store(folder / "store.duckdb")
    report = run_evaluation(store, ModelSpec(TINY, str(tiny_model_path), REVISION), TASKS, data_dir=data_dir)
    assert report.evaluated == TASKS
    other_path = build_tiny_model(folder / "other-tiny", patent_abstracts(500), seed=1)
    run_evaluation(store, ModelSpec(OTHER, str(other_path), "o1"), "demo")
    return store


def stored_score(store: Store, task: str, metric: str, model: str = TINY) -> float:
    scores = store.all_scores()
    row = scores[
        (scores["model"] == model) & (scores["task"] == task) & (scores["metric"] == metric)
        & (scores["provenance"] == "evaluated")
    ]
    assert len(row) == 1, (task, metric)
    return float(row["value"].iloc[0])


def examples(store: Store, task: str, model: str = TINY) -> pd.DataFrame:
    rows = store.example_scores(model=model, task=task)
    assert len(rows) > 0, task
    assert set(rows["split"]) == {"test"} and set(rows["subset"]) == {"default"}
    return rows


def embeddings(store: Store, texts) -> np.ndarray:
    return EmbeddingCache(store.embedding_cache_dir, TINY, REVISION).lookup(list(texts))


def test_retrieval_rows_are_per_query_ndcg_whose_mean_is_the_main_score(evaluated):
    for task in ("demo_uspto_retrieval", "retrieval_IN"):
        rows = examples(evaluated, task)
        assert set(rows["metric"]) == {"ndcg_at_10"} and rows["example_id"].is_unique
        assert rows["gold"].isna().all() and rows["predicted"].isna().all()
        assert rows["value"].between(0, 1).all()
        main_score = stored_score(evaluated, task, "ndcg_at_10")
        assert rows["value"].mean() == pytest.approx(main_score, abs=RETRIEVAL_ROUNDING)


def test_the_retrieved_documents_give_back_each_querys_ndcg(evaluated):
    demo = demo_frames()["demo_uspto_retrieval"]["test"]
    relevant = {f"q{key}": text_id(target) for key, target in zip(demo["q"], demo["rest"])}
    rows = examples(evaluated, "demo_uspto_retrieval")
    assert set(rows["example_id"]) == set(relevant)
    for query, retrieved, value in zip(rows["example_id"], rows["retrieved"], rows["value"]):
        ranking = retrieved.split(" ")
        assert len(ranking) == 10 and len(set(ranking)) == 10
        position = ranking.index(relevant[query]) if relevant[query] in ranking else None
        expected = 0.0 if position is None else 1 / math.log2(position + 2)
        assert value == pytest.approx(expected, abs=1e-9), query


def test_classification_rows_give_back_macro_f1_and_accuracy(evaluated, data_dir):
    test_rows = {
        "demo_uspto_classification": demo_frames()["demo_uspto_classification"]["test"].assign(t=None),
        "class_nli_oldnew": pd.read_parquet(data_dir / "class_nli_oldnew" / "test" / "data.parquet"),
    }
    for task, rows_of_data in test_rows.items():
        rows = examples(evaluated, task)
        assert set(rows["metric"]) == {"correct"} and set(rows["value"]) <= {0.0, 1.0}
        assert (rows["value"] == (rows["gold"] == rows["predicted"]).astype(float)).all()
        assert f1_score(rows["gold"], rows["predicted"], average="macro") == pytest.approx(
            stored_score(evaluated, task, "f1"), abs=RESULT_FILE_ROUNDING
        )
        accuracy = stored_score(evaluated, task, "accuracy")
        assert rows["value"].mean() == pytest.approx(accuracy, abs=RESULT_FILE_ROUNDING)
        ids = rows_of_data["q"].astype(str)
        if rows_of_data["t"].notna().all():
            ids = ids + "|" + rows_of_data["t"].astype(str)
        by_id = rows.set_index("example_id").loc[ids]
        assert len(by_id) == len(rows_of_data) == len(rows)
        assert list(by_id["gold"]) == [str(label) for label in rows_of_data["label"]]


def test_clustering_rows_are_one_k_means_over_every_item_with_a_valid_v_measure(evaluated):
    items = demo_frames()["demo_uspto_clustering"]["test"]
    rows = examples(evaluated, "demo_uspto_clustering").set_index("example_id").loc[items["q"].astype(str)]
    assert set(rows["metric"]) == {"cluster"}
    assert list(rows["gold"]) == list(items["cluster_id"].astype(str))
    assert (rows["predicted"] == rows["value"].astype(int).astype(str)).all()

    gold_labels = items["cluster_id"].nunique()
    kmeans = MiniBatchKMeans(n_clusters=gold_labels, batch_size=512, init="k-means++", n_init=1, random_state=42)
    expected = kmeans.fit_predict(embeddings(evaluated, items["text"]))
    assert list(rows["value"].astype(int)) == list(expected)

    v_measure = v_measure_score(rows["gold"], rows["predicted"])
    assert math.isfinite(v_measure) and 0.0 <= v_measure <= 1.0
    assert 0.0 <= stored_score(evaluated, "demo_uspto_clustering", "v_measure") <= 1.0


def test_paraphrase_rows_give_back_the_pearson_r_of_cosine_similarity(evaluated, data_dir):
    pairs = pd.read_parquet(data_dir / "para_problem" / "test" / "data.parquet")
    rows = examples(evaluated, "para_problem")
    assert set(rows["metric"]) == {"similarity"} and set(rows["gold"]) == {"0", "1"}
    assert list(rows["example_id"]) == sorted(pairs["q"].astype(str) + "|" + pairs["t"].astype(str))
    correlation = pearsonr(rows["value"], rows["gold"].astype(float)).statistic
    main_score = stored_score(evaluated, "para_problem", "cosine_pearson")
    assert correlation == pytest.approx(main_score, abs=RESULT_FILE_ROUNDING)

    by_id = rows.set_index("example_id")
    first, second = embeddings(evaluated, pairs["text1"]), embeddings(evaluated, pairs["text2"])
    cosine = np.sum(first * second, axis=1) / (np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1))
    pair_ids = pairs["q"].astype(str) + "|" + pairs["t"].astype(str)
    np.testing.assert_allclose(by_id.loc[pair_ids, "value"], cosine, atol=1e-5)
    assert list(by_id.loc[pair_ids, "gold"]) == [str(int(label)) for label in pairs["label"]]


def test_two_models_examples_pair_up_by_id(evaluated):
    for task in DEMO_TASKS:
        mine, theirs = examples(evaluated, task), examples(evaluated, task, model=OTHER)
        assert set(theirs["revision"]) == {"o1"}
        paired = mine.merge(theirs, on=["task", "split", "subset", "example_id", "metric"], suffixes=("", "_other"))
        assert len(paired) == len(mine) == len(theirs), task
    retrieval = examples(evaluated, "demo_uspto_retrieval")
    other = examples(evaluated, "demo_uspto_retrieval", model=OTHER)
    assert not np.allclose(retrieval["value"], other["value"]), "two random models rank differently"


def test_the_per_example_file_sits_beside_the_result_file_and_goes_to_the_record_with_it(evaluated):
    folder = evaluated.evaluations_dir / "results" / "test__tiny-bert" / REVISION
    for task in TASKS:
        result_path = folder / f"{task}.json"
        kept = pd.read_parquet(examples_file(result_path))
        stored = evaluated.example_scores(model=TINY, task=task)
        assert len(kept) == len(stored) and list(kept.columns) == list(EXAMPLE_COLUMNS[3:])
        pushed = result_files_of(result_path)
        assert f"evaluations/results/test__tiny-bert/{REVISION}/{task}.examples.parquet" in pushed


def test_a_task_restored_from_its_result_file_keeps_its_examples(evaluated):
    fresh = Store(evaluated.path.parent / "after-crash.duckdb")
    restored = run_evaluation(fresh, ModelSpec(TINY, NOT_A_MODEL, REVISION), ["demo_uspto_clustering", "para_problem"])
    assert restored.from_result_files == ["demo_uspto_clustering", "para_problem"] and not restored.evaluated
    for task in restored.from_result_files:
        pd.testing.assert_frame_equal(fresh.example_scores(task=task), evaluated.example_scores(model=TINY, task=task))


def test_writing_a_tasks_examples_again_replaces_them_whole_and_bad_rows_are_refused(empty_store):
    def rows(ids, value):
        return pd.DataFrame(
            {"model": "m", "revision": "r", "task": "para_problem", "split": "test", "subset": "default",
             "example_id": ids, "metric": "similarity", "value": value, "gold": "1"}
        )

    generation = empty_store.generation()
    assert empty_store.upsert_example_scores(rows(["a", "b", "c"], 0.5)) == 3
    assert empty_store.generation() == generation + 1
    assert empty_store.upsert_example_scores(rows(["a", "b"], 0.25)) == 2
    stored = empty_store.example_scores(model="m")
    assert list(stored["example_id"]) == ["a", "b"] and set(stored["value"]) == {0.25}
    assert list(stored.columns) == list(EXAMPLE_COLUMNS) and stored["retrieved"].isna().all()

    with pytest.raises(ValueError, match="duplicate per-example keys"):
        empty_store.upsert_example_scores(rows(["a", "a"], 0.1))
    with pytest.raises(ValueError, match="missing \\['example_id'\\]"):
        empty_store.upsert_example_scores(rows(["x"], 0.1).drop(columns=["example_id"]))
    with pytest.raises(ValueError, match="unknown \\['colour'\\]"):
        empty_store.upsert_example_scores(rows(["x"], 0.1).assign(colour="red"))
    assert list(empty_store.example_scores()["example_id"]) == ["a", "b"]


def test_export_per_example_csv_for_one_model_and_task(evaluated, tmp_path, capsys):
    out = tmp_path / "retrieval.csv"
    code = cli.main([
        "export", "--per-example", "--format", "csv", "--out", str(out), "--store", str(evaluated.path),
        "--model", TINY, "--task", "demo_uspto_retrieval",
    ])
    assert code == 0
    exported = pd.read_csv(out, dtype={"example_id": str})
    assert list(exported.columns) == EXPORTED_COLUMNS
    stored = evaluated.example_scores(model=TINY, task="demo_uspto_retrieval")
    assert len(exported) == len(stored) == 200
    assert set(exported["model"]) == {TINY} and set(exported["task"]) == {"demo_uspto_retrieval"}
    np.testing.assert_allclose(exported["value"], stored["value"])
    assert exported["gold"].isna().all() and exported["retrieved"].str.split(" ").str.len().eq(10).all()
    assert f"wrote 200 per-example rows to {out}" in capsys.readouterr().out


def test_export_per_example_parquet_from_the_command_line(evaluated, tmp_path):
    out = tmp_path / "all.parquet"
    done = subprocess.run(
        [sys.executable, "-m", "results", "export", "--per-example", "--format", "parquet", "--out", str(out),
         "--store", str(evaluated.path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    exported = pd.read_parquet(out)
    pd.testing.assert_frame_equal(exported, evaluated.example_scores())
    assert set(TASKS) <= set(exported["task"]) and {TINY, OTHER} <= set(exported["model"])


def test_export_without_per_example_data_says_why_and_exits_2(evaluated, empty_store, tmp_path, capsys):
    out = tmp_path / "none.csv"
    empty = ["export", "--per-example", "--format", "csv", "--out", str(out), "--store", str(empty_store.path)]
    assert cli.main(empty) == 2
    assert "no per-example scores in" in capsys.readouterr().err and not out.exists()

    arguments = ["export", "--per-example", "--format", "csv", "--out", str(out), "--store", str(evaluated.path)]
    assert cli.main([*arguments, "--model", "nobody/none"]) == 2
    error = capsys.readouterr().err
    assert "no per-example scores for model 'nobody/none'" in error and "Traceback" not in error
    assert cli.main([*arguments, "--task", "class_bloom"]) == 2
    assert "for task 'class_bloom'" in capsys.readouterr().err and not out.exists()
