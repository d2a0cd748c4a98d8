"""A small demo benchmark built deterministically from the shipped USPTO 10k sample, in PatenTEB's task shapes.

It needs no download, so a fresh offline machine can run a real evaluation. Patents are taken in the order of
the SHA-256 of their id and split between the tasks without overlap; exact-duplicate abstracts are dropped.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import pandas as pd
from mteb import TaskMetadata

from evaluator.tasks.base import category
from evaluator.tasks.classification import PatentClassification
from evaluator.tasks.clustering import PatentClustering
from evaluator.tasks.data import content_revision
from evaluator.tasks.retrieval import AsymmetricPatentRetrieval
from patenteb.catalogue import task
from patenteb.shipped import USPTO_SAMPLE, USPTO_SAMPLE_LABEL

SECTIONS = ("A", "B", "C", "E", "F", "G", "H")
"""CPC sections with enough abstracts in the sample; section D has 37 of 10,000 and is left out."""

RETRIEVAL_QUERIES = 200
CLUSTERING_PER_SECTION = 30
TRAIN_PER_SECTION = 25
TEST_PER_SECTION = 15
"""The sizes the catalogue's descriptions and test sizes state (a test checks that they agree)."""

FIRST_SENTENCE = re.compile(r"^(.{40,}?[.;])\s+(\S.{150,})$", re.DOTALL)


def _id_order(patent_id: str) -> str:
    return hashlib.sha256(patent_id.encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def demo_frames() -> dict[str, dict[str, pd.DataFrame]]:
    """{task: {split: rows}} for the three demo tasks; the same every time."""
    patents = pd.read_parquet(USPTO_SAMPLE, columns=["id", "text", "first_section"])
    patents = patents.assign(order=patents["id"].map(_id_order)).sort_values("order")
    patents = patents.drop_duplicates("text").reset_index(drop=True)

    split_abstract = patents["text"].str.extract(FIRST_SENTENCE)
    splittable = split_abstract[0].notna()
    retrieval = patents[splittable].head(RETRIEVAL_QUERIES)
    retrieval_rows = pd.DataFrame(
        {
            "q": retrieval["id"].to_numpy(),
            "first_sentence": split_abstract.loc[retrieval.index, 0].str.strip().to_numpy(),
            "rest": split_abstract.loc[retrieval.index, 1].str.strip().to_numpy(),
        }
    )

    labelled = patents.drop(index=retrieval.index)
    labelled = labelled[labelled["first_section"].isin(SECTIONS)]
    rank_in_section = labelled.groupby("first_section").cumcount()
    clustering = labelled[rank_in_section < CLUSTERING_PER_SECTION]
    train = labelled[rank_in_section.between(CLUSTERING_PER_SECTION, CLUSTERING_PER_SECTION + TRAIN_PER_SECTION - 1)]
    test_start = CLUSTERING_PER_SECTION + TRAIN_PER_SECTION
    test = labelled[rank_in_section.between(test_start, test_start + TEST_PER_SECTION - 1)]

    def labelled_rows(rows: pd.DataFrame, label_column: str) -> pd.DataFrame:
        rows = rows.reset_index(drop=True)
        return pd.DataFrame({"q": rows["id"], "text": rows["text"], label_column: rows["first_section"]})

    return {
        "demo_uspto_retrieval": {"test": retrieval_rows},
        "demo_uspto_clustering": {"test": labelled_rows(clustering, "cluster_id")},
        "demo_uspto_classification": {"train": labelled_rows(train, "label"), "test": labelled_rows(test, "label")},
    }


def demo_metadata(name: str) -> TaskMetadata:
    """mteb's metadata of a demo task, from its catalogue entry."""
    facts = task(name)
    return TaskMetadata(
        name=name,
        description=facts.description,
        dataset={"path": facts.dataset, "revision": "shipped"},
        type=facts.mteb_type,
        category=category(facts.mteb_type),
        reference="https://github.com/datasciencecampus/pygrams",
        eval_splits=[facts.eval_split],
        eval_langs=["eng-Latn"],
        main_score=facts.metric.key,
        domains=["Legal", "Written"],
        license="https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
        annotations_creators="derived",
        sample_creation="found",
    )


class DemoData:
    """Mixin placed before a family base: rows come from the shipped sample instead of a data source."""

    def rows_of(self, split: str) -> pd.DataFrame:
        return demo_frames()[self.metadata.name][split]

    def dataset_revision(self) -> str | None:
        return content_revision(self._split_digests) if self._split_digests else None

    def data_origin(self) -> str:
        return f"built from {USPTO_SAMPLE_LABEL} by evaluator/tasks/demo.py"


class demo_uspto_retrieval(DemoData, AsymmetricPatentRetrieval):
    metadata = demo_metadata("demo_uspto_retrieval")


class demo_uspto_clustering(DemoData, PatentClustering):
    metadata = demo_metadata("demo_uspto_clustering")


class demo_uspto_classification(DemoData, PatentClassification):
    metadata = demo_metadata("demo_uspto_classification")
