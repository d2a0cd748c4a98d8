"""patenteb.statistics against independent computations: plain-Python loops over the same resample indices with
sklearn / scipy metrics, scipy's exact permutation test, closed forms, and a worked Holm example."""

from __future__ import annotations

import warnings
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import f1_score, v_measure_score

from leaderboard.tables import borda_points, rank_from_points
from patenteb import statistics as s

PROPERTY_SETTINGS = settings(max_examples=100, derandomize=True, deadline=timedelta(seconds=5),
                             suppress_health_check=[HealthCheck.too_slow])
TASK_OF_FAMILY = {"retrieval": "effect2full", "classification": "class_bloom",
                  "clustering": "clusters_inventor", "paraphrase": "para_problem"}


def macro_f1(gold, predicted) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f1_score(gold, predicted, average="macro")


def pearson(similarity, gold) -> float:
    return stats.pearsonr(similarity, gold).statistic


def examples(family: str, n: int, seed: int, model: str = "org/a", task: str | None = None,
             quality: float = 0.6) -> pd.DataFrame:
    """A model's per-example rows for one task of `family`, as the evaluator writes them."""
    rng = np.random.default_rng(seed)
    ids = [f"q{i:05d}" for i in range(n)]
    gold = predicted = None
    if family == "retrieval":
        metric, value = "ndcg_at_10", np.clip(rng.beta(2, 3, n) * quality / 0.4, 0, 1)
    elif family == "classification":
        gold = rng.choice(["early", "late", "normal", "rare"], n, p=[0.3, 0.3, 0.35, 0.05])
        predicted = np.where(rng.random(n) < quality, gold, rng.choice(["early", "late", "normal"], n))
        metric, value = "correct", (gold == predicted).astype(float)
    elif family == "clustering":
        labels = rng.integers(0, 6, n)
        gold = np.array([f"inventor-{label}" for label in labels])
        clusters = np.where(rng.random(n) < quality, labels, rng.integers(0, 6, n))
        predicted = clusters.astype(str)
        metric, value = "cluster", clusters.astype(float)
    else:
        labels = (rng.random(n) < 0.2).astype(int)
        gold = labels.astype(str)
        metric, value = "similarity", labels * quality + rng.normal(0.4, 0.2, n)
    return pd.DataFrame({
        "model": model, "revision": "r1", "task": task or TASK_OF_FAMILY[family], "split": "test",
        "subset": "default", "example_id": ids, "metric": metric, "value": value, "gold": gold,
        "predicted": predicted,
    })


def reference_metric(family: str, rows: pd.DataFrame, cluster_offset: int = 0) -> float:
    """The family's metric computed by sklearn / scipy on a plain frame of examples."""
    if family == "retrieval":
        return float(np.mean(rows["value"].to_numpy()))
    if family == "classification":
        return macro_f1(rows["gold"].to_numpy(), rows["predicted"].to_numpy())
    if family == "clustering":
        return v_measure_score(rows["gold"].to_numpy(), rows["predicted"].to_numpy())
    return pearson(rows["value"].to_numpy(), rows["gold"].astype(float).to_numpy())


def loop_bootstrap(family: str, rows: pd.DataFrame, n_resamples: int, seed: int) -> np.ndarray:
    """One resample at a time, the indices drawn as the documented generator draws them (one (resamples, n)
    matrix of integers below n: scipy.stats.bootstrap's draw when one batch holds every resample)."""
    rows = rows.sort_values("example_id").reset_index(drop=True)
    generator = s.resampling_generator(seed, rows["task"].iloc[0])
    indices = generator.integers(0, len(rows), (n_resamples, len(rows)))
    return np.array([reference_metric(family, rows.iloc[index]) for index in indices])


@pytest.mark.parametrize("family", ["retrieval", "classification", "clustering", "paraphrase"])
def test_interval_equals_a_plain_loop_over_the_same_resamples_with_sklearn_and_scipy_metrics(family):
    rows = examples(family, 180, seed=1)
    interval = s.task_interval(rows, n_resamples=300, seed=7)
    score = reference_metric(family, rows)
    expected = loop_bootstrap(family, rows, 300, seed=7)
    expected = expected - (expected.mean() - score)
    low, high = np.percentile(expected, [2.5, 97.5])
    assert interval.low == pytest.approx(low, abs=1e-12)
    assert interval.high == pytest.approx(high, abs=1e-12)
    assert interval.score == pytest.approx(score, abs=1e-12)
    assert interval.low <= interval.score <= interval.high
    assert interval.n_resamples == 300
    np.testing.assert_allclose(s.task_bootstrap(rows, n_resamples=300, seed=7), expected, atol=1e-12)


