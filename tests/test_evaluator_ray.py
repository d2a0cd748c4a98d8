"""The evaluator's Ray fan-out on a real local Ray cluster, started by these tests on this machine and stopped
after them; the CLI runs in real subprocesses that join it. Also: the app never imports ray, and an address
nobody answers at is a clear error that loses no job."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from results import jobs
from results.mteb_files import read_result_file
from results.store import SCORE_KEY, Store
from tests.cli import imported_packages
from tests.conftest import REPO

DEMO = ("demo_uspto_retrieval", "demo_uspto_clustering", "demo_uspto_classification")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SHARD_TITLE = "ray::evaluate"
"""Ray names a worker process after the task it is running: `ray::evaluate <task>` while a shard runs."""


def evaluator(*args: str, store: Store, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evaluator", *args, "--store", str(store.path)],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, env={**os.environ, **ONE_THREAD, **(env or {})},
    )


def evaluated_rows(store: Store, model: str) -> pd.DataFrame:
    rows = store.all_scores()
    rows = rows[(rows["model"] == model) & (rows["provenance"] == "evaluated")]
    return rows.sort_values(list(SCORE_KEY)).reset_index(drop=True)


@pytest.fixture(scope="module")
def ray_address():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def shard_processes() -> dict[int, str]:
    """{pid: title} of Ray worker processes running a shard now."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith(SHARD_TITLE):
            found[int(entry.name)] = title
    return found


@pytest.mark.slow
def test_jobs_fanned_out_over_ray_score_exactly_as_one_process_even_with_a_shard_killed(
    ray_address, tiny_model_path, empty_store, tmp_path
):
    """Two jobs through `worker --ray`; a shard is SIGKILLed mid-task. Each job finishes once, and the first
    job's rows, per-example rows and result files are those of `evaluator run` in a single process."""
    single = Store(tmp_path / "single" / "store.duckdb")
    here = evaluator("run", "--model", str(tiny_model_path), "--name", "local/tiny-a", "--revision", "local",
                     "--tasks", "demo", store=single)
    assert here.returncode == 0, here.stderr
    first = jobs.enqueue(empty_store, jobs.NewJob("local/tiny-a", "local", DEMO, "demo", load_from=str(tiny_model_path)))
    second = jobs.enqueue(
        empty_store, jobs.NewJob("local/tiny-b", "local", DEMO[2:], DEMO[2], load_from=str(tiny_model_path))
    )
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "evaluator", "worker", "--once", "--jobs", "2", "--lease", "30", "--ray", ray_address,
         "--store", str(empty_store.path)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=log.open("w"), env={**os.environ, **ONE_THREAD},
    )
    killed: tuple[int, str] | None = None
    deadline = time.monotonic() + 240
    while killed is None and worker.poll() is None and time.monotonic() < deadline:
        running = shard_processes()
        if running:
            pid, title = min(running.items())
            os.kill(pid, signal.SIGKILL)
            killed = (pid, title)
        time.sleep(0.05)
    assert killed is not None, f"no shard was seen running; worker log:\n{log.read_text()[-3000:]}"
    assert killed[1].removeprefix(SHARD_TITLE).strip() in DEMO
    assert worker.wait(timeout=300) == 0, log.read_text()[-3000:]
    assert not Path(f"/proc/{killed[0]}").exists()

    done = {job.id: job for job in jobs.list_jobs(empty_store)}
    for job in (first, second):
        assert (done[job.id].status, done[job.id].attempts, done[job.id].worker is not None) == ("finished", 1, True)
        assert set(done[job.id].result) == set(job.tasks)
    main_metrics = empty_store.tasks().set_index("task")["main_metric"].to_dict()
    for job in (first, second):
        rows = evaluated_rows(empty_store, job.model)
        assert not rows.duplicated(list(SCORE_KEY)).any()
        for task in job.tasks:
            result_file = next(path for path in empty_store.evaluations_dir.rglob(f"{task}.json")
                               if job.model.split("/")[1] in str(path))
            expected = {(score.split, score.subset, score.metric) for score in read_result_file(result_file, main_metrics).scores}
            stored = rows[rows["task"] == task]
            assert set(zip(stored["split"], stored["subset"], stored["metric"])) == expected, f"{job.model} {task}"
    assert done[first.id].result[DEMO[2]] == done[second.id].result[DEMO[2]], "same model, same data, same score"
    costs = empty_store.evaluation_costs()
    assert len(costs) == len(first.tasks) + len(second.tasks) and not costs.duplicated(["model", "task"]).any()
    assert set(costs["device"]) == {"cpu"} and set(costs["threads"]) == {1}
    assert (costs["texts_encoded"] > 0).all() and (costs["texts_per_s"] > 0).all()
    assert "Ray: the Ray cluster at" in log.read_text() and "2 CPUs: one CPU per task" in log.read_text()

    columns = [*SCORE_KEY, "value", "prompt", "notes"]
    expected, got = evaluated_rows(single, first.model), evaluated_rows(empty_store, first.model)
    pd.testing.assert_frame_equal(got[columns], expected[columns], check_exact=True)
    assert json.loads(here.stdout.splitlines()[-1]) == done[first.id].result
    written = {path.stem for path in empty_store.evaluations_dir.rglob("*.json") if "tiny-a" in str(path)}
    assert written == {*DEMO, "model_meta"}, "the driver writes the result files the shards handed back"
    pd.testing.assert_frame_equal(empty_store.example_scores(model=first.model), single.example_scores(model=first.model))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_an_unreachable_ray_address_is_a_clear_error_and_the_job_stays_pending(empty_store, tiny_model_path):
    job = jobs.enqueue(empty_store, jobs.NewJob("local/tiny", "local", DEMO[2:], DEMO[2], load_from=str(tiny_model_path)))
    address = f"127.0.0.1:{closed_port()}"
    worker = evaluator("worker", "--once", "--ray", address, store=empty_store, timeout=30)
    assert worker.returncode == 1
    assert worker.stderr.strip().splitlines()[-1].startswith(
        f"error: cannot reach the Ray cluster at {address}: {address} does not answer"
    )
    assert "Traceback" not in worker.stderr
    waiting = jobs.get_job(empty_store, job.id)
    assert (waiting.status, waiting.attempts, waiting.worker) == ("pending", 0, None)

    run = evaluator("run", "--model", str(tiny_model_path), "--name", "local/tiny", "--tasks", DEMO[2], "--ray", address,
                    store=empty_store, timeout=30)
    assert run.returncode == 1 and "cannot reach the Ray cluster" in run.stderr.strip().splitlines()[-1]
    assert empty_store.score_count("evaluated") == 0


@pytest.mark.slow
def test_the_app_never_imports_ray():
    """An evaluation without --ray never imports it either: tests/test_evaluator_cli.py's worker step checks."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import app"], cwd=REPO, capture_output=True,
                            text=True, timeout=300, env={**os.environ, **ONE_THREAD})
    assert result.returncode == 0, result.stderr
    assert {"gradio", "leaderboard", "explorer", "evaluator"} <= imported_packages(result.stderr)
    assert "ray" not in imported_packages(result.stderr)
