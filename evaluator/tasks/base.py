"""What every PatenTEB task shares: its metadata defaults and where its rows come from."""

from __future__ import annotations

import os
from contextlib import contextmanager

import pandas as pd
from mteb import TaskMetadata

from evaluator.tasks.data import DataSource, content_revision, rows_digest
from evaluator.tasks.examples import empty_examples
from patenteb.catalogue import task

PAPER = "https://arxiv.org/abs/2510.22264"
CITATION = """@article{ayaou2025patenteb,
  title={PatenTEB: A Comprehensive Benchmark and Model Family for Patent Text Embedding},
  author={Ayaou, Iliass and Cavallucci, Denis},
  journal={arXiv preprint arXiv:2510.22264},
  year={2025}
}"""
TEXTS_WRITTEN = ("1790-07-31", "2025-10-08")
"""When the patent texts were written, as far as our sources bound it: none states the patents' years
(results/seeds/reference/PAPER_NOTES.md). They predate the date on the paper, 2025-10-08; the start is a loose floor,
the first US patent grant."""


def category(mteb_type: str) -> str:
    """mteb's category: text to category for classification and clustering, text to text otherwise."""
    return "t2c" if mteb_type in ("Classification", "Clustering") else "t2t"


def patenteb_metadata(name: str) -> TaskMetadata:
    """mteb's metadata of a PatenTEB task, from its catalogue entry."""
    facts = task(name)
    return TaskMetadata(
        name=name,
        description=facts.description,
        dataset={"path": facts.dataset, "revision": "main"},
        type=facts.mteb_type,
        category=category(facts.mteb_type),
        reference=PAPER,
        eval_splits=[facts.eval_split],
        eval_langs=["eng-Latn"],
        main_score=facts.metric.key,
        date=TEXTS_WRITTEN,
        domains=["Legal", "Written"],
        task_subtypes=list(facts.mteb_subtypes),
        license="cc-by-nc-sa-4.0",
        annotations_creators="derived",
        dialect=[],
        sample_creation="found",
        is_public=False,
        bibtex_citation=CITATION,
    )


class PatenTEBTask:
    """Mixin for the mteb task classes: the rows of a split, read from the data source chosen at construction,
    and what each example scored in the last evaluation (evaluator/tasks/examples.py)."""

    id_columns: tuple[str, ...] = ("q",)
    """The columns whose values name an example (joined when several)."""

    def __init__(self, data_dir: str | os.PathLike | None = None, hf_token: str | None = None, seed: int = 42):
        super().__init__(seed=seed)
        self.source = DataSource.resolve(data_dir, hf_token)
        self.example_ids: dict[str, list[str]] = {}
        self._examples: dict[tuple[str, str], pd.DataFrame] = {}
        self._scoring: tuple[str, str] | None = None
        self._split_digests: dict[str, bytes] = {}

    def read_split(self, split: str) -> pd.DataFrame:
        rows = self.rows_of(split)
        self._split_digests[split] = rows_digest(rows)
        return rows

    def rows_of(self, split: str) -> pd.DataFrame:
        return self.source.read(self.metadata.name, split)

    def dataset_revision(self) -> str | None:
        """The Hub commit the rows were read at; for rows without one, a digest of the splits read; None before any."""
        if not self._split_digests:
            return None
        return self.source.hub_commit(self.metadata.name) or content_revision(self._split_digests)

    def data_origin(self) -> str:
        return self.source.describe(self.metadata.name)

    def example_scores(self) -> pd.DataFrame:
        """Per-example rows of every split and subset scored since this task was built (EXAMPLE_COLUMNS)."""
        if not self._examples:
            return empty_examples()
        return pd.concat(list(self._examples.values()), ignore_index=True)

    def keep_examples(self, frame: pd.DataFrame) -> None:
        for (split, subset), rows in frame.groupby(["split", "subset"], sort=False):
            self._examples[(split, subset)] = rows.reset_index(drop=True)

    @contextmanager
    def scoring(self, split: str, subset: str):
        """Names the split and subset being scored, for hooks that mteb calls without them."""
        self._scoring = (split, subset)
        try:
            yield
        finally:
            self._scoring = None

    def scoring_split(self) -> tuple[str, str]:
        if self._scoring is None:
            raise RuntimeError(f"{self.metadata.name}: scored outside of `scoring(split, subset)`")
        return self._scoring