@pytest.mark.parametrize("family", ["classification", "clustering", "paraphrase"])
def test_interval_equals_scipy_bootstrap_with_the_sklearn_metric_one_resample_at_a_time(family):
    rows = examples(family, 120, seed=2).sort_values("example_id")
    if family == "paraphrase":
        data = (rows["value"].to_numpy(), rows["gold"].astype(float).to_numpy())
        metric = pearson
    else:
        codes = {label: i for i, label in enumerate(sorted(set(rows["gold"]) | set(rows["predicted"])))}
        data = (rows["gold"].map(codes).to_numpy(), rows["predicted"].map(codes).to_numpy())
        metric = macro_f1 if family == "classification" else v_measure_score
    result = stats.bootstrap(data, metric, paired=True, vectorized=False, n_resamples=200, method="percentile",
                             rng=s.resampling_generator(3, rows["task"].iloc[0]))
    interval = s.task_interval(rows, n_resamples=200, seed=3)
    bias = result.bootstrap_distribution.mean() - metric(*data)
    expected = np.array(result.confidence_interval) - bias
    assert (interval.low, interval.high) == pytest.approx(tuple(expected), abs=1e-12)


def test_a_clustering_interval_holds_its_v_measure_although_resamples_read_higher():
    """Resampling with replacement repeats items, which makes clusters look purer: on 210 items in 7 weakly
    found clusters nearly every resample's V-measure exceeds the sample's, so plain percentiles miss the score."""
    rows = examples("clustering", 210, seed=60, quality=0.15)
    raw = loop_bootstrap("clustering", rows, 500, seed=0)
    score = reference_metric("clustering", rows)
    assert np.mean(raw > score) > 0.95
    interval = s.task_interval(rows, n_resamples=500)
    assert interval.score == pytest.approx(score)
    assert interval.low < score < interval.high
    assert s.task_bootstrap(rows, n_resamples=500).mean() == pytest.approx(score)


def test_the_interval_of_a_constant_sample_is_the_constant():
    rows = examples("retrieval", 500, seed=3).assign(value=0.4375)
    interval = s.task_interval(rows)
    assert interval.low == interval.high == interval.score == 0.4375
    assert interval.n_resamples == 1000 and "seed 0" in interval.method


def test_a_perfect_classifier_has_the_degenerate_interval_one():
    rows = examples("classification", 300, seed=4)
    rows["predicted"] = rows["gold"]
    interval = s.task_interval(rows, family="classification")
    assert interval.low == interval.high == interval.score == 1.0


def test_the_same_seed_gives_the_same_interval_and_another_seed_another():
    rows = examples("paraphrase", 400, seed=5)
    assert s.task_interval(rows, seed=11) == s.task_interval(rows, seed=11)
    assert s.task_interval(rows, seed=11) != s.task_interval(rows, seed=12)


def test_a_task_with_two_subsets_scores_the_mean_of_its_subsets_and_resamples_within_each():
    first = examples("retrieval", 300, seed=6)
    second = examples("retrieval", 100, seed=7, quality=0.2).assign(subset="fr")
    rows = pd.concat([first, second])
    expected = (first["value"].mean() + second["value"].mean()) / 2
    assert s.task_score(rows) == pytest.approx(expected)
    interval = s.task_interval(rows, n_resamples=400)
    assert interval.score == pytest.approx(expected)
    assert interval.low < expected < interval.high


