"""The 2 PatenTEB paraphrase tasks, scored as STS: Pearson r of the pair's cosine similarity against its 0/1 label."""

from __future__ import annotations

from datasets import Dataset, DatasetDict
from mteb.abstasks import AbsTaskSTS

from evaluator.tasks.base import PatenTEBTask, patenteb_metadata


class PatentParaphrase(PatenTEBTask, AbsTaskSTS):
    min_score = 0
    max_score = 1

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
        self.data_loaded = True


class para_problem(PatentParaphrase):
    metadata = patenteb_metadata("para_problem")


class para_solution(PatentParaphrase):
    metadata = patenteb_metadata("para_solution")
