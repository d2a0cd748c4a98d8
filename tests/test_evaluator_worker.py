"""The worker on real jobs: the real runner, the demo tasks, a tiny real BERT, real worker processes."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evaluator.worker import Worker
from results import jobs
from results.mteb_files import read_result_file
from results.store import SCORE_KEY
from tests.conftest import REPO

RETRIEVAL, CLUSTERING, CLASSIFICATION = "demo_uspto_retrieval", "demo_uspto_clustering", "demo_uspto_classification"
WORKER_ENV = {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def local_job(store, model_path: Path, name: str, tasks: tuple[str, ...]) -> jobs.Job:
    return jobs.enqueue(store, jobs.NewJob(name, "local", tasks, ",".join(tasks), load_from=str(model_path)))


def start_worker(store, name: str, *options: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "evaluator", "worker", "--store", str(store.path), "--name", name, *options],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=log.open("w"), env={**os.environ, **WORKER_ENV},
    )


def evaluated_rows(connection, model: str):
    return connection.execute(
        f"SELECT * FROM scores WHERE model = ? AND provenance = 'evaluated' ORDER BY {', '.join(SCORE_KEY)}", [model]
    ).df()


def wait_for(condition, timeout_s: float, what: str, poll_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value is not None and value is not False:
            return value
        time.sleep(poll_s)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def test_a_step_evaluates_the_job_and_records_its_scores(empty_store, tiny_model_path):
    job = local_job(empty_store, tiny_model_path, "local/tiny-step", (CLASSIFICATION,))
    outcome = Worker(empty_store, name="in-process", lease_s=30).step()
    assert (outcome.job.id, outcome.status, outcome.error) == (job.id, "finished", None)
    finished = jobs.get_job(empty_store, job.id)
    assert (finished.status, finished.attempts, finished.worker) == ("finished", 1, "in-process")
    main = empty_store.main_scores().query("model == 'local/tiny-step'")
    assert main[["task", "revision", "provenance"]].values.tolist() == [[CLASSIFICATION, "local", "evaluated"]]
    assert finished.result == {CLASSIFICATION: pytest.approx(main["value"].iloc[0])}
    assert Worker(empty_store, name="in-process").step() is None


def test_offline_a_hub_model_fails_fast_with_the_reason(empty_store):
    job = jobs.enqueue(empty_store, jobs.NewJob("org/not-downloaded", "main", (CLASSIFICATION,), CLASSIFICATION))
    started = time.monotonic()
    outcome = Worker(empty_store, name="offline", lease_s=30).step()
    assert time.monotonic() - started < 90, "the Hub client retried instead of failing at once (it retries ~98 s)"
    failed = jobs.get_job(empty_store, job.id)
    assert (outcome.status, failed.status, failed.attempts) == ("failed", "failed", 1)
    assert failed.error.startswith("cannot load Hub model 'org/not-downloaded' at revision 'main' (the Hub is off")
    assert failed.error == outcome.error


@pytest.mark.slow
def test_offline_a_hub_model_in_the_local_hugging_face_cache_is_evaluated(empty_store, tiny_model_path, tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    cached = tmp_path / "hf" / "hub" / "models--cached-org--tiny-bert"
    shutil.copytree(tiny_model_path, cached / "snapshots" / commit)
    (cached / "refs").mkdir()
    (cached / "refs" / "main").write_text(commit)

    job = jobs.enqueue(empty_store, jobs.NewJob("cached-org/tiny-bert", "main", (CLASSIFICATION,), CLASSIFICATION))
    worker = subprocess.run(
        [sys.executable, "-m", "evaluator", "worker", "--once", "--store", str(empty_store.path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, **WORKER_ENV, "HF_HOME": str(tmp_path / "hf")},
    )
    assert worker.returncode == 0, worker.stderr
    assert jobs.get_job(empty_store, job.id).status == "finished"
    main = empty_store.main_scores().query("model == 'cached-org/tiny-bert'")
    assert main[["task", "revision"]].values.tolist() == [[CLASSIFICATION, "main"]]


@pytest.mark.slow
def test_two_workers_racing_over_three_jobs_run_each_once(empty_store, tiny_model_path, tmp_path):
    submitted = [local_job(empty_store, tiny_model_path, f"local/tiny-{n}", (CLASSIFICATION,)) for n in "abc"]
    logs = [tmp_path / f"worker-{n}.log" for n in (1, 2)]
    workers = [start_worker(empty_store, f"racer-{n}", "--poll", "0.2", "--lease", "30", log=log)
               for n, log in zip((1, 2), logs)]
    try:
        wait_for(lambda: all(job.status == "finished" for job in jobs.list_jobs(empty_store)), 150, "three finished jobs",
                 poll_s=0.5)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        exit_codes = [worker.wait(timeout=60) for worker in workers]
    assert exit_codes == [0, 0]
    claims = [int(found) for log in logs for found in re.findall(r"job #(\d+): local/", log.read_text())]
    assert sorted(claims) == sorted(job.id for job in submitted)
    done = jobs.list_jobs(empty_store)
    assert {(job.status, job.attempts) for job in done} == {("finished", 1)}
    assert {job.worker for job in done} <= {"racer-1", "racer-2"}
    with empty_store.connect() as connection:
        for job in submitted:
            assert evaluated_rows(connection, job.model)["task"].unique().tolist() == [CLASSIFICATION]


@pytest.mark.slow
def test_a_killed_worker_loses_nothing(empty_store, tiny_model_path, tmp_path):
    tasks = (RETRIEVAL, CLASSIFICATION, CLUSTERING)
    job = local_job(empty_store, tiny_model_path, "local/tiny-killed", tasks)
    victim = start_worker(empty_store, "victim", "--lease", "3", log=tmp_path / "victim.log")

    def kill_once_a_task_is_stored():
        with empty_store.connect() as connection:
            status = connection.execute("SELECT status FROM jobs WHERE id = ?", [job.id]).fetchone()[0]
            rows = evaluated_rows(connection, job.model)
            if status == "running" and len(rows):
                victim.send_signal(signal.SIGKILL)
                victim.wait(timeout=30)
                return rows
        assert victim.poll() is None, "the worker ended before it could be killed mid-job"
        return None

    before_kill = wait_for(kill_once_a_task_is_stored, 150, "the first stored task", poll_s=0.05)
    finished_before = set(before_kill["task"])
    assert victim.returncode == -signal.SIGKILL and finished_before < set(tasks)
    result_files = {
        path: path.stat().st_mtime_ns
        for path in (empty_store.evaluations_dir).rglob("*.json") if path.stem in finished_before
    }
    assert len(result_files) == len(finished_before)

    rescuer = start_worker(empty_store, "rescuer", "--poll", "0.5", "--lease", "30", log=tmp_path / "rescuer.log")
    try:
        wait_for(lambda: jobs.get_job(empty_store, job.id).status == "finished", 150, "the rescued job", poll_s=0.5)
    finally:
        rescuer.send_signal(signal.SIGTERM)
        assert rescuer.wait(timeout=60) == 0

    rescued = jobs.get_job(empty_store, job.id)
    assert (rescued.attempts, rescued.worker) == (2, "rescuer")
    assert set(rescued.result) == set(tasks)
    with empty_store.connect() as connection:
        after = evaluated_rows(connection, job.model)
    assert not after.duplicated(list(SCORE_KEY)).any()
    kept = after[after["task"].isin(finished_before)].reset_index(drop=True)
    assert kept.equals(before_kill.reset_index(drop=True)), "a task finished before the kill was written again"
    for path, mtime in result_files.items():
        assert path.stat().st_mtime_ns == mtime, f"{path.name} was recomputed"
    main_metrics = empty_store.tasks().set_index("task")["main_metric"].to_dict()
    for task in tasks:
        result_file = next((empty_store.evaluations_dir).rglob(f"{task}.json"))
        expected = {(s.split, s.subset, s.metric) for s in read_result_file(result_file, main_metrics).scores}
        stored = after[after["task"] == task]
        assert set(zip(stored["split"], stored["subset"], stored["metric"])) == expected, f"{task} is half-written"


@pytest.mark.slow
def test_sigterm_mid_job_hands_the_job_back(empty_store, tiny_model_path, tmp_path):
    job = local_job(empty_store, tiny_model_path, "local/tiny-stopped", (RETRIEVAL, CLUSTERING))
    worker = start_worker(empty_store, "stopped", "--lease", "30", log=tmp_path / "stopped.log")
    wait_for(lambda: jobs.get_job(empty_store, job.id).status == "running", 120, "the claim")
    time.sleep(0.5)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    handed_back = jobs.get_job(empty_store, job.id)
    assert (handed_back.status, handed_back.attempts, handed_back.lease_token) == ("pending", 0, None)
    assert "handed back to the queue" in (tmp_path / "stopped.log").read_text()


@pytest.mark.slow
def test_a_job_with_unusable_data_fails_naming_the_task_and_keeps_the_other_scores(empty_store, tiny_model_path, tmp_path):
    from patenteb.fixtures import write_patenteb_fixtures

    data = write_patenteb_fixtures(tmp_path / "data")
    shutil.rmtree(data / "retrieval_OUT")
    job = local_job(empty_store, tiny_model_path, "local/tiny-bad-data", ("retrieval_OUT", "para_problem"))
    outcome = Worker(empty_store, name="in-process", lease_s=30, data_dir=data).step()
    failed = jobs.get_job(empty_store, job.id)
    assert (outcome.status, failed.status, failed.attempts) == ("failed", "failed", 1)
    assert failed.error == outcome.error
    assert failed.error.startswith(
        f"no usable data for 1 of 2 tasks: no data for retrieval_OUT (test split): "
        f"{data / 'retrieval_OUT' / 'test' / 'data.parquet'} does not exist"
    )
    stored = empty_store.main_scores().query("model == 'local/tiny-bad-data'")
    assert stored["task"].tolist() == ["para_problem"]
