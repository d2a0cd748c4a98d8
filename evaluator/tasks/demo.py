"""A small demo benchmark built deterministically from the shipped USPTO 10k sample, in PatenTEB's task shapes.

It needs no download, so a fresh offline machine can run a real evaluation. Patents are taken in the order of
the SHA-256 of their id and split between the tasks without overlap; exact-duplicate abstracts are dropped.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd
from mteb import TaskMetadata

from evaluator.tasks.catalogue import METRIC_LABEL
from evaluator.tasks.classification import PatentClassification
from evaluator.tasks.clustering import PatentClustering
from evaluator.tasks.retrieval import AsymmetricPatentRetrieval

REPO = Path(__file__).resolve().parents[2]
USPTO_SAMPLE = REPO / "explorer" / "data" / "uspto_random_10000.parquet"
SOURCE_LABEL = "explorer/data/uspto_random_10000.parquet (USPTO grant abstracts via pyGrams, OGL v3)"

SECTIONS = ("A", "B", "C", "E", "F", "G", "H")
"""CPC sections with enough abstracts in the sample; section D has 37 of 10,000 and is left out."""

RETRIEVAL_QUERIES = 200
CLUSTERING_PER_SECTION = 30
TRAIN_PER_SECTION = 25
TEST_PER_SECTION = 15

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


def demo_metadata(name: str, task_type: str, main_score: str, description: str) -> TaskMetadata:
    return TaskMetadata(
        name=name,
        description=description,
        dataset={"path": "explorer/data/uspto_random_10000.parquet", "revision": "shipped"},
        type=task_type,
        category="t2t" if task_type == "Retrieval" else "t2c",
        reference="https://github.com/datasciencecampus/pygrams",
        eval_splits=["test"],
        eval_langs=["eng-Latn"],
        main_score=main_score,
        domains=["Legal", "Written"],
        license="https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
        annotations_creators="derived",
        sample_creation="found",
    )


class DemoData:
    """Mixin placed before a family base: rows come from the shipped sample instead of a data source."""

    def read_split(self, split: str) -> pd.DataFrame:
        return demo_frames()[self.metadata.name][split]

    def data_origin(self) -> str:
        return f"built from {SOURCE_LABEL} by evaluator/tasks/demo.py"


class demo_uspto_retrieval(DemoData, AsymmetricPatentRetrieval):
    metadata = demo_metadata(
        "demo_uspto_retrieval",
        "Retrieval",
        "ndcg_at_10",
        f"DEMO, not PatenTEB. The first sentence of a USPTO abstract is the query; the rest of that abstract is "
        f"its one relevant document, in a corpus of the rests of {RETRIEVAL_QUERIES} abstracts.",
    )


class demo_uspto_clustering(DemoData, PatentClustering):
    metadata = demo_metadata(
        "demo_uspto_clustering",
        "Clustering",
        "v_measure",
        f"DEMO, not PatenTEB. Cluster {CLUSTERING_PER_SECTION} USPTO abstracts from each of {len(SECTIONS)} CPC "
        f"sections by the section of their first classification code.",
    )


class demo_uspto_classification(DemoData, PatentClassification):
    metadata = demo_metadata(
        "demo_uspto_classification",
        "Classification",
        "f1",
        f"DEMO, not PatenTEB. Predict the CPC section of a USPTO abstract (macro-F1) with a logistic regression "
        f"fitted on {TRAIN_PER_SECTION} train abstracts per section; {TEST_PER_SECTION} test abstracts per section.",
    )


FAMILY_OF_TYPE = {"Retrieval": "retrieval", "Clustering": "clustering", "Classification": "classification"}
DEMO_LABEL = {
    "demo_uspto_retrieval": "Demo: USPTO first sentence → rest",
    "demo_uspto_clustering": "Demo: USPTO CPC-section clusters",
    "demo_uspto_classification": "Demo: USPTO CPC-section classes",
}


def demo_task_rows() -> pd.DataFrame:
    """Rows for the store's `tasks` table, benchmark 'demo', shown apart from PatenTEB."""
    rows = []
    demo_classes = (demo_uspto_retrieval, demo_uspto_clustering, demo_uspto_classification)
    for order, metadata in enumerate((task_class.metadata for task_class in demo_classes), start=300):
        rows.append(
            {
                "task": metadata.name,
                "benchmark": "demo",
                "family": FAMILY_OF_TYPE[metadata.type],
                "label": DEMO_LABEL[metadata.name],
                "main_metric": metadata.main_score,
                "metric_label": METRIC_LABEL[metadata.main_score],
                "eval_split": "test",
                "description": metadata.description,
                "test_size": len(demo_frames()[metadata.name]["test"]),
                "dataset": "explorer/data/uspto_random_10000.parquet",
                "source": f"built deterministically by evaluator/tasks/demo.py from {SOURCE_LABEL}",
                "display_order": order,
            }
        )
    return pd.DataFrame(rows)
