"""Evaluate one model on a list of tasks with mteb and write its scores into the store, one write per task.

Crash safety comes from three layers, checked in this order for every task:
1. the store: a task whose main score is already stored for (model, revision) is skipped;
2. mteb's result JSON beside the store (`Store.evaluations_dir`): a finished task whose rows did not reach the
   store is written from its JSON without loading the model;
3. the embedding cache beside the store (`Store.embedding_cache_dir`): texts encoded before a crash are not
   re-encoded.
The runner knows no queue; it never holds a store connection while encoding.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from evaluator.tasks import DEMO_TASKS, EXTERNAL_TASKS, GROUPS, PATENTEB_TASKS, DataFormatError, DataUnavailable
from patenteb import catalogue
from patenteb.hub import offline_requested
from results.store import Store

log = logging.getLogger(__name__)

PRECISIONS = ("float32", "float16", "bfloat16")
PROVENANCE = "evaluated"
RUNS_FILE = "evaluated_with.jsonl"
"""Beside mteb's result files: each task's prompt and data origin, so a task restored from its JSON keeps them."""

__all__ = [
    "DataFormatError",
    "DataUnavailable",
    "EvaluationReport",
    "ModelLoadError",
    "ModelSpec",
    "resolve_tasks",
    "run_evaluation",
]

ProgressCallback = Callable[[str, int, int], None]


class ModelLoadError(RuntimeError):
    """The model could not be loaded; the message gives the reason."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    load_from: str
    revision: str
    trust_remote_code: bool = False
    precision: str = "float32"

    def __post_init__(self):
        for attribute in ("name", "load_from", "revision"):
            if not str(getattr(self, attribute) or "").strip():
                raise ValueError(f"ModelSpec.{attribute} must not be empty")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")

    @property
    def mteb_name(self) -> str:
        """mteb wants 'organisation/name'; a bare local name is filed under 'local/'."""
        return self.name if "/" in self.name else f"local/{self.name}"

    @property
    def is_local(self) -> bool:
        return Path(self.load_from).expanduser().is_dir()


def resolve_tasks(selection: str | list[str] | tuple[str, ...]) -> list[str]:
    """'PatenTEB', 'demo', 'external', task names, or a comma-separated mix of them -> task names, in order."""
    items = selection.split(",") if isinstance(selection, str) else list(selection)
    groups = {group.lower(): tasks for group, tasks in GROUPS.items()}
    known = set(PATENTEB_TASKS) | set(DEMO_TASKS) | set(EXTERNAL_TASKS)
    names: list[str] = []
    unknown: list[str] = []
    for item in (str(item).strip() for item in items):
        if not item:
            continue
        if item.lower() in groups:
            names.extend(groups[item.lower()])
        elif item in known:
            names.append(item)
        else:
            unknown.append(item)
    if unknown:
        described = [_with_suggestion(name, known) for name in unknown]
        raise ValueError(
            f"unknown task(s) {', '.join(described)}; choose {', '.join(GROUPS)} "
            f"or task names such as {', '.join(PATENTEB_TASKS[:3])}, …"
        )
    return list(dict.fromkeys(names))


def _with_suggestion(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)


@dataclass
class EvaluationReport:
    scores: dict[str, float] = field(default_factory=dict)
    evaluated: list[str] = field(default_factory=list)
    from_store: list[str] = field(default_factory=list)
    from_result_files: list[str] = field(default_factory=list)
    texts_requested: int = 0
    texts_encoded: int = 0


def run_evaluation(
    store: Store,
    model: ModelSpec,
    tasks: str | list[str],
    *,
    data_dir: Path | str | None = None,
    hf_token: str | None = None,
    progress: ProgressCallback | bool | None = None,
    model_object=None,
) -> EvaluationReport:
    """Evaluate `model` on `tasks`: report.scores is {task: main score}.

    Writes mteb result JSON beside the store and the score rows into the store (provenance 'evaluated'), one
    write per task, as each task finishes. Tasks already in the store for (model.name, model.revision) are
    skipped (their scores come from the store), so a re-run after a crash recomputes nothing finished. The
    report also says what was computed, skipped or restored and how many encodes the cache saved. Raises
    ModelLoadError (clear reason) when the model cannot load, DataUnavailable when a task's data cannot be
    found (gated dataset without token, offline)."""
    names = resolve_tasks(tasks)
    notify = _progress_callback(progress)
    run = _start_run(store, model, data_dir, hf_token or os.environ.get("HF_TOKEN") or None, model_object)
    stored = _stored_main_scores(store, model)
    for done, name in enumerate(names, start=1):
        if name in stored:
            run.report.scores[name] = stored[name]
            run.report.from_store.append(name)
        else:
            result_path = _ensure_result_file(run, name)
            run.report.scores[name] = _store_task_scores(run, name, result_path)
        notify(name, done, len(names))
    _count_encodes(run)
    return run.report


