"""The task catalogue is the one home of every task's facts: each view derived from it agrees with it."""

from __future__ import annotations

import math

import mteb
import pandas as pd
import pytest
from mteb.abstasks import AbsTaskClassification, AbsTaskClustering, AbsTaskRetrieval, AbsTaskSTS

from evaluator.runner import resolve_tasks
from evaluator.tasks import GROUPS, task_classes
from evaluator.tasks.data import DataSource
from patenteb import catalogue
from patenteb.catalogue import DEMO, EXTERNAL, PATENTEB, TASKS

MTEB_BASE_CLASS = {
    "Retrieval": AbsTaskRetrieval,
    "Classification": AbsTaskClassification,
    "Clustering": AbsTaskClustering,
    "STS": AbsTaskSTS,
}


def _cell(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def test_a_brand_new_store_knows_every_task_as_the_catalogue_states_it(empty_store):
    stored = empty_store.tasks()
    assert stored["task"].tolist() == [task.name for task in TASKS]
    for task, row in zip(TASKS, stored.to_dict("records")):
        assert row["benchmark"] == task.benchmark
        assert row["family"] == task.family
        assert row["label"] == task.label
        assert row["main_metric"] == task.metric.key
        assert row["metric_label"] == task.metric_label
        assert row["eval_split"] == task.eval_split
        assert row["description"] == task.description
        assert _cell(row["test_size"]) == task.test_size
        assert _cell(row["dataset"]) == task.dataset
        assert _cell(row["hf_columns"]) == (", ".join(task.columns) or None)
        assert _cell(row["subfamily"]) == task.subfamily
        assert row["display_order"] == task.display_order
        assert row["source"] == task.source


def test_display_orders_are_unique_and_keep_each_benchmark_in_its_band():
    orders = [task.display_order for task in TASKS]
    assert len(set(orders)) == len(orders)
    bands = sorted(catalogue.DISPLAY_BAND.values())
    for task in TASKS:
        band = catalogue.DISPLAY_BAND[task.benchmark]
        following = [start for start in bands if start > band]
        assert band <= task.display_order < (following[0] if following else math.inf)


def test_every_task_class_has_the_catalogues_name_type_metric_split_and_dataset():
    classes = task_classes()
    assert set(classes) == {task.name for task in TASKS if task.benchmark in (PATENTEB, DEMO)}
    for name, task_class in classes.items():
        task = catalogue.task(name)
        metadata = task_class.metadata
        assert task_class.__name__ == metadata.name == name
        assert metadata.type == task.mteb_type
        assert issubclass(task_class, MTEB_BASE_CLASS[task.mteb_type])
        assert metadata.main_score == task.metric.key
        assert metadata.eval_splits == [task.eval_split]
        assert metadata.dataset["path"] == task.dataset
        assert metadata.description == task.description


def test_external_tasks_agree_with_mtebs_own_definitions():
    for task in (task for task in TASKS if task.benchmark == EXTERNAL):
        metadata = mteb.get_task(task.name).metadata
        assert metadata.type == task.mteb_type, task.name
        assert metadata.main_score == task.metric.key, task.name
        assert metadata.eval_splits == [task.eval_split], task.name
        assert metadata.dataset["path"] == task.dataset, task.name


def test_the_evaluators_groups_are_the_catalogues_benchmarks():
    for benchmark, names in GROUPS.items():
        expected = [task.name for task in TASKS if task.benchmark == benchmark and task.evaluated_here]
        assert list(names) == expected
        assert resolve_tasks(benchmark) == expected
    assert set(GROUPS) == {PATENTEB, DEMO, EXTERNAL}


def test_a_local_data_file_must_have_the_catalogues_columns(tmp_path):
    for task in (task for task in TASKS if task.benchmark == PATENTEB):
        path = tmp_path / task.name / "test" / "data.parquet"
        path.parent.mkdir(parents=True)
        pd.DataFrame({column: ["x"] for column in reversed(task.columns)} | {"extra": ["y"]}).to_parquet(path)
        assert list(DataSource.resolve(tmp_path).read(task.name, "test").columns) == list(task.columns)


def test_the_leaderboard_and_vocabulary_constants_come_from_the_catalogue():
    from leaderboard import figures
    from results import vocabulary

    assert figures.SYMMETRIC_RETRIEVAL == catalogue.SYMMETRIC_RETRIEVAL == ("retrieval_IN", "retrieval_MIXED", "retrieval_OUT")
    assert vocabulary.REPORTED_OVERALL_TASK == catalogue.REPORTED_OVERALL_TASK
    assert vocabulary.FAMILIES == tuple(dict.fromkeys(t.family for t in TASKS if t.benchmark == PATENTEB))
    assert {vocabulary.METRIC_KEYS[task.metric.label] for task in TASKS} == {task.metric.key for task in TASKS}


def test_an_unknown_task_name_says_where_the_catalogue_is():
    with pytest.raises(KeyError, match="patenteb/catalogue.py"):
        catalogue.task("retrieval_in")
