"""Maintainer CLI: `python -m results seed | import-mteb | rebuild | export | compare | stats`."""

from __future__ import annotations

import argparse
import difflib
import json
import math
import sys
from pathlib import Path

import pandas as pd

from results.command_line import STORE_PROBLEM, CommandError, run_command, store_from, store_option
from results.importer import import_mteb_results
from results.record import RecordError, rebuild
from results.seed import seed
from results.store import INTERVAL_RESAMPLES, Store, default_store_path

EXPORT_COLUMNS = ["model", "revision", "task", "split", "subset", "metric", "score", "provenance"]
EXPORT_DESCRIPTION = """Per-example columns (--per-example): model, revision, task, split, subset, example_id, metric,
value, gold, predicted, retrieved. By family:
  retrieval       metric ndcg_at_10, value = the query's NDCG@10, example_id = query id,
                  retrieved = the 10 best-ranked document ids (space-separated); gold, predicted empty
  classification  metric correct, value 1/0, gold and predicted label; example_id = the test row's id
  clustering      metric cluster, value = assigned cluster, gold label, predicted = the cluster as text
  paraphrase      metric similarity, value = cosine similarity, gold = 0/1 label"""


COMPARE_DESCRIPTION = """Per task both models have per-example data for: both scores (recomputed from the examples),
A - B, its 95% paired-bootstrap interval, the paired permutation-test p-value and the Holm-adjusted p over the
tasks compared; then a one-line verdict (a difference counts where the Holm-adjusted p < 0.05). Only tasks the
worker evaluated have per-example data: scores from the paper, third-party quotes and MTEB imports are skipped,
and the output says which and why. --json prints one object: model_a, model_b, revision_a, revision_b, tasks
(task, family, n_examples, a, b, delta, ci_low, ci_high, p_value, p_holm), verdict, skipped (task, reason),
dataset_revisions_differ ({task: [revision of A's data, of B's]} where the two ran on different dataset revisions;
the text form prints a warning line), n_resamples, seed, confidence, method."""


USAGE = 2


def usage_error(message: str) -> CommandError:
    """Input a command cannot use: one line on stderr, exit 2."""
    return CommandError(message, USAGE)


def cmd_seed(args: argparse.Namespace) -> int:
    report = seed(store_from(args), show_progress=True)
    print(f"tasks: {report.tasks.new} new, {report.tasks.changed} changed, {report.tasks.unchanged} unchanged")
    print(f"models: {report.models.new} new, {report.models.changed} changed, {report.models.unchanged} unchanged")
    scores = report.reference_scores
    print(f"reference scores: {scores.new} new, {scores.changed} changed, {scores.unchanged} unchanged")
    print(f"MTEB results sample: {report.mteb_sample.summary()}")
    for path, reason in report.mteb_sample.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    return 0 if report.mteb_sample.ok else 1


def cmd_import(args: argparse.Namespace) -> int:
    report = import_mteb_results(
        store_from(args), [Path(p) for p in args.paths], provenance=args.provenance, show_progress=True
    )
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(report.summary())
    return 0 if report.ok else 1


def cmd_rebuild(args: argparse.Namespace) -> int:
    target = Path(args.store) if args.store else default_store_path()
    report = rebuild(args.source, target, replace=args.replace, show_progress=True)
    for path, reason in report.evaluations.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    for path, reason in report.evaluations.examples_skipped:
        print(f"per-example rows not stored from {path}: {reason}", file=sys.stderr)
    print(f"rebuilt {target}: {report.summary()}")
    return 0 if report.evaluations.ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    store = store_from(args)
    if args.per_example:
        frame = store.example_scores(model=args.model, task=args.task)
        if frame.empty:
            raise usage_error(_no_examples_reason(store, args))
        what = "per-example rows"
    else:
        frame = store.all_scores().rename(columns={"value": "score"})
        frame = frame[EXPORT_COLUMNS + [c for c in frame.columns if c not in EXPORT_COLUMNS]]
        if args.model is not None:
            frame = frame[frame["model"] == args.model]
        if args.task is not None:
            frame = frame[frame["task"] == args.task]
        what = "score rows"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    print(f"wrote {len(frame)} {what} to {out}")
    return 0


def _no_examples_reason(store: Store, args: argparse.Namespace) -> str:
    chosen = (("model", args.model), ("task", args.task))
    selection = " and ".join(f"{name} {value!r}" for name, value in chosen if value)
    where = f"for {selection} " if selection else ""
    return (
        f"no per-example scores {where}in {store.path}; they exist only for tasks the worker evaluated with "
        f"this version (`python -m evaluator run`), not for paper, third-party or MTEB-imported scores"
    )


