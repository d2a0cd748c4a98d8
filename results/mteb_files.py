"""Reading mteb result files (mteb 1.x to 2.x) into score rows. No SQL here: the importer writes the rows.

Upstream layout: `results/<org>__<model>/<revision>/<TaskName>.json`, with `model_meta.json` beside.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from results.vocabulary import DEFAULT_SUBSET

MODEL_META_FILE = "model_meta.json"
RUNS_FILE = "evaluated_with.jsonl"
"""The worker's notes beside mteb's result files: one JSON line per task run (task, prompt, data origin, and
the store's model name and precision), so that a store rebuilt from the files gets the same rows."""
EXAMPLES_SUFFIX = ".examples.parquet"
NOT_METRICS = {"main_score", "evaluation_time", "kg_co2_emissions", "hf_subset", "languages"}
LEGACY_SPLITS = {"test", "dev", "validation", "train", "test_full", "default"}


class ResultFileError(ValueError):
    """A file that cannot be imported; the message is the reason shown to the maintainer."""


@dataclass(frozen=True)
class ScoreValue:
    split: str
    subset: str
    metric: str
    value: float | None


@dataclass(frozen=True)
class ResultFile:
    path: Path
    model: str
    revision: str
    task: str
    mteb_version: str | None
    evaluated_at: datetime | None
    evaluation_time_s: float | None
    scores: tuple[ScoreValue, ...]
    model_meta: dict = field(default_factory=dict, compare=False)
    dataset_revision: str | None = None
    """The dataset revision mteb wrote into the file (a pinned commit for mteb's own tasks)."""


def model_name_from_folder(folder_name: str) -> str:
    return folder_name.replace("__", "/", 1)


def find_result_files(root: Path) -> Iterator[Path]:
    """Every result JSON under `root` (a results-repo checkout, its `results/` folder, or one file)."""
    if root.is_file():
        yield root
        return
    base = root / "results" if (root / "results").is_dir() else root
    for path in sorted(base.rglob("*.json")):
        if path.name != MODEL_META_FILE:
            yield path


def examples_file(result_path: Path) -> Path:
    """The worker's per-example rows of a task (evaluator/tasks/examples.py), beside mteb's result file."""
    result_path = Path(result_path)
    return result_path.with_name(result_path.stem + EXAMPLES_SUFFIX)


def read_examples_file(result_path: Path, model: str, revision: str, task: str):
    """The per-example rows beside a result file as store rows (model, revision and task put in front), or None
    when there is none; ResultFileError with the reason when the file cannot be read."""
    import pandas as pd

    path = examples_file(result_path)
    if not path.is_file():
        return None
    try:
        examples = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for a damaged file; each means the same here
        raise ResultFileError(f"unreadable per-example file: {type(error).__name__}: {error}") from error
    examples.insert(0, "task", task)
    examples.insert(0, "revision", revision)
    examples.insert(0, "model", model)
    return examples


def read_runs(result_path: Path) -> list[dict]:
    """The worker's notes beside a result file (RUNS_FILE), oldest first; unreadable lines are left out."""
    path = result_path.parent / RUNS_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    runs = []
    for line in lines:
        try:
            run = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(run, dict):
            runs.append(run)
    return runs


def last_run(result_path: Path, task: str) -> dict:
    """The worker's note of the last run of `task` beside `result_path`; {} when there is none."""
    runs = [run for run in read_runs(result_path) if run.get("task") == task]
    return runs[-1] if runs else {}


def read_model_meta(result_path: Path) -> dict:
    meta_path = result_path.parent / MODEL_META_FILE
    if not meta_path.is_file():
        return {}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return {}
    return meta if isinstance(meta, dict) else {}


def read_result_file(path: Path, main_metric_by_task: dict[str, str]) -> ResultFile:
    """Parse one result file; raise ResultFileError with the reason when it cannot be imported."""
    if len(path.parts) < 3:
        raise ResultFileError("not inside <org>__<model>/<revision>/ folders")
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ResultFileError(f"unreadable: {error}") from error
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ResultFileError(f"not valid JSON ({error.msg} at line {error.lineno})") from error
    except RecursionError:
        raise ResultFileError("nested too deeply to be an mteb result") from None
    if not isinstance(document, dict):
        raise ResultFileError("not an mteb result (top level is not an object)")

    task = document.get("task_name") or document.get("mteb_dataset_name") or path.stem
    if not isinstance(task, str):
        raise ResultFileError("task_name is not a string")
    if task not in main_metric_by_task:
        raise ResultFileError(f"unknown task {task!r} (not in the store's task catalogue)")

    scores = tuple(_score_values(document, main_metric_by_task[task]))
    if not scores:
        raise ResultFileError("no scores found")
    keys = [(score.split, score.subset, score.metric) for score in scores]
    if len(set(keys)) != len(keys):
        repeated = next(key for key in keys if keys.count(key) > 1)
        raise ResultFileError(f"split {repeated[0]!r}, subset {repeated[1]!r} has metric {repeated[2]!r} twice")

    meta = read_model_meta(path)
    model = meta.get("name") if isinstance(meta.get("name"), str) else None
    return ResultFile(
        path=path,
        model=model or model_name_from_folder(path.parent.parent.name),
        revision=path.parent.name,
        task=task,
        mteb_version=_optional_str(document.get("mteb_version")),
        evaluated_at=_parse_date(document.get("date")),
        evaluation_time_s=_finite_or_none(document.get("evaluation_time")),
        scores=scores,
        model_meta=meta,
        dataset_revision=_optional_str(document.get("dataset_revision")),
    )


def _score_values(document: dict, main_metric: str) -> Iterator[ScoreValue]:
    if "scores" in document:
        by_split = document["scores"]
        if not isinstance(by_split, dict):
            raise ResultFileError("'scores' is not an object")
    else:
        by_split = {k: v for k, v in document.items() if k in LEGACY_SPLITS and isinstance(v, dict)}
        if not by_split:
            raise ResultFileError("not an mteb result (no 'scores')")
    for split, entries in by_split.items():
        for subset, entry in _subset_entries(entries):
            metrics = {
                key: _finite_or_none(value)
                for key, value in entry.items()
                if key not in NOT_METRICS and _is_number(value)
            }
            if main_metric not in metrics and _is_number(entry.get("main_score")):
                metrics[main_metric] = _finite_or_none(entry["main_score"])
            for metric, value in sorted(metrics.items()):
                yield ScoreValue(split=str(split), subset=subset, metric=metric, value=value)


def _subset_entries(entries) -> Iterator[tuple[str, dict]]:
    """mteb >= 1.11 writes a list of {hf_subset, ...}; older files a dict, optionally keyed by language."""
    if isinstance(entries, list):
        for entry in entries:
            if not isinstance(entry, dict):
                raise ResultFileError("a score entry is not an object")
            yield str(entry.get("hf_subset") or DEFAULT_SUBSET), entry
    elif isinstance(entries, dict):
        nested = {k: v for k, v in entries.items() if isinstance(v, dict)}
        if nested and not any(_is_number(v) for v in entries.values()):
            yield from nested.items()
        else:
            yield DEFAULT_SUBSET, entries
    else:
        raise ResultFileError("scores of a split are neither a list nor an object")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite_or_none(value) -> float | None:
    """A number as a float; None for what is not a number or has no finite float value (NaN, inf, 10**400)."""
    if not _is_number(value):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


INT32_MAX = 2**31 - 1


def _count_or_none(value) -> int | None:
    """A whole count that fits the store's INTEGER columns, else None."""
    number = _finite_or_none(value)
    return int(number) if number is not None and 0 <= number <= INT32_MAX else None


def _optional_str(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _parse_date(value) -> datetime | None:
    """A timestamp or an ISO date as naive UTC; None for anything else, or a date no calendar holds."""
    try:
        if _is_number(value):
            return datetime.fromtimestamp(float(value), tz=timezone.utc).replace(tzinfo=None)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            return parsed.astimezone(timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed
    except (ValueError, OverflowError, OSError):
        return None
    return None


def model_metadata(model: str, meta: dict) -> dict:
    """A `models` row from an mteb model_meta.json (missing facts stay None and never erase known ones)."""
    params = _finite_or_none(meta.get("n_parameters"))
    uses_prompts = meta.get("use_instructions")
    return {
        "model": model,
        "display_name": model,
        "hub_id": model if "/" in model else None,
        "params_m": params / 1e6 if params is not None else None,
        "embedding_dim": _count_or_none(meta.get("embed_dim")),
        "max_tokens": _count_or_none(meta.get("max_tokens")),
        "uses_prompts": uses_prompts if isinstance(uses_prompts, bool) else None,
        "license": _optional_str(meta.get("license")),
        "release_date": _optional_str(meta.get("release_date")),
        "source": "mteb model_meta.json" if meta else None,
    }
