"""Maintainer CLI: `python -m results seed | import-mteb | rebuild | export | stats`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from results.importer import import_mteb_results
from results.record import RecordError, rebuild
from results.seed import seed
from results.store import Store, StoreBusy, StoreCorrupt, default_store_path

EXPORT_COLUMNS = ["model", "revision", "task", "split", "subset", "metric", "score", "provenance"]
EXPORT_DESCRIPTION = """Per-example columns (--per-example): model, revision, task, split, subset, example_id, metric,
value, gold, predicted, retrieved. By family:
  retrieval       metric ndcg_at_10, value = the query's NDCG@10, example_id = query id,
                  retrieved = the 10 best-ranked document ids (space-separated); gold, predicted empty
  classification  metric correct, value 1/0, gold and predicted label; example_id = the test row's id
  clustering      metric cluster, value = assigned cluster, gold label, predicted = the cluster as text
  paraphrase      metric similarity, value = cosine similarity, gold = 0/1 label"""


def _store(args: argparse.Namespace) -> Store:
    return Store(args.store or default_store_path())


def cmd_seed(args: argparse.Namespace) -> int:
    report = seed(_store(args), show_progress=True)
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
        _store(args), [Path(p) for p in args.paths], provenance=args.provenance, show_progress=True
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
    store = _store(args)
    if args.per_example:
        frame = store.example_scores(model=args.model, task=args.task)
        if frame.empty:
            print(f"error: {_no_examples_reason(store, args)}", file=sys.stderr)
            return 2
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


def cmd_stats(args: argparse.Namespace) -> int:
    stats = _store(args).stats()
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m results", description=__doc__)
    store_option = argparse.ArgumentParser(add_help=False)
    store_option.add_argument("--store", help="DuckDB file (default: $PATENTEB_STORE or data/patenteb.duckdb)")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("seed", parents=[store_option], help="load the task catalogue, model facts and shipped scores")

    importer = commands.add_parser(
        "import-mteb", parents=[store_option], help="import mteb result files (a results-repo checkout or folder)"
    )
    importer.add_argument("paths", nargs="+", metavar="PATH")
    importer.add_argument(
        "--provenance", default="mteb-results", choices=["mteb-results", "evaluated"],
        help="label for the imported rows (default: mteb-results)",
    )

    rebuilder = commands.add_parser(
        "rebuild", parents=[store_option],
        help="build the store anew: the seed, the worker's result files and (from a record) the queue",
    )
    rebuilder.add_argument(
        "--from", dest="source", required=True, metavar="DIR",
        help="a record (local folder or hf://datasets/<org>/<name>) or a folder of the worker's result files",
    )
    rebuilder.add_argument("--replace", action="store_true", help="replace the store if it exists")

    exporter = commands.add_parser(
        "export", parents=[store_option],
        help="write every score row (or, with --per-example, every example's score) to a file",
        description=EXPORT_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    exporter.add_argument("--format", choices=["csv", "parquet"], required=True)
    exporter.add_argument("--out", required=True, metavar="FILE")
    exporter.add_argument("--per-example", action="store_true", help="the per-example scores of evaluated tasks")
    exporter.add_argument("--model", metavar="M", help="only this model's rows")
    exporter.add_argument("--task", metavar="T", help="only this task's rows")

    stats = commands.add_parser("stats", parents=[store_option], help="counts of models, tasks and scores")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


COMMANDS = {
    "seed": cmd_seed,
    "import-mteb": cmd_import,
    "rebuild": cmd_rebuild,
    "export": cmd_export,
    "stats": cmd_stats,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (StoreBusy, StoreCorrupt, RecordError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