@pytest.mark.slow
@settings(PROPERTY_SETTINGS)
@given(
    n=st.integers(2, 60),
    n_gold=st.integers(1, 6),
    n_predicted=st.integers(1, 6),
    resamples=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_vectorised_metrics_equal_sklearn_and_scipy_on_every_resample(n, n_gold, n_predicted, resamples, seed):
    rng = np.random.default_rng(seed)
    gold = np.array([f"g{value}" for value in rng.integers(0, n_gold, n)])
    predicted = np.array([f"g{value}" for value in rng.integers(0, n_predicted, n)])
    indices = rng.integers(0, n, (resamples, n))
    for family, reference in (("classification", macro_f1), ("clustering", v_measure_score)):
        vectorised = s._label_examples(family, pd.Series(gold), [pd.Series(predicted)]).resampled(indices)
        expected = [reference(gold[index], predicted[index]) for index in indices]
        np.testing.assert_allclose(vectorised, expected, atol=1e-10)
    similarity = rng.normal(size=n)
    labels = rng.integers(0, 2, n).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = [pearson(similarity[index], labels[index]) for index in indices]
    np.testing.assert_allclose(s._PearsonExamples(similarity, labels).resampled(indices), expected, atol=1e-10)


@pytest.mark.parametrize("family", ["retrieval", "classification", "paraphrase", "clustering"])
def test_a_model_compared_with_itself_differs_by_nothing(family):
    rows = examples(family, 400, seed=8)
    result = s.compare_models(rows, rows.assign(model="org/copy"))
    if family == "clustering":
        # The copy's cluster ids count as another model's (kept distinct), so sums run in another order and
        # swapped items mix two partitions: zero up to rounding, and a p-value near 1.
        assert result.a == pytest.approx(result.b, abs=1e-12)
        assert result.delta == pytest.approx(0.0, abs=1e-12)
        assert result.ci_low == pytest.approx(0.0, abs=1e-12) and result.ci_high == pytest.approx(0.0, abs=1e-12)
        assert result.p_value > 0.5
    else:
        assert result.delta == 0.0 and result.a == result.b
        assert result.ci_low == result.ci_high == 0.0
        assert result.p_value == 1.0


@pytest.mark.parametrize("family", ["retrieval", "classification", "paraphrase", "clustering"])
def test_a_clearly_better_model_gets_a_small_p_and_an_interval_above_zero(family):
    better = examples(family, 600, seed=9, quality=0.9)
    worse = examples(family, 600, seed=9, model="org/b", quality=0.3)
    result = s.compare_models(better, worse)
    assert result.delta == pytest.approx(reference_metric(family, better) - reference_metric(family, worse))
    assert result.p_value < 0.01
    assert 0 < result.ci_low < result.delta < result.ci_high


@pytest.mark.parametrize("family", ["retrieval", "classification", "paraphrase", "clustering"])
def test_the_paired_interval_equals_a_plain_loop_over_shared_examples(family):
    a = examples(family, 150, seed=10, quality=0.7)
    b = examples(family, 170, seed=11, model="org/b", quality=0.5)
    b["example_id"] = [f"q{i + 20:05d}" for i in range(170)]
    if family != "retrieval":
        b = b.set_index("example_id")
        b.loc[b.index.isin(a["example_id"]), "gold"] = a.set_index("example_id")["gold"]
        b = b.reset_index()
    result = s.compare_models(a, b, n_resamples=150, seed=5)
    shared_a = a[a["example_id"].isin(b["example_id"])].sort_values("example_id").reset_index(drop=True)
    shared_b = b[b["example_id"].isin(a["example_id"])].sort_values("example_id").reset_index(drop=True)
    assert result.n_examples == len(shared_a) == 130
    indices = s.resampling_generator(5, a["task"].iloc[0]).integers(0, 130, (150, 130))
    deltas = np.array([reference_metric(family, shared_a.iloc[i]) - reference_metric(family, shared_b.iloc[i])
                       for i in indices])
    delta = reference_metric(family, shared_a) - reference_metric(family, shared_b)
    deltas = deltas - (deltas.mean() - delta)
    assert (result.ci_low, result.ci_high) == pytest.approx(tuple(np.percentile(deltas, [2.5, 97.5])), abs=1e-12)
    assert result.delta == pytest.approx(delta, abs=1e-12)
    assert result.a == pytest.approx(reference_metric(family, shared_a), abs=1e-12)


@pytest.mark.parametrize("family", ["retrieval", "classification", "paraphrase", "clustering"])
def test_exact_paired_permutation_p_equals_scipy_permutation_test(family):
    a = examples(family, 8, seed=12, quality=0.8)
    b = examples(family, 8, seed=13, model="org/b", quality=0.4).assign(gold=a["gold"])
    if family == "paraphrase":
        gold = a["gold"].astype(float).to_numpy()
        x, y = a["value"].to_numpy(), b["value"].to_numpy()

        def statistic(x, y):
            return pearson(x, gold) - pearson(y, gold)
    elif family == "retrieval":
        x, y = a["value"].to_numpy(), b["value"].to_numpy()

        def statistic(x, y):
            return np.mean(x) - np.mean(y)
    else:
        labels = sorted(set(a["gold"]) | set(a["predicted"]) | set(b["predicted"]))
        codes = {label: i for i, label in enumerate(labels)}
        gold = a["gold"].map(codes).to_numpy()
        x = a["predicted"].map(codes).to_numpy()
        y = b["predicted"].map(codes).to_numpy() + (1000 if family == "clustering" else 0)
        reference = macro_f1 if family == "classification" else v_measure_score

        def statistic(x, y):
            return reference(gold, x) - reference(gold, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = stats.permutation_test((x, y), statistic, permutation_type="samples", vectorized=False,
                                          n_resamples=np.inf)
    result = s.compare_models(a, b, n_resamples=1000)
    assert result.p_value == pytest.approx(expected.pvalue, abs=1e-12)
    assert result.delta == pytest.approx(expected.statistic, abs=1e-12)


def test_holm_on_the_worked_example_of_the_holm_bonferroni_article():
    """Wikipedia, 'Holm–Bonferroni method', example: p = 0.01, 0.04, 0.03, 0.005 at alpha 0.05 rejects H1 and H4.
    Adjusted by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max."""
    adjusted = s.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    assert list(adjusted < 0.05) == [True, False, False, True]
    np.testing.assert_allclose(s.holm([0.2, np.nan, 0.5]), [0.4, np.nan, 0.5])


@settings(PROPERTY_SETTINGS)
@given(rows=st.integers(1, 5), columns=st.integers(1, 12), distinct=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_min_ranks_are_scipys_rankdata_with_method_min(rows, columns, distinct, seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, distinct, (rows, columns)).astype(float)
    values[rng.random(values.shape) < 0.2] = np.inf
    np.testing.assert_array_equal(s.min_ranks(values), stats.rankdata(values, method="min", axis=-1))
    np.testing.assert_array_equal(s.min_ranks(values[0]), stats.rankdata(values[0], method="min"))


@settings(PROPERTY_SETTINGS)
@given(p=st.lists(st.floats(0, 1), min_size=1, max_size=20), alpha=st.floats(0.001, 0.5))
def test_holm_rejects_what_the_step_down_procedure_rejects(p, alpha):
    m = len(p)
    rejected = set()
    for step, index in enumerate(sorted(range(m), key=lambda i: p[i])):
        if (m - step) * p[index] > alpha:
            break
        rejected.add(index)
    adjusted = s.holm(p)
    assert {i for i in range(m) if adjusted[i] <= alpha} == rejected
    assert all(p[i] <= adjusted[i] <= 1 for i in range(m))


def comparison_frame() -> pd.DataFrame:
    a = pd.concat([examples(f, 300, seed=20 + i, quality=0.9) for i, f in enumerate(TASK_OF_FAMILY)])
    b = pd.concat([examples(f, 300, seed=20 + i, model="org/b", quality=q)
                   for i, (f, q) in enumerate(zip(TASK_OF_FAMILY, (0.9, 0.3, 0.9, 0.3)))])
    b = b[~b["example_id"].isin(["q00000", "q00001"])]
    extra = examples("retrieval", 50, seed=30, task="effect2substance")
    return pd.concat([a, b, extra], ignore_index=True)


def test_compare_over_a_frame_pairs_shared_ids_adjusts_with_holm_and_gives_a_verdict():
    frame = comparison_frame()
    table = s.compare(frame, "org/a", "org/b", n_resamples=300)
    assert list(table.columns) == list(s.COMPARE_COLUMNS)
    assert list(table["task"]) == ["effect2full", "class_bloom", "clusters_inventor", "para_problem"]
    assert list(table["family"]) == list(TASK_OF_FAMILY)
    assert (table["n_examples"] == 298).all()
    np.testing.assert_allclose(table["p_holm"], s.holm(table["p_value"]))
    assert (table["ci_low"] <= table["delta"]).all() and (table["delta"] <= table["ci_high"]).all()
    clearly_better = table.set_index("task").loc[["class_bloom", "para_problem"]]
    assert (clearly_better["p_value"] == 2 / 301).all()  # no permutation as extreme: the smallest two-sided p
    assert (clearly_better["p_holm"] == 4 * 2 / 301).all() and (clearly_better["delta"] > 0).all()
    assert table.attrs["model_a"] == "org/a" and table.attrs["n_resamples"] == 300
    assert s.verdict(table) == "better on 2, worse on 0, no significant difference on 2 of 4 tasks"
    only = s.compare(frame, "org/a", "org/b", tasks=["para_problem"], n_resamples=200)
    assert s.verdict(only) == "better on 1, worse on 0, no significant difference on 0 of 1 task"


def test_saved_bootstrap_draws_give_the_same_comparison_where_both_models_have_the_same_examples():
    same_ids = pd.concat([examples("paraphrase", 200, seed=50, quality=0.7),
                          examples("paraphrase", 200, seed=51, model="org/b", quality=0.5)])
    same_ids.loc[same_ids["model"] == "org/b", "gold"] = same_ids.loc[same_ids["model"] == "org/a", "gold"].to_numpy()
    fewer_ids = pd.concat([examples("retrieval", 200, seed=52), examples("retrieval", 190, seed=53, model="org/b")])
    frame = pd.concat([same_ids, fewer_ids])
    draws = {(model, "r1", task): s.task_bootstrap(rows, n_resamples=300)
             for (model, task), rows in frame.groupby(["model", "task"])}
    computed = s.compare(frame, "org/a", "org/b", n_resamples=300)
    read = s.compare(frame, "org/a", "org/b", n_resamples=300, draws=draws)
    pd.testing.assert_frame_equal(read, computed, atol=1e-12, rtol=0)
    bogus = {key: np.zeros(300) for key in draws}
    with_bogus = s.compare(frame, "org/a", "org/b", n_resamples=300, draws=bogus).set_index("task")
    used = with_bogus.loc["para_problem"]
    assert used["ci_low"] == pytest.approx(used["delta"]) and used["ci_high"] == pytest.approx(used["delta"])
    assert with_bogus.loc["effect2full", "ci_low"] == computed.set_index("task").loc["effect2full", "ci_low"]


def test_verdict_counts_signs_of_significant_differences():
    table = pd.DataFrame({"delta": [0.1, -0.2, 0.3, -0.01, 0.02], "p_holm": [0.01, 0.001, 0.2, 0.04, 0.05]})
    assert s.verdict(table) == "better on 1, worse on 2, no significant difference on 2 of 5 tasks"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"model_a": "org/a", "model_b": "org/a"}, "compared with itself"),
        ({"model_a": "org/a", "model_b": "org/nobody"}, "no per-example data for model 'org/nobody'; models with data: org/a, org/b"),
        ({"model_a": "org/a", "model_b": "org/b", "tasks": ["effect2substance"]}, "org/b has no per-example data on effect2substance"),
        ({"model_a": "org/a", "model_b": "org/b", "tasks": []}, "no tasks given"),
        ({"model_a": "org/a", "model_b": "org/b", "revision_b": "r9"}, "no per-example data for org/b at revision r9"),
    ],
)
def test_compare_refuses_bad_input_with_a_message(arguments, message):
    with pytest.raises(s.StatisticsInputError, match=message):
        s.compare(comparison_frame(), **arguments)


