"""How sure each score is: bootstrap intervals, paired comparisons of two models, rank intervals.

Pure: per-example frames and score tables in, numbers and frames out (numpy, scipy, pandas; no store, no UI).

Per-example frames have the columns of `PER_EXAMPLE_COLUMNS`; a task's family decides its metric:

| family         | metric rows    | task score recomputed from the examples                     |
|----------------|----------------|-------------------------------------------------------------|
| retrieval      | `ndcg_at_10`   | mean of the queries' values                                 |
| classification | `correct`      | macro-F1 of gold vs predicted (labels present in the sample)|
| clustering     | `cluster`      | V-measure of gold vs the assigned clusters                  |
| paraphrase     | `similarity`   | Pearson r between the similarities and the gold labels      |

Every metric is computed for a whole matrix of resamples at once: resampled examples become per-resample
counts (`np.bincount` over the resample index matrix), and macro-F1, V-measure and Pearson r follow from
counts and sums. `scipy.stats.bootstrap` draws the resamples and takes the percentiles. The paired
permutation test is written here with numpy: `scipy.stats.permutation_test(permutation_type='samples')`
swaps the pair of each example in a Python loop over the examples (one call per example and batch), far
too slow at 18,000 examples; the test suite checks that both give the same exact p-values on small samples.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import xlogy

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
ZERO_ENTROPY = 1e-10

INTERVAL_METHOD = (
    f"{DEFAULT_CONFIDENCE:.0%} percentile bootstrap: the task's examples are drawn with replacement "
    f"{DEFAULT_RESAMPLES:,} times (seeded by {DEFAULT_SEED} and the task's name), the task's own metric is "
    "recomputed on each resample (mean NDCG@10; macro-F1; V-measure of the gold labels against the clusters the "
    "model assigned; Pearson r), and the interval runs from the 2.5th to the 97.5th percentile "
    "(scipy.stats.bootstrap). A task with several subsets is resampled within each subset and the subsets' "
    "scores averaged. Scores without per-example data (the paper, third-party quotes, MTEB imports) have no "
    "interval."
)
COMPARE_METHOD = (
    "Paired on the examples both models scored (same example ids). Difference = A - B of the task's metric. "
    f"Interval: {DEFAULT_CONFIDENCE:.0%} paired percentile bootstrap (the same resampled examples for both "
    f"models, {DEFAULT_RESAMPLES:,} resamples). p-value: two-sided paired permutation test, each example's A and "
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
# Metrics on whole matrices of resamples: each takes arrays of shape (resamples, examples) or (examples,).


def counts_per_row(ids: np.ndarray, n_values: int) -> np.ndarray:
    """How often each value 0..n_values-1 occurs in each row of `ids` (rows, examples) -> (rows, n_values)."""
    rows = ids.shape[0]
    offsets = (np.arange(rows, dtype=np.int64) * n_values)[:, None]
    return np.bincount((ids + offsets).ravel(), minlength=rows * n_values).reshape(rows, n_values).astype(np.float64)


def sum_by_group(counts: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Columns of `counts` (rows, columns) summed by the group of each column -> (rows, n_groups)."""
    rows = counts.shape[0]
    offsets = (np.arange(rows, dtype=np.int64) * n_groups)[:, None]
    index = (groups[None, :] + offsets).ravel()
    return np.bincount(index, weights=counts.ravel(), minlength=rows * n_groups).reshape(rows, n_groups)


def macro_f1_from_counts(pair_counts: np.ndarray, pair_gold: np.ndarray, pair_predicted: np.ndarray, n_labels: int) -> np.ndarray:
    """Macro-F1 per row from counts of (gold, predicted) pairs, averaged over the labels present in the row
    (as sklearn's f1_score(average='macro') does: F1 = 2 TP / (gold count + predicted count))."""
    support = sum_by_group(pair_counts, pair_gold, n_labels)
    predicted = sum_by_group(pair_counts, pair_predicted, n_labels)
    correct = pair_gold == pair_predicted
    true_positives = sum_by_group(pair_counts[:, correct], pair_gold[correct], n_labels)
    denominator = support + predicted
    present = denominator > 0
    f1 = np.divide(2 * true_positives, denominator, out=np.zeros_like(denominator), where=present)
    return f1.sum(axis=1) / present.sum(axis=1)


