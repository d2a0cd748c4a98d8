"""The runner on the whole PatenTEB benchmark: a tiny random BERT on PatenTEB-shaped fixtures, a real store.

Main scores are checked against independent computations from the embeddings mteb received (read back from
the embedding cache): NDCG@10 with numpy, V-measure with scikit-learn, Pearson r with scipy.
"""

from __future__ import annotations

import json
import math
import random
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics import v_measure_score

from evaluator.embedding_cache import EmbeddingCache
from evaluator.runner import ModelLoadError, ModelSpec, resolve_tasks, run_evaluation
from evaluator import cli
from evaluator.tasks import PATENTEB_TASKS, build_task
from leaderboard import views as v
from leaderboard.tables import build_table, choose_cells, prepare_board
from results.vocabulary import NO_PROMPTS_VARIANT
from tests.cli import run_in_process
from results.store import Store
from patenteb.fixtures import write_patenteb_fixtures

TINY = "test/tiny-bert"
REVISION = "r1"
NOT_A_MODEL = "/nonexistent/model-folder"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_patenteb_fixtures(tmp_path_factory.mktemp("patenteb") / "data")


@pytest.fixture(scope="module")
def benchmark_run(seeded_store_template, tiny_model_path, data_dir, tmp_path_factory):
    """The whole benchmark, evaluated once for this module."""
    folder = tmp_path_factory.mktemp("run")
    shutil.copy(seeded_store_template, folder / "store.duckdb")
    store = Store(folder / "store.duckdb")
    calls = []
    report = run_evaluation(
        store, ModelSpec(TINY, str(tiny_model_path), REVISION), "PatenTEB", data_dir=data_dir,
        progress=lambda task, done, total: calls.append((task, done, total)),
    )
    return store, report, calls


def evaluated_rows(store: Store, model: str = TINY) -> pd.DataFrame:
    scores = store.all_scores()
    return scores[(scores["model"] == model) & (scores["provenance"] == "evaluated")]


def main_score(store: Store, task: str) -> float:
    scores = store.main_scores()
    row = scores[(scores["model"] == TINY) & (scores["task"] == task) & (scores["provenance"] == "evaluated")]
    assert len(row) == 1
    return float(row["value"].iloc[0])


def embeddings(store: Store, texts) -> np.ndarray:
    return EmbeddingCache(store.embedding_cache_dir, TINY, REVISION).lookup(list(texts))


def test_the_whole_benchmark_writes_fifteen_main_scores_and_every_metric(benchmark_run):
    store, report, calls = benchmark_run
    assert list(report.scores) == list(PATENTEB_TASKS) == report.evaluated
    assert [call[0] for call in calls] == list(PATENTEB_TASKS)
    assert [call[1:] for call in calls] == [(done, 15) for done in range(1, 16)]

    main = store.main_scores()
    main = main[(main["model"] == TINY) & (main["provenance"] == "evaluated")].set_index("task")["value"]
    assert sorted(main.index) == sorted(PATENTEB_TASKS)
    for task, value in report.scores.items():
        assert value == pytest.approx(main[task])
        low = -1.0 if task.startswith("para_") else 0.0
        assert low <= value <= 1.0 and math.isfinite(value), task

    rows = evaluated_rows(store)
    metrics = rows.groupby("task")["metric"].apply(set)
    assert {"ndcg_at_10", "map_at_10", "recall_at_100", "mrr_at_10"} <= metrics["retrieval_IN"]
    assert {"f1", "accuracy", "f1_weighted", "precision", "recall"} <= metrics["class_bloom"]
    assert {"v_measure", "v_measure_std"} <= metrics["clusters_inventor"]
    assert {"cosine_pearson", "cosine_spearman", "pearson", "spearman"} <= metrics["para_problem"]
    assert rows["source"].str.startswith("evaluated by the PatenTEB worker with mteb").all()
    assert rows["notes"].str.contains("data: local folder").all()
    assert rows["evaluated_at"].notna().all() and rows["mteb_version"].notna().all()
    assert rows["prompt"].isna().all()

    model_row = store.models().set_index("model").loc[TINY]
    assert model_row["embedding_dim"] == 32 and model_row["max_tokens"] == 128 and not model_row["uses_prompts"]
    result_folder = store.evaluations_dir / "results" / "test__tiny-bert" / REVISION
    result_files = [path.stem for path in result_folder.glob("*.json") if path.name != "model_meta.json"]
    assert sorted(result_files) == sorted(PATENTEB_TASKS)


