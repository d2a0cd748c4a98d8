"""Seed the store from the shipped reference figures, the MTEB results sample and this repository's own demo
runs (results/seeds/demo_runs). Running it twice changes nothing.

The task catalogue itself needs no seeding: the store writes it whenever it opens a file (`results.store`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from results.importer import ImportReport, evaluated_score_rows, import_mteb_results
from results.mteb_files import find_result_files, last_run, model_metadata, read_examples_file, read_result_file
from results.store import Store, UpsertCounts
from results.task_table import task_catalogue
from results.vocabulary import DEFAULT_SUBSET, METRIC_KEYS, REPORTED_OVERALL_TASK, reference_provenance

SEEDS = Path(__file__).resolve().parent / "seeds"
REFERENCE = SEEDS / "reference"
MTEB_SAMPLE = SEEDS / "mteb_results"
MTEB_SAMPLE_LABEL = "MTEB results repository (embeddings-benchmark/results @ f4cc6c8b365a, CC0-1.0)"
REPORTED_REVISION = "external"
"""Reported scores carry no model revision; mteb uses the placeholder 'external' for such results."""

NO_PROMPT_SUBSET = "no_prompt"

DEMO_RUNS = SEEDS / "demo_runs"
DEMO_RUNS_COMMIT = "86075aa"
DEMO_RUNS_SOURCE = f"this repository's evaluator, demo benchmark, 2026-11-30, commit {DEMO_RUNS_COMMIT}"
"""The source of the demo runs' scores: how they were produced is in results/seeds/demo_runs/README.md."""


@dataclass
class SeedReport:
    tasks: UpsertCounts
    models: UpsertCounts
    reference_scores: UpsertCounts
    mteb_sample: ImportReport
    demo_runs: UpsertCounts


def _read_csv(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / name, dtype=str, keep_default_na=False)


def _none_if_blank(value: str):
    return value.strip() or None


def _number(value: str) -> float | None:
    value = value.strip()
    return float(value) if value else None


def _model_key(name: str, hub_id: str) -> str:
    return hub_id.strip() or name.strip()


def model_catalogue() -> pd.DataFrame:
    """patembed facts from the model cards, plus every model the reference scores name."""
    rows: dict[str, dict] = {}

    def add(row: dict) -> None:
        existing = rows.setdefault(row["model"], {"model": row["model"]})
        for key, value in row.items():
            if value is not None:
                existing[key] = value

    for row in _read_csv("patenteb_results.csv").itertuples(index=False):
        add(
            {
                "model": _model_key(row.model, row.hf_id),
                "display_name": row.model,
                "hub_id": _none_if_blank(row.hf_id),
                "params_m": _number(row.model_params_m),
                "embedding_dim": _int_or_none(row.embedding_dim),
                "max_tokens": _int_or_none(row.max_tokens),
            }
        )
    for row in _read_csv("patenteb_external.csv").itertuples(index=False):
        add(
            {
                "model": _model_key(row.model, row.hf_id),
                "display_name": row.model,
                "hub_id": _none_if_blank(row.hf_id),
                "model_group": None if row.hf_id else "reference point",
            }
        )
    for row in _read_csv("patenteb_models.csv").itertuples(index=False):
        add(
            {
                "model": _model_key(row.model, row.hf_id),
                "display_name": row.model,
                "hub_id": _none_if_blank(row.hf_id),
                "model_group": _none_if_blank(row.group),
                "params_m": _number(row.params_m),
                "embedding_dim": _int_or_none(row.embedding_dim),
                "max_tokens": _int_or_none(row.max_tokens),
                "uses_prompts": _yes_no(row.uses_prompts),
                "initialization": _none_if_blank(row.initialization),
                "source": row.source,
            }
        )
    for row in _read_csv("model_training.csv").itertuples(index=False):
        add(
            {
                "model": row.model,
                "training_data": _none_if_blank(row.training_data),
                "zero_shot": _yes_no(row.zero_shot),
            }
        )
    return pd.DataFrame(list(rows.values()))


def _yes_no(value: str) -> bool | None:
    """True for 'yes', False for 'no', None (unknown) for anything else, blank included."""
    return {"yes": True, "no": False}.get(value.strip())


