"""The durable record: a store built through the real paths (seed, submissions, the worker on real mteb runs),
pushed to a local folder standing in for the Hub dataset, deleted, and rebuilt with every score and job."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from evaluator.submissions import Submission, submit
from evaluator.worker import Worker
from results import jobs
from results.mteb_files import RUNS_FILE
from results.record import QUEUE_FILE, Record, RecordError, pull, pulled_marker, rebuild, record_task_result
from results.seed import seed
from results.store import Store
from tests.conftest import REPO

CLASSIFICATION, RETRIEVAL = "demo_uspto_classification", "demo_uspto_retrieval"


def submitted(store: Store, model: str, model_path: Path, tasks: str, submitter: str = "ada") -> jobs.Job:
    return submit(store, Submission(model=model, tasks=tasks, load_from=str(model_path), submitter=submitter))


@pytest.fixture(scope="module")
def evaluated_site(tmp_path_factory, tiny_model_path, seeded_store_template):
    """A seeded store with a record: two models evaluated by the worker, a failed, a pending and a running job."""
    site = tmp_path_factory.mktemp("site")
    record = site / "record"
    store_path = site / "disk" / "store.duckdb"
    store_path.parent.mkdir()
    shutil.copy(seeded_store_template, store_path)
    store = Store(store_path, record=str(record))
    assert pull(record, store).jobs_restored is None

    for name, tasks in (("local/tiny-a", CLASSIFICATION), ("local/tiny-b", f"{CLASSIFICATION},{RETRIEVAL}")):
        submitted(store, name, tiny_model_path, tasks)
        assert Worker(store, name="host:7", lease_s=60).step().status == "finished"
    broken = submitted(store, "local/tiny-broken", tiny_model_path, CLASSIFICATION, submitter="grace")
    claimed = jobs.claim(store, "host:7", lease_s=60)
    assert claimed.id == broken.id and jobs.fail(store, claimed.id, claimed.lease_token, "ModelLoadError: test")
    submitted(store, "local/tiny-running", tiny_model_path, CLASSIFICATION, submitter="grace")
    assert jobs.claim(store, "host:8", lease_s=3600).status == "running"
    submitted(store, "local/tiny-waiting", tiny_model_path, RETRIEVAL, submitter="linus")
    jobs.allow_remote_code(store, "org/custom", allowed_by="maintainer")
    return store, record


def copy_site(site: tuple[Store, Path], tmp_path: Path) -> tuple[Store, Path]:
    store, record = site
    shutil.copytree(store.path.parent, tmp_path / "disk")
    shutil.copytree(record, tmp_path / "record")
    copy = Store(tmp_path / "disk" / store.path.name, record=str(tmp_path / "record"))
    pulled_marker(copy).write_text(json.dumps({"record": copy.record}))
    return copy, tmp_path / "record"


def queue_as_documents(store: Store) -> list[dict]:
    return json.loads(json.dumps(jobs.queue_snapshot(store)["jobs"]))


def test_a_deleted_store_comes_back_from_its_record_with_every_score_and_job(evaluated_site, tmp_path):
    store, record = copy_site(evaluated_site, tmp_path)
    scores_before, jobs_before = store.all_scores(), queue_as_documents(store)
    assert {"local/tiny-a", "local/tiny-b"} <= set(scores_before.query("provenance == 'evaluated'")["model"])
    assert sorted(p.name for p in (record / "evaluations").rglob("*.json") if p.name != "model_meta.json") == [
        f"{CLASSIFICATION}.json", f"{CLASSIFICATION}.json", f"{RETRIEVAL}.json"]

    files_in_record = sum(1 for path in (record / "evaluations").rglob("*") if path.is_file())

    shutil.rmtree(store.path.parent)
    restarted = Store(store.path, record=str(record))
    report = pull(record, restarted)
    assert report.evaluations.ok and report.seeded and report.jobs_restored == 5
    assert report.files_downloaded == files_in_record

    pd.testing.assert_frame_equal(scores_before, restarted.all_scores())
    assert_same_examples_and_intervals(store, restarted)
    jobs_after = queue_as_documents(restarted)
    running = next(job for job in jobs_before if job["status"] == "running")
    assert [job for job in jobs_after if job["id"] != running["id"]] == [
        job for job in jobs_before if job["id"] != running["id"]]
    handed_back = next(job for job in jobs_after if job["id"] == running["id"])
    assert (handed_back["status"], handed_back["attempts"], handed_back["lease_expires_at"]) == ("pending", 1, None)
    assert handed_back["error"] == ("attempt 1 (host:8) ended: the store was rebuilt from its record; "
                                    "it will be retried (attempt 2 of 3)")
    assert jobs.remote_code_allowed(restarted, "org/custom")
    assert jobs.enqueue(restarted, jobs.NewJob("org/new", "main", (RETRIEVAL,), "demo")).id == 6


def assert_same_examples_and_intervals(original: Store, rebuilt: Store) -> None:
    examples = original.example_scores()
    assert {"local/tiny-a", "local/tiny-b"} <= set(examples["model"])
    pd.testing.assert_frame_equal(examples, rebuilt.example_scores())
    intervals = original.score_intervals()
    evaluated_here = intervals[intervals["model"].str.startswith("local/")]
    assert list(zip(evaluated_here["model"], evaluated_here["task"])) == [
        ("local/tiny-a", CLASSIFICATION), ("local/tiny-b", CLASSIFICATION), ("local/tiny-b", RETRIEVAL)]
    assert intervals[["low", "high"]].notna().all().all()
    pd.testing.assert_frame_equal(intervals, rebuilt.score_intervals())


def test_pulling_twice_changes_nothing(evaluated_site, tmp_path):
    store, record = copy_site(evaluated_site, tmp_path)
    pull(record, store)
    scores, queue, generation = store.all_scores(), queue_as_documents(store), store.generation()
    examples, intervals = store.example_scores(), store.score_intervals()
    report = pull(record, store)
    assert (report.files_downloaded, report.evaluations.counts.written, report.seeded) == (0, 0, False)
    assert report.evaluations.example_rows == 0
    pd.testing.assert_frame_equal(scores, store.all_scores())
    pd.testing.assert_frame_equal(examples, store.example_scores())
    pd.testing.assert_frame_equal(intervals, store.score_intervals())
    assert queue_as_documents(store) == queue and store.generation() == generation


def test_every_queue_change_reaches_the_record(evaluated_site, tmp_path):
    store, record = copy_site(evaluated_site, tmp_path)

    def recorded() -> dict[int, str]:
        return {job["id"]: job["status"] for job in json.loads((record / QUEUE_FILE).read_text())["jobs"]}

    job = jobs.enqueue(store, jobs.NewJob("org/new", "main", (RETRIEVAL,), "demo", submitter="ada"))
    assert recorded()[job.id] == "pending"
    released = jobs.release_worker_jobs(store, "host:8", "killed by SIGKILL")
    assert released and all(recorded()[job_id] == "pending" for job_id in released)
    claimed = jobs.claim(store, "host:9", lease_s=60)
    assert recorded()[claimed.id] == "running"
    jobs.fail(store, claimed.id, claimed.lease_token, "stopped")
    assert recorded()[claimed.id] == "failed"


def test_a_result_file_is_pushed_with_what_rebuilding_its_rows_needs(evaluated_site, tmp_path):
    store, record = copy_site(evaluated_site, tmp_path)
    shutil.rmtree(record / "evaluations")
    result = next(store.evaluations_dir.rglob(f"{RETRIEVAL}.json"))
    record_task_result(store, result)
    pushed = sorted(str(path.relative_to(record)) for path in (record / "evaluations").rglob("*") if path.is_file())
    folder = result.parent.relative_to(store.evaluations_dir)
    assert pushed == [f"evaluations/{folder}/{name}" for name in (
        f"{RETRIEVAL}.examples.parquet", f"{RETRIEVAL}.json", "evaluated_with.jsonl", "model_meta.json")]


def test_a_record_that_fails_after_the_pull_is_logged_and_the_queue_goes_on(empty_store, tmp_path, caplog):
    record = tmp_path / "record"
    store = replace_record(empty_store, str(record))
    pull(record, store)
    shutil.rmtree(record)
    record.write_text("a file where the record's folder should be")
    with caplog.at_level(logging.ERROR, logger="results.record"):
        job = jobs.enqueue(store, jobs.NewJob("org/model", "main", (RETRIEVAL,), "demo"))
    assert jobs.get_job(store, job.id).status == "pending"
    assert "could not push the queue to the record" in caplog.text


def test_a_store_that_could_not_be_pulled_never_overwrites_the_records_queue(evaluated_site, tmp_path, caplog):
    _store, record = copy_site(evaluated_site, tmp_path)
    recorded = (record / QUEUE_FILE).read_bytes()
    blocked = Store(tmp_path / "elsewhere" / "store.duckdb", record=str(tmp_path / "unreadable"))
    (tmp_path / "unreadable").write_text("not a folder")
    with pytest.raises(RecordError, match="cannot read the record"):
        pull(tmp_path / "unreadable", blocked)
    restarted = Store(tmp_path / "elsewhere" / "store.duckdb", record=str(record))
    with caplog.at_level(logging.WARNING, logger="results.record"):
        jobs.enqueue(restarted, jobs.NewJob("org/model", "main", (RETRIEVAL,), "demo"))
    assert "was never pulled from the record" in caplog.text
    assert (record / QUEUE_FILE).read_bytes() == recorded


def replace_record(store: Store, record: str | None) -> Store:
    return Store(store.path, record=record)


def test_a_malformed_queue_in_the_record_is_refused_and_nothing_changes(evaluated_site, tmp_path):
    store, record = copy_site(evaluated_site, tmp_path)
    (record / QUEUE_FILE).write_text(json.dumps({"format": "patenteb-queue/1", "jobs": [{"id": "x"}]}))
    before = store.path.read_bytes()
    with pytest.raises(RecordError, match="queue.json: a queue snapshot entry is malformed"):
        pull(record, store)
    assert queue_as_documents(store) and store.path.read_bytes() == before


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "results", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def _export(store: Path, out: Path) -> pd.DataFrame:
    result = _cli("export", "--format", "parquet", "--out", str(out), "--store", str(store))
    assert result.returncode == 0, result.stderr
    return pd.read_parquet(out)


def test_rebuild_from_the_result_files_gives_exactly_the_scores(evaluated_site, tmp_path):
    store, _record = evaluated_site
    original = _export(store.path, tmp_path / "original.parquet")
    target = tmp_path / "rebuilt" / "store.duckdb"

    rebuilt = _cli("rebuild", "--from", str(store.evaluations_dir), "--store", str(target))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "3 of 3 result files imported" in rebuilt.stdout
    pd.testing.assert_frame_equal(original, _export(target, tmp_path / "rebuilt.parquet"))
    assert_same_examples_and_intervals(store, Store(target, record=None))
    assert len(store.evaluation_costs()) == 3
    pd.testing.assert_frame_equal(store.evaluation_costs(), Store(target, record=None).evaluation_costs())

    again = _cli("rebuild", "--from", str(store.evaluations_dir), "--store", str(target))
    assert again.returncode == 2 and "exists; pass --replace" in again.stderr
    from_record = _cli("rebuild", "--from", str(_record), "--store", str(target), "--replace")
    assert from_record.returncode == 0, from_record.stderr
    pd.testing.assert_frame_equal(original, _export(target, tmp_path / "from-record.parquet"))
    assert_same_examples_and_intervals(store, Store(target, record=None))
    pd.testing.assert_frame_equal(store.evaluation_costs(), Store(target, record=None).evaluation_costs())
    assert len(jobs.list_jobs(Store(target, record=None))) == 5


def test_a_damaged_per_example_file_costs_only_its_own_rows(evaluated_site, tmp_path):
    store, _record = evaluated_site
    source = tmp_path / "source"
    shutil.copytree(store.evaluations_dir, source)
    damaged = next(source.rglob(f"{RETRIEVAL}.examples.parquet"))
    damaged.write_bytes(b"not parquet")
    renamed = next(path for path in source.rglob(f"{CLASSIFICATION}.examples.parquet") if "tiny-a" in str(path))
    pd.read_parquet(renamed).rename(columns={"gold": "colour"}).to_parquet(renamed, index=False)

    report = rebuild(source, tmp_path / "rebuilt.duckdb")
    rebuilt = Store(tmp_path / "rebuilt.duckdb", record=None)
    assert report.evaluations.ok and report.evaluations.files_imported == 3
    reasons = {path.relative_to(rebuilt.evaluations_dir): reason for path, reason in report.evaluations.examples_skipped}
    damaged, renamed = damaged.relative_to(source), renamed.relative_to(source)
    assert set(reasons) == {damaged, renamed}
    assert reasons[damaged].startswith("unreadable per-example file") and "unknown ['colour']" in reasons[renamed]
    assert "(2 per-example files unreadable)" in report.summary()
    pd.testing.assert_frame_equal(store.all_scores(), rebuilt.all_scores())
    kept = rebuilt.score_intervals().query("model.str.startswith('local/')")
    assert list(zip(kept["model"], kept["task"])) == [("local/tiny-b", CLASSIFICATION)]
    local = rebuilt.example_scores().query("model.str.startswith('local/')")
    assert set(zip(local["model"], local["task"])) == {("local/tiny-b", CLASSIFICATION)}
    pd.testing.assert_frame_equal(rebuilt.example_scores(model="local/tiny-b", task=CLASSIFICATION),
                                  store.example_scores(model="local/tiny-b", task=CLASSIFICATION))


def test_a_run_note_with_a_hostile_cost_costs_only_that_cost(evaluated_site, tmp_path):
    store, _record = evaluated_site
    source = tmp_path / "source"
    shutil.copytree(store.evaluations_dir, source)
    notes = next(path for path in source.rglob(RUNS_FILE) if "tiny-b" in str(path))
    runs = [json.loads(line) for line in notes.read_text().splitlines()]
    for run in runs:
        if run["task"] == CLASSIFICATION:
            run["cost"].update(threads="many", encode_s=float("inf"), host=["not", "text"])
        else:
            run["cost"]["device"] = 7
    notes.write_text("".join(json.dumps(run) + "\n" for run in runs))

    report = rebuild(source, tmp_path / "rebuilt.duckdb")
    rebuilt = Store(tmp_path / "rebuilt.duckdb", record=None)
    assert report.evaluations.ok and report.evaluations.cost_rows == 2
    pd.testing.assert_frame_equal(store.all_scores(), rebuilt.all_scores())
    costs = rebuilt.evaluation_costs().set_index(["model", "task"])
    assert ("local/tiny-b", RETRIEVAL) not in costs.index, "a cost without a device is not stored"
    hostile = costs.loc[("local/tiny-b", CLASSIFICATION)]
    assert pd.isna(hostile["threads"]) and pd.isna(hostile["encode_s"]) and pd.isna(hostile["host"])
    original = store.evaluation_costs().set_index(["model", "task"]).loc[("local/tiny-b", CLASSIFICATION)]
    assert hostile["texts_encoded"] == original["texts_encoded"] and hostile["device"] == original["device"]


def test_a_record_location_that_fsspec_cannot_use_is_a_clear_error(tmp_path):
    with pytest.raises(RecordError, match="cannot use 'nosuchprotocol://x' as a record"):
        Record.at("nosuchprotocol://x")
    failed = _cli("rebuild", "--from", "nosuchprotocol://x", "--store", str(tmp_path / "s.duckdb"))
    assert failed.returncode == 2 and failed.stderr.startswith("error: cannot use") and not (tmp_path / "s.duckdb").exists()


def test_seeding_a_store_with_a_record_changes_nothing_in_the_record(empty_store, tmp_path):
    store = replace_record(empty_store, str(tmp_path / "record"))
    seed(store)
    assert not (tmp_path / "record").exists()