def test_compare_refuses_models_without_a_shared_task_or_shared_ids_or_with_two_revisions():
    frame = comparison_frame()
    other = examples("retrieval", 40, seed=31, model="org/c", task="title2full")
    with pytest.raises(s.StatisticsInputError, match="share no task"):
        s.compare(pd.concat([frame, other]), "org/a", "org/c")
    disjoint = examples("retrieval", 40, seed=32, model="org/c", task="effect2full").assign(example_id=lambda f: "x" + f["example_id"])
    with pytest.raises(s.StatisticsInputError, match="effect2full: the two models share no example ids"):
        s.compare(pd.concat([frame, disjoint]), "org/a", "org/c")
    second_revision = examples("retrieval", 300, seed=33, model="org/b").assign(revision="r2")
    with pytest.raises(s.StatisticsInputError, match="several revisions on effect2full"):
        s.compare(pd.concat([frame, second_revision]), "org/a", "org/b")
    assert len(s.compare(pd.concat([frame, second_revision]), "org/a", "org/b", revision_b="r2", n_resamples=100)) == 1


def test_bad_per_example_rows_get_a_message():
    rows = examples("retrieval", 20, seed=34)
    with pytest.raises(s.StatisticsInputError, match="1 of 20 examples have no numeric value"):
        s.task_interval(rows.assign(value=[np.nan] + [0.5] * 19))
    with pytest.raises(s.StatisticsInputError, match="repeats"):
        s.task_interval(pd.concat([rows, rows.iloc[:1]]))
    with pytest.raises(s.StatisticsInputError, match="at least 2 examples"):
        s.task_interval(rows.iloc[:1])
    with pytest.raises(s.StatisticsInputError, match="unknown per-example metric 'bleu'"):
        s.task_interval(rows.assign(metric="bleu", task="not-a-task"))
    with pytest.raises(s.StatisticsInputError, match="needs per-example 'cluster' rows"):
        s.task_interval(rows.assign(task="clusters_inventor"))
    with pytest.raises(s.StatisticsInputError, match="no gold label"):
        s.task_interval(examples("classification", 20, seed=35).assign(gold=None))


