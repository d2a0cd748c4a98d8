"""The PatenTEB task definitions: names and metrics against the task list, data shapes, reconstruction, prompts."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from evaluator.tasks import (
    DEMO_TASKS,
    PATENTEB,
    PATENTEB_TASKS,
    DataFormatError,
    DataUnavailable,
    build_task,
    patenteb_benchmark,
    reconstruction_note,
    task_classes,
)
from evaluator.tasks.data import DataSource
from evaluator.tasks.prompts import DOCUMENT, QUERY, SINGLE_TEXT, Prompt, prompt_record, resolve_prompt
from evaluator.tasks.retrieval import asymmetric_split, symmetric_split, text_id
from patenteb.catalogue import TASKS
from patenteb.fixtures import patenteb_frames, write_patenteb_fixtures
from results.vocabulary import METRIC_KEYS

PAPER_FAMILY_SIZES = {"retrieval": 8, "classification": 3, "clustering": 2, "paraphrase": 2}
"""The paper's 15 tasks by family."""
MTEB_OPTIONAL_METADATA = {"prompt", "adapted_from", "contributed_by", "superseded_by"}
"""The metadata fields that mteb's `TaskMetadata.is_filled` lets be None."""


@pytest.fixture(scope="module")
def task_list() -> list:
    return [task for task in TASKS if task.benchmark == PATENTEB]


@pytest.fixture(scope="module")
def fixture_frames():
    return patenteb_frames()


def test_one_class_per_task_named_as_the_task_with_the_papers_family_and_metric(task_list):
    classes = task_classes()
    assert list(PATENTEB_TASKS) == [task.name for task in task_list]
    assert {family: sum(task.family == family for task in task_list) for family in PAPER_FAMILY_SIZES} == PAPER_FAMILY_SIZES
    for task in task_list:
        task_class = classes[task.name]
        assert task_class.__name__ == task.name
        assert task_class.metadata.name == task.name
        assert task_class.metadata.type == task.mteb_type
        assert task_class.metadata.main_score == METRIC_KEYS[task.metric.label]


def test_the_benchmark_groups_the_fifteen_tasks():
    benchmark = patenteb_benchmark()
    assert benchmark.name == "PatenTEB"
    assert [task.metadata.name for task in benchmark.tasks] == list(PATENTEB_TASKS)


def test_every_task_has_the_metadata_mteb_requires_filled(tmp_path):
    unfilled = {}
    for name in PATENTEB_TASKS:
        metadata = build_task(name, data_dir=tmp_path).metadata
        if not metadata.is_filled():
            unfilled[name] = [
                field for field in type(metadata).model_fields
                if getattr(metadata, field) is None and field not in MTEB_OPTIONAL_METADATA
            ]
    assert unfilled == {}, f"mteb metadata left None, by task: {unfilled}"


def test_fixtures_have_exactly_the_dataset_card_columns_and_the_needed_splits(fixture_frames, task_list):
    for task in task_list:
        splits = fixture_frames[task.name]
        expected_splits = {"train", "test"} if task.family == "classification" else {"test"}
        assert set(splits) == expected_splits
        for frame in splits.values():
            assert list(frame.columns) == list(task.columns)
            assert len(frame) >= 20


@pytest.mark.slow
def test_fixtures_are_deterministic(fixture_frames):
    again = patenteb_frames()
    for task, splits in fixture_frames.items():
        for split, frame in splits.items():
            pd.testing.assert_frame_equal(frame, again[task][split])


def test_symmetric_triplets_become_distinct_queries_a_pooled_corpus_and_positive_sets():
    rows = pd.DataFrame(
        {
            "q_text": ["query A", "query A", "query B", "query B"],
            "pos_text": ["doc 1", "doc 2", "query A", "query B"],
            "neg_text": ["doc 3", "doc 1", "doc 4", None],
        }
    )
    split = symmetric_split(rows)
    assert list(split.queries.values()) == ["query A", "query B"]
    assert sorted(split.corpus.values()) == ["doc 1", "doc 2", "doc 3", "doc 4", "query A", "query B"]
    assert split.relevant == {
        text_id("query A"): {text_id("doc 1"): 1, text_id("doc 2"): 1},
        text_id("query B"): {text_id("query A"): 1},
    }


