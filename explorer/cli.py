"""Maintainer CLI: `python -m explorer models | index | search | map`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from explorer.corpus import SHIPPED_CORPUS, load_corpus
from explorer.errors import ExplorerError
from explorer.index import DenseIndex, HybridIndex, ensure_index, export_prebuilt
from explorer.prebuilt import PREBUILT_FOLDER, read_prebuilt
from explorer.service import K_LIMITS, Explorer
from results.command_line import run_command, store_from, store_option


def _explorer(args: argparse.Namespace) -> Explorer:
    return Explorer(store_from(args), corpus=args.corpus, registry=args.registry)


class TqdmStages:
    """A progress callback drawing one tqdm bar per stage on stderr."""

    def __init__(self):
        self._bar = None
        self._stage = None

    def __call__(self, done: int, total: int, stage: str) -> None:
        from tqdm import tqdm

        if stage != self._stage:
            self.close()
            self._bar = tqdm(total=total, desc=stage, unit="doc", file=sys.stderr)
            self._stage = stage
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._stage = None, None


def cmd_models(args: argparse.Namespace) -> int:
    explorer = _explorer(args)
    indexed = explorer.indexed_models()
    corpus_hash = explorer.corpus.content_hash
    for spec in explorer.registry:
        prebuilt = read_prebuilt(spec.name)
        if spec.name in indexed or (spec.is_hybrid and all(part in indexed for part in spec.fuses)):
            status = "indexed"
        elif prebuilt is not None and prebuilt.corpus_hash == corpus_hash:
            status = "prebuilt index ships"
        else:
            status = "not indexed"
        default = " (default)" if spec.default else ""
        licence = f"  [{spec.licence}]" if spec.licence else ""
        print(f"{spec.name:<45} {spec.kind:<22} {status}{default}{licence}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    explorer = _explorer(args)
    names = [spec.name for spec in explorer.registry.defaults()] if args.defaults else args.model
    if not names:
        raise ExplorerError("name a model with --model NAME, or use --defaults")
    corpus = explorer.corpus
    prebuilt_root = Path(args.prebuilt_dir) if args.prebuilt_dir else None
    if prebuilt_root is None and corpus.content_hash == load_corpus(SHIPPED_CORPUS).content_hash:
        prebuilt_root = PREBUILT_FOLDER
    failures = 0
    for name in names:
        spec = explorer.registry.get(name)
        print(f"{spec.label}: loading…", file=sys.stderr)
        progress = TqdmStages()
        try:
            model = explorer.models.get(name)
            result = ensure_index(explorer.store, corpus, model, progress, rebuild=args.rebuild)
        except ExplorerError as error:
            print(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        finally:
            progress.close()
        index = result.index
        _report(spec.name, result)
        if (args.rebuild or args.ship) and spec.prebuilt:
            if prebuilt_root is None:
                print(f"{spec.name}: prebuilt files are written for the shipped corpus only (or give --prebuilt-dir)")
                continue
            for record in _dense_records(index):
                written = export_prebuilt(explorer.store, record, prebuilt_root)
                size = written.vectors_path.stat().st_size / 1e6
                print(f"{record.model}: prebuilt index written to {written.folder} ({size:.1f} MB, float16)")
    print(f"corpus {corpus.name} ({len(corpus):,} documents, hash {corpus.content_hash})", file=sys.stderr)
    return 1 if failures else 0


def _report(name: str, result) -> None:
    record = result.index.record
    if result.source == "built":
        print(f"{name}: built an index of {record.n_documents:,} documents in {record.build_seconds:.1f} s")
    elif result.source == "prebuilt":
        print(f"{name}: installed the prebuilt index of {record.n_documents:,} documents (built {record.built_at:%Y-%m-%d})")
    else:
        built_on = f"{record.built_at:%Y-%m-%d %H:%M}"
        print(f"{name}: index already built on {built_on} ({record.n_documents:,} documents); nothing to do")


def _dense_records(index) -> list:
    if isinstance(index, HybridIndex):
        return [index.dense.record]
    return [index.record] if isinstance(index, DenseIndex) else []


def cmd_search(args: argparse.Namespace) -> int:
    explorer = _explorer(args)
    progress = TqdmStages()
    try:
        comparison = explorer.compare(
            query=args.query or "",
            models=[name for name in args.models.split(",")],
            k=args.k,
            patent_id=args.patent,
            section=args.section,
            build_missing=args.build,
            progress=progress,
        )
    finally:
        progress.close()
    if comparison.unavailable:
        raise ExplorerError(" | ".join(comparison.unavailable.values()))
    for note in comparison.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(comparison.to_json()))
        return 0
    for result in comparison.results:
        print(f"\n{result.label} ({result.seconds * 1000:.0f} ms)")
        for hit in result.hits:
            print(f"{hit.rank:>3}  {hit.id:<22} {hit.score:9.4f}  {explorer.corpus.texts[hit.position][:90]}")
    for row in comparison.overlaps():
        pair = f"{row['model_a']} vs {row['model_b']}"
        print(f"\n{pair}: Jaccard@{comparison.k} {row['jaccard_at_k']:.3f}, RBO {row['rbo']:.3f}")
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    explorer = _explorer(args)
    progress = TqdmStages()
    try:
        view = explorer.map_view(args.model, args.sample, progress=progress)
    finally:
        progress.close()
    state = "cached" if view.from_cache else "computed"
    print(f"{view.model}: {state} projection {view.sample} ({view.compute_seconds} s to compute)")
    print(json.dumps(view.metrics))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description=__doc__)
    common = argparse.ArgumentParser(add_help=False, parents=[store_option()])
    common.add_argument("--corpus", help="parquet/JSONL with id, text, codes (default: the shipped USPTO 10k)")
    common.add_argument("--registry", help="models TOML (default: $PATENTEB_EXPLORER_MODELS or explorer/models.toml)")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("models", parents=[common], help="list registered models and whether they are indexed")

    index = commands.add_parser(
        "index", parents=[common], help="embed the corpus once per model (re-running does nothing unless --rebuild)"
    )
    which = index.add_mutually_exclusive_group()
    which.add_argument("--model", action="append", help="a registry name; repeat for several")
    which.add_argument("--defaults", action="store_true", help="the registry's defaults (all offline)")
    index.add_argument(
        "--rebuild", action="store_true",
        help="embed again even when an index exists; also rewrites the prebuilt files of models marked prebuilt",
    )
    index.add_argument("--ship", action="store_true", help="write the prebuilt files from the store's index (no re-embedding)")
    index.add_argument(
        "--prebuilt-dir", help="where prebuilt files are written (default explorer/indexes, for the shipped corpus only)"
    )

    search = commands.add_parser("search", parents=[common], help="compare models on one query")
    search.add_argument("query", nargs="?", help="the query text (or use --patent)")
    search.add_argument("--patent", help="use this patent as the query; it is excluded from its own results")
    search.add_argument("--models", required=True, help="comma-separated registry names (1-4)")
    search.add_argument("--k", type=int, default=10, help=f"results per model ({K_LIMITS[0]}-{K_LIMITS[1]})")
    search.add_argument("--section", help="only patents whose first code is in this CPC section (A-H, Y)")
    search.add_argument("--json", action="store_true", help="print {model: [{rank, id, score}]} as JSON")
    search.add_argument("--build", action="store_true", help="build a missing index instead of stopping")

    map_ = commands.add_parser("map", parents=[common], help="compute (or reuse) a UMAP projection and its scores")
    map_.add_argument("--model", required=True)
    map_.add_argument("--sample", type=int, default=2000, help="documents in the map (default 2000)")
    return parser


COMMANDS = {"models": cmd_models, "index": cmd_index, "search": cmd_search, "map": cmd_map}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(COMMANDS[args.command], args, failures={ExplorerError: 1})
