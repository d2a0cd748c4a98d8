"""The 3 PatenTEB classification tasks (macro-F1): a logistic regression fitted on the shipped train subset."""

from __future__ import annotations

import numpy as np
import pandas as pd
from datasets import Dataset, DatasetDict
from mteb._create_dataloaders import create_dataloader
from mteb.abstasks import AbsTaskClassification
from sklearn.linear_model import LogisticRegression

from evaluator.tasks.base import PatenTEBTask, patenteb_metadata
from evaluator.tasks.examples import classification_examples, example_ids

USE_EVERY_TRAINING_ROW = 10**12


class PatentClassification(PatenTEBTask, AbsTaskClassification):
    """One classifier on frozen embeddings of the whole shipped train subset, scored once on the test split.

    mteb's default (8 examples per label, 10 repetitions) is a few-shot protocol; PatenTEB ships a train
    subset for fitting, so every training row is used and a single experiment is run. Its predictions are the
    per-example rows (gold and predicted label of each test row).
    """

    samples_per_label = USE_EVERY_TRAINING_ROW
    n_experiments = 1
    evaluator_model = LogisticRegression(max_iter=1000)
    text_column = "text"

    def load_data(self, num_proc: int | None = None, *, timer=None, **kwargs) -> None:
        if self.data_loaded:
            return
        splits = {split: self.usable_rows(self.read_split(split)) for split in ("train", "test")}
        self.dataset = DatasetDict({split: self.as_dataset(rows) for split, rows in splits.items()})
        self.example_ids = {split: example_ids(rows, self.id_columns) for split, rows in splits.items()}
        self.data_loaded = True

    def usable_rows(self, rows: pd.DataFrame) -> pd.DataFrame:
        return rows.dropna(subset=[self.text_column, "label"])

    def as_dataset(self, rows: pd.DataFrame) -> Dataset:
        return Dataset.from_dict({"text": rows[self.text_column].astype(str).tolist(), "label": rows["label"].tolist()})

    def _evaluate_subset(self, model, data_split, *, hf_split: str, hf_subset: str, **kwargs):
        with self.scoring(hf_split, hf_subset):
            return super()._evaluate_subset(model, data_split, hf_split=hf_split, hf_subset=hf_subset, **kwargs)

    def _calculate_scores(self, y_test, y_pred):
        """mteb's hook with the gold and predicted labels of the test rows, in their order."""
        split, subset = self.scoring_split()
        self.keep_examples(classification_examples(split, subset, self.example_ids[split], y_test, y_pred))
        return super()._calculate_scores(y_test, y_pred)


class PatentPairClassification(PatentClassification):
    """A label on an ordered pair of patents: each text is embedded alone and the classifier sees both side by side."""

    input_column_name = ("q_text", "t_text")
    id_columns = ("q", "t")

    def usable_rows(self, rows: pd.DataFrame) -> pd.DataFrame:
        return rows.dropna(subset=["q_text", "t_text", "label"])

    def as_dataset(self, rows: pd.DataFrame) -> Dataset:
        return Dataset.from_dict(
            {
                "q_text": rows["q_text"].astype(str).tolist(),
                "t_text": rows["t_text"].astype(str).tolist(),
                "label": rows["label"].tolist(),
            }
        )

    def _evaluate_subset(self, model, data_split, *, encode_kwargs, hf_split, hf_subset, timer, **kwargs):
        train, test = data_split[self.train_split], data_split[hf_split]
        train_features = self._pair_features(model, train, self.train_split, hf_subset, encode_kwargs)
        test_features = self._pair_features(model, test, hf_split, hf_subset, encode_kwargs)
        with timer("Scoring", split=hf_split, subset=hf_subset), self.scoring(hf_split, hf_subset):
            scores, _ = self._run_experiment(train, test, train_features, test_features, timer=timer)
        return self._calculate_avg_scores([scores])

    def _pair_features(self, model, rows: Dataset, split: str, hf_subset: str, encode_kwargs) -> np.ndarray:
        """One row per pair: the embedding of q_text followed by the embedding of t_text."""
        halves = []
        for column in self.input_column_name:
            loader = create_dataloader(rows, task_metadata=self.metadata, input_column=column, **encode_kwargs)
            embedded = model.encode(
                loader, task_metadata=self.metadata, hf_split=split, hf_subset=hf_subset, **encode_kwargs
            )
            halves.append(np.asarray(embedded, dtype=np.float32))
        return np.hstack(halves)


class class_bloom(PatentClassification):
    metadata = patenteb_metadata("class_bloom")


class class_nli_oldnew(PatentPairClassification):
    metadata = patenteb_metadata("class_nli_oldnew")


class class_text2ipc3(PatentClassification):
    metadata = patenteb_metadata("class_text2ipc3")
