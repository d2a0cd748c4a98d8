"""The 2 PatenTEB paraphrase tasks, scored as STS: Pearson r of the pair's cosine similarity against its 0/1 label."""

from __future__ import annotations

from datasets import Dataset, DatasetDict
from mteb.abstasks import AbsTaskSTS

from evaluator.tasks.base import PatenTEBTask, patenteb_metadata
from evaluator.tasks.examples import example_ids, similarity_examples


class PatentParaphrase(PatenTEBTask, AbsTaskSTS):
    """Per pair (evaluator/tasks/examples.py): the cosine similarity mteb correlated with the label, and the label."""

    min_score = 0
    max_score = 1
    id_columns = ("q", "t")

    def load_data(self, num_proc: int | None = None, *, timer=None, **kwargs) -> None:
        if self.data_loaded:
            return
        rows = self.read_split("test").dropna(subset=["text1", "text2", "label"])
        pairs = Dataset.from_dict(
            {
                "sentence1": rows["text1"].astype(str).tolist(),
                "sentence2": rows["text2"].astype(str).tolist(),
                "score": rows["label"].astype(float).tolist(),
            }
        )
        self.dataset = DatasetDict({"test": pairs})
        self.example_ids = {"test": example_ids(rows, self.id_columns)}
        self.data_loaded = True

    def _evaluate_subset(self, model, data_split, *, hf_split: str, hf_subset: str, **kwargs):
        with self.scoring(hf_split, hf_subset):
            return super()._evaluate_subset(model, data_split, hf_split=hf_split, hf_subset=hf_subset, **kwargs)

    def _calculate_scores(self, scores, normalized_scores):
        """mteb's hook with each pair's similarities and its label (scaled to [0, 1], which a 0/1 label already is)."""
        split, subset = self.scoring_split()
        self.keep_examples(
            similarity_examples(split, subset, self.example_ids[split], scores["cosine_scores"], normalized_scores)
        )
        return super()._calculate_scores(scores, normalized_scores)


class para_problem(PatentParaphrase):
    metadata = patenteb_metadata("para_problem")


class para_solution(PatentParaphrase):
    metadata = patenteb_metadata("para_solution")