def test_asymmetric_rows_query_their_own_target_in_a_corpus_of_all_targets():
    rows = pd.DataFrame(
        {
            "q": ["p1", "p2", "p3"],
            "title": ["Battery", "Battery", "Antenna"],
            "full_text": ["text one", "text two", "text one"],
        }
    )
    split = asymmetric_split(rows, "title", "full_text")
    assert split.queries == {"qp1": "Battery", "qp2": "Battery", "qp3": "Antenna"}
    assert split.corpus == {text_id("text one"): "text one", text_id("text two"): "text two"}
    assert split.relevant == {
        "qp1": {text_id("text one"): 1},
        "qp2": {text_id("text two"): 1},
        "qp3": {text_id("text one"): 1},
    }


def test_every_retrieval_task_explains_its_reconstruction():
    for task in PATENTEB_TASKS[:3]:
        assert "every distinct positive and negative text" in reconstruction_note(task)
    assert "(title)" in reconstruction_note("title2full") and "(full_text)" in reconstruction_note("title2full")
    assert "(solution)" in reconstruction_note("problem2solution")
    assert reconstruction_note("class_bloom") is None


def test_tasks_load_their_rows_from_a_local_folder(tmp_path, fixture_frames):
    folder = write_patenteb_fixtures(tmp_path / "data")
    retrieval = build_task("retrieval_OUT", data_dir=folder)
    retrieval.load_data()
    test_split = retrieval.dataset["default"]["test"]
    rows = fixture_frames["retrieval_OUT"]["test"]
    assert len(test_split["queries"]) == rows["q_text"].nunique()
    assert len(test_split["corpus"]) == len(set(rows["pos_text"]) | set(rows["neg_text"]))

    classification = build_task("class_nli_oldnew", data_dir=folder)
    classification.load_data()
    assert classification.dataset["train"].column_names == ["q_text", "t_text", "label"]
    assert len(classification.dataset["test"]) == len(fixture_frames["class_nli_oldnew"]["test"])

    clustering = build_task("clusters_inventor", data_dir=folder)
    clustering.load_data()
    assert clustering.max_fraction_of_documents_to_embed is None
    assert clustering.max_documents_per_cluster == len(fixture_frames["clusters_inventor"]["test"])


def test_a_missing_local_file_is_data_unavailable_with_the_path(tmp_path):
    with pytest.raises(DataUnavailable, match=r"retrieval_IN/test/data.parquet"):
        DataSource.resolve(tmp_path).read("retrieval_IN", "test")


def test_a_file_without_the_card_columns_is_refused_with_the_missing_ones(tmp_path, fixture_frames):
    path = tmp_path / "para_problem" / "test" / "data.parquet"
    path.parent.mkdir(parents=True)
    fixture_frames["para_problem"]["test"].drop(columns=["text2"]).to_parquet(path)
    with pytest.raises(DataFormatError, match=rf"^para_problem: {path} lacks the column\(s\) \['text2'\]"):
        DataSource.resolve(tmp_path).read("para_problem", "test")


def test_an_empty_split_is_refused_with_the_task_and_file(tmp_path, fixture_frames):
    path = tmp_path / "class_bloom" / "train" / "data.parquet"
    path.parent.mkdir(parents=True)
    fixture_frames["class_bloom"]["train"].head(0).to_parquet(path)
    with pytest.raises(DataFormatError, match=rf"^class_bloom: {path} has no rows$"):
        DataSource.resolve(tmp_path).read("class_bloom", "train")


def test_a_file_that_is_not_parquet_is_refused_with_the_task_and_file(tmp_path):
    path = tmp_path / "effect2full" / "test" / "data.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1 but not really a parquet file")
    with pytest.raises(DataFormatError, match=rf"^effect2full: {path} is not a readable parquet file \(Arrow"):
        DataSource.resolve(tmp_path).read("effect2full", "test")


def test_the_gated_hub_dataset_offline_is_data_unavailable(monkeypatch):
    monkeypatch.delenv("PATENTEB_DATA_DIR", raising=False)
    with pytest.raises(DataUnavailable, match=r"datalyes/class_bloom.*--data-dir"):
        DataSource.resolve(None, None).read("class_bloom", "test")


