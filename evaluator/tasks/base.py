"""What every PatenTEB task shares: its metadata defaults and where its rows come from."""

from __future__ import annotations

import os

import pandas as pd
from mteb import TaskMetadata

from evaluator.tasks.catalogue import FAMILY, MAIN_METRIC
from evaluator.tasks.data import HUB_ORGANISATION, DataSource

PAPER = "https://arxiv.org/abs/2510.22264"
CITATION = """@article{ayaou2025patenteb,
  title={PatenTEB: A Comprehensive Benchmark and Model Family for Patent Text Embedding},
  author={Ayaou, Iliass and Cavallucci, Denis},
  journal={arXiv preprint arXiv:2510.22264},
  year={2025}
}"""

MTEB_TYPE = {"retrieval": "Retrieval", "classification": "Classification", "clustering": "Clustering", "paraphrase": "STS"}


def patenteb_metadata(name: str, description: str) -> TaskMetadata:
    family = FAMILY[name]
    return TaskMetadata(
        name=name,
        description=description,
        dataset={"path": f"{HUB_ORGANISATION}/{name}", "revision": "main"},
        type=MTEB_TYPE[family],
        category="t2c" if family in ("classification", "clustering") else "t2t",
        reference=PAPER,
        eval_splits=["test"],
        eval_langs=["eng-Latn"],
        main_score=MAIN_METRIC[family],
        domains=["Legal", "Written"],
        license="cc-by-nc-sa-4.0",
        annotations_creators="derived",
        sample_creation="found",
        is_public=False,
        bibtex_citation=CITATION,
    )


class PatenTEBTask:
    """Mixin for the mteb task classes: the rows of a split, read from the data source chosen at construction."""

    def __init__(self, data_dir: str | os.PathLike | None = None, hf_token: str | None = None, seed: int = 42):
        super().__init__(seed=seed)
        self.source = DataSource.resolve(data_dir, hf_token)

    def read_split(self, split: str) -> pd.DataFrame:
        return self.source.read(self.metadata.name, split)

    def data_origin(self) -> str:
        return self.source.describe(self.metadata.name)
