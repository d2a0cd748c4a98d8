"""The app's own worker, killed with SIGKILL mid-job: the app replaces it, hands the job to the new worker at once
(not after the 300 s lease), and the job finishes exactly once with every score row of the demo tasks.

Everything is real: `python app.py` with its supervised worker, the evaluator CLI, mteb on the demo tasks, a tiny
random BERT, the Submit tab's queue endpoint over HTTP (gradio_client).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench.faults import audit_jobs, worker_is_alive
from evaluator.runner import resolve_tasks
from results import jobs
from results.store import Store
from tests.api_app import write_corpus
from tests.browser import running_app
from tests.conftest import REPO

MODEL = "local/tiny-supervised"
PATIENCE_S = 240


def wait_for(condition, what: str, patience_s: float = PATIENCE_S):
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"no {what} within {patience_s} s")


def app_worker_pids(store_path: Path) -> set[int]:
    """Live worker processes the app started for this store (children of `app.py --store store_path`)."""
    pids = set()
    for process in psutil.process_iter(["cmdline"]):
        command = process.info["cmdline"] or []
        if command[-2:] == ["--store", str(store_path)] and "worker" in command:
            try:
                parent = process.parent()
                if parent and "app.py" in " ".join(parent.cmdline()) and process.status() != psutil.STATUS_ZOMBIE:
                    pids.add(process.pid)
            except psutil.NoSuchProcess:
                pass
    return pids


def submit_demo_job(store_path: Path, model_folder: Path) -> int:
    submitted = subprocess.run(
        [sys.executable, "-m", "evaluator", "submit", MODEL, "--load-from", str(model_folder), "--tasks", "demo",
         "--submitter", "ada", "--store", str(store_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert submitted.returncode == 0, submitted.stderr
    return int(re.match(r"queued job #(\d+):", submitted.stdout).group(1))


def queue_worker_line(url: str) -> str:
    from gradio_client import Client

    *_, worker_line = Client(url, verbose=False).predict(statuses=["running"], api_name="/queue")
    return worker_line


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_its_job_finishes_once_with_every_score(
    seeded_store_template, tiny_model_path, tmp_path
):
    store_path = (tmp_path / "store.duckdb").resolve()
    shutil.copy(seeded_store_template, store_path)
    store = Store(store_path, record=None)
    registry = tmp_path / "models.toml"
    registry.write_text('[[models]]\nname = "bm25"\nkind = "bm25"\ndefault = true\n')
    env = {
        "MTEB_CACHE": str(tmp_path / "mteb"), "HF_HOME": str(tmp_path / "hf"), "OMP_NUM_THREADS": "1",
        "PATENTEB_EXPLORER_CORPUS": str(write_corpus(tmp_path / "patents.jsonl")),
        "PATENTEB_EXPLORER_MODELS": str(registry),
    }
    demo_tasks = set(resolve_tasks("demo"))

    with running_app(store_path, tmp_path / "app.log", env) as url:
        [first] = wait_for(lambda: app_worker_pids(store_path), "worker started by the app")
        first_name = f"{socket.gethostname()}:{first}"
        job_id = submit_demo_job(store_path, tiny_model_path)
        wait_for(lambda: jobs.get_job(store, job_id).worker == first_name, f"claim of job #{job_id} by pid {first}")

        os.kill(first, signal.SIGKILL)
        [second] = wait_for(lambda: app_worker_pids(store_path) - {first}, "replacement worker")
        handed_back = wait_for(
            lambda: ((job := jobs.get_job(store, job_id)).status != "running" or job.worker != first_name) and job,
            "hand-back of the killed job", patience_s=60,
        )
        assert f"({first_name}) ended: killed by SIGKILL; it will be retried" in handed_back.error
        assert "restarted 1× (last: killed by SIGKILL)" in queue_worker_line(url)

        finished = wait_for(
            lambda: (job := jobs.get_job(store, job_id)).status in ("finished", "failed") and job, f"end of job #{job_id}"
        )
        assert app_worker_pids(store_path) == {second}
        assert f"worker running (pid {second}" in queue_worker_line(url)

    assert (finished.status, finished.attempts, finished.worker) == ("finished", 2, f"{socket.gethostname()}:{second}")
    assert set(finished.result) == demo_tasks
    audits = audit_jobs(store, (tmp_path / "app.log").read_text())
    [audit] = [audit for audit in audits if audit.job.id == job_id]
    assert audit.finish_lines == 1 and audit.lost_lines == 0 and audit.finished_once
    assert (audit.duplicate_rows, audit.missing_rows, audit.unexpected_rows, audit.unreadable_files) == (0, 0, 0, ())
    evaluated = store.all_scores().query("model == @MODEL and provenance == 'evaluated'")
    assert set(evaluated["task"]) == demo_tasks
    assert not [audit.job.id for audit in audits if audit.stuck], "a job is left running without a live lease"
    assert not worker_is_alive(finished.worker), "the app's worker outlived the app"
