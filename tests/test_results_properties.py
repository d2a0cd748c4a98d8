"""Property-based tests (hypothesis, derandomized): hostile result files through the importer, hostile model
ids, revisions and submitter names through the submission checks. Each input ends in an import, a queued
job or a one-line reason, and a refused input leaves the store file byte-for-byte as it was."""

from __future__ import annotations

import hashlib
import json
import shutil
import string
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from evaluator.submissions import Submission, SubmissionRefused, submit
from patenteb.catalogue import TASKS
from results import jobs
from results.importer import import_mteb_results
from results.store import Store

PROPERTY_SETTINGS = settings(
    max_examples=200,
    derandomize=True,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
STORE_PROPERTY_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=100)
"""For properties whose every example copies, opens and hashes a store file (0.2–0.3 s each on this machine)."""
TASK_NAMES = [task.name for task in TASKS]
MAX_REASON_CHARS = 400


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def store_template(tmp_path_factory) -> Path:
    """An empty store with the schema and the catalogue: each example works on a fresh copy of it."""
    path = tmp_path_factory.mktemp("template") / "store.duckdb"
    Store(path, record=None).stats()
    return path


def fresh_store(template: Path, folder: Path) -> Store:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy(template, folder / "store.duckdb")
    return Store(folder / "store.duckdb", record=None)


def assert_one_line_reason(reason: str) -> None:
    assert reason and "\n" not in reason and len(reason) <= MAX_REASON_CHARS, reason
    assert "Traceback" not in reason


# result files ----------------------------------------------------------------------------------------

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([0, 1, -1, 0.5, 2**31, 2**63, 10**308, 1e308]),
)
leaves = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20))
json_trees = st.recursive(
    leaves,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=25,
)
metric_names = st.one_of(st.sampled_from(["main_score", "ndcg_at_10", "v_measure", "accuracy", "f1", "hf_subset"]),
                         st.text(max_size=12))
score_entries = st.dictionaries(metric_names, st.one_of(numbers, leaves), max_size=5)
mteb_shaped = st.fixed_dictionaries(
    {
        "task_name": st.one_of(st.sampled_from(TASK_NAMES), st.text(max_size=10), leaves),
        "scores": st.one_of(
            st.dictionaries(
                st.one_of(st.sampled_from(["test", "dev", "train"]), st.text(max_size=6)),
                st.one_of(st.lists(st.one_of(score_entries, leaves), max_size=3), score_entries, leaves),
                max_size=3,
            ),
            json_trees,
        ),
    },
    optional={"mteb_version": leaves, "date": st.one_of(numbers, st.text(max_size=30)), "evaluation_time": numbers},
)
nearly_valid = st.fixed_dictionaries(
    {
        "task_name": st.sampled_from(TASK_NAMES),
        "scores": st.dictionaries(
            st.sampled_from(["test", "dev", "train", "validation"]),
            st.lists(
                st.fixed_dictionaries(
                    {"hf_subset": st.one_of(st.sampled_from(["default", "en"]), st.text(max_size=8))},
                    optional={"main_score": numbers, "ndcg_at_10": numbers, "v_measure": numbers, "f1": numbers,
                              "accuracy": numbers, "languages": leaves},
                ),
                min_size=1, max_size=3,
            ),
            min_size=1, max_size=2,
        ),
    },
    optional={"mteb_version": leaves, "date": st.one_of(numbers, st.text(max_size=30)), "evaluation_time": numbers},
)
deeply_nested = st.integers(min_value=500, max_value=200_000).map(lambda depth: "[" * depth + "]" * depth)
raw_bytes = st.binary(max_size=64)


def file_text(document) -> bytes:
    return json.dumps(document, allow_nan=True).encode("utf-8")


result_files = st.one_of(
    nearly_valid.map(file_text),
    mteb_shaped.map(file_text),
    json_trees.map(file_text),
    deeply_nested.map(str.encode),
    raw_bytes,
)
model_metas = st.one_of(st.none(), json_trees.map(file_text), st.fixed_dictionaries(
    {"name": leaves, "n_parameters": numbers, "embed_dim": numbers, "max_tokens": numbers,
     "use_instructions": leaves, "license": leaves, "release_date": leaves}).map(file_text))


