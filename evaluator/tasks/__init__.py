"""PatenTEB as mteb 2.x tasks: one class per task (named as the task), the demo tasks, and their benchmarks.

Importing this package loads only names; the task classes (and mteb) load on first use of `build_task`,
`task_classes` or the benchmark functions.
"""

from __future__ import annotations

import os

from evaluator.tasks.catalogue import (
    DEMO,
    DEMO_TASKS,
    EXTERNAL,
    EXTERNAL_TASKS,
    GROUPS,
    HF_COLUMNS,
    PATENTEB,
    PATENTEB_TASKS,
    evaluation_note,
    reconstruction_note,
)
from evaluator.tasks.data import DataFormatError, DataUnavailable

__all__ = [
    "DEMO",
    "DEMO_TASKS",
    "EXTERNAL",
    "EXTERNAL_TASKS",
    "GROUPS",
    "HF_COLUMNS",
    "PATENTEB",
    "PATENTEB_TASKS",
    "DataFormatError",
    "DataUnavailable",
    "build_task",
    "demo_benchmark",
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

    return mteb.Benchmark(
        name=PATENTEB,
        tasks=[build_task(name, data_dir, hf_token) for name in PATENTEB_TASKS],
        description="PatenTEB: 15 patent text-embedding tasks (8 retrieval, 3 classification, 2 clustering, "
        "2 paraphrase) from Lens.org patent families.",
        reference=PAPER,
        citation=CITATION,
    )


def demo_benchmark():
    import mteb

    return mteb.Benchmark(
        name="PatenTEB-demo",
        tasks=[build_task(name) for name in DEMO_TASKS],
        description="A demo built from the shipped USPTO 10k sample so that an offline machine can run a real "
        "evaluation. Not PatenTEB: its scores are never mixed with PatenTEB columns.",
    )