def _int_or_none(value: str) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _external_task(benchmark: str, setting: str) -> tuple[str, str]:
    if "BigPatentClustering.v2" in benchmark:
        return "BigPatentClustering.v2", DEFAULT_SUBSET
    if benchmark == "DAPFAM":
        scope = "Out" if "Out scope" in setting else "In" if "In scope" in setting else "All"
        subset = NO_PROMPT_SUBSET if "NO prompt" in setting else DEFAULT_SUBSET
        return f"DAPFAM{scope}TitlAbsClmToTitlAbsClmRetrieval", subset
    raise ValueError(f"reference benchmark not mapped to a task: {benchmark!r}")


def reference_scores(tasks: pd.DataFrame) -> pd.DataFrame:
    eval_split = dict(zip(tasks["task"], tasks["eval_split"]))
    rows = []
    for row in _read_csv("patenteb_results.csv").itertuples(index=False):
        task = REPORTED_OVERALL_TASK if row.is_aggregate == "yes" else row.task_id
        provenance = reference_provenance(row.provenance)
        rows.append(
            {
                "model": _model_key(row.model, row.hf_id),
                "revision": REPORTED_REVISION,
                "task": task,
                "split": eval_split[task],
                "subset": DEFAULT_SUBSET,
                "metric": METRIC_KEYS[row.metric],
                "provenance": provenance,
                "value": float(row.score),
                "source": f"{row.source} [{row.source_table}]",
                "notes": "; ".join(
                    part for part in (row.notes, row.provenance if provenance == "paper-secondary" else "") if part
                )
                or None,
            }
        )
    for row in _read_csv("patenteb_external.csv").itertuples(index=False):
        task, subset = _external_task(row.benchmark, row.setting)
        rows.append(
            {
                "model": _model_key(row.model, row.hf_id),
                "revision": REPORTED_REVISION,
                "task": task,
                "split": eval_split[task],
                "subset": subset,
                "metric": METRIC_KEYS[row.metric],
                "provenance": reference_provenance(row.provenance),
                "value": float(row.score),
                "source": row.source,
                "notes": "; ".join(part for part in (f"setting: {row.setting}", row.notes) if part),
            }
        )
    return pd.DataFrame(rows)


def seed(store: Store, show_progress: bool = False) -> SeedReport:
    tasks = task_catalogue()
    task_counts = store.upsert_tasks(tasks)
    model_counts = store.upsert_models(model_catalogue())
    score_counts = store.upsert_scores(reference_scores(tasks))
    sample = import_mteb_results(
        store, [MTEB_SAMPLE], source_label=MTEB_SAMPLE_LABEL, show_progress=show_progress
    )
    scores, models, examples = demo_runs(tasks)
    demo_counts = store.upsert_scores(scores, models, examples=examples)
    return SeedReport(task_counts, model_counts, score_counts, sample, demo_counts)


def demo_runs(tasks: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The demo benchmark as this repository's evaluator scored the offline models: score rows (provenance
    'evaluated', as the worker writes them, with DEMO_RUNS_SOURCE), the rows of the models that models.csv
    describes (their model_meta.json under the CSV's names and credits), and the per-example rows that lie beside
    them (so that a new store has intervals and models to compare)."""
    main_metrics = dict(zip(tasks["task"], tasks["main_metric"]))
    credits = pd.read_csv(DEMO_RUNS / "models.csv", dtype=str, keep_default_na=False).set_index("model")
    scores, models, examples = [], {}, []
    for path in find_result_files(DEMO_RUNS / "results"):
        result = read_result_file(path, main_metrics)
        run = last_run(path, result.task)
        model = run.get("model") or result.model
        rows = evaluated_score_rows(result, model, run.get("precision") or "float32", run)
        scores.append(rows.assign(source=DEMO_RUNS_SOURCE))
        examples.append(read_examples_file(path, model, result.revision, result.task))
        if model in credits.index:
            credit = {key: _none_if_blank(value) for key, value in credits.loc[model].items()}
            models[model] = {**model_metadata(model, result.model_meta), **credit, "source": DEMO_RUNS_SOURCE}
    kept = [frame for frame in examples if frame is not None]
    return (pd.concat(scores, ignore_index=True), pd.DataFrame(list(models.values())),
            pd.concat(kept, ignore_index=True) if kept else None)


def is_seeded(store: Store) -> bool:
    """Whether the paper's reported figures are in the store: every store knows the tasks, seeding adds scores."""
    return store.score_count(provenance="paper") > 0