def score_table(n_models: int, n_tasks: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    scores = rng.normal(50, 10, (n_models, n_tasks)).round(1)
    scores[rng.random(scores.shape) < 0.1] = np.nan
    return pd.DataFrame(scores, index=[f"m{i}" for i in range(n_models)], columns=[f"t{j}" for j in range(n_tasks)])


def test_rank_intervals_agree_with_the_tables_borda_rank_recomputed_on_each_resampled_table():
    table = score_table(12, 7, seed=40)
    intervals = s.rank_intervals(table, n_resamples=200, seed=3)
    observed = rank_from_points(borda_points(table))
    assert intervals["rank"].to_dict() == observed.to_dict()
    assert list(intervals["rank"]) == sorted(intervals["rank"])
    counts = np.random.default_rng(3).multinomial(7, np.full(7, 1 / 7), size=200)
    ranks = []
    for count in counts:
        resampled = table.iloc[:, np.repeat(np.arange(7), count)]
        resampled.columns = range(resampled.shape[1])
        ranks.append(rank_from_points(borda_points(resampled)))
    ranks = pd.DataFrame(ranks)
    for model, row in intervals.iterrows():
        assert row["rank_low"] == np.quantile(ranks[model], 0.025, method="lower")
        assert row["rank_high"] == np.quantile(ranks[model], 0.975, method="higher")
        assert row["rank_low"] <= row["rank"] <= row["rank_high"]
    above = intervals["rank_high"].shift(1)
    assert list(intervals["tied_with_above"]) == [bool(low <= high) for low, high in zip(intervals["rank_low"], above)]


def test_separated_models_have_exact_ranks_and_equal_models_are_tied():
    table = pd.DataFrame({"t1": [90.0, 50.0, 50.0, 10.0], "t2": [80.0, 40.0, 40.0, 5.0]}, index=list("abcd"))
    intervals = s.rank_intervals(table)
    assert list(intervals.index) == list("abcd")
    assert list(intervals["rank_range"]) == ["1", "2", "2", "4"]
    assert list(intervals["tied_with_above"]) == [False, False, True, False]


def test_bootstrap_draws_widen_the_ranks_of_models_whose_scores_overlap():
    table = pd.DataFrame({"t1": [60.0, 59.0, 20.0]}, index=["a", "b", "c"])
    assert list(s.rank_intervals(table)["rank_range"]) == ["1", "2", "3"]
    rng = np.random.default_rng(0)
    draws = {("a", "t1"): rng.normal(60, 3, 1000), ("b", "t1"): rng.normal(59, 3, 1000)}
    intervals = s.rank_intervals(table, draws=draws)
    assert list(intervals["rank_range"]) == ["1\u20132", "1\u20132", "3"]
    assert list(intervals["tied_with_above"]) == [False, True, False]
    with pytest.raises(s.StatisticsInputError, match="hold 10 values, not 1000"):
        s.rank_intervals(table, draws={("a", "t1"): np.zeros(10)})
    with pytest.raises(s.StatisticsInputError, match="not a cell of the table"):
        s.rank_intervals(table, draws={("z", "t1"): np.zeros(1000)})


def test_draws_from_task_bootstrap_of_two_models_on_the_same_examples_are_paired():
    a = examples("retrieval", 300, seed=41)
    b = a.assign(model="org/b", value=a["value"] + 0.01)
    difference = s.task_bootstrap(b, n_resamples=200) - s.task_bootstrap(a, n_resamples=200)
    np.testing.assert_allclose(difference, 0.01)
