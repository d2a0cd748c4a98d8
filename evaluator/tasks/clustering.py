"""The 2 PatenTEB clustering tasks (V-measure)."""

from __future__ import annotations

import pandas as pd
from datasets import Dataset, DatasetDict
from mteb.abstasks import AbsTaskClustering

from evaluator.tasks.base import PatenTEBTask, patenteb_metadata

LARGEST_BOOTSTRAP_SAMPLE = 16_384


class PatentClustering(PatenTEBTask, AbsTaskClustering):
    """Every document is embedded (mteb's default embeds 4 %); k-means with k = the number of gold clusters then
    runs on `n_clusters` bootstrap resamples (mteb's name for the number of runs, not k), each the size of the
    split up to 16,384 documents, and the V-measures are averaged."""

    max_fraction_of_documents_to_embed = None
    max_document_to_embed = None
    n_clusters = 10

    def load_data(self, num_proc: int | None = None, *, timer=None, **kwargs) -> None:
        if self.data_loaded:
            return
        rows = self.read_split("test").dropna(subset=["text", "cluster_id"])
        self.dataset = DatasetDict({"test": as_clustering_dataset(rows)})
        self.max_documents_per_cluster = min(LARGEST_BOOTSTRAP_SAMPLE, len(rows))
        self.data_loaded = True


def as_clustering_dataset(rows: pd.DataFrame) -> Dataset:
    return Dataset.from_dict({"sentences": rows["text"].astype(str).tolist(), "labels": rows["cluster_id"].tolist()})


class clusters_ext_full_ipc(PatentClustering):
    metadata = patenteb_metadata("clusters_ext_full_ipc")


class clusters_inventor(PatentClustering):
    metadata = patenteb_metadata("clusters_inventor")