def test_every_score_names_the_dataset_revision_of_the_rows_it_ran_on(benchmark_run, data_dir, tmp_path):
    store, _, _ = benchmark_run
    revisions = evaluated_rows(store).groupby("task")["dataset_revision"].agg(set)
    assert all(len(names) == 1 for names in revisions), revisions
    revision_of = {task: next(iter(names)) for task, names in revisions.items()}
    assert all(name.startswith("sha256:") for name in revision_of.values())
    assert len(set(revision_of.values())) == len(PATENTEB_TASKS)

    changed = tmp_path / "data"
    shutil.copytree(data_dir, changed)
    rows = pd.read_parquet(changed / "para_problem" / "test" / "data.parquet")
    rows.loc[0, "label"] = 1 - rows.loc[0, "label"]
    rows.to_parquet(changed / "para_problem" / "test" / "data.parquet", index=False)

    def revision_on(folder, task: str) -> str:
        built = build_task(task, folder)
        built.load_data()
        return built.dataset_revision()

    assert revision_on(data_dir, "para_problem") == revision_of["para_problem"]
    assert revision_on(changed, "para_problem") != revision_of["para_problem"]
    assert revision_on(changed, "para_solution") == revision_of["para_solution"]


def test_ndcg_at_10_matches_a_numpy_computation_from_the_same_embeddings(benchmark_run, data_dir):
    store, _, _ = benchmark_run
    rows = pd.read_parquet(data_dir / "retrieval_IN" / "test" / "data.parquet")
    queries = list(dict.fromkeys(rows["q_text"]))
    corpus = list(dict.fromkeys([*rows["pos_text"], *rows["neg_text"]]))
    positives = rows.groupby("q_text")["pos_text"].apply(set)
    similarity = embeddings(store, queries) @ embeddings(store, corpus).T

    ndcgs = []
    for query_index, query in enumerate(queries):
        relevant = positives[query] - {query}
        if not relevant:
            continue
        ranking = [corpus[i] for i in np.argsort(-similarity[query_index]) if corpus[i] != query][:10]
        dcg = sum(1 / math.log2(rank + 2) for rank, document in enumerate(ranking) if document in relevant)
        ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(relevant), 10)))
        ndcgs.append(dcg / ideal)
    assert len(ndcgs) > 10
    assert main_score(store, "retrieval_IN") == pytest.approx(np.mean(ndcgs), abs=1e-4)


def test_asymmetric_ndcg_at_10_matches_numpy_too(benchmark_run, data_dir):
    store, _, _ = benchmark_run
    rows = pd.read_parquet(data_dir / "problem2solution" / "test" / "data.parquet")
    corpus = list(dict.fromkeys(rows["solution"]))
    similarity = embeddings(store, rows["problem"]) @ embeddings(store, corpus).T
    ndcgs = []
    for query_index, target in enumerate(rows["solution"]):
        rank = int(np.sum(similarity[query_index] > similarity[query_index, corpus.index(target)]))
        ndcgs.append(1 / math.log2(rank + 2) if rank < 10 else 0.0)
    assert main_score(store, "problem2solution") == pytest.approx(np.mean(ndcgs), abs=1e-4)


def test_v_measure_matches_scikit_learn_on_the_documented_bootstrap(benchmark_run, data_dir):
    store, _, _ = benchmark_run
    rows = pd.read_parquet(data_dir / "clusters_inventor" / "test" / "data.parquet")
    vectors = embeddings(store, rows["text"])
    labels = rows["cluster_id"].to_numpy()
    sampler = random.Random(42)
    v_measures = []
    for _ in range(10):
        sample = sampler.choices(range(len(rows)), k=len(rows))
        kmeans = MiniBatchKMeans(n_clusters=len(set(labels)), batch_size=512, n_init=1, random_state=42)
        v_measures.append(v_measure_score(labels[sample], kmeans.fit_predict(vectors[sample])))
    assert main_score(store, "clusters_inventor") == pytest.approx(np.mean(v_measures), abs=1e-5)


def test_paraphrase_pearson_matches_scipy(benchmark_run, data_dir):
    store, _, _ = benchmark_run
    rows = pd.read_parquet(data_dir / "para_problem" / "test" / "data.parquet")
    first, second = embeddings(store, rows["text1"]), embeddings(store, rows["text2"])
    cosine = np.sum(first * second, axis=1) / (np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1))
    assert main_score(store, "para_problem") == pytest.approx(pearsonr(cosine, rows["label"]).statistic, abs=1e-5)


