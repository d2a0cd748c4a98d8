"""Speed of patenteb.statistics at PatenTEB sizes, on synthetic per-example rows.

Prints progress lines, then as the last line one JSON object:
  interval_18k_1000_s    one retrieval interval: 18,000 queries x 1,000 resamples (median of the repeats)
  loop_18k_1000_s        the naive baseline, same run: a Python loop drawing one resample at a time from the
                         per-example frame (`rows.sample(n, replace=True)`) and averaging it (100 resamples
                         timed, scaled to 1,000)
  speedup_vs_loop        loop_18k_1000_s / interval_18k_1000_s
  numpy_loop_18k_1000_s  a leaner loop: one numpy index draw and mean per resample
  speedup_vs_numpy_loop  numpy_loop_18k_1000_s / interval_18k_1000_s (drawing the indices dominates both)
  interval_<family>_s    one interval at the size of PatenTEB's largest task of each family
  sklearn_loop_<family>_s  the sklearn / scipy metric called once per resample, timed for about a second
                         and scaled to 1,000 resamples (what a plain loop would take)
  rank_intervals_1000_models_s        rank intervals of 1,000 models over the 15 PatenTEB tasks (scores only)
  rank_intervals_1000_models_drawn_s  the same with 1,000 bootstrap draws for every cell
  compare_15_tasks_s     `compare` of two models over the 15 PatenTEB tasks at their test sizes (1,000
                         bootstrap resamples and 1,000 permutations each), from one long frame
  compare_15_tasks_cpu_s  its CPU time (the machine is shared: wall time grows with the load)
  compare_15_tasks_saved_draws_s  the same comparison reading each model's saved bootstrap draws, as the app
                         and `python -m results compare` do (the store saves them with each interval)
  compare_speedup_saved_draws  compare_15_tasks_s / compare_15_tasks_saved_draws_s
  table_switch_ms        a family table of 1,000 models x 15 tasks, every cell with an interval and draws, built and
                         styled with its intervals shown (median of repeated switches)
  first_switch_after_new_generation_ms  the first such switch after a new store generation (rank ranges resampled)
  load_average_1m        the machine's load when the run ended (2 cores)
  interval_s, compare_s  the issue's names for interval_18k_1000_s and compare_15_tasks_saved_draws_s
Goals: interval < 1 s, comparison over 15 tasks < 5 s, table switch <= 50 ms.

    python bench/score_statistics.py [--repeats 3]
    python bench/score_statistics.py --only compare [--task T ...]   # per-task comparison times
    python bench/score_statistics.py --only compare-saved-draws      # compare reading each model's saved draws
    python bench/score_statistics.py --only bias                     # the resamples' bias at PatenTEB sizes

(Not bench/statistics.py: scripts run from bench/ have it first on sys.path, so that name would shadow the
standard library's `statistics` module, which bench/leaderboard.py and others import.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics as stdlib_statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import f1_score, v_measure_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from patenteb import statistics as s  # noqa: E402
from patenteb.catalogue import PATENTEB_TASKS, task  # noqa: E402

RESAMPLES = 1000
LABELS_OF_TASK = {"class_bloom": 3, "class_nli_oldnew": 2, "class_text2ipc3": 109,
                  "clusters_ext_full_ipc": 100, "clusters_inventor": 300}
LARGEST_OF_FAMILY = {"classification": "class_text2ipc3", "clustering": "clusters_inventor", "paraphrase": "para_problem"}


def synthetic_examples(task_name: str, n: int, model: str, rng: np.random.Generator, gold=None) -> pd.DataFrame:
    family = task(task_name).family
    ids = np.char.add("q", np.arange(n).astype(str))
    predicted = None
    if family == "retrieval":
        metric, value, gold = "ndcg_at_10", rng.beta(2, 3, n), None
    elif family == "paraphrase":
        gold = gold if gold is not None else (rng.random(n) < 0.14).astype(int).astype(str)
        metric, value = "similarity", gold.astype(float) * 0.3 + rng.normal(0.5, 0.15, n)
    else:
        k = LABELS_OF_TASK[task_name]
        gold = gold if gold is not None else np.char.add("label-", rng.integers(0, k, n).astype(str))
        guesses = np.char.add("label-", rng.integers(0, k, n).astype(str))
        labels = np.where(rng.random(n) < 0.6, gold, guesses)
        if family == "classification":
            metric, predicted, value = "correct", labels, (labels == gold).astype(float)
        else:
            _, clusters = np.unique(labels, return_inverse=True)
            metric, predicted, value = "cluster", clusters.astype(str), clusters.astype(float)
    return pd.DataFrame({"model": model, "revision": "r1", "task": task_name, "split": "test", "subset": "default",
                         "example_id": ids, "metric": metric, "value": value, "gold": gold, "predicted": predicted})


def timed(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return stdlib_statistics.median(times)


def naive_loop_seconds(rows: pd.DataFrame, timed_resamples: int = 100) -> float:
    """The naive loop over `timed_resamples` resamples, scaled to RESAMPLES."""
    start = time.perf_counter()
    means = [rows.sample(len(rows), replace=True, random_state=seed)["value"].mean() for seed in range(timed_resamples)]
    np.percentile(means, [2.5, 97.5])
    return (time.perf_counter() - start) * RESAMPLES / timed_resamples


def numpy_loop_bootstrap(values: np.ndarray, n_resamples: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    means = [values[rng.integers(0, len(values), len(values))].mean() for _ in range(n_resamples)]
    return tuple(np.percentile(means, [2.5, 97.5]))


def sklearn_loop_seconds(rows: pd.DataFrame, budget_s: float = 1.0) -> float:
    """A plain loop calling the library metric once per resample, run for about `budget_s`, scaled to RESAMPLES."""
    family = task(rows["task"].iloc[0]).family
    rng = np.random.default_rng(0)
    n = len(rows)
    gold, predicted, value = rows["gold"].to_numpy(), rows["predicted"].to_numpy(), rows["value"].to_numpy()
    start, done = time.perf_counter(), 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while done < 2 or (time.perf_counter() - start < budget_s and done < RESAMPLES):
            index = rng.integers(0, n, n)
            if family == "classification":
                f1_score(gold[index], predicted[index], average="macro")
            elif family == "clustering":
                v_measure_score(gold[index], predicted[index])
            else:
                stats.pearsonr(value[index], gold[index].astype(float))
            done += 1
    return (time.perf_counter() - start) * RESAMPLES / done


def table_switch_with_intervals(rng: np.random.Generator, n_models: int = 1000, repeats: int = 15) -> dict[str, float]:
    """A family table of `n_models` models over the 15 PatenTEB tasks, every cell evaluated with an interval and
    bootstrap draws, built and styled with its intervals shown (what a table switch runs in the app): the first
    switch after a new store generation (its rank ranges resampled), then the median of repeated switches."""
    from leaderboard.filters import Filters
    from leaderboard.page import styled_table
    from leaderboard.tables import choose_cells, prepare_board
    from results.store import Snapshot
    from results.task_table import task_catalogue

    tasks = task_catalogue()
    main_metric = dict(zip(tasks["task"], tasks["main_metric"]))
    models = [f"bench/model-{i:04d}" for i in range(n_models)]
    values = rng.uniform(0.2, 0.8, (n_models, len(PATENTEB_TASKS)))
    keys = pd.MultiIndex.from_product([models, list(PATENTEB_TASKS)], names=["model", "task"]).to_frame(index=False)
    common = {"revision": "r1", "split": "test", "subset": "default"}
    scores = keys.assign(**common, metric=keys["task"].map(main_metric), value=values.ravel(), provenance="evaluated",
                         source="bench", prompt=None, mteb_version="2.26.0", evaluated_at=pd.Timestamp("2026-12-01"),
                         notes=None, dataset_revision="sha256:bench")
    intervals = scores[["model", "revision", "task", "split", "subset", "metric"]].assign(
        low=scores["value"] - 0.02, high=scores["value"] + 0.02, n_resamples=RESAMPLES, method="bench")
    draws = {(model, name, "default"): rng.normal(value, 0.01, RESAMPLES)
             for model, name, value in zip(scores["model"], scores["task"], scores["value"])}
    model_facts = pd.DataFrame({"model": models, "display_name": models, "hub_id": None, "params_m": 100.0,
                                "embedding_dim": 768, "max_tokens": 512, "uses_prompts": False, "zero_shot": True})
    snapshot = Snapshot(generation=1, tasks=tasks, models=model_facts, scores=scores, intervals=intervals)
    board = prepare_board(choose_cells(scores), tasks, model_facts, intervals=intervals, draws=draws)
    start = time.perf_counter()
    styled_table(snapshot, board, "classification", Filters(), with_intervals=True)
    first = time.perf_counter() - start
    repeated = timed(lambda: styled_table(snapshot, board, "classification", Filters(), with_intervals=True), repeats)
    return {"first_switch_after_new_generation_ms": first * 1000, "table_switch_ms": repeated * 1000}


def comparison_frame(rng: np.random.Generator) -> pd.DataFrame:
    frames = []
    for name in PATENTEB_TASKS:
        n = task(name).test_size
        a = synthetic_examples(name, n, "bench/model-a", rng)
        gold = None if task(name).family == "retrieval" else a["gold"].to_numpy()
        frames += [a, synthetic_examples(name, n, "bench/model-b", rng, gold=gold)]
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--task", action="append", help="with --only compare: these tasks only")
    parser.add_argument("--only", choices=["interval", "compare", "compare-saved-draws", "draws", "bias", "switch"],
                        help="time one step alone (for profiling)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    figures: dict[str, float] = {}
    if args.only == "bias":
        for family, name in LARGEST_OF_FAMILY.items():
            rows = synthetic_examples(name, task(name).test_size, "bench/model-a", rng)
            groups, task_name, _ = s._one_model(rows, None)
            raw = s._bootstrap_distribution(groups, RESAMPLES, s.resampling_generator(0, task_name))
            score = s.task_score(rows)
            print(f"{family}: score {score:.4f}, resamples' mean {raw.mean():.4f} (bias {raw.mean() - score:+.4f}), "
                  f"resamples' spread (2.5-97.5%) {np.percentile(raw, 97.5) - np.percentile(raw, 2.5):.4f}, "
                  f"share above the score {np.mean(raw > score):.3f}")
        return
    if args.only == "draws":
        n, size = 18_000, (1000, 18_000)
        for label, draw in [
            ("int64", lambda: rng.integers(0, n, size)),
            ("int32", lambda: rng.integers(0, n, size, dtype=np.int32)),
            ("uint16", lambda: rng.integers(0, n, size, dtype=np.uint16)),
            ("float64 floor", lambda: (rng.random(size) * n).astype(np.int64)),
            ("bytes (swaps)", lambda: np.unpackbits(np.frombuffer(rng.bytes(size[0] * n // 8), np.uint8))),
        ]:
            print(f"{label}: {timed(draw, 3):.3f} s for 18M draws")
        indices = rng.integers(0, n, size)
        values = rng.random(n)
        offsets = (np.arange(1000) * n)[:, None]
        print(f"gather+mean: {timed(lambda: values[indices].mean(axis=1), 3):.3f} s")
        print(f"weights via one bincount: {timed(lambda: np.bincount((indices + offsets).ravel(), minlength=n * 1000).reshape(1000, n).astype(np.float64), 3):.3f} s")
        print(f"weights per row: {timed(lambda: s.resample_weights(indices), 3):.3f} s")
        return
    if args.only == "switch":
        print(json.dumps({key: round(value, 2) for key, value in table_switch_with_intervals(rng).items()}))
        return
    if args.only == "compare-saved-draws":
        frame = comparison_frame(rng)
        draws = {(model, "r1", name): s.task_bootstrap(rows, n_resamples=RESAMPLES)
                 for (model, name), rows in frame.groupby(["model", "task"])}
        start, cpu_start = time.perf_counter(), time.process_time()
        s.compare(frame, "bench/model-a", "bench/model-b", n_resamples=RESAMPLES, draws=draws)
        print(json.dumps({"compare_15_tasks_saved_draws_s": round(time.perf_counter() - start, 4),
                          "compare_15_tasks_saved_draws_cpu_s": round(time.process_time() - cpu_start, 4),
                          "load_average_1m": os.getloadavg()[0]}))
        return
    if args.only:
        rows = synthetic_examples("title2full", 18_000, "bench/model-a", rng) if args.only == "interval" else None
        frame = comparison_frame(rng) if args.only == "compare" else None
        start = time.perf_counter()
        if args.only == "interval":
            s.task_interval(rows, n_resamples=RESAMPLES)
        else:
            for name in args.task or PATENTEB_TASKS:
                task_start, cpu_start = time.perf_counter(), time.process_time()
                s.compare(frame, "bench/model-a", "bench/model-b", tasks=[name], n_resamples=RESAMPLES)
                print(f"  {name}: {time.perf_counter() - task_start:.2f} s wall, "
                      f"{time.process_time() - cpu_start:.2f} s CPU", flush=True)
        print(json.dumps({f"{args.only}_s": round(time.perf_counter() - start, 4)}))
        return

    retrieval = synthetic_examples("title2full", 18_000, "bench/model-a", rng)
    s.task_interval(retrieval, n_resamples=20)
    figures["interval_18k_1000_s"] = timed(lambda: s.task_interval(retrieval, n_resamples=RESAMPLES), args.repeats)
    figures["loop_18k_1000_s"] = naive_loop_seconds(retrieval)
    figures["speedup_vs_loop"] = figures["loop_18k_1000_s"] / figures["interval_18k_1000_s"]
    values = retrieval["value"].to_numpy()
    figures["numpy_loop_18k_1000_s"] = timed(lambda: numpy_loop_bootstrap(values, RESAMPLES), args.repeats)
    figures["speedup_vs_numpy_loop"] = figures["numpy_loop_18k_1000_s"] / figures["interval_18k_1000_s"]
    interval = s.task_interval(retrieval, n_resamples=RESAMPLES)
    print(f"retrieval 18,000 x {RESAMPLES}: {figures['interval_18k_1000_s']:.3f} s vectorised "
          f"[{interval.low:.4f}, {interval.high:.4f}]; naive frame loop {figures['loop_18k_1000_s']:.2f} s "
          f"({figures['speedup_vs_loop']:.1f}x); numpy loop {figures['numpy_loop_18k_1000_s']:.3f} s "
          f"({figures['speedup_vs_numpy_loop']:.1f}x)", flush=True)

    for family, name in LARGEST_OF_FAMILY.items():
        rows = synthetic_examples(name, task(name).test_size, "bench/model-a", rng)
        seconds = timed(lambda: s.task_interval(rows, n_resamples=RESAMPLES), 1)
        loop_seconds = sklearn_loop_seconds(rows)
        figures[f"interval_{family}_s"] = seconds
        figures[f"sklearn_loop_{family}_s"] = loop_seconds
        interval = s.task_interval(rows, n_resamples=RESAMPLES)
        print(f"{family} {name} ({len(rows):,} examples): {seconds:.3f} s vectorised, "
              f"~{loop_seconds:.1f} s as a loop of the library metric ({loop_seconds / seconds:.0f}x); "
              f"score {interval.score:.4f} [{interval.low:.4f}, {interval.high:.4f}]", flush=True)

    scores = pd.DataFrame(rng.normal(50, 5, (1000, len(PATENTEB_TASKS))), columns=list(PATENTEB_TASKS),
                          index=[f"model-{i:04d}" for i in range(1000)])
    figures["rank_intervals_1000_models_s"] = timed(lambda: s.rank_intervals(scores), 1)
    draws = {(model, column): rng.normal(scores.loc[model, column], 1.0, RESAMPLES)
             for model in scores.index for column in scores.columns}
    figures["rank_intervals_1000_models_drawn_s"] = timed(lambda: s.rank_intervals(scores, draws=draws), 1)
    print(f"rank intervals, 1,000 models x {len(PATENTEB_TASKS)} tasks: {figures['rank_intervals_1000_models_s']:.2f} s "
          f"from the scores, {figures['rank_intervals_1000_models_drawn_s']:.2f} s with bootstrap draws for every cell",
          flush=True)

    frame = comparison_frame(rng)
    start, cpu_start = time.perf_counter(), time.process_time()
    table = s.compare(frame, "bench/model-a", "bench/model-b", n_resamples=RESAMPLES)
    figures["compare_15_tasks_s"] = time.perf_counter() - start
    figures["compare_15_tasks_cpu_s"] = time.process_time() - cpu_start
    print(f"compare over {len(table)} tasks ({len(frame):,} rows), resampling both models: "
          f"{figures['compare_15_tasks_s']:.2f} s ({figures['compare_15_tasks_cpu_s']:.2f} s CPU); "
          f"{s.verdict(table)}", flush=True)
    draws = {(model, "r1", name): s.task_bootstrap(rows, n_resamples=RESAMPLES)
             for (model, name), rows in frame.groupby(["model", "task"])}
    start, cpu_start = time.perf_counter(), time.process_time()
    reused = s.compare(frame, "bench/model-a", "bench/model-b", n_resamples=RESAMPLES, draws=draws)
    figures["compare_15_tasks_saved_draws_s"] = time.perf_counter() - start
    figures["compare_15_tasks_saved_draws_cpu_s"] = time.process_time() - cpu_start
    figures["compare_speedup_saved_draws"] = figures["compare_15_tasks_s"] / figures["compare_15_tasks_saved_draws_s"]
    print(f"the same with each model's saved draws (the store keeps them with the intervals): "
          f"{figures['compare_15_tasks_saved_draws_s']:.2f} s ({figures['compare_15_tasks_saved_draws_cpu_s']:.2f} s "
          f"CPU); same verdict: {s.verdict(reused) == s.verdict(table)}", flush=True)

    figures.update(table_switch_with_intervals(rng))
    print(f"table switch, 1,000 models x 15 tasks with intervals shown: {figures['table_switch_ms']:.1f} ms (the first "
          f"after a new store generation, resampling rank ranges: {figures['first_switch_after_new_generation_ms']:.0f} ms)",
          flush=True)

    figures["load_average_1m"] = os.getloadavg()[0]
    figures["interval_s"] = figures["interval_18k_1000_s"]
    figures["compare_s"] = figures["compare_15_tasks_saved_draws_s"]
    print(json.dumps({key: round(value, 4) for key, value in figures.items()}))


if __name__ == "__main__":
    main()
