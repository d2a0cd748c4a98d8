"""The 8 PatenTEB retrieval tasks (NDCG@10): 3 symmetric from triplets, 5 asymmetric fragment-to-target."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd
from mteb.abstasks import AbsTaskRetrieval
from mteb.models import EncoderProtocol, SearchEncoderWrapper, SearchProtocol

from evaluator.tasks.base import PatenTEBTask, patenteb_metadata
from evaluator.tasks.examples import retrieval_examples
from patenteb.catalogue import PAIRED_FIELDS

SCORED_DEPTHS = (1, 3, 5, 10, 20, 100)
"""Cut-offs scored. mteb's default adds 1000, which makes it rank and score 1,000 documents per query:
at PatenTEB's full size that is 3.6 GiB and 160 s on one task, for metrics nobody reads (main score: NDCG@10)."""
CORPUS_CHUNK_SIZE = 8192
"""Documents scored against all queries at once; mteb's default (50,000) holds the whole query x corpus matrix."""


@dataclass(frozen=True)
class RetrievalSplit:
    queries: dict[str, str]
    corpus: dict[str, str]
    relevant: dict[str, dict[str, int]]

    def as_mteb(self) -> dict:
        from datasets import Dataset

        return {
            "queries": Dataset.from_dict({"id": list(self.queries), "text": list(self.queries.values())}),
            "corpus": Dataset.from_dict({"id": list(self.corpus), "text": list(self.corpus.values())}),
            "relevant_docs": self.relevant,
            "top_ranked": None,
        }


def text_id(text: str) -> str:
    """The same id for the same text, whichever column or row it comes from."""
    return "t" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _usable(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def symmetric_split(rows: pd.DataFrame) -> RetrievalSplit:
    """Triplets (q_text, pos_text, neg_text) -> distinct queries, a corpus of every positive and negative text,
    and each query's positives as its relevant set. Ids are text hashes, so duplicates merge in first-seen order."""
    queries: dict[str, str] = {}
    corpus: dict[str, str] = {}
    relevant: dict[str, dict[str, int]] = {}
    for query, positive, negative in zip(rows["q_text"], rows["pos_text"], rows["neg_text"]):
        if not _usable(query) or not _usable(positive):
            continue
        query_id, positive_id = text_id(query), text_id(positive)
        queries.setdefault(query_id, query)
        corpus.setdefault(positive_id, positive)
        if positive_id != query_id:
            relevant.setdefault(query_id, {})[positive_id] = 1
        if _usable(negative):
            corpus.setdefault(text_id(negative), negative)
    return RetrievalSplit(queries, corpus, relevant)


def asymmetric_split(rows: pd.DataFrame, query_column: str, target_column: str, id_column: str = "q") -> RetrievalSplit:
    """One query per row (its `query_column` text); the corpus is every distinct target; a query's one relevant
    document is its own row's target."""
    queries: dict[str, str] = {}
    corpus: dict[str, str] = {}
    relevant: dict[str, dict[str, int]] = {}
    for row_number, (key, query, target) in enumerate(zip(rows[id_column], rows[query_column], rows[target_column])):
        if not _usable(query) or not _usable(target):
            continue
        query_id = f"q{key}"
        if queries.get(query_id, query) != query:
            query_id = f"q{key}#{row_number}"
        target_id = text_id(target)
        queries.setdefault(query_id, query)
        corpus.setdefault(target_id, target)
        relevant.setdefault(query_id, {})[target_id] = 1
    return RetrievalSplit(queries, corpus, relevant)


class PatentRetrieval(PatenTEBTask, AbsTaskRetrieval):
    """Reads the test rows, rebuilds queries, corpus and relevance, and lets mteb search and score."""

    k_values = SCORED_DEPTHS

    def _evaluate_subset(self, model, *args, **kwargs):
        if isinstance(model, EncoderProtocol) and not isinstance(model, SearchProtocol):
            model = SearchEncoderWrapper(model, corpus_chunk_size=CORPUS_CHUNK_SIZE)
        return super()._evaluate_subset(model, *args, **kwargs)

    def task_specific_scores(self, scores, qrels, results, hf_split: str, hf_subset: str) -> dict[str, float]:
        """mteb's hook after scoring: `scores` holds pytrec_eval's per-query metrics, `results` each query's ranking."""
        self.keep_examples(retrieval_examples(hf_split, hf_subset, scores, results))
        return super().task_specific_scores(scores, qrels, results, hf_split, hf_subset)

    def load_data(self, num_proc: int | None = None, *, timer=None, **kwargs) -> None:
        if self.data_loaded:
            return
        split = self.build_split(self.read_split("test"))
        self.dataset = {"default": {"test": split.as_mteb()}}
        self.data_loaded = True

    def build_split(self, rows: pd.DataFrame) -> RetrievalSplit:
        raise NotImplementedError


class SymmetricPatentRetrieval(PatentRetrieval):
    ignore_identical_ids = True

    def build_split(self, rows: pd.DataFrame) -> RetrievalSplit:
        return symmetric_split(rows)


class AsymmetricPatentRetrieval(PatentRetrieval):
    def build_split(self, rows: pd.DataFrame) -> RetrievalSplit:
        query_column, target_column = PAIRED_FIELDS[self.metadata.name]
        return asymmetric_split(rows, query_column, target_column)


class retrieval_IN(SymmetricPatentRetrieval):
    metadata = patenteb_metadata("retrieval_IN")


class retrieval_MIXED(SymmetricPatentRetrieval):
    metadata = patenteb_metadata("retrieval_MIXED")


class retrieval_OUT(SymmetricPatentRetrieval):
    metadata = patenteb_metadata("retrieval_OUT")


class title2full(AsymmetricPatentRetrieval):
    metadata = patenteb_metadata("title2full")


class problem2full(AsymmetricPatentRetrieval):
    metadata = patenteb_metadata("problem2full")


class problem2solution(AsymmetricPatentRetrieval):
    metadata = patenteb_metadata("problem2solution")


class effect2full(AsymmetricPatentRetrieval):
    metadata = patenteb_metadata("effect2full")


class effect2substance(AsymmetricPatentRetrieval):
    metadata = patenteb_metadata("effect2substance")