@dataclass
class _Run:
    """What the steps of one evaluation share."""

    store: Store
    model: ModelSpec
    data_dir: Path | str | None
    hf_token: str | None
    result_cache: object
    """mteb.ResultCache over the store's evaluations folder."""
    embedding_cache: object
    encoder: "_LazyEncoder"
    report: EvaluationReport = field(default_factory=EvaluationReport)


def _start_run(store: Store, model: ModelSpec, data_dir, hf_token: str | None, model_object) -> _Run:
    import mteb

    from evaluator.embedding_cache import EmbeddingCache

    embedding_cache = EmbeddingCache(store.embedding_cache_dir, model.name, model.revision, model.precision)
    return _Run(
        store=store,
        model=model,
        data_dir=data_dir,
        hf_token=hf_token,
        result_cache=mteb.ResultCache(store.evaluations_dir),
        embedding_cache=embedding_cache,
        encoder=_LazyEncoder(model, embedding_cache, hf_token, model_object),
    )


def _ensure_result_file(run: _Run, name: str) -> Path:
    """mteb's result file of task `name`: kept when a finished one exists (a crash after it was written),
    else computed now."""
    from evaluator.tasks import build_task

    model = run.model
    task = build_task(name, run.data_dir, run.hf_token)
    result_path = run.result_cache.get_task_result_path(name, model.mteb_name, model.revision)
    previous = run.result_cache.load_task_result(name, model.mteb_name, model.revision)
    if previous is not None and not previous.get_missing_evaluations(task):
        run.report.from_result_files.append(name)
        return result_path
    _load_data(task)
    _evaluate_with_mteb(run, task)
    _remember_run(result_path, name, prompt=run.encoder.prompt_record(task), data=_data_origin(task))
    run.report.evaluated.append(name)
    return result_path


def _evaluate_with_mteb(run: _Run, task) -> None:
    import mteb

    from evaluator.embedding_cache import ENCODE_BATCH_SIZE

    mteb.evaluate(
        run.encoder.get(),
        task,
        cache=run.result_cache,
        overwrite_strategy="only-missing",
        encode_kwargs={"batch_size": ENCODE_BATCH_SIZE, "show_progress_bar": False},
        show_progress_bar=False,
        co2_tracker=False,
    )


def _store_task_scores(run: _Run, name: str, result_path: Path) -> float:
    """Write every score of the result file (and the model's facts) to the store; return the main score."""
    facts = catalogue.task(name)
    rows = _score_rows(result_path, name, facts.metric.key, run.model, **_recall_run(result_path, name))
    run.store.upsert_scores(rows, run.encoder.model_row())
    main_score = _main_score(rows, facts.metric.key, facts.eval_split)
    log.info("%s on %s: %s = %s", run.model.name, name, facts.metric.key, main_score)
    return main_score


def _count_encodes(run: _Run) -> None:
    stats = run.embedding_cache.stats
    run.report.texts_requested, run.report.texts_encoded = stats.requested, stats.encoded
    log.info("embedding cache: %d texts requested, %d encoded, %d encodes saved",
             stats.requested, stats.encoded, stats.saved)


class _LazyEncoder:
    """The model behind a caching mteb encoder, loaded on first need: a run with nothing left to do never loads it."""

    def __init__(self, spec: ModelSpec, embedding_cache, hf_token: str | None, model_object=None):
        self.spec = spec
        self.embedding_cache = embedding_cache
        self.hf_token = hf_token
        self.model_object = model_object
        self.encoder = None

    def get(self):
        from evaluator.embedding_cache import CachingEncoder

        if self.encoder is None:
            model = self.model_object if self.model_object is not None else load_model(self.spec, self.hf_token)
            self.encoder = CachingEncoder(model, self.embedding_cache, model_meta(self.spec, model))
        return self.encoder

    def prompt_record(self, task) -> str | None:
        from evaluator.tasks.prompts import prompt_record, roles_of

        used = self.encoder.prompts_used.get(task.metadata.name) or {
            role: self.encoder.prompt_for(task.metadata, role) for role in roles_of(task.metadata.type)
        }
        return prompt_record(used)

    def model_row(self) -> pd.DataFrame:
        spec = self.spec
        row = {
            "model": spec.name,
            "display_name": spec.name,
            "hub_id": None if spec.is_local else spec.load_from,
            "source": "evaluated by the PatenTEB worker",
        }
        if self.encoder is not None:
            meta = self.encoder.mteb_model_meta
            row.update(
                params_m=meta.n_parameters / 1e6,
                embedding_dim=int(meta.embed_dim),
                max_tokens=int(meta.max_tokens) if meta.max_tokens else None,
                uses_prompts=bool(meta.use_instructions),
            )
        return pd.DataFrame([row])


