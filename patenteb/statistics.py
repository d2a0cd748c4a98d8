"""How sure each score is: bootstrap intervals, paired comparisons of two models, rank intervals.

Pure: per-example frames and score tables in, numbers and frames out (numpy and pandas; no store, no UI; scipy's
conventions, checked against scipy in the tests).

Per-example frames have the columns of `PER_EXAMPLE_COLUMNS`; a task's family decides its metric:

| family         | metric rows    | task score recomputed from the examples                     |
|----------------|----------------|-------------------------------------------------------------|
| retrieval      | `ndcg_at_10`   | mean of the queries' values                                 |
| classification | `correct`      | macro-F1 of gold vs predicted (labels present in the sample)|
| clustering     | `cluster`      | V-measure of gold vs the assigned clusters                  |
| paraphrase     | `similarity`   | Pearson r between the similarities and the gold labels      |

Every metric is computed for a whole batch of resamples at once: a batch is a (resamples, n) matrix of drawn
example indices; the mean is a gather, Pearson r follows from weighted sums (matrix products with per-resample
example counts), macro-F1 and V-measure from the counts of (gold, predicted) pairs in each resample. The only
Python loops run one `np.bincount` per resample (faster than one bincount over offset rows: each row's counts
stay in cache). The resamples are drawn exactly as
`scipy.stats.bootstrap` draws them (the same generator calls, percentile method), and the tests check the
intervals against scipy.stats.bootstrap with sklearn's metric called on each resample. scipy's function itself
is not called: it hands the statistic a resampled copy of every array (gold, A, B), and those copies made a
15-task comparison several times slower. The paired permutation test follows the conventions of
`scipy.stats.permutation_test(permutation_type='samples')` and is checked against it (exact p-values on small
samples); scipy's own swaps each example in a Python loop over the examples, far too slow at 18,000 examples.

Intervals are meant to be computed once, when per-example rows are written; `task_bootstrap` gives the whole
distribution, which `compare` (paired bootstrap of two models with the same examples) and `rank_intervals`
(rank ranges) can reuse.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from patenteb.catalogue import BY_NAME, FAMILIES

PER_EXAMPLE_COLUMNS = ("model", "revision", "task", "split", "subset", "example_id", "metric", "value", "gold", "predicted")
GROUP_COLUMNS = ("split", "subset")
"""A task's examples are resampled within each (split, subset) group; the task score is the groups' mean."""

RETRIEVAL, CLASSIFICATION, CLUSTERING, PARAPHRASE = FAMILIES
EXAMPLE_METRIC_OF_FAMILY = {CLASSIFICATION: "correct", CLUSTERING: "cluster", PARAPHRASE: "similarity"}
"""Per-example metric rows of each family; retrieval rows name their IR metric (`ndcg_at_10`, `ndcg_at_100`)."""
RETRIEVAL_METRIC_PREFIXES = ("ndcg_at_", "recall_at_", "map_at_", "mrr_at_", "precision_at_")

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_CONFIDENCE = 0.95
BATCH_ELEMENTS = 2**21
"""Resamples are processed in batches of about this many example draws, to bound memory."""
METRIC_RANGE = {RETRIEVAL: (0.0, 1.0), CLASSIFICATION: (0.0, 1.0), CLUSTERING: (0.0, 1.0), PARAPHRASE: (-1.0, 1.0)}
ZERO_ENTROPY = 1e-10
CONSTANT_SPREAD = 1e-12
"""Relative spread below which a resample's similarities or labels count as constant (Pearson r undefined)."""

INTERVAL_METHOD = (
    f"{DEFAULT_CONFIDENCE:.0%} percentile bootstrap: the task's examples are drawn with replacement "
    f"{DEFAULT_RESAMPLES:,} times (seeded by {DEFAULT_SEED} and the task's name), the task's own metric is "
    "recomputed on each resample (mean NDCG@10; macro-F1; V-measure of the gold labels against the clusters the "
    "model assigned; Pearson r), the resamples are centred on the score (their mean bias removed: V-measure "
    "reads higher on resamples, where repeated items make clusters look purer), and the interval runs from "
    "their 2.5th to their 97.5th percentile (scipy.stats.bootstrap's draws and percentile method). A task with several subsets is resampled within each subset and the subsets' "
    "scores averaged. Scores without per-example data (the paper, third-party quotes, MTEB imports) have no "
    "interval."
)
COMPARE_METHOD = (
    "Paired on the examples both models scored (same example ids). Difference = A - B of the task's metric. "
    f"Interval: {DEFAULT_CONFIDENCE:.0%} paired percentile bootstrap (the same resampled examples for both "
    f"models, {DEFAULT_RESAMPLES:,} resamples, centred on the difference). p-value: two-sided paired permutation test, each example's A and "
    f"B outputs swapped at random ({DEFAULT_RESAMPLES:,} permutations, exact over all 2^n when that is fewer; for "
    "clustering, the two models' cluster ids are kept distinct). Holm's step-down adjustment over the tasks "
    "compared; a task counts as a difference when its Holm-adjusted p < 0.05."
)
RANK_METHOD = (
    "Rank interval: the table's ranking (Borda points: one point per model with a strictly lower score on each "
    f"task) recomputed {DEFAULT_RESAMPLES:,} times (seed {DEFAULT_SEED}) on resampled tables: the tasks are drawn "
    "with replacement and, where a score has per-example data, it is replaced by the same resample of its "
    "bootstrap distribution. The range shown runs from the 2.5th to the 97.5th percentile of the model's ranks; "
    "a row whose range overlaps the row above is marked as statistically tied with it."
)


class StatisticsInputError(ValueError):
    """Input the statistics cannot use, with a message fit to show as it is."""


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    n_resamples: int
    method: str
    score: float
    """The task's metric on all its examples."""


@dataclass(frozen=True)
class Comparison:
    a: float
    b: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    n_examples: int
    n_resamples: int


# ---------------------------------------------------------------------------------------------------------------
# Metrics on whole batches of resamples. A bootstrap batch is a (resamples, n) matrix of drawn example indices;
# a permutation batch is a (permutations, n) matrix of swap bits, packed eight to a byte (np.packbits order).
# The mean is a gather; Pearson r follows from weighted sums (matrix products); macro-F1 and V-measure from
# counts of (gold, predicted) pairs per resample (np.bincount); sums over swapped examples are read from
# per-byte tables (each byte of swap bits selects one of 256 precomputed partial sums).


