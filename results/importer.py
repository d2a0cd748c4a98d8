"""Import mteb result files into the store: every good file lands, every bad one is reported with its reason."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from results.mteb_files import (
    ResultFile,
    ResultFileError,
    find_result_files,
    last_run,
    examples_file,
    model_metadata,
    read_examples_file,
    read_result_file,
)
from results.store import Store, UpsertCounts
from results.vocabulary import EVALUATED

DEFAULT_PRECISION = "float32"
EXAMPLE_ROWS_PER_WRITE = 1_000_000
"""Per-example rows are written in batches of about this many (a store rebuilt at PatenTEB's size reads millions)."""


@dataclass
class ImportReport:
    files_seen: int = 0
    files_imported: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    example_rows: int = 0
    """Per-example rows written (a task whose stored rows are the same is not written again)."""
    examples_skipped: list[tuple[Path, str]] = field(default_factory=list)
    """Per-example files that could not be read: their task's scores are imported without them."""
    cost_rows: int = 0
    """Tasks whose cost (from the worker's run notes) was written."""

    @property
    def ok(self) -> bool:
        return not self.skipped

    def summary(self) -> str:
        examples = f"; per-example rows: {self.example_rows} written" if self.example_rows else ""
        costs = f"; costs of {self.cost_rows} tasks" if self.cost_rows else ""
        unreadable = f" ({len(self.examples_skipped)} per-example files unreadable)" if self.examples_skipped else ""
        return (
            f"{self.files_imported} of {self.files_seen} result files imported; {len(self.skipped)} skipped; "
            f"score rows: {self.counts.new} new, {self.counts.changed} changed, {self.counts.unchanged} unchanged"
            f"{examples}{unreadable}{costs}"
        )


def import_mteb_results(
    store: Store,
    paths: list[Path],
    provenance: str = "mteb-results",
    source_label: str = "mteb result file",
    show_progress: bool = False,
) -> ImportReport:
    main_metric_by_task = _main_metrics(store)
    report = ImportReport()
    score_rows: list[dict] = []
    model_rows: dict[str, list[dict]] = {}
    seen_keys: dict[tuple[str, str, str], Path] = {}

    for path, root, result in _readable_results(paths, main_metric_by_task, report, show_progress):
        identity = (result.model, result.revision, result.task)
        if identity in seen_keys:
            report.skipped.append((path, f"same model, revision and task as {seen_keys[identity]}"))
            continue
        seen_keys[identity] = path
        source = f"{source_label}: {_relative(path, root)}"
        for score in result.scores:
            score_rows.append(
                {
                    "model": result.model,
                    "revision": result.revision,
                    "task": result.task,
                    "split": score.split,
                    "subset": score.subset,
                    "metric": score.metric,
                    "provenance": provenance,
                    "value": score.value,
                    "source": source,
                    "mteb_version": result.mteb_version,
                    "evaluated_at": result.evaluated_at,
                    "evaluation_time_s": result.evaluation_time_s,
                    "dataset_revision": result.dataset_revision,
                }
            )
        model_rows.setdefault(result.model, []).append(model_metadata(result.model, result.model_meta))
        report.files_imported += 1

    if score_rows:
        report.counts = store.upsert_scores(
            pd.DataFrame(score_rows), _merge_model_rows(model_rows), keep_sources=True
        )
    return report


COST_NUMBERS = ("threads", "batch_size", "texts_requested", "texts_encoded", "encode_s", "texts_per_s",
                "peak_memory_gib", "wall_s")
COST_TEXTS = ("device", "device_name", "precision", "memory_kind", "host")
"""The `evaluation_costs` values a run note's cost carries (evaluator.devices.TaskCost.as_record)."""


def evaluated_cost_rows(
    model: str, revision: str, task: str, cost: dict | None, evaluated_at: datetime | None = None
) -> pd.DataFrame | None:
    """The task's `evaluation_costs` row from the cost the worker measured (its run note keeps it): one
    definition for the worker and for a store rebuilt from the files. None without a cost or a device; a value
    of the wrong type is stored as unknown rather than failing the task's scores."""
    if not isinstance(cost, dict) or not isinstance(cost.get("device"), str) or not cost["device"]:
        return None
    row = {"model": model, "revision": revision, "task": task}
    row.update({name: _number_or_none(cost.get(name)) for name in COST_NUMBERS})
    row.update({name: cost.get(name) if isinstance(cost.get(name), str) else None for name in COST_TEXTS})
    row["evaluated_at"] = evaluated_at or datetime.now(timezone.utc).replace(tzinfo=None)
    return pd.DataFrame([row])


def _number_or_none(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def evaluated_score_rows(result: ResultFile, model: str, precision: str, run: dict) -> pd.DataFrame:
    """The store rows of one of the worker's result files (provenance 'evaluated'), with what the worker's note of
    the run (`last_run`) says of its prompt, data origin and dataset revision: one definition for the worker,
    which writes them as each task ends, and for a store rebuilt from the files."""
    data = _text(run.get("data"))
    mteb_version = result.mteb_version or version("mteb")
    evaluated_at = result.evaluated_at or datetime.now(timezone.utc).replace(tzinfo=None)
    return pd.DataFrame(
        [
            {
                "model": model,
                "revision": result.revision,
                "task": result.task,
                "split": score.split,
                "subset": score.subset,
                "metric": score.metric,
                "provenance": EVALUATED,
                "value": score.value,
                "source": f"evaluated by the PatenTEB worker with mteb {mteb_version}",
                "prompt": run.get("prompt") if isinstance(run.get("prompt"), str) else None,
                "mteb_version": result.mteb_version,
                "evaluated_at": evaluated_at,
                "evaluation_time_s": result.evaluation_time_s,
                "notes": f"data: {data or 'unknown'}; precision: {precision}",
                "dataset_revision": _text(run.get("dataset_revision")),
            }
            for score in result.scores
        ]
    )


def import_evaluations(
    store: Store,
    folder: Path,
    job_models: dict[tuple[str, str], tuple[str, str]] | None = None,
    show_progress: bool = False,
) -> ImportReport:
    """Import the worker's result files (an mteb ResultCache folder) with the rows the worker wrote: the scores and
    what each task cost (from the worker's run notes), then each task's per-example rows (its
    `<Task>.examples.parquet`), whose intervals the store computes.

    The store's model name and the precision come from the worker's notes beside each file; files written
    before the notes named them fall back to `job_models` ({(mteb model name, revision): (model, precision)},
    from the queue), then to the name mteb filed the result under and float32.
    """
    main_metric_by_task = _main_metrics(store)
    report = ImportReport()
    frames: list[pd.DataFrame] = []
    cost_frames: list[pd.DataFrame] = []
    model_rows: dict[str, list[dict]] = {}
    example_sources: list[tuple[Path, str, str, str]] = []
    for path, _root, result in _readable_results([folder], main_metric_by_task, report, show_progress):
        run = last_run(path, result.task)
        known_model, known_precision = (job_models or {}).get((result.model, result.revision), (None, None))
        model = _text(run.get("model")) or known_model or result.model
        precision = _text(run.get("precision")) or known_precision or DEFAULT_PRECISION
        frames.append(evaluated_score_rows(result, model, precision, run))
        costs = evaluated_cost_rows(model, result.revision, result.task, run.get("cost"), result.evaluated_at)
        if costs is not None:
            cost_frames.append(costs)
        model_rows.setdefault(model, []).append(model_metadata(model, result.model_meta))
        example_sources.append((path, model, result.revision, result.task))
        report.files_imported += 1
    if frames:
        scores = pd.concat(frames, ignore_index=True).drop_duplicates(
            ["model", "revision", "task", "split", "subset", "metric", "provenance"], keep="last"
        )
        costs = (pd.concat(cost_frames, ignore_index=True).drop_duplicates(["model", "revision", "task"], keep="last")
                 if cost_frames else None)
        report.counts = store.upsert_scores(scores, _merge_model_rows(model_rows), costs=costs)
        report.cost_rows = 0 if costs is None else len(costs)
    _import_examples(store, example_sources, report)
    return report


def _import_examples(store: Store, sources: list[tuple[Path, str, str, str]], report: ImportReport) -> None:
    """Write the per-example files beside the imported result files, in batches of whole tasks; the last file
    of a (model, revision, task) wins, as for its scores."""
    latest = {(model, revision, task): path for path, model, revision, task in sources}
    batch: list[tuple[Path, pd.DataFrame]] = []
    rows = 0
    for (model, revision, task), path in latest.items():
        try:
            examples = read_examples_file(path, model, revision, task)
        except ResultFileError as error:
            report.examples_skipped.append((examples_file(path), str(error)))
            continue
        if examples is None or examples.empty:
            continue
        batch.append((examples_file(path), examples))
        rows += len(examples)
        if rows >= EXAMPLE_ROWS_PER_WRITE:
            _write_examples(store, batch, report)
            batch, rows = [], 0
    _write_examples(store, batch, report)


def _write_examples(store: Store, batch: list[tuple[Path, pd.DataFrame]], report: ImportReport) -> None:
    """One write for the batch; when the store refuses it (a file with unknown columns or repeated ids), each
    file on its own, so that only the bad ones are left out."""
    if not batch:
        return
    try:
        report.example_rows += store.upsert_example_scores(pd.concat([rows for _, rows in batch], ignore_index=True))
    except ValueError:
        for path, rows in batch:
            try:
                report.example_rows += store.upsert_example_scores(rows)
            except ValueError as error:
                report.examples_skipped.append((path, " ".join(str(error).split())))


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _main_metrics(store: Store) -> dict[str, str]:
    tasks = store.tasks()
    return dict(zip(tasks["task"], tasks["main_metric"]))


def _readable_results(paths, main_metric_by_task, report: ImportReport, show_progress: bool):
    """(path, root, result) of each distinct result file under `paths`; an unreadable one is counted and skipped."""
    files = _unique_files(paths, report)
    for path, root in tqdm(files, desc="import", unit="file", disable=not show_progress):
        report.files_seen += 1
        try:
            yield path, root, read_result_file(path, main_metric_by_task)
        except ResultFileError as error:
            report.skipped.append((path, str(error)))


def _unique_files(paths: list[Path], report: ImportReport) -> list[tuple[Path, Path]]:
    files: dict[Path, Path] = {}
    for given in paths:
        given = Path(given)
        if not given.exists():
            report.skipped.append((given, "no such file or folder"))
            continue
        root = given.parent.parent.parent if given.is_file() else given
        root = root / "results" if (root / "results").is_dir() else root
        for path in find_result_files(given):
            files.setdefault(path.resolve(), root.resolve())
    return sorted(files.items())


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _merge_model_rows(model_rows: dict[str, list[dict]]) -> pd.DataFrame:
    """One metadata row per model: the first known value of each field across its revisions."""
    merged = []
    for rows in model_rows.values():
        combined = dict(rows[0])
        for row in rows[1:]:
            for key, value in row.items():
                if combined.get(key) is None and value is not None:
                    combined[key] = value
        merged.append(combined)
    return pd.DataFrame(merged)
