"""`python -m evaluator` as a maintainer runs it: real subprocesses on a temporary store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evaluator.queue import facts_from_folder, human_count
from results import queue

REPO = Path(__file__).resolve().parent.parent


def evaluator(*args: str, store=None, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "evaluator", *args]
    if store is not None:
        command += ["--store", str(store.path)]
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def test_help_lists_every_command():
    result = evaluator("--help")
    assert result.returncode == 0
    for command in ("submit", "queue", "worker", "allow-remote-code", "run"):
        assert command in result.stdout


def test_an_empty_queue(empty_store):
    result = evaluator("queue", store=empty_store)
    assert (result.returncode, result.stdout.strip()) == (0, "the queue is empty")
    assert json.loads(evaluator("queue", "--json", store=empty_store).stdout) == []


def test_queue_lists_jobs_as_a_table_and_as_json(empty_store):
    queue.enqueue(empty_store, queue.NewJob("org/first", "main", ("task_a",), "task_a", submitter="ada"))
    second = queue.enqueue(empty_store, queue.NewJob("org/second", "v2", ("task_a", "task_b"), "demo"))
    claimed = queue.claim(empty_store, "host:1", lease_s=60)
    queue.fail(empty_store, claimed.id, claimed.lease_token, "ModelLoadError: org/first is not on the Hub")

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


def test_submit_refusals_are_one_line_errors(empty_store, tiny_model_path):
    malformed = evaluator("submit", "not a model id", store=empty_store)
    assert malformed.returncode == 1
    assert error_line(malformed).startswith("error: refused: 'not a model id' is not a Hub model id")

    too_big = evaluator("submit", "local/tiny", "--load-from", str(tiny_model_path), "--max-params", "1000",
                        store=empty_store)
    assert too_big.returncode == 1
    parameters = human_count(facts_from_folder(tiny_model_path).parameters)
    assert error_line(too_big).endswith(f"local/tiny has {parameters} parameters, over this leaderboard's limit of 1K")
    assert queue.list_jobs(empty_store) == []


def test_submit_refuses_a_model_already_queued(empty_store):
    queue.enqueue(empty_store, queue.NewJob("org/model", "main", ("task_a",), "task_a"))
    result = evaluator("submit", "org/model", "--tasks", "demo", store=empty_store, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    assert error_line(result) == "error: refused: org/model at revision main is already in the queue (job #1, pending)"


def test_allow_remote_code(empty_store):
    first = evaluator("allow-remote-code", "org/custom", "--by", "maintainer", store=empty_store)
    assert (first.returncode, first.stdout.strip()) == (0, "org/custom may now run its own code in the worker")
    again = evaluator("allow-remote-code", "org/custom", store=empty_store)
    assert again.stdout.strip() == "org/custom was already allowed to run its own code in the worker"
    assert queue.remote_code_allowed(empty_store, "org/custom")
    malformed = evaluator("allow-remote-code", "org/a/b", store=empty_store)
    assert malformed.returncode == 2 and "is not a Hub model id" in error_line(malformed)


def test_run_with_a_local_path_needs_a_name(empty_store, tiny_model_path):
    result = evaluator("run", "--model", str(tiny_model_path), "--tasks", "demo", store=empty_store)
    assert result.returncode == 2
    assert error_line(result) == f"error: {tiny_model_path} is a local path: give the name to store its scores under with --name"


def test_a_store_that_is_not_duckdb_is_a_clean_error(tmp_path):
    broken = tmp_path / "broken.duckdb"
    broken.write_text("not a database")
    result = subprocess.run(
        [sys.executable, "-m", "evaluator", "queue", "--store", str(broken)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert error_line(result).startswith(f"error: cannot open the store {broken}")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("arguments", [["submit"], ["run", "--tasks", "demo"], ["queue", "--status", "lost"]])
def test_usage_errors_exit_2(arguments, empty_store):
    assert evaluator(*arguments, store=empty_store).returncode == 2