def model_meta(spec: ModelSpec, model):
    """mteb's description of the model: it names the result folder and is saved as model_meta.json."""
    from mteb.models.model_meta import ModelMeta, ScoringFunction

    from evaluator.tasks.prompts import model_uses_prompts

    similarity = ScoringFunction.from_str(model.similarity_fn_name) if model.similarity_fn_name else None
    return ModelMeta.create_empty(
        overwrites={
            "name": spec.mteb_name,
            "revision": spec.revision,
            "embed_dim": model.get_embedding_dimension(),
            "max_tokens": model.max_seq_length,
            "n_parameters": sum(parameter.numel() for parameter in model.parameters()),
            "use_instructions": model_uses_prompts(model.prompts, model.default_prompt_name),
            "similarity_fn_name": similarity,
            "framework": ["Sentence Transformers", "PyTorch"],
        }
    )


def load_model(spec: ModelSpec, hf_token: str | None = None):
    """A SentenceTransformer for `spec`, or ModelLoadError with the reason."""
    import torch
    from sentence_transformers import SentenceTransformer

    options: dict = {"trust_remote_code": spec.trust_remote_code, "token": hf_token}
    if spec.precision != "float32":
        options["model_kwargs"] = {"dtype": getattr(torch, spec.precision)}
    if not spec.is_local:
        options["revision"] = spec.revision
    source = str(Path(spec.load_from).expanduser()) if spec.is_local else spec.load_from
    try:
        model = SentenceTransformer(source, **options)
    except Exception as error:
        where = "local folder" if spec.is_local else "Hub model"
        hint = ""
        if not spec.is_local and offline_requested():
            hint = " (the Hub is off: HF_HUB_OFFLINE=1, and the model is not in the local Hugging Face cache)"
        reason = " ".join(f"{type(error).__name__}: {error}".split())
        raise ModelLoadError(
            f"cannot load {where} {spec.load_from!r} at revision {spec.revision!r}{hint}: {reason}"
        ) from error
    model.model_card_data.model_name = spec.mteb_name
    model.model_card_data.base_model_revision = spec.revision
    return model


def _load_data(task) -> None:
    """Load a task's data before the model, so a missing dataset fails fast with DataUnavailable."""
    try:
        task.load_data()
    except (DataUnavailable, DataFormatError):
        raise
    except Exception as error:
        if task.metadata.name not in EXTERNAL_TASKS:
            raise
        raise DataUnavailable(
            f"cannot load the data of {task.metadata.name} ({task.metadata.dataset['path']}) from the Hub: "
            f"{type(error).__name__}: {error}"
        ) from error


def _data_origin(task) -> str:
    if hasattr(task, "data_origin"):
        return task.data_origin()
    return f"Hub dataset {task.metadata.dataset['path']} (mteb task definition)"


def _stored_main_scores(store: Store, model: ModelSpec) -> dict[str, float]:
    scores = store.main_scores()
    mine = scores[
        (scores["model"] == model.name) & (scores["revision"] == model.revision) & (scores["provenance"] == PROVENANCE)
    ]
    return {task: _as_float(value) for task, value in zip(mine["task"], mine["value"])}


def _score_rows(
    result_path: Path, task: str, main_metric: str, model: ModelSpec, prompt: str | None = None, data: str | None = None
) -> pd.DataFrame:
    """Every scalar metric of mteb's result file, as store rows."""
    import mteb

    from results.mteb_files import read_result_file

    result = read_result_file(result_path, {task: main_metric})
    return pd.DataFrame(
        [
            {
                "model": model.name,
                "revision": model.revision,
                "task": task,
                "split": score.split,
                "subset": score.subset,
                "metric": score.metric,
                "provenance": PROVENANCE,
                "value": score.value,
                "source": f"evaluated by the PatenTEB worker with mteb {result.mteb_version or mteb.__version__}",
                "prompt": prompt,
                "mteb_version": result.mteb_version,
                "evaluated_at": result.evaluated_at or datetime.now(timezone.utc).replace(tzinfo=None),
                "evaluation_time_s": result.evaluation_time_s,
                "notes": f"data: {data or 'unknown'}; precision: {model.precision}",
            }
            for score in result.scores
        ]
    )


def _main_score(rows: pd.DataFrame, main_metric: str, eval_split: str) -> float:
    main = rows[(rows["metric"] == main_metric) & (rows["split"] == eval_split)]
    return _as_float(main["value"].iloc[0]) if len(main) else math.nan


def _as_float(value) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def _remember_run(result_path: Path, task: str, *, prompt: str | None, data: str) -> None:
    with (result_path.parent / RUNS_FILE).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"task": task, "prompt": prompt, "data": data}, ensure_ascii=False) + "\n")


def _recall_run(result_path: Path, task: str) -> dict:
    """The prompt and data origin of the last run of `task` next to its result file: {} if none was noted."""
    path = result_path.parent / RUNS_FILE
    runs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.is_file() else []
    last = [run for run in runs if run.get("task") == task][-1:]
    return {"prompt": last[0].get("prompt"), "data": last[0].get("data")} if last else {}


def _progress_callback(progress: ProgressCallback | bool | None) -> ProgressCallback:
    if callable(progress):
        return progress
    if progress:
        return lambda task, done, total: print(f"[{done}/{total}] {task} done", file=sys.stderr, flush=True)
    return lambda task, done, total: None