def v_measure_from_counts(pair_counts: np.ndarray, pair_gold: np.ndarray, pair_cluster: np.ndarray,
                          n_gold: int, n_clusters: int) -> np.ndarray:
    """V-measure per row from contingency counts of (gold label, cluster) pairs, as sklearn's v_measure_score:
    homogeneity = I / H(gold), completeness = I / H(cluster), each 1 when its entropy is 0."""
    n = pair_counts.sum(axis=1)
    gold_sizes = sum_by_group(pair_counts, pair_gold, n_gold)
    cluster_sizes = sum_by_group(pair_counts, pair_cluster, n_clusters)
    gold_xlogx = xlogy(gold_sizes, gold_sizes).sum(axis=1) / n
    cluster_xlogx = xlogy(cluster_sizes, cluster_sizes).sum(axis=1) / n
    pair_xlogx = xlogy(pair_counts, pair_counts).sum(axis=1) / n
    log_n = np.log(n)
    gold_entropy = log_n - gold_xlogx
    cluster_entropy = log_n - cluster_xlogx
    mutual_information = np.clip(pair_xlogx - gold_xlogx - cluster_xlogx + log_n, 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        homogeneity = np.where(gold_entropy > ZERO_ENTROPY, mutual_information / gold_entropy, 1.0)
        completeness = np.where(cluster_entropy > ZERO_ENTROPY, mutual_information / cluster_entropy, 1.0)
        total = homogeneity + completeness
        return np.where(total > 0, 2 * homogeneity * completeness / total, 0.0)


def pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of x and y along the last axis (NaN where either is constant)."""
    x_centred = x - x.mean(axis=-1, keepdims=True)
    y_centred = y - y.mean(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (x_centred * y_centred).sum(axis=-1) / np.sqrt((x_centred**2).sum(axis=-1) * (y_centred**2).sum(axis=-1))
    return np.clip(r, -1.0, 1.0)


@dataclass(frozen=True)
class _Metric:
    """A family's metric over per-example arrays. `x` is what differs between models (the value, or the id of
    the example's (gold, predicted) pair); `gold` is only used by Pearson r."""

    family: str
    pair_gold: np.ndarray | None = None
    pair_predicted: np.ndarray | None = None
    n_gold: int = 0
    n_predicted: int = 0

    def __call__(self, x: np.ndarray, gold: np.ndarray | None = None) -> np.ndarray:
        if self.family == RETRIEVAL:
            return x.mean(axis=-1)
        if self.family == PARAPHRASE:
            return pearson_rows(x, gold)
        rows = np.atleast_2d(x)
        counts = counts_per_row(rows, len(self.pair_gold))
        if self.family == CLASSIFICATION:
            score = macro_f1_from_counts(counts, self.pair_gold, self.pair_predicted, self.n_gold)
        else:
            score = v_measure_from_counts(counts, self.pair_gold, self.pair_predicted, self.n_gold, self.n_predicted)
        return score if x.ndim > 1 else score[0]


@dataclass(frozen=True)
class _Group:
    """One (split, subset) group of a task, ready to resample: per-example arrays aligned by example id."""

    metric: _Metric
    a: np.ndarray
    b: np.ndarray | None
    gold: np.ndarray | None

    @property
    def size(self) -> int:
        return len(self.a)


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

    The family comes from the rows' metric (checked against `family` and the catalogue when given)."""
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
        return examples[examples["metric"] == wanted], family
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


def _grouped(examples: pd.DataFrame) -> list[tuple[tuple, pd.DataFrame]]:
    keys = [column for column in GROUP_COLUMNS if column in examples.columns]
    ordered = examples.sort_values([*keys, "example_id"], kind="stable")
    if not keys:
        return [((), ordered)]
    return [(key if isinstance(key, tuple) else (key,), rows) for key, rows in ordered.groupby(keys, sort=True, dropna=False)]


def _check_unique_ids(rows: pd.DataFrame, key: tuple) -> None:
    repeated = rows["example_id"].duplicated()
    if repeated.any():
        raise StatisticsInputError(
            f"example id {rows['example_id'][repeated].iloc[0]!r} repeats in {'/'.join(map(str, key)) or 'the rows'}"
        )


def _values(rows: pd.DataFrame, column: str, what: str) -> np.ndarray:
    values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        raise StatisticsInputError(f"{bad.sum()} of {len(values)} examples have no numeric {what} "
                                   f"(e.g. id {rows['example_id'].iloc[int(np.argmax(bad))]!r})")
    return values


def _labels(rows: pd.DataFrame, column: str) -> np.ndarray:
    labels = rows[column]
    if labels.isna().any():
        raise StatisticsInputError(f"{int(labels.isna().sum())} of {len(labels)} examples have no {column} label")
    return labels.astype(str).to_numpy()


def _pair_metric(family: str, gold: np.ndarray, predicted: Sequence[np.ndarray]) -> tuple[_Metric, list[np.ndarray]]:
    """Each example's (gold, predicted) pair as a dense pair id; one id space for all the predictions given.
    Classification labels share one vocabulary; each model's cluster ids stay its own (clusters of two models
    are different clusters even when their numbers coincide)."""
    if family == CLASSIFICATION:
        vocabulary, codes = np.unique(np.concatenate([gold, *predicted]), return_inverse=True)
        gold_codes, predicted_codes = codes[: len(gold)], np.split(codes[len(gold):], len(predicted))
        n_gold = n_predicted = len(vocabulary)
    else:
        gold_vocabulary, gold_codes = np.unique(gold, return_inverse=True)
        n_gold = len(gold_vocabulary)
        predicted_codes, offset = [], 0
        for clusters in predicted:
            cluster_vocabulary, cluster_codes = np.unique(clusters, return_inverse=True)
            predicted_codes.append(cluster_codes + offset)
            offset += len(cluster_vocabulary)
        n_predicted = offset
    pair_codes = np.concatenate([gold_codes * n_predicted + codes for codes in predicted_codes])
    unique_pairs, pair_ids = np.unique(pair_codes, return_inverse=True)
    metric = _Metric(family, unique_pairs // n_predicted, unique_pairs % n_predicted, n_gold, n_predicted)
    return metric, np.split(pair_ids.astype(np.int64), len(predicted))


def _encode(rows_a: pd.DataFrame, rows_b: pd.DataFrame | None, family: str) -> tuple[_Metric, np.ndarray, np.ndarray | None, np.ndarray | None]:
    if family == RETRIEVAL:
        return (_Metric(family), _values(rows_a, "value", "value"),
                None if rows_b is None else _values(rows_b, "value", "value"), None)
    if family == PARAPHRASE:
        _require_columns(rows_a, ("gold",))
        gold = _values(rows_a, "gold", "gold label")
        if rows_b is not None and not np.array_equal(gold, _values(rows_b, "gold", "gold label")):
            raise StatisticsInputError("the two models' gold labels differ on shared examples")
        return (_Metric(family), _values(rows_a, "value", "similarity"),
                None if rows_b is None else _values(rows_b, "value", "similarity"), gold)
    _require_columns(rows_a, ("gold", "predicted"))
    gold = _labels(rows_a, "gold")
    if rows_b is not None and not np.array_equal(gold, _labels(rows_b, "gold")):
        raise StatisticsInputError("the two models' gold labels differ on shared examples")
    predictions = [_labels(rows_a, "predicted")] + ([] if rows_b is None else [_labels(rows_b, "predicted")])
    metric, ids = _pair_metric(family, gold, predictions)
    return metric, ids[0], (ids[1] if rows_b is not None else None), None


def _groups_of_one(examples: pd.DataFrame, family: str) -> list[_Group]:
    groups = []
    for key, rows in _grouped(examples):
        _check_unique_ids(rows, key)
        metric, a, _, gold = _encode(rows, None, family)
        groups.append(_Group(metric, a, None, gold))
    return groups


def _paired_groups(examples_a: pd.DataFrame, examples_b: pd.DataFrame, family: str) -> list[_Group]:
    groups = []
    b_by_key = dict(_grouped(examples_b))
    for key, rows_a in _grouped(examples_a):
        rows_b = b_by_key.get(key)
        if rows_b is None:
            continue
        _check_unique_ids(rows_a, key)
        _check_unique_ids(rows_b, key)
        shared = np.intersect1d(rows_a["example_id"].astype(str), rows_b["example_id"].astype(str))
        if len(shared) == 0:
            continue
        rows_a = rows_a[rows_a["example_id"].astype(str).isin(shared)].sort_values("example_id", key=lambda s: s.astype(str))
        rows_b = rows_b[rows_b["example_id"].astype(str).isin(shared)].sort_values("example_id", key=lambda s: s.astype(str))
        metric, a, b, gold = _encode(rows_a, rows_b, family)
        groups.append(_Group(metric, a, b, gold))
    if not groups:
        raise StatisticsInputError("the two models share no example ids on this task")
    return groups


# ---------------------------------------------------------------------------------------------------------------
# Resampling.


def resampling_generator(seed: int, task: str | None) -> np.random.Generator:
    """The random generator a task's resampling uses: seeded by the seed and the task's name, so that a task's
    interval does not depend on which other tasks are computed, and tasks of equal size are not resampled alike."""
    if task is None:
        return np.random.default_rng(seed)
    return np.random.default_rng([seed, zlib.crc32(task.encode())])


def _batch(n_examples: int, n_resamples: int) -> int:
    return int(max(1, min(n_resamples, BATCH_ELEMENTS // max(n_examples, 1))))


def _bootstrap_distribution(group: _Group, n_resamples: int, rng: np.random.Generator, paired: bool) -> np.ndarray:
    """The group's metric (or A - B when `paired`) on each of `n_resamples` resamples of its examples."""
    if group.size < 2:
        raise StatisticsInputError(f"a bootstrap needs at least 2 examples; this task has {group.size}")
    metric = group.metric
    data: tuple[np.ndarray, ...]
    statistic: Callable
    if not paired:
        if group.gold is None:
            data, statistic = (group.a,), lambda x, axis=-1: metric(x)
        else:
            data, statistic = (group.a, group.gold), lambda x, gold, axis=-1: metric(x, gold)
    elif metric.family == RETRIEVAL:
        data, statistic = (group.a - group.b,), lambda difference, axis=-1: difference.mean(axis=-1)
    elif group.gold is None:
        data, statistic = (group.a, group.b), lambda a, b, axis=-1: metric(a) - metric(b)
    else:
        data, statistic = (group.a, group.b, group.gold), lambda a, b, gold, axis=-1: metric(a, gold) - metric(b, gold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)  # scipy's own interval, which is not used
        result = stats.bootstrap(
            data, statistic, n_resamples=n_resamples, batch=_batch(group.size, n_resamples), vectorized=True,
            paired=len(data) > 1, method="percentile", rng=rng,
        )
    return np.asarray(result.bootstrap_distribution, dtype=np.float64)


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


def task_score(examples: pd.DataFrame, family: str | None = None) -> float:
    """The task's metric recomputed from one model's examples (the mean over its (split, subset) groups)."""
    rows, family = main_examples(examples, family)
    return float(np.mean([group.metric(group.a, group.gold) for group in _groups_of_one(rows, family)]))


def task_bootstrap(examples: pd.DataFrame, family: str | None = None, n_resamples: int = DEFAULT_RESAMPLES,
                   seed: int = DEFAULT_SEED) -> np.ndarray:
    """The task's metric on each of `n_resamples` resamples of one model's examples (the bootstrap distribution;
    with several (split, subset) groups, each is resampled on its own and the groups' scores averaged).

    Examples are ordered by id before resampling, so two models with the same examples get the same resamples."""
    _check_resampling(n_resamples, DEFAULT_CONFIDENCE)
    rows, family = main_examples(examples, family)
    rng = resampling_generator(seed, _single(rows, "task"))
    distributions = [_bootstrap_distribution(group, int(n_resamples), rng, paired=False) for group in _groups_of_one(rows, family)]
    return np.mean(distributions, axis=0)


def task_interval(examples: pd.DataFrame, family: str | None = None, n_resamples: int = DEFAULT_RESAMPLES,
                  seed: int = DEFAULT_SEED, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Percentile bootstrap interval of one model's score on one task, from its per-example rows."""
    _check_resampling(n_resamples, confidence)
    rows, family = main_examples(examples, family)
    rng = resampling_generator(seed, _single(rows, "task"))
    groups = _groups_of_one(rows, family)
    distribution = np.mean([_bootstrap_distribution(group, int(n_resamples), rng, paired=False) for group in groups], axis=0)
    low, high = _percentile_interval(distribution, confidence)
    score = float(np.mean([group.metric(group.a, group.gold) for group in groups]))
    return Interval(low, high, int(n_resamples), f"percentile bootstrap, {int(n_resamples)} resamples, seed {seed}", score)


# ---------------------------------------------------------------------------------------------------------------
# Paired comparison.


def _swap_masks(n_examples: int, n_resamples: int, rng: np.random.Generator):
    """Batches of swap masks (True: the example's A and B outputs trade places), and whether they are all 2^n."""
    if n_examples < 63 and 2**n_examples <= n_resamples:
        patterns = np.arange(2**n_examples, dtype=np.int64)[:, None] >> np.arange(n_examples, dtype=np.int64)
        return [(patterns & 1).astype(bool)], True
    batch = _batch(n_examples, n_resamples)
    sizes = [min(batch, n_resamples - start) for start in range(0, n_resamples, batch)]
    return (rng.integers(0, 2, size=(size, n_examples), dtype=bool) for size in sizes), False


def _mean_difference(groups: Sequence[_Group], swaps: np.ndarray | None = None) -> np.ndarray:
    differences, start = [], 0
    for group in groups:
        a, b = group.a, group.b
        if swaps is not None:
            swap = swaps[:, start:start + group.size]
            a, b = np.where(swap, group.b, group.a), np.where(swap, group.a, group.b)
        differences.append(group.metric(a, group.gold) - group.metric(b, group.gold))
        start += group.size
    return np.mean(differences, axis=0)


def paired_permutation_p(groups: Sequence[_Group], n_resamples: int, rng: np.random.Generator) -> float:
    """Two-sided p-value of A - B under random swaps of each example's A and B outputs, with scipy's
    conventions (permutation_test): exact over all 2^n swaps when that is no more than n_resamples, else
    (count + 1) / (n_resamples + 1); values within 100 ulp of the observed one count as equal."""
    observed = float(_mean_difference(groups))
    n_examples = sum(group.size for group in groups)
    masks, exact = _swap_masks(n_examples, n_resamples, rng)
    null = np.concatenate([_mean_difference(groups, swaps) for swaps in masks])
    tolerance = abs(np.finfo(np.float64).eps * 100 * observed)
    adjustment = 0 if exact else 1
    at_most = (np.count_nonzero(null <= observed + tolerance) + adjustment) / (len(null) + adjustment)
    at_least = (np.count_nonzero(null >= observed - tolerance) + adjustment) / (len(null) + adjustment)
    return float(min(1.0, 2 * min(at_most, at_least)))


def compare_models(examples_a: pd.DataFrame, examples_b: pd.DataFrame, family: str | None = None,
                   n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                   confidence: float = DEFAULT_CONFIDENCE) -> Comparison:
    """Two models on one task, paired by example id (only ids both have): both scores, A - B, its paired
    bootstrap interval and the paired permutation p-value."""
    _check_resampling(n_resamples, confidence)
    rows_a, family_a = main_examples(examples_a, family)
    rows_b, family_b = main_examples(examples_b, family or family_a)
    if family_a != family_b:
        raise StatisticsInputError(f"one task's examples read as {family_a} for A and {family_b} for B")
    task = _single(rows_a, "task")
    if task != _single(rows_b, "task"):
        raise StatisticsInputError(f"A's examples are of {task}, B's of {_single(rows_b, 'task')}")
    groups = _paired_groups(rows_a, rows_b, family_a)
    rng = resampling_generator(seed, task)
    distribution = np.mean([_bootstrap_distribution(group, int(n_resamples), rng, paired=True) for group in groups], axis=0)
    low, high = _percentile_interval(distribution, confidence)
    a = float(np.mean([group.metric(group.a, group.gold) for group in groups]))
    b = float(np.mean([group.metric(group.b, group.gold) for group in groups]))
    return Comparison(
        a=a, b=b, delta=float(_mean_difference(groups)), ci_low=low, ci_high=high,
        p_value=paired_permutation_p(groups, int(n_resamples), rng),
        n_examples=sum(group.size for group in groups), n_resamples=int(n_resamples),
    )


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


def _task_order(task: str) -> tuple:
    known = BY_NAME.get(task)
    return (0, known.display_order, task) if known is not None else (1, 0, task)


def compare(frame: pd.DataFrame, model_a: str, model_b: str, tasks: Sequence[str] | None = None, *,
            revision_a: str | None = None, revision_b: str | None = None, n_resamples: int = DEFAULT_RESAMPLES,
            seed: int = DEFAULT_SEED, confidence: float = DEFAULT_CONFIDENCE) -> pd.DataFrame:
    """Model A against model B on each task both have per-example data for (or on `tasks`): one row per task
    with COMPARE_COLUMNS, Holm-adjusted over the rows. `attrs` holds the models, the settings and the method."""
    _require_columns(frame, ("model", "task", "example_id", "metric", "value"))
    _check_resampling(n_resamples, confidence)
    if model_a == model_b and revision_a == revision_b:
        raise StatisticsInputError(f"{model_a} is compared with itself: choose two different models (or revisions)")
    rows_a, rows_b = _model_rows(frame, model_a, revision_a), _model_rows(frame, model_b, revision_b)
    tasks_a, tasks_b = set(map(str, pd.unique(rows_a["task"]))), set(map(str, pd.unique(rows_b["task"])))
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
        task_a = _one_revision(rows_a[rows_a["task"] == task], model_a, task)
        task_b = _one_revision(rows_b[rows_b["task"] == task], model_b, task)
        try:
            _, family = main_examples(task_a)
            result = compare_models(task_a, task_b, family, n_resamples, seed, confidence)
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


# ---------------------------------------------------------------------------------------------------------------
# Rank intervals.


def _strictly_lower_counts(values: np.ndarray) -> np.ndarray:
    """Per row of `values` (rows, models): for each model, how many models have a strictly lower value;
    a missing value counts for nobody and gets 0 (the table's Borda points)."""
    missing = np.isnan(values)
    beaten = stats.rankdata(np.where(missing, np.inf, values), method="min", axis=-1) - 1.0
    return np.where(missing, 0.0, beaten)


def borda_ranks(points: np.ndarray) -> np.ndarray:
    """Rank 1 = most points; equal points share the best rank of their tie (pandas' method='min')."""
    return stats.rankdata(-points, method="min", axis=-1).astype(np.int64)


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