def test_the_embedding_cache_saved_encodes_and_holds_what_the_model_gives(benchmark_run, data_dir, tiny_model_path):
    from sentence_transformers import SentenceTransformer

    store, report, _ = benchmark_run
    assert 0 < report.texts_encoded < report.texts_requested
    texts = pd.read_parquet(data_dir / "class_bloom" / "test" / "data.parquet")["text"].tolist()[:5]
    direct = SentenceTransformer(str(tiny_model_path), device="cpu").encode(texts)
    np.testing.assert_allclose(embeddings(store, texts), direct, atol=1e-5)


def test_a_rerun_recomputes_nothing_and_duplicates_no_row(benchmark_run):
    store, report, _ = benchmark_run
    before = evaluated_rows(store).sort_values(["task", "metric"]).reset_index(drop=True)
    never_loaded = ModelSpec(TINY, NOT_A_MODEL, REVISION)
    again = run_evaluation(store, never_loaded, "PatenTEB")
    assert again.from_store == list(PATENTEB_TASKS) and not again.evaluated and again.texts_requested == 0
    assert again.scores == pytest.approx(report.scores, nan_ok=True)
    after = evaluated_rows(store).sort_values(["task", "metric"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)


def test_a_task_whose_rows_missed_the_store_is_restored_from_its_result_file(benchmark_run):
    store, report, _ = benchmark_run
    fresh = Store(store.path.parent / "after-crash.duckdb")
    restored = run_evaluation(fresh, ModelSpec(TINY, NOT_A_MODEL, REVISION), ["retrieval_IN", "para_problem"])
    assert restored.from_result_files == ["retrieval_IN", "para_problem"] and not restored.evaluated
    assert restored.scores == pytest.approx({task: report.scores[task] for task in restored.scores})
    assert len(fresh.all_scores()) == len(evaluated_rows(store).query("task in ['retrieval_IN', 'para_problem']"))
    original = evaluated_rows(store).query("task in ['retrieval_IN', 'para_problem']")
    assert fresh.all_scores().groupby("task")["dataset_revision"].agg(set).to_dict() == \
        original.groupby("task")["dataset_revision"].agg(set).to_dict()


def test_texts_encoded_before_a_crash_are_not_encoded_again(benchmark_run, tiny_model_path, data_dir):
    store, report, _ = benchmark_run
    result_file = store.evaluations_dir / "results" / "test__tiny-bert" / REVISION / "title2full.json"
    result_file.rename(result_file.with_suffix(".lost"))
    fresh = Store(store.path.parent / "second-crash.duckdb")
    rerun = run_evaluation(fresh, ModelSpec(TINY, str(tiny_model_path), REVISION), ["title2full"], data_dir=data_dir)
    assert rerun.evaluated == ["title2full"]
    assert rerun.texts_requested > 0 and rerun.texts_encoded == 0
    assert rerun.scores["title2full"] == pytest.approx(report.scores["title2full"])


def test_a_result_file_cut_short_by_a_killed_worker_is_evaluated_again(benchmark_run, tiny_model_path, data_dir):
    store, report, _ = benchmark_run
    folder = store.evaluations_dir / "results" / "test__tiny-bert" / REVISION
    result_file = folder / "para_solution.json"
    result_file.write_bytes(result_file.read_bytes()[: result_file.stat().st_size // 2])
    with (folder / "evaluated_with.jsonl").open("a", encoding="utf-8") as notes:
        notes.write('{"task": "para_solution", "model": "test/ti')
    fresh = Store(store.path.parent / "after-a-cut-file.duckdb")
    rerun = run_evaluation(fresh, ModelSpec(TINY, str(tiny_model_path), REVISION), ["para_solution"], data_dir=data_dir)
    assert rerun.evaluated == ["para_solution"] and rerun.texts_encoded == 0
    assert rerun.scores["para_solution"] == pytest.approx(report.scores["para_solution"])
    assert json.loads(result_file.read_text())["task_name"] == "para_solution"


@pytest.mark.slow
def test_the_models_own_prompts_run_and_are_recorded(empty_store, data_dir, tmp_path):
    from sentence_transformers import SentenceTransformer

    from patenteb.shipped import patent_abstracts
    from patenteb.tiny_model import build_tiny_model

    query_prompt, document_prompt = "encode query for same document retrieval: ", "encode document for same retrieval: "
    path = build_tiny_model(
        tmp_path / "prompted",
        patent_abstracts(300),
        prompts={"retrieval_IN": {"q_text": query_prompt, "pos_text": document_prompt}, "class_bloom": "timing: "},
    )
    tasks = ["retrieval_IN", "class_bloom", "para_problem"]
    run_evaluation(empty_store, ModelSpec("test/prompted", str(path), "p1"), tasks, data_dir=data_dir)

    recorded = evaluated_rows(empty_store, "test/prompted").groupby("task")["prompt"].unique()
    assert json.loads(recorded["retrieval_IN"][0]) == {"query": query_prompt, "document": document_prompt}
    assert json.loads(recorded["class_bloom"][0]) == {"text": "timing: "}
    assert pd.isna(recorded["para_problem"][0])
    assert bool(empty_store.models().set_index("model").loc["test/prompted", "uses_prompts"])

    query = pd.read_parquet(data_dir / "retrieval_IN" / "test" / "data.parquet")["q_text"].iloc[0]
    cache = EmbeddingCache(empty_store.embedding_cache_dir, "test/prompted", "p1")
    model = SentenceTransformer(str(path), device="cpu")
    cached = cache.lookup([query], prompt=query_prompt)
    np.testing.assert_allclose(cached, model.encode([query_prompt + query]), atol=1e-5)
    assert not np.allclose(cached, model.encode([query]), atol=1e-3)

    variant = "test/prompted" + NO_PROMPTS_VARIANT
    done = run_in_process(cli.main, ["run", "--model", str(path), "--name", "test/prompted", "--tasks", ",".join(tasks),
                                     "--data-dir", str(data_dir), "--no-prompts", "--store", str(empty_store.path)])
    assert done.returncode == 0, done.stderr
    without = evaluated_rows(empty_store, variant)
    assert set(without["task"]) == set(tasks) and without["prompt"].isna().all()
    assert not empty_store.models().set_index("model").loc[variant, "uses_prompts"]
    plain = EmbeddingCache(empty_store.embedding_cache_dir, variant, "local").lookup([query])
    np.testing.assert_allclose(plain, model.encode([query]), atol=1e-5)

    snapshot = empty_store.snapshot()
    main_scores = snapshot.scores.query("provenance == 'evaluated'").pivot(index="task", columns="model", values="value")
    expected = (main_scores["test/prompted"].mean() - main_scores[variant].mean()) * 100
    board = prepare_board(choose_cells(snapshot.scores), snapshot.tasks, snapshot.models)
    effect = build_table(board, "overall").frame.set_index(v.MODEL)[v.PROMPT_EFFECT]
    assert effect["test/prompted"] == effect[variant] == pytest.approx(expected) and expected != 0


def test_missing_data_is_reported_before_the_model_is_loaded(empty_store, tmp_path):
    report = run_evaluation(empty_store, ModelSpec("test/x", NOT_A_MODEL, "r"), ["retrieval_IN"], data_dir=tmp_path)
    assert list(report.problems) == ["retrieval_IN"] and not report.scores
    assert f"{tmp_path}/retrieval_IN/test/data.parquet does not exist" in report.problems["retrieval_IN"]
    assert empty_store.score_count() == 0


def test_external_tasks_come_from_mteb_and_need_the_hub(empty_store):
    report = run_evaluation(empty_store, ModelSpec("test/x", NOT_A_MODEL, "r"), ["BigPatentClustering.v2"])
    assert report.problems["BigPatentClustering.v2"].startswith(
        "cannot load the data of BigPatentClustering.v2 (mteb/big-patent) from the Hub"
    )
    assert "BigPatentClustering.v2" in set(empty_store.tasks()["task"])


@pytest.fixture
def broken_data_dir(data_dir, tmp_path):
    """The fixtures with four tasks broken in four ways; para_problem stays good."""
    broken = tmp_path / "broken"
    shutil.copytree(data_dir, broken)
    shutil.rmtree(broken / "retrieval_OUT")
    paraphrases = broken / "para_solution" / "test" / "data.parquet"
    pd.read_parquet(paraphrases).drop(columns=["text2"]).to_parquet(paraphrases)
    clusters = broken / "clusters_inventor" / "test" / "data.parquet"
    pd.read_parquet(clusters).head(0).to_parquet(clusters)
    (broken / "title2full" / "test" / "data.parquet").write_text("title,full\nnot,parquet\n")
    return broken


BROKEN_TASKS = ["retrieval_OUT", "para_solution", "clusters_inventor", "title2full"]


def test_bad_data_names_the_task_and_file_writes_nothing_for_it_and_the_other_tasks_run(
    empty_store, tiny_model_path, broken_data_dir
):
    report = run_evaluation(
        empty_store, ModelSpec(TINY, str(tiny_model_path), REVISION), [*BROKEN_TASKS, "para_problem"],
        data_dir=broken_data_dir,
    )
    assert list(report.scores) == report.evaluated == ["para_problem"]
    assert list(report.problems) == BROKEN_TASKS
    file_of = {task: broken_data_dir / task / "test" / "data.parquet" for task in BROKEN_TASKS}
    assert report.problems["retrieval_OUT"].startswith(
        f"no data for retrieval_OUT (test split): {file_of['retrieval_OUT']} does not exist"
    )
    assert report.problems["para_solution"].startswith(
        f"para_solution: {file_of['para_solution']} lacks the column(s) ['text2']"
    )
    assert report.problems["clusters_inventor"] == f"clusters_inventor: {file_of['clusters_inventor']} has no rows"
    assert report.problems["title2full"].startswith(f"title2full: {file_of['title2full']} is not a readable parquet file (")
    assert all("\n" not in problem for problem in report.problems.values())

    assert set(evaluated_rows(empty_store)["task"]) == {"para_problem"}
    assert empty_store.evaluation_costs()["task"].tolist() == ["para_problem"]
    result_files = {path.stem for path in empty_store.evaluations_dir.rglob("*.json") if path.name != "model_meta.json"}
    assert result_files == {"para_problem"}


def test_each_evaluated_task_records_what_it_cost(benchmark_run):
    store, report, _ = benchmark_run
    costs = store.evaluation_costs()
    assert sorted(costs["task"]) == sorted(PATENTEB_TASKS) == sorted(report.costs)
    assert set(costs["model"]) == {TINY} and set(costs["revision"]) == {REVISION}
    assert set(costs["device"]) == {"cpu"} and set(costs["precision"]) == {"float32"}
    assert set(costs["batch_size"]) == {32} and set(costs["memory_kind"]) == {"peak_rss"}
    assert costs["device_name"].str.len().min() > 0 and (costs["threads"] >= 1).all()
    assert costs["texts_encoded"].sum() == report.texts_encoded and costs["texts_requested"].sum() == report.texts_requested
    encoded = costs[costs["texts_encoded"] > 0]
    assert (encoded["encode_s"] > 0).all()
    assert encoded["texts_per_s"].to_numpy() == pytest.approx((encoded["texts_encoded"] / encoded["encode_s"]).to_numpy())
    assert (costs["peak_memory_gib"] > 0.05).all() and (costs["wall_s"] >= costs["encode_s"]).all()
    assert costs["evaluated_at"].notna().all()
    assert (costs["texts_encoded"] <= costs["texts_requested"]).all() and costs["texts_encoded"].iloc[0] > 0


def test_a_model_that_cannot_load_is_a_model_load_error(empty_store, data_dir):
    with pytest.raises(ModelLoadError, match="cannot load Hub model '/nonexistent/model-folder'"):
        run_evaluation(empty_store, ModelSpec("test/x", NOT_A_MODEL, "r"), ["para_solution"], data_dir=data_dir)


def test_task_selections_resolve_or_fail_clearly():
    assert resolve_tasks("PatenTEB") == list(PATENTEB_TASKS)
    assert resolve_tasks("demo,retrieval_IN, demo") == [
        "demo_uspto_retrieval", "demo_uspto_clustering", "demo_uspto_classification", "retrieval_IN"
    ]
    assert resolve_tasks(["external"])[0] == "BigPatentClustering.v2"
    with pytest.raises(ValueError, match=r"'retrieval_in' \(did you mean 'retrieval_IN'\?\), 'nope';"):
        resolve_tasks(["retrieval_in", "nope"])


def test_a_float16_submission_runs_in_float32_on_a_cpu_and_says_so(empty_store, tiny_model_path, data_dir):
    model = ModelSpec("test/half", str(tiny_model_path), "h1", precision="float16")
    report = run_evaluation(empty_store, model, ["para_problem"], data_dir=data_dir, device="cpu", batch_size=7)
    cost = report.costs["para_problem"]
    assert (cost.device, cost.precision, cost.batch_size) == ("cpu", "float32", 7)
    assert evaluated_rows(empty_store, "test/half")["notes"].str.endswith("precision: float32").all()


def test_model_specs_refuse_bad_input():
    with pytest.raises(ValueError, match="precision"):
        ModelSpec("org/m", "org/m", "main", precision="int4")
    with pytest.raises(ValueError, match="revision"):
        ModelSpec("org/m", "org/m", " ")
    assert ModelSpec("my-model", "/tmp", "local").mteb_name == "local/my-model"