def resample_weights(indices: np.ndarray) -> np.ndarray:
    """How often each example occurs in each resample: (resamples, n) indices below n -> (resamples, n) floats."""
    rows, n = indices.shape
    weights = np.empty((rows, n), dtype=np.float64)
    for row in range(rows):
        weights[row] = np.bincount(indices[row], minlength=n)
    return weights


def counts_per_row(values: np.ndarray, n_values: int) -> np.ndarray:
    """How often each of 0..n_values-1 occurs in each row of `values` (rows, columns) -> (rows, n_values) ints.
    One bincount per row: its counts stay in cache, which beats one bincount over offset rows."""
    counts = np.empty((values.shape[0], n_values), dtype=np.int64)
    for row, row_values in enumerate(values):
        counts[row] = np.bincount(row_values, minlength=n_values)
    return counts


def sum_by_group(counts: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Columns of `counts` (rows, columns) summed by the group of each column -> (rows, n_groups)."""
    sums = np.empty((counts.shape[0], n_groups))
    for row, row_counts in enumerate(counts):
        sums[row] = np.bincount(groups, weights=row_counts, minlength=n_groups)
    return sums


@lru_cache(maxsize=16)
def _x_log_x_table(size: int) -> np.ndarray:
    k = np.arange(size, dtype=np.float64)
    return k * np.log(np.maximum(k, 1.0))


def _sum_x_log_x(counts: np.ndarray, largest: int) -> np.ndarray:
    """Sum of c log c along the last axis, for whole-number counts up to `largest` (a table lookup, not a log)."""
    table = _x_log_x_table(1 << int(largest).bit_length())
    return table[counts.astype(np.intp, copy=False)].sum(axis=-1)


@dataclass(frozen=True)
class PairTable:
    """The gold label and the prediction (label or cluster) of each (gold, predicted) pair id."""

    gold: np.ndarray
    predicted: np.ndarray
    n_gold: int
    n_predicted: int

    def gold_sizes(self, pair_counts: np.ndarray) -> np.ndarray:
        return sum_by_group(pair_counts, self.gold, self.n_gold)


def macro_f1_from_counts(pair_counts: np.ndarray, pairs: PairTable, gold_sizes: np.ndarray | None = None) -> np.ndarray:
    """Macro-F1 per row from counts of (gold, predicted) pairs, averaged over the labels present in the row
    (as sklearn's f1_score(average='macro') does: F1 = 2 TP / (gold count + predicted count))."""
    support = pairs.gold_sizes(pair_counts) if gold_sizes is None else gold_sizes
    predicted = sum_by_group(pair_counts, pairs.predicted, pairs.n_predicted)
    correct = np.flatnonzero(pairs.gold == pairs.predicted)
    true_positives = np.zeros(predicted.shape)
    true_positives[:, pairs.gold[correct]] = pair_counts[:, correct]
    denominator = support + predicted
    present = denominator > 0
    f1 = np.divide(2 * true_positives, denominator, out=np.zeros(denominator.shape), where=present)
    return f1.sum(axis=1) / present.sum(axis=1)


def v_measure_from_parts(parts: Sequence[tuple[np.ndarray, PairTable]], gold_sizes: np.ndarray) -> np.ndarray:
    """V-measure per row of a clustering made of parts with disjoint clusters (the items one model clustered and
    the items another did): each part's pair counts and table, and the gold label sizes of all the items."""
    n = gold_sizes.sum(axis=1)
    largest = int(n.max())
    gold_term = _sum_x_log_x(gold_sizes, largest) / n
    cluster_term = sum(
        _sum_x_log_x(sum_by_group(counts, pairs.predicted, pairs.n_predicted), largest) for counts, pairs in parts
    ) / n
    pair_term = sum(_sum_x_log_x(counts, largest) for counts, _ in parts) / n
    log_n = np.log(n)
    gold_entropy = log_n - gold_term
    cluster_entropy = log_n - cluster_term
    mutual_information = np.clip(pair_term - gold_term - cluster_term + log_n, 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        homogeneity = np.where(gold_entropy > ZERO_ENTROPY, mutual_information / gold_entropy, 1.0)
        completeness = np.where(cluster_entropy > ZERO_ENTROPY, mutual_information / cluster_entropy, 1.0)
        total = homogeneity + completeness
        return np.where(total > 0, 2 * homogeneity * completeness / total, 0.0)


def pearson_from_sums(n: float, gold_sums: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Pearson r per row from weighted sums: gold_sums (..., 2) = (sum g, sum g^2), sums (..., 3) = (sum x,
    sum x^2, sum x g), of values centred beforehand. NaN where x or g is constant, as scipy.stats.pearsonr."""
    sum_g, sum_gg = gold_sums[..., 0], gold_sums[..., 1]
    sum_x, sum_xx, sum_xg = sums[..., 0], sums[..., 1], sums[..., 2]
    spread_x = n * sum_xx - sum_x**2
    spread_g = n * sum_gg - sum_g**2
    constant = (spread_x <= CONSTANT_SPREAD * n * sum_xx) | (spread_g <= CONSTANT_SPREAD * n * sum_gg)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (n * sum_xg - sum_x * sum_g) / np.sqrt(spread_x * spread_g)
    return np.where(constant, np.nan, np.clip(r, -1.0, 1.0))


_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float64)
"""Row b: the eight bits of byte value b, first example first (np.unpackbits order)."""


def byte_tables(columns: np.ndarray) -> np.ndarray:
    """For columns (n, k): (k, ceil(n/8) * 256) partial sums; entry 256 j + b of a column sums it over the
    examples 8j..8j+7 whose bits are set in byte value b."""
    n, k = columns.shape
    n_bytes = -(-n // 8)
    padded = np.zeros((n_bytes * 8, k))
    padded[:n] = columns
    return np.ascontiguousarray(np.einsum("bt,jtk->kjb", _BYTE_BITS, padded.reshape(n_bytes, 8, k)).reshape(k, -1))


def swapped_sums(packed: np.ndarray, tables: np.ndarray) -> np.ndarray:
    """Per row of packed swap bits (rows, n_bytes): the columns summed over the swapped examples -> (rows, k)."""
    entries = packed + (np.arange(packed.shape[1], dtype=np.intp) * 256)[None, :]
    return np.stack([table[entries].sum(axis=1) for table in tables], axis=1)


class _Examples:
    """One (split, subset) group of a task: per-example arrays of one model (A), or of two models (A, B) paired
    by example id. Gives the metric (one model) or A - B (two) on resamples, and A - B after swaps."""

    size: int
    paired: bool

    def scores(self) -> tuple[float, float | None]:
        """The metric of A and of B (None with one model) on all the examples."""
        raise NotImplementedError

    def difference(self) -> float:
        a, b = self.scores()
        return a - b

    def resampled(self, indices: np.ndarray) -> np.ndarray:
        """Per row of drawn example indices (resamples, n): the metric of A, or A - B when paired."""
        raise NotImplementedError

    def swapped(self, packed: np.ndarray) -> np.ndarray:
        """Per row of packed swap bits (permutations, ceil(n/8); a set bit: that example's A and B outputs trade
        places): A - B."""
        raise NotImplementedError


class _MeanExamples(_Examples):
    def __init__(self, a: np.ndarray, b: np.ndarray | None = None):
        self.size, self.paired = len(a), b is not None
        self.a, self.b = a, b
        if b is not None:
            self.a_minus_b = a - b
            self.tables = byte_tables(self.a_minus_b[:, None])

    def scores(self):
        return float(self.a.mean()), (float(self.b.mean()) if self.paired else None)

    def difference(self) -> float:
        return float(self.a_minus_b.sum() / self.size)

    def resampled(self, indices):
        return (self.a_minus_b if self.paired else self.a)[indices].mean(axis=1)

    def swapped(self, packed):
        return (self.a_minus_b.sum() - 2 * swapped_sums(packed, self.tables)[:, 0]) / self.size


class _PearsonExamples(_Examples):
    def __init__(self, a: np.ndarray, gold: np.ndarray, b: np.ndarray | None = None):
        self.size, self.paired = len(a), b is not None
        centre = a.mean() if b is None else (a.mean() + b.mean()) / 2
        gold = gold - gold.mean()
        self.gold_columns = np.column_stack([gold, gold * gold])
        self.columns_a = self._columns(a - centre, gold)
        if b is not None:
            self.columns_b = self._columns(b - centre, gold)
            self.tables = byte_tables(self.columns_b - self.columns_a)

    @staticmethod
    def _columns(x: np.ndarray, gold: np.ndarray) -> np.ndarray:
        return np.column_stack([x, x * x, x * gold])

    def _r(self, gold_sums: np.ndarray, sums: np.ndarray) -> np.ndarray:
        return pearson_from_sums(self.size, gold_sums, sums)

    def scores(self):
        gold_sums = self.gold_columns.sum(axis=0)
        a = float(self._r(gold_sums, self.columns_a.sum(axis=0)))
        return a, (float(self._r(gold_sums, self.columns_b.sum(axis=0))) if self.paired else None)

    def resampled(self, indices):
        weights = resample_weights(indices)
        gold_sums = weights @ self.gold_columns
        a = self._r(gold_sums, weights @ self.columns_a)
        return a - self._r(gold_sums, weights @ self.columns_b) if self.paired else a

    def swapped(self, packed):
        gold_sums = self.gold_columns.sum(axis=0)
        shift = swapped_sums(packed, self.tables)
        a = self._r(gold_sums, self.columns_a.sum(axis=0) + shift)
        return a - self._r(gold_sums, self.columns_b.sum(axis=0) - shift)


class _ClassificationExamples(_Examples):
    """Each example as the id of its (gold, predicted label) pair, in one label vocabulary for both models;
    macro-F1 from the counts of each pair."""

    def __init__(self, pairs: PairTable, a: np.ndarray, b: np.ndarray | None = None):
        self.size, self.paired = len(a), b is not None
        self.pairs, self.a, self.b = pairs, a, b
        n_pairs = len(pairs.gold)
        self.counts_a = np.bincount(a, minlength=n_pairs)[None, :]
        self.gold_sizes = pairs.gold_sizes(self.counts_a)
        if b is not None:
            self.counts_b = np.bincount(b, minlength=n_pairs)[None, :]
            self.differs = np.flatnonzero(a != b)
            self.a_where_differs, self.b_where_differs = a[self.differs], b[self.differs]
            self.counts_a_where_same = self.counts_a - np.bincount(self.a_where_differs, minlength=n_pairs)[None, :]

    def _f1(self, counts: np.ndarray, gold_sizes: np.ndarray) -> np.ndarray:
        return macro_f1_from_counts(counts, self.pairs, gold_sizes)

    def scores(self):
        a = float(self._f1(self.counts_a, self.gold_sizes)[0])
        return a, (float(self._f1(self.counts_b, self.gold_sizes)[0]) if self.paired else None)

    def resampled(self, indices):
        n_pairs = len(self.pairs.gold)
        counts_a = counts_per_row(self.a[indices], n_pairs)
        gold_sizes = self.pairs.gold_sizes(counts_a)
        a = self._f1(counts_a, gold_sizes)
        return a - self._f1(counts_per_row(self.b[indices], n_pairs), gold_sizes) if self.paired else a

    def swapped(self, packed):
        swaps = np.unpackbits(packed, axis=1, count=self.size).view(bool)[:, self.differs]
        moved = np.where(swaps, self.b_where_differs, self.a_where_differs)
        counts_a = self.counts_a_where_same + counts_per_row(moved, len(self.pairs.gold))
        counts_b = self.counts_a + self.counts_b - counts_a
        return self._f1(counts_a, self.gold_sizes) - self._f1(counts_b, self.gold_sizes)


class _ClusteringExamples(_Examples):
    """Each example as the id of its (gold label, cluster) pair, in each model's own pair table: two models'
    clusters are different clusters even where their numbers coincide. V-measure from the counts of each pair;
    after swaps, a model's clustering is made of its own clusters and the other model's (disjoint parts)."""

    def __init__(self, pairs_a: PairTable, a: np.ndarray, pairs_b: PairTable | None = None, b: np.ndarray | None = None):
        self.size, self.paired = len(a), b is not None
        self.pairs_a, self.a, self.pairs_b, self.b = pairs_a, a, pairs_b, b
        self.counts_a = np.bincount(a, minlength=len(pairs_a.gold))[None, :]
        self.gold_sizes = pairs_a.gold_sizes(self.counts_a)
        if b is not None:
            self.counts_b = np.bincount(b, minlength=len(pairs_b.gold))[None, :]

    def scores(self):
        a = float(v_measure_from_parts([(self.counts_a, self.pairs_a)], self.gold_sizes)[0])
        b = float(v_measure_from_parts([(self.counts_b, self.pairs_b)], self.gold_sizes)[0]) if self.paired else None
        return a, b

    def resampled(self, indices):
        counts_a = counts_per_row(self.a[indices], len(self.pairs_a.gold))
        gold_sizes = self.pairs_a.gold_sizes(counts_a)
        a = v_measure_from_parts([(counts_a, self.pairs_a)], gold_sizes)
        if not self.paired:
            return a
        counts_b = counts_per_row(self.b[indices], len(self.pairs_b.gold))
        return a - v_measure_from_parts([(counts_b, self.pairs_b)], gold_sizes)

    def swapped(self, packed):
        swaps = np.unpackbits(packed, axis=1, count=self.size).view(bool)
        a_swapped = np.empty((len(swaps), len(self.pairs_a.gold)), dtype=np.int64)
        b_swapped = np.empty((len(swaps), len(self.pairs_b.gold)), dtype=np.int64)
        for row, row_swaps in enumerate(swaps):
            positions = np.flatnonzero(row_swaps)
            a_swapped[row] = np.bincount(self.a[positions], minlength=a_swapped.shape[1])
            b_swapped[row] = np.bincount(self.b[positions], minlength=b_swapped.shape[1])
        a = v_measure_from_parts([(self.counts_a - a_swapped, self.pairs_a), (b_swapped, self.pairs_b)], self.gold_sizes)
        b = v_measure_from_parts([(a_swapped, self.pairs_a), (self.counts_b - b_swapped, self.pairs_b)], self.gold_sizes)
        return a - b


# ---------------------------------------------------------------------------------------------------------------
# From per-example frames to arrays.


def family_of_metric(metric: str) -> str:
    for family, name in EXAMPLE_METRIC_OF_FAMILY.items():
        if metric == name:
            return family
    if metric.startswith(RETRIEVAL_METRIC_PREFIXES):
        return RETRIEVAL
    raise StatisticsInputError(f"unknown per-example metric {metric!r}: expected one of "
                               f"{', '.join(EXAMPLE_METRIC_OF_FAMILY.values())} or an IR metric such as ndcg_at_10")


def example_metric(task: str, family: str) -> str:
    """The per-example metric rows that make a task's main score."""
    if family == RETRIEVAL:
        known = BY_NAME.get(task)
        return known.metric.key if known is not None and known.metric.key.startswith(RETRIEVAL_METRIC_PREFIXES) else "ndcg_at_10"
    return EXAMPLE_METRIC_OF_FAMILY[family]


def _require_columns(examples: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [column for column in columns if column not in examples.columns]
    if missing:
        raise StatisticsInputError(f"per-example rows lack the column(s) {', '.join(missing)}")


def main_examples(examples: pd.DataFrame, family: str | None = None) -> tuple[pd.DataFrame, str]:
    """The rows of one task and model that make its main score, and the task's family.

    The family comes from the catalogue for a known task, else from the rows' metric."""
    _require_columns(examples, ("example_id", "metric", "value"))
    if examples.empty:
        raise StatisticsInputError("no per-example rows")
    task = _single(examples, "task")
    metrics = list(pd.unique(examples["metric"]))
    if family is None and task in BY_NAME and BY_NAME[task].family in FAMILIES:
        family = BY_NAME[task].family
    if family is not None:
        if family not in FAMILIES:
            raise StatisticsInputError(f"unknown family {family!r}: expected one of {', '.join(FAMILIES)}")
        wanted = example_metric(task or "", family)
        if wanted not in metrics:
            raise StatisticsInputError(
                f"{task or 'the task'} ({family}) needs per-example {wanted!r} rows; found {', '.join(map(str, metrics))}"
            )
        return (examples if len(metrics) == 1 else examples[examples["metric"] == wanted]), family
    if len(metrics) != 1:
        raise StatisticsInputError(f"several per-example metrics ({', '.join(map(str, metrics))}): name the family")
    return examples, family_of_metric(str(metrics[0]))


def _single(examples: pd.DataFrame, column: str) -> str | None:
    if column not in examples.columns:
        return None
    values = pd.unique(examples[column])
    if len(values) > 1:
        raise StatisticsInputError(f"per-example rows of several {column}s ({', '.join(map(str, values[:5]))}): pass one")
    return str(values[0]) if len(values) else None


def _group_keys(*frames: pd.DataFrame) -> list[str]:
    return [column for column in GROUP_COLUMNS if all(column in frame.columns for frame in frames)]


def _check_unique_ids(rows: pd.DataFrame, keys: list[str]) -> None:
    repeated = rows.duplicated([*keys, "example_id"])
    if repeated.any():
        where = "/".join(map(str, rows.loc[repeated, keys].iloc[0])) if keys else "the rows"
        raise StatisticsInputError(f"example id {rows['example_id'][repeated].iloc[0]!r} repeats in {where}")


def _values(rows: pd.DataFrame, column: str, what: str) -> np.ndarray:
    values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        raise StatisticsInputError(f"{bad.sum()} of {len(values)} examples have no numeric {what} "
                                   f"(e.g. id {rows['example_id'].iloc[int(np.argmax(bad))]!r})")
    return values


def _labels(rows: pd.DataFrame, column: str, what: str) -> pd.Series:
    labels = rows[column]
    if labels.isna().any():
        raise StatisticsInputError(f"{int(labels.isna().sum())} of {len(labels)} examples have no {what}")
    return labels.astype(str).reset_index(drop=True)


def _codes(labels: pd.Series) -> tuple[np.ndarray, int]:
    codes, vocabulary = pd.factorize(labels)
    return codes.astype(np.int64), len(vocabulary)


def _pair_ids(gold_codes: np.ndarray, n_gold: int, predicted_codes: Sequence[np.ndarray], n_predicted: int) -> tuple[PairTable, list[np.ndarray]]:
    """Each example's (gold, predicted) pair as a dense pair id, one id space for all the predictions given."""
    pair_codes = np.concatenate([gold_codes * n_predicted + codes for codes in predicted_codes])
    pair_ids, unique_pairs = pd.factorize(pair_codes)
    unique_pairs = np.asarray(unique_pairs, dtype=np.int64)
    table = PairTable(unique_pairs // n_predicted, unique_pairs % n_predicted, n_gold, n_predicted)
    return table, np.split(pair_ids.astype(np.int64), len(predicted_codes))


def _label_examples(family: str, gold: pd.Series, predictions: Sequence[pd.Series]) -> _Examples:
    """Classification labels share one vocabulary (gold and both models'); each model's clusters are its own."""
    if family == CLASSIFICATION:
        codes, n_labels = _codes(pd.concat([gold, *predictions], ignore_index=True))
        predicted_codes = np.split(codes[len(gold):], len(predictions))
        table, ids = _pair_ids(codes[: len(gold)], n_labels, predicted_codes, n_labels)
        return _ClassificationExamples(table, *ids)
    gold_codes, n_gold = _codes(gold)
    parts = []
    for clusters in predictions:
        cluster_codes, n_clusters = _codes(clusters)
        table, (ids,) = _pair_ids(gold_codes, n_gold, [cluster_codes], n_clusters)
        parts += [table, ids]
    return _ClusteringExamples(*parts)


def _examples(family: str, rows: pd.DataFrame, paired: bool) -> _Examples:
    """A group's arrays from rows with value/gold/predicted columns suffixed _a (and _b when paired)."""
    if family == RETRIEVAL:
        return _MeanExamples(_values(rows, "value_a", "value"), _values(rows, "value_b", "value") if paired else None)
    _require_columns(rows, ("gold_a",))
    if family == PARAPHRASE:
        gold = _values(rows, "gold_a", "gold label")
        if paired and not np.array_equal(gold, _values(rows, "gold_b", "gold label")):
            raise StatisticsInputError("the two models' gold labels differ on shared examples")
        return _PearsonExamples(_values(rows, "value_a", "similarity"), gold,
                                _values(rows, "value_b", "similarity") if paired else None)
    _require_columns(rows, ("predicted_a",))
    gold = _labels(rows, "gold_a", "gold label")
    if paired and not gold.equals(_labels(rows, "gold_b", "gold label")):
        raise StatisticsInputError("the two models' gold labels differ on shared examples")
    what = "predicted label" if family == CLASSIFICATION else "assigned cluster"
    predictions = [_labels(rows, "predicted_a", what)] + ([_labels(rows, "predicted_b", what)] if paired else [])
    return _label_examples(family, gold, predictions)


OWN_COLUMNS = ("value", "gold", "predicted")


def _groups_of_one(rows: pd.DataFrame, family: str) -> list[_Examples]:
    keys = _group_keys(rows)
    _check_unique_ids(rows, keys)
    present = [column for column in OWN_COLUMNS if column in rows.columns]
    ordered = rows[[*keys, "example_id", *present]].rename(columns={c: f"{c}_a" for c in present})
    ordered = ordered.sort_values([*keys, "example_id"], kind="stable")
    if not keys:
        return [_examples(family, ordered, paired=False)]
    return [_examples(family, group, paired=False) for _, group in ordered.groupby(keys, sort=True, dropna=False)]


def _paired_groups(rows_a: pd.DataFrame, rows_b: pd.DataFrame, family: str) -> list[_Examples]:
    keys = _group_keys(rows_a, rows_b)
    for rows in (rows_a, rows_b):
        _check_unique_ids(rows, keys)
    present = [column for column in OWN_COLUMNS if column in rows_a.columns and column in rows_b.columns]
    merged = rows_a[[*keys, "example_id", *present]].merge(
        rows_b[[*keys, "example_id", *present]], on=[*keys, "example_id"], suffixes=("_a", "_b"), sort=True
    )
    if merged.empty:
        raise StatisticsInputError("the two models share no example ids on this task")
    if not keys:
        return [_examples(family, merged, paired=True)]
    return [_examples(family, group, paired=True) for _, group in merged.groupby(keys, sort=True, dropna=False)]


# ---------------------------------------------------------------------------------------------------------------
# Resampling.


def resampling_generator(seed: int, task: str | None) -> np.random.Generator:
    """The random generator of a task's bootstrap: seeded by the seed and the task's name, so that a task's
    interval does not depend on which other tasks are computed, and tasks of equal size are not resampled alike."""
    if task is None:
        return np.random.default_rng(seed)
    return np.random.default_rng([seed, zlib.crc32(task.encode())])


def permutation_generator(seed: int, task: str | None) -> np.random.Generator:
    """The random generator of a task's permutation test (its own, so that the p-value is the same whether the
    bootstrap was computed or read from saved draws)."""
    return np.random.default_rng([seed, zlib.crc32((task or "").encode()), 1])


def _batch(n_examples: int, n_resamples: int) -> int:
    return int(max(1, min(n_resamples, BATCH_ELEMENTS // max(n_examples, 1))))


def _bootstrap_distribution(groups: Sequence[_Examples], n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """The metric (or A - B) on each of `n_resamples` resamples, each group resampled on its own and the groups'
    values averaged. The draws are scipy.stats.bootstrap's: per batch, one `rng.integers(0, n, (batch, n))`."""
    total = np.zeros(n_resamples)
    for group in groups:
        if group.size < 2:
            raise StatisticsInputError(f"a bootstrap needs at least 2 examples; this task has {group.size}")
        batch = _batch(group.size, n_resamples)
        values = []
        for start in range(0, n_resamples, batch):
            indices = rng.integers(0, group.size, (min(batch, n_resamples - start), group.size))
            values.append(group.resampled(indices))
        total += np.concatenate(values)
    return total / len(groups)


def _percentile_interval(distribution: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentiles of the resamples where the metric is defined (Pearson r is not on a resample whose
    similarities or labels are all equal); undefined when fewer than half of them are."""
    defined = distribution[np.isfinite(distribution)]
    if len(defined) < len(distribution) / 2:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    low, high = np.quantile(defined, [tail, 1 - tail])
    return float(low), float(high)


def _check_resampling(n_resamples: int, confidence: float) -> None:
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise StatisticsInputError(f"n_resamples must be a positive whole number, not {n_resamples!r}")
    if not 0 < confidence < 1:
        raise StatisticsInputError(f"confidence must lie between 0 and 1, not {confidence!r}")


def _one_model(examples: pd.DataFrame, family: str | None) -> tuple[list[_Examples], str | None, str]:
    rows, family = main_examples(examples, family)
    return _groups_of_one(rows, family), _single(rows, "task"), family


def centred(distribution: np.ndarray, estimate: float) -> np.ndarray:
    """The bootstrap distribution shifted so that its mean is the estimate: the resamples' bias removed.

    V-measure (and, less, macro-F1) is biased upward on a resample drawn with replacement: an item drawn twice
    adds its (gold, cluster) pair twice, and the contingency table looks tidier than the sample's. At PatenTEB
    sizes (hundreds of clusters) the shift exceeds the spread, so plain percentiles would lie above the score."""
    return distribution - (np.nanmean(distribution) - estimate)


def task_score(examples: pd.DataFrame, family: str | None = None) -> float:
    """The task's metric recomputed from one model's examples (the mean over its (split, subset) groups)."""
    groups, _, _ = _one_model(examples, family)
    return _mean_score(groups)


def _mean_score(groups: Sequence[_Examples]) -> float:
    return float(np.mean([group.scores()[0] for group in groups]))


def task_bootstrap(examples: pd.DataFrame, family: str | None = None, n_resamples: int = DEFAULT_RESAMPLES,
                   seed: int = DEFAULT_SEED) -> np.ndarray:
    """The task's metric on each of `n_resamples` resamples of one model's examples, centred on its score (see
    `centred`); with several (split, subset) groups, each is resampled on its own and the groups' scores averaged.

    Examples are ordered by id before resampling, so two models with the same examples get the same resamples."""
    _check_resampling(n_resamples, DEFAULT_CONFIDENCE)
    groups, task, _ = _one_model(examples, family)
    distribution = _bootstrap_distribution(groups, int(n_resamples), resampling_generator(seed, task))
    return centred(distribution, _mean_score(groups))


def task_interval(examples: pd.DataFrame, family: str | None = None, n_resamples: int = DEFAULT_RESAMPLES,
                  seed: int = DEFAULT_SEED, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Percentile bootstrap interval of one model's score on one task, from its per-example rows (the
    percentiles of `task_bootstrap`, within the metric's range)."""
    return task_interval_and_draws(examples, family, n_resamples, seed, confidence)[0]


def task_interval_and_draws(examples: pd.DataFrame, family: str | None = None, n_resamples: int = DEFAULT_RESAMPLES,
                            seed: int = DEFAULT_SEED, confidence: float = DEFAULT_CONFIDENCE
                            ) -> tuple[Interval, np.ndarray]:
    """`task_interval` and the `task_bootstrap` distribution it was read from, for a caller that keeps both."""
    _check_resampling(n_resamples, confidence)
    groups, task, family = _one_model(examples, family)
    score = _mean_score(groups)
    draws = centred(_bootstrap_distribution(groups, int(n_resamples), resampling_generator(seed, task)), score)
    low, high = _percentile_interval(draws, confidence)
    lowest, highest = METRIC_RANGE[family]
    interval = Interval(
        float(np.clip(low, lowest, highest)), float(np.clip(high, lowest, highest)), int(n_resamples),
        f"percentile bootstrap centred on the score, {int(n_resamples)} resamples, seed {seed}", score,
    )
    return interval, draws


# ---------------------------------------------------------------------------------------------------------------
# Paired comparison.


def _swap_batches(sizes: Sequence[int], n_resamples: int, rng: np.random.Generator):
    """Batches of packed swap bits, one array per group, and whether they are all 2^n swap patterns."""
    total = sum(sizes)
    if total < 63 and 2**total <= n_resamples:
        patterns = (np.arange(2**total, dtype=np.int64)[:, None] >> np.arange(total, dtype=np.int64)) & 1
        groups = np.split(patterns.astype(np.uint8), np.cumsum(sizes)[:-1], axis=1)
        return [[np.packbits(group, axis=1) for group in groups]], True
    batch = _batch(total, n_resamples)

    def random_swaps(rows: int) -> list[np.ndarray]:
        return [np.frombuffer(rng.bytes(rows * -(-size // 8)), dtype=np.uint8).reshape(rows, -1) for size in sizes]

    return (random_swaps(min(batch, n_resamples - start)) for start in range(0, n_resamples, batch)), False


def paired_permutation_p(groups: Sequence[_Examples], n_resamples: int, rng: np.random.Generator) -> float:
    """Two-sided p-value of A - B under random swaps of each example's A and B outputs, with the conventions of
    scipy.stats.permutation_test: exact over all 2^n swaps when that is no more than n_resamples, else
    (count + 1) / (n_resamples + 1); values within 100 ulp of the observed one count as equal."""
    observed = float(np.mean([group.difference() for group in groups]))
    batches, exact = _swap_batches([group.size for group in groups], n_resamples, rng)
    null = np.concatenate([
        np.mean([group.swapped(packed) for group, packed in zip(groups, swaps)], axis=0) for swaps in batches
    ])
    tolerance = abs(np.finfo(np.float64).eps * 100 * observed)
    adjustment = 0 if exact else 1
    at_most = (np.count_nonzero(null <= observed + tolerance) + adjustment) / (len(null) + adjustment)
    at_least = (np.count_nonzero(null >= observed - tolerance) + adjustment) / (len(null) + adjustment)
    return float(min(1.0, 2 * min(at_most, at_least)))


def compare_models(examples_a: pd.DataFrame, examples_b: pd.DataFrame, family: str | None = None,
                   n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                   confidence: float = DEFAULT_CONFIDENCE, draws_a: np.ndarray | None = None,
                   draws_b: np.ndarray | None = None) -> Comparison:
    """Two models on one task, paired by example id (only ids both have): both scores, A - B, its paired
    bootstrap interval and the paired permutation p-value.

    `draws_a`, `draws_b`: each model's saved `task_bootstrap` (same seed and n_resamples). When both models
    have exactly the same examples, their draws come from the same resamples, so A - B of the draws is the
    paired bootstrap and is used instead of resampling again; otherwise they are ignored."""
    _check_resampling(n_resamples, confidence)
    rows_a, family_a = main_examples(examples_a, family)
    rows_b, family_b = main_examples(examples_b, family or family_a)
    if family_a != family_b:
        raise StatisticsInputError(f"one task's examples read as {family_a} for A and {family_b} for B")
    task = _single(rows_a, "task")
    if task != _single(rows_b, "task"):
        raise StatisticsInputError(f"A's examples are of {task}, B's of {_single(rows_b, 'task')}")
    groups = _paired_groups(rows_a, rows_b, family_a)
    n_examples = sum(group.size for group in groups)
    n_resamples = int(n_resamples)
    delta = float(np.mean([group.difference() for group in groups]))
    if _usable_draws(draws_a, draws_b, n_resamples) and n_examples == len(rows_a) == len(rows_b):
        distribution = np.asarray(draws_a, dtype=np.float64) - np.asarray(draws_b, dtype=np.float64)
    else:
        distribution = _bootstrap_distribution(groups, n_resamples, resampling_generator(seed, task))
    low, high = _percentile_interval(centred(distribution, delta), confidence)
    scores = [group.scores() for group in groups]
    return Comparison(
        a=float(np.mean([a for a, _ in scores])), b=float(np.mean([b for _, b in scores])),
        delta=delta, ci_low=low, ci_high=high,
        p_value=paired_permutation_p(groups, n_resamples, permutation_generator(seed, task)),
        n_examples=n_examples, n_resamples=n_resamples,
    )


def _usable_draws(draws_a, draws_b, n_resamples: int) -> bool:
    return all(draws is not None and np.shape(draws) == (n_resamples,) for draws in (draws_a, draws_b))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values: the k-th smallest of m becomes max over j <= k of (m - j + 1) p_(j),
    capped at 1. Missing p-values stay missing and do not count in m."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    present = np.flatnonzero(~np.isnan(p))
    order = present[np.argsort(p[present], kind="stable")]
    m = len(order)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return adjusted


COMPARE_COLUMNS = ("task", "family", "n_examples", "a", "b", "delta", "ci_low", "ci_high", "p_value", "p_holm")


def _model_rows(frame: pd.DataFrame, model: str, revision: str | None) -> pd.DataFrame:
    rows = frame[frame["model"] == model]
    if rows.empty:
        known = sorted(map(str, pd.unique(frame["model"])))
        listed = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
        raise StatisticsInputError(f"no per-example data for model {model!r}; models with data: {listed or 'none'}")
    if revision is not None:
        rows = rows[rows["revision"].astype(str) == revision]
        if rows.empty:
            raise StatisticsInputError(f"no per-example data for {model} at revision {revision}")
    return rows


def _one_revision(rows: pd.DataFrame, model: str, task: str) -> pd.DataFrame:
    if "revision" in rows.columns and rows["revision"].nunique(dropna=False) > 1:
        revisions = ", ".join(map(str, pd.unique(rows["revision"])))
        raise StatisticsInputError(f"{model} has per-example data of several revisions on {task} ({revisions}): pick one")
    return rows


def _saved_draws(draws, model: str, rows: pd.DataFrame, task: str) -> np.ndarray | None:
    if not draws:
        return None
    revision = _single(rows, "revision")
    return draws.get((model, revision, task))


def _task_order(task: str) -> tuple:
    known = BY_NAME.get(task)
    return (0, known.display_order, task) if known is not None else (1, 0, task)


def compare(frame: pd.DataFrame, model_a: str, model_b: str, tasks: Sequence[str] | None = None, *,
            revision_a: str | None = None, revision_b: str | None = None, n_resamples: int = DEFAULT_RESAMPLES,
            seed: int = DEFAULT_SEED, confidence: float = DEFAULT_CONFIDENCE,
            draws: Mapping[tuple[str, str, str], np.ndarray] | None = None) -> pd.DataFrame:
    """Model A against model B on each task both have per-example data for (or on `tasks`): one row per task
    with COMPARE_COLUMNS, Holm-adjusted over the rows. `attrs` holds the models, the settings and the method.

    `draws`: saved `task_bootstrap` distributions by (model, revision, task), used where both models have
    exactly the same examples (see `compare_models`); the results are the same, only faster."""
    _require_columns(frame, ("model", "task", "example_id", "metric", "value"))
    _check_resampling(n_resamples, confidence)
    if model_a == model_b and revision_a == revision_b:
        raise StatisticsInputError(f"{model_a} is compared with itself: choose two different models (or revisions)")
    by_task_a = {str(task): rows for task, rows in _model_rows(frame, model_a, revision_a).groupby("task", sort=False)}
    by_task_b = {str(task): rows for task, rows in _model_rows(frame, model_b, revision_b).groupby("task", sort=False)}
    tasks_a, tasks_b = set(by_task_a), set(by_task_b)
    if tasks is None:
        chosen = sorted(tasks_a & tasks_b, key=_task_order)
        if not chosen:
            raise StatisticsInputError(f"{model_a} and {model_b} share no task with per-example data "
                                       f"({model_a}: {', '.join(sorted(tasks_a))}; {model_b}: {', '.join(sorted(tasks_b))})")
    else:
        chosen = list(dict.fromkeys(tasks))
        if not chosen:
            raise StatisticsInputError("no tasks given to compare")
        for model, present in ((model_a, tasks_a), (model_b, tasks_b)):
            lacking = [task for task in chosen if task not in present]
            if lacking:
                raise StatisticsInputError(f"{model} has no per-example data on {', '.join(lacking)}")
    rows = []
    for task in chosen:
        task_a = _one_revision(by_task_a[task], model_a, task)
        task_b = _one_revision(by_task_b[task], model_b, task)
        try:
            _, family = main_examples(task_a)
            result = compare_models(
                task_a, task_b, family, n_resamples, seed, confidence,
                draws_a=_saved_draws(draws, model_a, task_a, task), draws_b=_saved_draws(draws, model_b, task_b, task),
            )
        except StatisticsInputError as error:
            raise StatisticsInputError(f"{task}: {error}") from None
        rows.append({"task": task, "family": family, "n_examples": result.n_examples, "a": result.a, "b": result.b,
                     "delta": result.delta, "ci_low": result.ci_low, "ci_high": result.ci_high,
                     "p_value": result.p_value})
    table = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS[:-1]))
    table["p_holm"] = holm(table["p_value"].to_numpy())
    table.attrs.update(model_a=model_a, model_b=model_b, revision_a=revision_a, revision_b=revision_b,
                       n_resamples=int(n_resamples), seed=seed, confidence=confidence, method=COMPARE_METHOD)
    return table


def verdict(table: pd.DataFrame, alpha: float = 0.05) -> str:
    """One line from A's side: 'better on 5, worse on 2, no significant difference on 8 of 15 tasks'
    (a difference counts where its Holm-adjusted p < alpha)."""
    significant = table["p_holm"] < alpha
    better = int((significant & (table["delta"] > 0)).sum())
    worse = int((significant & (table["delta"] < 0)).sum())
    total = len(table)
    return (f"better on {better}, worse on {worse}, no significant difference on {total - better - worse} "
            f"of {total} task{'s' if total != 1 else ''}")


def draws_by_task(cell_draws: Mapping[tuple[str, str, str, str, str], np.ndarray]) -> dict[tuple[str, str, str], np.ndarray]:
    """Saved draws of cells, keyed (model, revision, task, split, subset), as `compare` takes them: by (model,
    revision, task), for tasks with a single (split, subset) group (whose draws are the task's `task_bootstrap`);
    tasks with several groups are left to resampling."""
    groups: dict[tuple[str, str, str], list[np.ndarray]] = {}
    for (model, revision, task, _, _), draws in cell_draws.items():
        groups.setdefault((model, revision, task), []).append(draws)
    return {key: found[0] for key, found in groups.items() if len(found) == 1}


def differing_dataset_revisions(
    scores: pd.DataFrame, examples: pd.DataFrame, model_a: str, model_b: str, tasks: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """Tasks whose compared runs of A and B (the (model, revision, task) of `examples`) ran on different known
    dataset revisions (`scores`: the store's main scores, with `dataset_revision` and `evaluated_at`): there a
    difference may come from the data."""
    if "dataset_revision" not in scores.columns:
        return {}
    runs = examples[["model", "revision", "task"]].drop_duplicates()
    known = scores[scores["model"].isin([model_a, model_b]) & scores["task"].isin(list(tasks))
                   & scores["dataset_revision"].notna()].merge(runs, on=["model", "revision", "task"])
    newest = known.sort_values("evaluated_at", na_position="first").groupby(["model", "task"])["dataset_revision"].last()
    pairs = {task: (newest.get((model_a, task)), newest.get((model_b, task))) for task in tasks}
    return {task: (a, b) for task, (a, b) in pairs.items() if a is not None and b is not None and a != b}


def dataset_revision_warning(differing: Mapping[str, tuple[str, str]]) -> str:
    """One line naming the tasks compared on different dataset revisions; empty when there is none."""
    if not differing:
        return ""
    tasks = "; ".join(f"{task} (A: {a}, B: {b})" for task, (a, b) in differing.items())
    return f"Warning: A and B ran on different dataset revisions of {tasks}; those differences may come from the data."


# ---------------------------------------------------------------------------------------------------------------
# Rank intervals.


def min_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 for the lowest, ties sharing the lowest rank of their group: what
    `scipy.stats.rankdata(values, method="min", axis=-1)` gives for values without NaN (the tests check it), here
    so that importing this module does not import scipy.stats (a second of every app start)."""
    order = np.argsort(values, axis=-1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=-1)
    positions = np.broadcast_to(np.arange(values.shape[-1]), values.shape)
    starts_a_group = np.ones(values.shape, dtype=bool)
    starts_a_group[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    group_start = np.maximum.accumulate(np.where(starts_a_group, positions, 0), axis=-1)
    ranks = np.empty(values.shape, dtype=np.int64)
    np.put_along_axis(ranks, order, group_start + 1, axis=-1)
    return ranks


def _strictly_lower_counts(values: np.ndarray) -> np.ndarray:
    """Per row of `values` (rows, models): for each model, how many models have a strictly lower value;
    a missing value counts for nobody and gets 0 (the table's Borda points)."""
    missing = np.isnan(values)
    beaten = min_ranks(np.where(missing, np.inf, values)) - 1.0
    return np.where(missing, 0.0, beaten)


def borda_ranks(points: np.ndarray) -> np.ndarray:
    """Rank 1 = most points; equal points share the best rank of their tie (pandas' method='min')."""
    return min_ranks(-points)


def rank_range_label(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}\u2013{high}"


def rank_intervals(scores_wide: pd.DataFrame, draws: Mapping[tuple[str, str], np.ndarray] | None = None,
                   n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                   confidence: float = DEFAULT_CONFIDENCE) -> pd.DataFrame:
    """The range of each model's rank under resampling (see RANK_METHOD).

    `scores_wide`: one row per model, one column per task (missing scores allowed). `draws`: for the cells with
    per-example data, (model, column) -> `n_resamples` bootstrap scores on the same scale as the table (e.g.
    `task_bootstrap`, times 100 if the table shows percent). Returns, in rank order, per model: rank (the
    table's), rank_low, rank_high, rank_range ('2–4') and tied_with_above."""
    _check_resampling(n_resamples, confidence)
    if scores_wide.shape[1] == 0:
        raise StatisticsInputError("a rank interval needs at least one task column")
    models, columns = list(scores_wide.index), list(scores_wide.columns)
    scores = scores_wide.to_numpy(dtype=np.float64)
    draws = dict(draws or {})
    drawn_columns: dict[int, list[tuple[int, np.ndarray]]] = {}
    row_of, column_of = {m: i for i, m in enumerate(models)}, {c: j for j, c in enumerate(columns)}
    for (model, column), values in draws.items():
        if model not in row_of or column not in column_of:
            raise StatisticsInputError(f"bootstrap draws for ({model}, {column}), which is not a cell of the table")
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (n_resamples,):
            raise StatisticsInputError(f"bootstrap draws for ({model}, {column}) hold {values.size} values, not {n_resamples}")
        if np.isnan(scores[row_of[model], column_of[column]]):
            raise StatisticsInputError(f"bootstrap draws for ({model}, {column}), a cell without a score")
        drawn_columns.setdefault(column_of[column], []).append((row_of[model], values))

    beaten = _strictly_lower_counts(scores.T).T
    observed_rank = borda_ranks(beaten.sum(axis=1))
    rng = np.random.default_rng(seed)
    n_tasks = len(columns)
    task_counts = rng.multinomial(n_tasks, np.full(n_tasks, 1.0 / n_tasks), size=n_resamples).astype(np.float64)
    fixed = np.array([j not in drawn_columns for j in range(n_tasks)])
    points = task_counts[:, fixed] @ beaten[:, fixed].T
    for j, cells in drawn_columns.items():
        column_values = np.tile(scores[:, j], (n_resamples, 1))
        for row, values in cells:
            column_values[:, row] = values
        points += task_counts[:, [j]] * _strictly_lower_counts(column_values)
    ranks = borda_ranks(points)
    tail = (1 - confidence) / 2
    rank_low = np.quantile(ranks, tail, axis=0, method="lower").astype(np.int64)
    rank_high = np.quantile(ranks, 1 - tail, axis=0, method="higher").astype(np.int64)

    table = pd.DataFrame({"rank": observed_rank, "rank_low": rank_low, "rank_high": rank_high},
                         index=pd.Index(models, name=scores_wide.index.name))
    table = table.iloc[np.argsort(observed_rank, kind="stable")]
    table["rank_range"] = [rank_range_label(low, high) for low, high in zip(table["rank_low"], table["rank_high"])]
    above_high = table["rank_high"].shift(1)
    table["tied_with_above"] = (table["rank_low"] <= above_high).fillna(False).astype(bool)
    table.attrs.update(n_resamples=int(n_resamples), seed=seed, confidence=confidence, method=RANK_METHOD)
    return table
