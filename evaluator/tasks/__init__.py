"""PatenTEB as mteb 2.x tasks: one class per task (named as the task), the demo tasks, and the benchmark.

Which tasks exist, and their facts, come from `patenteb.catalogue`. Importing this package loads only names;
the task classes (and mteb) load on first use of `build_task`, `task_classes` or `patenteb_benchmark`.
"""

from __future__ import annotations

import os

from evaluator.tasks.data import DataFormatError, DataUnavailable
from evaluator.tasks.notes import evaluation_note, reconstruction_note
from patenteb.catalogue import DEMO, DEMO_TASKS, EXTERNAL, EXTERNAL_TASKS, GROUPS, PATENTEB, PATENTEB_TASKS

__all__ = [
    "DEMO",
    "DEMO_TASKS",
    "EXTERNAL",
    "EXTERNAL_TASKS",
    "GROUPS",
    "PATENTEB",
    "PATENTEB_TASKS",
    "DataFormatError",
    "DataUnavailable",
    "build_task",
    "evaluation_note",
    "patenteb_benchmark",
    "reconstruction_note",
    "task_classes",
]


def task_classes() -> dict:
    """{task name: mteb task class} for the 15 PatenTEB tasks and the demo tasks."""
    from evaluator.tasks import classification, clustering, demo, paraphrase, retrieval

    classes = {}
    for module in (retrieval, classification, clustering, paraphrase, demo):
        for name in (*PATENTEB_TASKS, *DEMO_TASKS):
            if hasattr(module, name):
                classes[name] = getattr(module, name)
    return classes


def build_task(name: str, data_dir: str | os.PathLike | None = None, hf_token: str | None = None):
    """A fresh task instance: ours read from `data_dir` or the Hub; external ones are mteb's own."""
    if name in EXTERNAL_TASKS:
        import mteb

        return mteb.get_task(name)
    classes = task_classes()
    if name not in classes:
        raise ValueError(f"unknown task {name!r}")
    return classes[name](data_dir=data_dir, hf_token=hf_token)


def patenteb_benchmark(data_dir: str | os.PathLike | None = None, hf_token: str | None = None):
    import mteb

    from evaluator.tasks.base import CITATION, PAPER
    from patenteb.catalogue import PATENTEB_DESCRIPTION

    return mteb.Benchmark(
        name=PATENTEB,
        tasks=[build_task(name, data_dir, hf_token) for name in PATENTEB_TASKS],
        description=PATENTEB_DESCRIPTION,
        reference=PAPER,
        citation=CITATION,
    )