@pytest.mark.slow
@STORE_PROPERTY_SETTINGS
@given(content=result_files, meta=model_metas, task_file=st.sampled_from(TASK_NAMES))
def test_any_result_file_is_imported_or_refused_with_a_reason_and_a_refusal_changes_nothing(
    store_template, tmp_path, content, meta, task_file
):
    store = fresh_store(store_template, tmp_path / "case")
    folder = tmp_path / "case" / "results" / "org__model" / "rev1"
    folder.mkdir(parents=True)
    (folder / f"{task_file}.json").write_bytes(content)
    if meta is not None:
        (folder / "model_meta.json").write_bytes(meta)
    before = digest(store.path)

    report = import_mteb_results(store, [tmp_path / "case" / "results"])

    assert report.files_seen == 1
    if report.skipped:
        [(path, reason)] = report.skipped
        event(f"refused: {reason[:24]}")
        assert_one_line_reason(reason)
        assert digest(store.path) == before
        assert not store.wal_path.exists()
    else:
        event("imported")
        assert report.files_imported == 1 and report.counts.new >= 1
        assert len(store.all_scores()) == report.counts.new


# submissions -----------------------------------------------------------------------------------------

id_characters = string.ascii_letters + string.digits + "-_./ \t\n\x00é😀"
model_ids = st.one_of(
    st.text(alphabet=id_characters, max_size=120),
    st.text(max_size=40),
    st.builds(lambda owner, name: f"{owner}/{name}", st.text(string.ascii_letters + "-_.", min_size=1, max_size=40),
              st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=100)),
    st.integers(min_value=1, max_value=100_000).map(lambda n: "org/" + "m" * n),
    st.sampled_from(["local/tiny", "org/model", "sentence-transformers/all-MiniLM-L6-v2"]),
)
revisions = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "._/- \n", max_size=220),
    st.text(max_size=30),
    st.sampled_from(["main", "", "v1.0", "../etc", "a" * 201, "0123456789abcdef" * 2]),
)
submitters = st.one_of(
    st.text(max_size=80),
    st.integers(min_value=60, max_value=99_000).map(lambda n: "x" * n),
    st.sampled_from(["ada", "", "  ", "ada\nadmin", "\x00", "名前"]),
)
field_values = st.one_of(st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2))


@pytest.fixture(scope="module")
def local_model(tmp_path_factory, tiny_model_path) -> Path:
    return tiny_model_path


@pytest.mark.slow
@STORE_PROPERTY_SETTINGS
@given(
    model=model_ids,
    revision=revisions,
    submitter=submitters,
    tasks=st.one_of(st.sampled_from(["demo", "PatenTEB", "demo_uspto_retrieval", ""]), st.text(max_size=50)),
    precision=st.sampled_from(["float32", "float16", "int3", ""]),
    from_folder=st.booleans(),
)
def test_any_submission_is_queued_or_refused_with_a_reason_and_a_refusal_changes_nothing(
    store_template, tmp_path, local_model, model, revision, submitter, tasks, precision, from_folder
):
    store = fresh_store(store_template, tmp_path / "case")
    before = digest(store.path)
    submission = Submission(model=model, revision=revision, precision=precision, submitter=submitter, tasks=tasks,
                            load_from=str(local_model) if from_folder else None)
    limits = jobs.QueueLimits(submissions_per_day=1000, pending_per_submitter=1000, queue_size=1000)
    try:
        job = submit(store, submission, hub_reachable=False, limits=limits)
    except SubmissionRefused as refusal:
        event(f"refused: {str(refusal)[:24]}")
        assert_one_line_reason(str(refusal))
        assert digest(store.path) == before
        assert jobs.list_jobs(store) == []
        return
    event("queued")
    assert jobs.get_job(store, job.id) == job
    assert job.submitter is None or len(job.submitter) <= 64


@PROPERTY_SETTINGS
@given(model=st.one_of(st.text(max_size=20), field_values), revision=st.one_of(st.text(max_size=10), field_values),
       submitter=st.one_of(st.text(max_size=20), field_values), tasks=st.one_of(st.just("demo"), field_values))
def test_fields_of_any_type_from_the_http_api_are_refused_with_a_reason(store_template, tmp_path, model, revision,
                                                                        submitter, tasks):
    from evaluator import ui

    store = fresh_store(store_template, tmp_path / "case")
    before = digest(store.path)
    answer = ui.submit_form(store, model, revision, "float32", submitter, tasks)
    assert answer.startswith("**Refused:**") or answer.startswith("**Queued**"), answer
    assert "\n" not in answer
    if not answer.startswith("**Queued**"):
        assert digest(store.path) == before
