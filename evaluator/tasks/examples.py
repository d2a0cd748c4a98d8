"""Per-example scores: what each example of a task scored in an evaluation, kept beside the main score.

Each family's task class fills these rows from a hook in mteb's own scoring path, so the rows hold exactly the
values mteb aggregated (clustering aside, below), with ids that are stable across models:

| family         | example_id              | metric       | value                   | gold        | predicted       |
|----------------|-------------------------|--------------|-------------------------|-------------|-----------------|
| retrieval      | the query id            | `ndcg_at_10` | the query's NDCG@10     | null        | null            |
| classification | the row's `q` (`q|t`)   | `correct`    | 1.0 or 0.0              | gold label  | predicted label |
| clustering     | the row's `q`           | `cluster`    | assigned cluster number | gold label  | cluster, as text|
| paraphrase     | the pair's `q|t`        | `similarity` | cosine similarity       | 0/1 label   | null            |

Retrieval rows also carry `retrieved`: the ids of the 10 documents ranked first, best first, space-separated
(mteb's ranking: score, then document id, descending). Other families leave it null.

A repeated id gets `#<row number in the split>`; a split without an id column uses row numbers.

Classification runs one experiment (one classifier fitted on the whole train subset): its predictions are the
rows, and the macro-F1 of their gold and predicted labels is the main score.

Clustering: mteb scores V-measure as the mean over bootstrap resamples drawn with replacement, and keeps no
item's cluster. Each item's cluster here comes from one k-means over every item of the split, configured as
mteb's (MiniBatchKMeans, k = the number of gold labels, k-means++, one init, batch 512, the task's seed), on the
embeddings mteb's run computed. The V-measure of these assignments (what per-example intervals and comparisons
use) is therefore not the stored main score, which stays mteb's bootstrap mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

EXAMPLE_COLUMNS = ("split", "subset", "example_id", "metric", "value", "gold", "predicted", "retrieved")
"""A task's per-example frame; the store adds model, revision and task."""

NDCG_AT_10 = "ndcg_at_10"
CORRECT = "correct"
CLUSTER = "cluster"
SIMILARITY = "similarity"
RETRIEVED_DEPTH = 10
ID_SEPARATOR = "|"


def example_ids(rows: pd.DataFrame, id_columns: Sequence[str]) -> list[str]:
    """One id per row: its id column(s) joined by '|', or its row number when the split has none of them."""
    present = [column for column in id_columns if column in rows.columns]
    if not present:
        return [str(number) for number in rows.index]
    ids = rows[present].astype(str).agg(ID_SEPARATOR.join, axis=1)
    repeated = ids.duplicated(keep=False)
    ids[repeated] = ids[repeated] + "#" + rows.index[repeated].astype(str)
    return ids.tolist()


def label_text(value) -> str:
    """A label as text: 1.0 -> '1', 'B' -> 'B'."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def example_frame(split: str, subset: str, **columns) -> pd.DataFrame:
    """A per-example frame with every column of EXAMPLE_COLUMNS (missing ones null)."""
    length = len(columns["example_id"])
    frame = pd.DataFrame({column: columns.get(column, [None] * length) for column in EXAMPLE_COLUMNS[2:]})
    frame.insert(0, "subset", subset)
    frame.insert(0, "split", split)
    frame["value"] = frame["value"].astype("float64")
    for column in ("example_id", "metric", "gold", "predicted", "retrieved"):
        frame[column] = frame[column].astype(object)
    return frame


def retrieval_examples(
    split: str, subset: str, per_query: dict[str, dict[str, float]], ranked: dict[str, dict[str, float]]
) -> pd.DataFrame:
    """Each query's NDCG@10 (pytrec_eval's per-query value, which mteb averages) and its top-10 documents."""
    query_ids = list(per_query)
    return example_frame(
        split,
        subset,
        example_id=query_ids,
        metric=[NDCG_AT_10] * len(query_ids),
        value=[per_query[query]["ndcg_cut_10"] for query in query_ids],
        retrieved=[" ".join(top_documents(ranked.get(query, {}))) for query in query_ids],
    )


def top_documents(scores: dict[str, float], depth: int = RETRIEVED_DEPTH) -> list[str]:
    ranked = sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)
    return [document for document, _ in ranked[:depth]]


def classification_examples(split: str, subset: str, ids: Sequence[str], gold, predicted) -> pd.DataFrame:
    gold, predicted = list(gold), list(predicted)
    _same_length(ids, gold, "test labels")
    return example_frame(
        split,
        subset,
        example_id=list(ids),
        metric=[CORRECT] * len(ids),
        value=[float(g == p) for g, p in zip(gold, predicted)],
        gold=[label_text(label) for label in gold],
        predicted=[label_text(label) for label in predicted],
    )


def clustering_examples(split: str, subset: str, ids: Sequence[str], gold, clusters) -> pd.DataFrame:
    gold, clusters = list(gold), [int(cluster) for cluster in clusters]
    _same_length(ids, gold, "cluster labels")
    return example_frame(
        split,
        subset,
        example_id=list(ids),
        metric=[CLUSTER] * len(ids),
        value=[float(cluster) for cluster in clusters],
        gold=[label_text(label) for label in gold],
        predicted=[str(cluster) for cluster in clusters],
    )


def similarity_examples(split: str, subset: str, ids: Sequence[str], similarity, gold) -> pd.DataFrame:
    similarity, gold = list(similarity), list(gold)
    _same_length(ids, similarity, "similarities")
    return example_frame(
        split,
        subset,
        example_id=list(ids),
        metric=[SIMILARITY] * len(ids),
        value=[float(value) for value in similarity],
        gold=[label_text(label) for label in gold],
    )


def _same_length(ids: Sequence[str], values: Sequence, what: str) -> None:
    if len(ids) != len(values):
        raise ValueError(f"{len(ids)} example ids for {len(values)} {what}")


def empty_examples() -> pd.DataFrame:
    return example_frame("", "", example_id=[]).iloc[0:0]