def cmd_compare(args: argparse.Namespace) -> int:
    from patenteb import statistics

    store = store_from(args)
    names = (args.model_a, args.model_b)
    scores = store.main_scores()
    for model in names:
        _check_known_model(store, scores, model)
    examples = pd.concat([store.example_scores(model=model) for model in dict.fromkeys(names)], ignore_index=True)
    example_tasks = {model: set(examples.loc[examples["model"] == model, "task"]) for model in names}
    for model in names:
        if not example_tasks[model]:
            raise usage_error(f"{model} has no per-example data: {_provenance_note(scores, model)}")
    tasks = _chosen_tasks(args.tasks, store, names, example_tasks, scores)
    try:
        draws = statistics.draws_by_task(store.score_draws(examples)) if args.resamples == INTERVAL_RESAMPLES else None
        table = statistics.compare(examples, *names, tasks, revision_a=args.revision_a, revision_b=args.revision_b,
                                   n_resamples=args.resamples, draws=draws)
    except statistics.StatisticsInputError as error:
        raise usage_error(str(error)) from None
    compared = set(table["task"])
    skipped = [
        {"task": task, "reason": _why_not_compared(task, names, example_tasks, scores)}
        for task in _tasks_of(scores, names, example_tasks, store) if task not in compared
    ]
    revisions = [_revisions(examples, model, compared, revision) for model, revision in
                 zip(names, (args.revision_a, args.revision_b))]
    verdict = statistics.verdict(table)
    differing_data = statistics.differing_dataset_revisions(scores, examples, *names, sorted(compared))
    if args.json:
        document = {
            "model_a": names[0], "model_b": names[1], "revision_a": revisions[0], "revision_b": revisions[1],
            "tasks": [{key: _json_value(value) for key, value in row.items()} for row in table.to_dict("records")],
            "verdict": verdict, "skipped": skipped,
            "dataset_revisions_differ": {task: list(pair) for task, pair in differing_data.items()},
            **{key: table.attrs[key] for key in ("n_resamples", "seed", "confidence", "method")},
        }
        print(json.dumps(document, allow_nan=False))
        return 0
    print(f"A = {names[0]} ({revisions[0]}), B = {names[1]} ({revisions[1]})")
    print(_compare_table(table).to_string(index=False))
    print(f"verdict: {names[0]} against {names[1]}: {verdict}")
    if differing_data:
        print(statistics.dataset_revision_warning(differing_data))
    for entry in skipped:
        print(f"skipped {entry['task']}: {entry['reason']}")
    print(f"method: {table.attrs['method']}")
    return 0


