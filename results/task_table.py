"""The store's `tasks` table as rows, derived from the task catalogue (`patenteb.catalogue`)."""

from __future__ import annotations

import pandas as pd

from patenteb.catalogue import TASKS, Task


def task_row(task: Task) -> dict:
    return {
        "task": task.name,
        "benchmark": task.benchmark,
        "family": task.family,
        "subfamily": task.subfamily,
        "label": task.label,
        "main_metric": task.metric.key,
        "metric_label": task.metric_label,
        "eval_split": task.eval_split,
        "description": task.description,
        "test_size": task.test_size,
        "train_subset": task.train_subset,
        "dataset": task.dataset,
        "hf_columns": ", ".join(task.columns) or None,
        "query_prompt": task.query_prompt,
        "document_prompt": task.document_prompt,
        "prompt_source": task.prompt_source,
        "source": task.source,
        "display_order": task.display_order,
    }


def task_catalogue() -> pd.DataFrame:
    """One row per catalogue task, in display order."""
    return pd.DataFrame([task_row(task) for task in TASKS])