def test_patembed_prompts_give_queries_q_text_and_documents_pos_text():
    prompts = {"retrieval_IN": {"q_text": "encode query: ", "pos_text": "encode document: "}, "query": ""}
    assert resolve_prompt(prompts, "retrieval_IN", "Retrieval", QUERY) == Prompt("retrieval_IN.q_text", "encode query: ")
    assert resolve_prompt(prompts, "retrieval_IN", "Retrieval", DOCUMENT) == Prompt("retrieval_IN.pos_text", "encode document: ")
    assert resolve_prompt(prompts, "retrieval_OUT", "Retrieval", QUERY) is None


def test_string_prompts_follow_mtebs_order_then_sentence_transformers_fallbacks():
    prompts = {
        "class_bloom": "classify timing: ",
        "Classification": "classify: ",
        "retrieval_IN-query": "in query: ",
        "Retrieval-document": "any document: ",
        "query": "query: ",
        "passage": "passage: ",
        "everything": "default: ",
        "document": "",
    }
    assert resolve_prompt(prompts, "class_bloom", "Classification", SINGLE_TEXT).text == "classify timing: "
    assert resolve_prompt(prompts, "class_text2ipc3", "Classification", SINGLE_TEXT).text == "classify: "
    assert resolve_prompt(prompts, "retrieval_IN", "Retrieval", QUERY).text == "in query: "
    assert resolve_prompt(prompts, "retrieval_IN", "Retrieval", DOCUMENT).text == "any document: "
    assert resolve_prompt(prompts, "retrieval_OUT", "Retrieval", QUERY).text == "query: "
    assert resolve_prompt({"passage": "passage: ", "document": ""}, "title2full", "Retrieval", DOCUMENT).text == "passage: "
    assert resolve_prompt(prompts, "para_problem", "STS", SINGLE_TEXT, default_prompt_name="everything").text == "default: "
    assert resolve_prompt(prompts, "para_problem", "STS", SINGLE_TEXT) is None


def test_the_prompt_record_is_json_of_the_roles_that_had_one():
    assert prompt_record({QUERY: Prompt("q", "encode query: "), DOCUMENT: None}) == json.dumps({"query": "encode query: "})
    assert prompt_record({SINGLE_TEXT: None}) is None


def test_demo_tasks_are_deterministic_disjoint_and_balanced():
    from evaluator.tasks.demo import SECTIONS, demo_frames

    first = demo_frames()
    demo_frames.cache_clear()
    second = demo_frames()
    ids = []
    for task in DEMO_TASKS:
        for split, frame in first[task].items():
            pd.testing.assert_frame_equal(frame, second[task][split])
            ids.extend(frame["q"])
    assert len(ids) == len(set(ids))
    classification = first["demo_uspto_classification"]
    assert set(classification["train"]["label"]) == set(SECTIONS)
    assert classification["test"]["label"].value_counts().nunique() == 1
    retrieval = first["demo_uspto_retrieval"]["test"]
    assert all(sentence not in rest and len(rest) >= 150 for sentence, rest in zip(retrieval["first_sentence"], retrieval["rest"]))
    rows = [task for task in TASKS if task.name in DEMO_TASKS]
    assert {task.benchmark for task in rows} == {"demo"} and min(task.display_order for task in rows) >= 300
    assert all(task.description.startswith("DEMO, not PatenTEB") for task in rows)


def test_the_demo_catalogue_entries_state_the_sizes_the_demo_builds():
    from evaluator.tasks import demo

    frames = demo.demo_frames()
    described = {task.name: task for task in TASKS if task.name in DEMO_TASKS}
    for name in DEMO_TASKS:
        assert described[name].test_size == len(frames[name]["test"])
    sections = len(demo.SECTIONS)
    assert f"rests of {demo.RETRIEVAL_QUERIES} abstracts" in described["demo_uspto_retrieval"].description
    assert f"Cluster {demo.CLUSTERING_PER_SECTION} USPTO abstracts from each of {sections} CPC sections" in (
        described["demo_uspto_clustering"].description
    )
    classification = described["demo_uspto_classification"].description
    assert f"fitted on {demo.TRAIN_PER_SECTION} train abstracts per section" in classification
    assert f"{demo.TEST_PER_SECTION} test abstracts per section" in classification
    assert len(frames["demo_uspto_classification"]["train"]) == demo.TRAIN_PER_SECTION * sections
