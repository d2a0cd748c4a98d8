"""The 2 PatenTEB clustering tasks (V-measure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from datasets import Dataset, DatasetDict
from mteb.abstasks import AbsTaskClustering
from sklearn.cluster import MiniBatchKMeans

from evaluator.tasks.base import PatenTEBTask, patenteb_metadata
from evaluator.tasks.examples import clustering_examples, example_ids

LARGEST_BOOTSTRAP_SAMPLE = 16_384


class PatentClustering(PatenTEBTask, AbsTaskClustering):
    """Every document is embedded (mteb's default embeds 4 %); k-means with k = the number of gold clusters then
    runs on `n_clusters` bootstrap resamples (mteb's name for the number of runs, not k), each the size of the
    split up to 16,384 documents, and the V-measures are averaged.

    Per item (evaluator/tasks/examples.py): its gold label and its cluster in one k-means over the whole split,
    configured as mteb's, on the embeddings mteb's run computed (nothing is encoded twice)."""

    max_fraction_of_documents_to_embed = None
    max_document_to_embed = None
    n_clusters = 10

    def load_data(self, num_proc: int | None = None, *, timer=None, **kwargs) -> None:
        if self.data_loaded:
            return
        rows = self.read_split("test").dropna(subset=["text", "cluster_id"])
        self.dataset = DatasetDict({"test": as_clustering_dataset(rows)})
        self.example_ids = {"test": example_ids(rows, self.id_columns)}
        self.max_documents_per_cluster = min(LARGEST_BOOTSTRAP_SAMPLE, len(rows))
        self.data_loaded = True

    def _evaluate_subset(self, model, data_split, *, hf_split: str, hf_subset: str, **kwargs):
        recorder = EmbeddingRecorder(model)
        scores = super()._evaluate_subset(recorder, data_split, hf_split=hf_split, hf_subset=hf_subset, **kwargs)
        labels = data_split[self.label_column_name]
        clusters = self.assign_clusters(recorder.last_embeddings(), labels)
        self.keep_examples(clustering_examples(hf_split, hf_subset, self.example_ids[hf_split], labels, clusters))
        return scores

    def assign_clusters(self, embeddings: np.ndarray, labels) -> np.ndarray:
        """One k-means over every item, configured as each of mteb's bootstrap runs."""
        kmeans = MiniBatchKMeans(
            n_clusters=len(set(labels)),
            batch_size=self.k_mean_batch_size,
            init="k-means++",
            n_init=1,
            random_state=self.seed,
        )
        return kmeans.fit_predict(np.asarray(embeddings))


class EmbeddingRecorder:
    """The model as mteb's encoder protocol sees it, keeping the embeddings it hands back."""

    def __init__(self, model):
        self.model = model
        self.embeddings: list[np.ndarray] = []

    @property
    def mteb_model_meta(self):
        return self.model.mteb_model_meta

    def encode(self, inputs, **kwargs):
        embeddings = self.model.encode(inputs, **kwargs)
        self.embeddings.append(embeddings)
        return embeddings

    def similarity(self, embeddings1, embeddings2):
        return self.model.similarity(embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1, embeddings2):
        return self.model.similarity_pairwise(embeddings1, embeddings2)

    def last_embeddings(self) -> np.ndarray:
        if len(self.embeddings) != 1:
            raise RuntimeError(f"mteb was to encode the clustering split once; it encoded {len(self.embeddings)} times")
        return np.asarray(self.embeddings[0])


def as_clustering_dataset(rows: pd.DataFrame) -> Dataset:
    return Dataset.from_dict({"sentences": rows["text"].astype(str).tolist(), "labels": rows["cluster_id"].tolist()})


class clusters_ext_full_ipc(PatentClustering):
    metadata = patenteb_metadata("clusters_ext_full_ipc")


class clusters_inventor(PatentClustering):
    metadata = patenteb_metadata("clusters_inventor")