def _check_known_model(store: Store, scores: pd.DataFrame, model: str) -> None:
    known = set(store.models()["model"]) | set(scores["model"])
    if model in known:
        return
    close = difflib.get_close_matches(model, sorted(known), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else " (see the leaderboard, or `python -m results stats`)"
    raise usage_error(f"unknown model {model!r}: the store {store.path} has no such model{hint}")


def _provenance_note(scores: pd.DataFrame, model: str) -> str:
    provenances = sorted(set(scores.loc[scores["model"] == model, "provenance"]))
    origin = f"its scores are {', '.join(provenances)} scores" if provenances else "it has no scores"
    return (f"{origin}; only tasks the worker evaluated (`python -m evaluator run`) keep per-example data, "
            "not paper, third-party or MTEB-imported scores")


def _chosen_tasks(listed: str | None, store: Store, names, example_tasks, scores) -> list[str] | None:
    if listed is None:
        shared = example_tasks[names[0]] & example_tasks[names[1]]
        if not shared:
            raise usage_error(
                f"{names[0]} and {names[1]} share no task with per-example data "
                f"({names[0]}: {', '.join(sorted(example_tasks[names[0]]))}; "
                f"{names[1]}: {', '.join(sorted(example_tasks[names[1]]))})"
            )
        return None
    tasks = list(dict.fromkeys(task.strip() for task in listed.split(",") if task.strip()))
    if not tasks:
        raise usage_error("--tasks names no task: give task names separated by commas")
    known = set(store.tasks()["task"])
    unknown = [task for task in tasks if task not in known]
    if unknown:
        raise usage_error(f"unknown task(s) {', '.join(unknown)}: not in the store's task catalogue")
    lacking = [f"{task} ({_why_not_compared(task, names, example_tasks, scores)})" for task in tasks
               if any(task not in example_tasks[model] for model in names)]
    if lacking:
        raise usage_error(f"cannot compare on {'; '.join(lacking)}")
    return tasks


def _tasks_of(scores: pd.DataFrame, names, example_tasks, store: Store) -> list[str]:
    """Every task either model has a score or per-example data for, in the catalogue's display order."""
    present = set(scores.loc[scores["model"].isin(names), "task"]) | example_tasks[names[0]] | example_tasks[names[1]]
    return [task for task in store.tasks()["task"] if task in present]


def _why_not_compared(task: str, names, example_tasks, scores: pd.DataFrame) -> str:
    reasons = []
    for model in dict.fromkeys(names):
        if task in example_tasks[model]:
            continue
        provenances = sorted(set(scores.loc[(scores["model"] == model) & (scores["task"] == task), "provenance"]))
        reasons.append(f"{model} has no per-example data (its score: {', '.join(provenances)})" if provenances
                       else f"{model} has no score")
    return "; ".join(reasons)


def _revisions(examples: pd.DataFrame, model: str, tasks: set[str], chosen: str | None) -> str:
    if chosen is not None:
        return chosen
    rows = examples[(examples["model"] == model) & examples["task"].isin(tasks)]
    return ", ".join(sorted(set(rows["revision"])))


def _json_value(value):
    """A table cell as JSON: numpy scalars as Python numbers, an undefined figure (NaN) as null."""
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _compare_table(table: pd.DataFrame) -> pd.DataFrame:
    def number(value: float, digits: int = 4) -> str:
        return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"

    def p_value(value: float) -> str:
        return "n/a" if not math.isfinite(value) else f"{value:.3g}"

    width = max(len("task"), *table["task"].str.len())
    return pd.DataFrame({
        "task".ljust(width): table["task"].str.ljust(width),
        "n": table["n_examples"],
        "A": table["a"].map(number),
        "B": table["b"].map(number),
        "A-B": table["delta"].map(number),
        "95% CI of A-B": [f"[{number(low)}, {number(high)}]" for low, high in zip(table["ci_low"], table["ci_high"])],
        "p": table["p_value"].map(p_value),
        "p (Holm)": table["p_holm"].map(p_value),
    })


def cmd_stats(args: argparse.Namespace) -> int:
    stats = store_from(args).stats()
    if args.json:
        print(json.dumps(stats))
        return 0
    print(f"store: {stats['store']} (schema v{stats['schema_version']}, generation {stats['generation']})")
    print(f"models: {stats['models']} ({stats['models_with_scores']} with scores)")
    print(f"tasks: {stats['tasks']}")
    print(f"scores: {stats['scores']}")
    for provenance, count in stats["scores_by_provenance"].items():
        print(f"  {provenance:<16} {count}")
    print("models with scores, by benchmark:")
    for benchmark, count in stats["models_by_benchmark"].items():
        print(f"  {benchmark:<16} {count}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m results", description=__doc__)
    store = store_option()
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("seed", parents=[store], help="load the task catalogue, model facts and shipped scores")

    importer = commands.add_parser(
        "import-mteb", parents=[store], help="import mteb result files (a results-repo checkout or folder)"
    )
    importer.add_argument("paths", nargs="+", metavar="PATH")
    importer.add_argument(
        "--provenance", default="mteb-results", choices=["mteb-results", "evaluated"],
        help="label for the imported rows (default: mteb-results)",
    )

    rebuilder = commands.add_parser(
        "rebuild", parents=[store],
        help="build the store anew: the seed, the worker's result files and (from a record) the queue",
    )
    rebuilder.add_argument(
        "--from", dest="source", required=True, metavar="DIR",
        help="a record (local folder or hf://datasets/<org>/<name>) or a folder of the worker's result files",
    )
    rebuilder.add_argument("--replace", action="store_true", help="replace the store if it exists")

    exporter = commands.add_parser(
        "export", parents=[store],
        help="write every score row (or, with --per-example, every example's score) to a file",
        description=EXPORT_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    exporter.add_argument("--format", choices=["csv", "parquet"], required=True)
    exporter.add_argument("--out", required=True, metavar="FILE")
    exporter.add_argument("--per-example", action="store_true", help="the per-example scores of evaluated tasks")
    exporter.add_argument("--model", metavar="M", help="only this model's rows")
    exporter.add_argument("--task", metavar="T", help="only this task's rows")

    comparer = commands.add_parser(
        "compare", parents=[store], help="is model A really better than B? paired tests per task",
        description=COMPARE_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    comparer.add_argument("model_a", metavar="MODEL_A")
    comparer.add_argument("model_b", metavar="MODEL_B")
    comparer.add_argument("--tasks", metavar="LIST", help="comma-separated tasks (default: every task both have "
                          "per-example data for)")
    comparer.add_argument("--revision-a", metavar="R", help="MODEL_A's revision, when it has several")
    comparer.add_argument("--revision-b", metavar="R", help="MODEL_B's revision, when it has several")
    comparer.add_argument("--resamples", type=_positive_int, default=1000, metavar="N",
                          help="bootstrap resamples and permutations (default: 1000)")
    comparer.add_argument("--json", action="store_true", help="print one JSON object")

    stats = commands.add_parser("stats", parents=[store], help="counts of models, tasks and scores")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


COMMANDS = {
    "seed": cmd_seed,
    "import-mteb": cmd_import,
    "rebuild": cmd_rebuild,
    "export": cmd_export,
    "compare": cmd_compare,
    "stats": cmd_stats,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(COMMANDS[args.command], args, failures={RecordError: STORE_PROBLEM})
