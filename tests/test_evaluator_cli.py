"""`python -m evaluator` as a maintainer runs it, on a temporary store: its `main` in this process for usage and error
paths, and one real subprocess for the submit-then-worker flow."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from evaluator.cli import main
from evaluator.submissions import facts_from_folder, human_count
from results import jobs
from tests.cli import CliResult, imported_packages, run_in_process
from tests.conftest import REPO


def evaluator(*args: str, store=None, env: dict | None = None) -> CliResult:
    store_option = ["--store", str(store.path)] if store is not None else []
    return run_in_process(main, [*args, *store_option], env)


def evaluator_subprocess(
    *args: str, store, env: dict | None = None, python_options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *python_options, "-m", "evaluator", *args, "--store", str(store.path)],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
    )


def error_line(result: CliResult | subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def test_help_describes_every_command_and_each_has_its_own_help():
    result = evaluator("--help")
    assert result.returncode == 0
    for command in ("submit", "queue", "worker", "allow-remote-code", "run"):
        assert re.search(rf"^ {{4}}{re.escape(command)}\s+\w", result.stdout, re.MULTILINE), command
        own = evaluator(command, "--help")
        assert own.returncode == 0 and own.stdout.startswith(f"usage: python -m evaluator {command} ")


def test_an_empty_queue(empty_store):
    result = evaluator("queue", store=empty_store)
    assert (result.returncode, result.stdout.strip()) == (0, "the queue is empty")
    assert json.loads(evaluator("queue", "--json", store=empty_store).stdout) == []


def test_queue_lists_jobs_as_a_table_and_as_json(empty_store):
    jobs.enqueue(empty_store, jobs.NewJob("org/first", "main", ("task_a",), "task_a", submitter="ada"))
    second = jobs.enqueue(empty_store, jobs.NewJob("org/second", "v2", ("task_a", "task_b"), "demo"))
    claimed = jobs.claim(empty_store, "host:1", lease_s=60)
    jobs.fail(empty_store, claimed.id, claimed.lease_token, "ModelLoadError: org/first is not on the Hub")

    table = evaluator("queue", store=empty_store)
    assert table.returncode == 0
    header, newest, oldest = table.stdout.strip().splitlines()
    assert header.split()[:4] == ["id", "status", "model", "revision"]
    assert newest.split()[:5] == [str(second.id), "pending", "org/second", "v2", "demo"]
    assert oldest.split()[:3] == [str(claimed.id), "failed", "org/first"]
    assert oldest.endswith("ModelLoadError: org/first is not on the Hub")

    records = json.loads(evaluator("queue", "--json", "--status", "failed", store=empty_store).stdout)
    assert [(r["id"], r["status"], r["attempts"], r["submitter"]) for r in records] == [(claimed.id, "failed", 1, "ada")]
    assert "lease_token" not in records[0]


@pytest.mark.slow
def test_submit_refusals_are_one_line_errors(empty_store, tiny_model_path):
    malformed = evaluator("submit", "not a model id", store=empty_store)
    assert malformed.returncode == 1
    assert error_line(malformed).startswith("error: refused: 'not a model id' is not a Hub model id")

    too_big = evaluator("submit", "local/tiny", "--load-from", str(tiny_model_path), "--max-params", "1000",
                        store=empty_store)
    assert too_big.returncode == 1
    parameters = human_count(facts_from_folder(tiny_model_path).parameters)
    assert error_line(too_big).endswith(f"local/tiny has {parameters} parameters, over this leaderboard's limit of 1K")
    assert jobs.list_jobs(empty_store) == []


def test_submit_refuses_a_model_already_queued(empty_store):
    jobs.enqueue(empty_store, jobs.NewJob("org/model", "main", ("task_a",), "task_a"))
    result = evaluator("submit", "org/model", "--tasks", "demo", store=empty_store, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    assert error_line(result) == "error: refused: org/model at revision main is already in the queue (job #1, pending)"


def test_allow_remote_code(empty_store):
    first = evaluator("allow-remote-code", "org/custom", "--by", "maintainer", store=empty_store)
    assert (first.returncode, first.stdout.strip()) == (0, "org/custom may now run its own code in the worker")
    again = evaluator("allow-remote-code", "org/custom", store=empty_store)
    assert again.stdout.strip() == "org/custom was already allowed to run its own code in the worker"
    assert jobs.remote_code_allowed(empty_store, "org/custom")
    malformed = evaluator("allow-remote-code", "org/a/b", store=empty_store)
    assert malformed.returncode == 2 and "is not a Hub model id" in error_line(malformed)


def test_run_with_a_local_path_needs_a_name(empty_store, tiny_model_path):
    result = evaluator("run", "--model", str(tiny_model_path), "--tasks", "demo", store=empty_store)
    assert result.returncode == 2
    assert error_line(result) == (
        f"error: {tiny_model_path} is a local path: give the name to store its scores under with --name"
    )


def test_a_store_that_is_not_duckdb_is_a_clean_error(tmp_path):
    broken = tmp_path / "broken.duckdb"
    broken.write_text("not a database")
    result = run_in_process(main, ["queue", "--store", str(broken)])
    assert result.returncode == 2
    assert error_line(result).startswith(f"error: cannot open the store {broken}")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("arguments", [["submit"], ["run", "--tasks", "demo"], ["queue", "--status", "lost"]])
def test_usage_errors_exit_2(arguments, empty_store):
    assert evaluator(*arguments, store=empty_store).returncode == 2


def test_run_prints_the_scores_as_its_last_line_and_stores_them(empty_store, tiny_model_path):
    arguments = ["run", "--model", str(tiny_model_path), "--name", "local/tiny-cli", "--tasks", "demo_uspto_classification"]
    first = evaluator(*arguments, store=empty_store)
    assert first.returncode == 0, first.stderr
    scores = json.loads(first.stdout.strip().splitlines()[-1])
    stored = empty_store.main_scores().query("model == 'local/tiny-cli'").set_index("task")["value"]
    assert scores == {"demo_uspto_classification": pytest.approx(stored["demo_uspto_classification"])}
    assert stored.index.tolist() == ["demo_uspto_classification"]

    rows_before = empty_store.all_scores()
    again = evaluator(*arguments, store=empty_store)
    assert again.returncode == 0 and json.loads(again.stdout.strip().splitlines()[-1]) == scores
    assert empty_store.all_scores().equals(rows_before)


def test_run_errors_are_one_line(empty_store):
    unknown = evaluator("run", "--model", "org/model", "--tasks", "demo,nope", store=empty_store)
    assert unknown.returncode == 2 and error_line(unknown).startswith("error: unknown task(s) 'nope'")
    offline = evaluator("run", "--model", "org/not-downloaded", "--tasks", "demo_uspto_classification",
                        store=empty_store, env={"HF_HUB_OFFLINE": "1"})
    assert offline.returncode == 1
    assert error_line(offline).startswith("error: cannot load Hub model 'org/not-downloaded' at revision 'main'")
    assert "Traceback" not in offline.stderr


@pytest.mark.slow
def test_submit_then_one_worker_step_which_never_imports_ray(empty_store, tiny_model_path):
    submitted = evaluator_subprocess("submit", "local/tiny-queued", "--load-from", str(tiny_model_path),
                          "--tasks", "demo_uspto_classification", "--submitter", "ada", store=empty_store)
    assert submitted.returncode == 0, submitted.stderr
    assert submitted.stdout.startswith("queued job #1: local/tiny-queued @ main on 1 tasks (demo_uspto_classification)")

    worked = evaluator_subprocess("worker", "--once", store=empty_store, env={"OMP_NUM_THREADS": "1"},
                                  python_options=("-X", "importtime"))
    assert worked.returncode == 0, worked.stderr
    assert {"mteb", "sentence_transformers"} <= imported_packages(worked.stderr)
    assert "ray" not in imported_packages(worked.stderr), "an evaluation without --ray never imports ray"
    [job] = json.loads(evaluator("queue", "--json", store=empty_store).stdout)
    assert (job["status"], job["attempts"], job["submitter"]) == ("finished", 1, "ada")
    stored = empty_store.main_scores().query("model == 'local/tiny-queued'")
    assert job["result"] == {"demo_uspto_classification": pytest.approx(stored["value"].iloc[0])}

    idle = evaluator_subprocess("worker", "--once", store=empty_store)
    assert idle.returncode == 0 and "stopped after 0 jobs" in idle.stderr


@pytest.mark.slow
def test_run_with_bad_data_prints_one_line_per_bad_task_and_stores_the_others(empty_store, tiny_model_path, tmp_path):
    from patenteb.fixtures import write_patenteb_fixtures

    data = write_patenteb_fixtures(tmp_path / "data")
    shutil.rmtree(data / "retrieval_OUT")
    (data / "title2full" / "test" / "data.parquet").write_text("not parquet")
    result = evaluator(
        "run", "--model", str(tiny_model_path), "--name", "local/tiny-bad", "--tasks", "retrieval_OUT,title2full,para_problem",
        "--data-dir", str(data), store=empty_store,
    )
    assert result.returncode == 1
    naming = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert [line.split(":")[0:2] for line in naming] == [["error", " no data for retrieval_OUT (test split)"],
                                                       ["error", " title2full"]]
    assert f"{data / 'retrieval_OUT' / 'test' / 'data.parquet'} does not exist" in naming[0]
    assert f"{data / 'title2full' / 'test' / 'data.parquet'} is not a readable parquet file" in naming[1]
    assert list(json.loads(result.stdout.strip().splitlines()[-1])) == ["para_problem"]
    assert empty_store.main_scores().query("model == 'local/tiny-bad'")["task"].tolist() == ["para_problem"]


def test_run_on_a_device_this_machine_lacks_is_a_usage_error(empty_store, tiny_model_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = evaluator("run", "--model", str(tiny_model_path), "--name", "local/tiny", "--tasks", "demo",
                       "--device", "cuda", store=empty_store)
    assert result.returncode == 2
    assert error_line(result) == (
        "error: --device cuda, but torch sees no CUDA device here (torch.cuda.is_available() is False)"
    )
    assert empty_store.score_count("evaluated") == 0
