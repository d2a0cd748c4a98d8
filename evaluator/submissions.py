"""Submissions: check a model before it enters the evaluation queue, then enqueue it.

Refused with a reason: a malformed Hub id or revision, an unknown precision or task selection, a job or
evaluated scores that already exist for the model and revision, a model the Hub does not know (when the
Hub is reachable), a model that needs trust_remote_code and is not on the maintainers' allow-list, and a
model over the size limit. When the Hub is reachable the revision is resolved to its commit hash; when it
is not, the submission is queued unchecked and says so.

The decisions are pure functions (`facts_from_model_info`, `hub_error_reason`, `refusal_reason`); only
`fetch_model_info` and `patenteb.hub.hub_is_reachable` talk to the network. huggingface_hub is imported lazily: the
worker must decide on offline mode before that package reads its settings.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from evaluator.runner import PRECISIONS, resolve_tasks
from patenteb.hub import HUB_TIMEOUT_S, hub_is_reachable
from results import jobs
from results.store import Store

if TYPE_CHECKING:
    from huggingface_hub import ModelInfo

DEFAULT_MAX_PARAMETERS = 1_000_000_000
BYTES_PER_PARAMETER_GUESS = 4
"""Without a parameter count, weights are assumed float32: a half-precision file counts as half its size."""

REVISION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
NON_WEIGHT_FOLDERS = {"onnx", "openvino"}
PYTORCH_CHECKPOINT = re.compile(r"(pytorch_)?model(-\d+-of-\d+)?\.bin")


class SubmissionRefused(ValueError):
    """A submission the queue will not take; the message is the reason, written for the submitter."""


@dataclass(frozen=True)
class Submission:
    model: str
    revision: str = "main"
    precision: str = "float32"
    submitter: str = ""
    tasks: str = "PatenTEB"
    load_from: str | None = None
    """A local model folder (maintainers, from the CLI); `model` is then the name its scores are stored under."""


@dataclass(frozen=True)
class ModelFacts:
    revision: str | None
    parameters: int | None
    needs_remote_code: bool


def max_parameters() -> int:
    return int(float(os.environ.get("PATENTEB_MAX_MODEL_PARAMS", DEFAULT_MAX_PARAMETERS)))


# pure decisions --------------------------------------------------------------------------------------


def malformed_id_reason(model: str) -> str | None:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not model:
        return "enter a Hub model id, such as sentence-transformers/all-MiniLM-L6-v2"
    try:
        validate_repo_id(model)
    except HFValidationError:
        return (
            f"{model!r} is not a Hub model id: expected owner/name using letters, digits, '-', '_' and '.', "
            "at most 96 characters"
        )
    return None


def malformed_revision_reason(revision: str) -> str | None:
    if REVISION_PATTERN.fullmatch(revision) and ".." not in revision:
        return None
    return f"{revision!r} is not a revision: use a branch, a tag or a commit hash"


def facts_from_model_info(info: "ModelInfo") -> ModelFacts:
    """What a Hub model-info answer (`model_info(..., files_metadata=True)`) says about the model."""
    if info.safetensors is not None:
        parameters = int(info.safetensors.total)
    else:
        sizes = {sibling.rfilename: sibling.size for sibling in info.siblings or []}
        weight_sizes = [sizes[name] for name in weight_files(sizes)]
        parameters = (
            sum(weight_sizes) // BYTES_PER_PARAMETER_GUESS
            if weight_sizes and None not in weight_sizes
            else None
        )
    needs_remote_code = "custom_code" in (info.tags or []) or bool((info.config or {}).get("auto_map"))
    return ModelFacts(revision=info.sha, parameters=parameters, needs_remote_code=needs_remote_code)


def facts_from_folder(folder: Path) -> ModelFacts:
    """The same facts read from a local sentence-transformers or transformers model folder."""
    files = {path.relative_to(folder).as_posix(): path for path in folder.rglob("*") if path.is_file()}
    weights = weight_files(files)
    if weights and all(name.endswith(".safetensors") for name in weights):
        parameters = sum(safetensors_parameters(files[name]) for name in weights)
    elif weights:
        parameters = sum(files[name].stat().st_size for name in weights) // BYTES_PER_PARAMETER_GUESS
    else:
        parameters = None
    needs_remote_code = any(
        json.loads(path.read_text()).get("auto_map") for name, path in files.items() if name.endswith("config.json")
    )
    if "modules.json" in files:
        module_types = [module.get("type", "") for module in json.loads(files["modules.json"].read_text())]
        needs_remote_code |= any(not kind.startswith("sentence_transformers.") for kind in module_types)
    return ModelFacts(revision=None, parameters=parameters, needs_remote_code=needs_remote_code)


def weight_files(names) -> list[str]:
    """The files holding a model's weights: its safetensors files, else its PyTorch checkpoints."""
    names = [name for name in names if not NON_WEIGHT_FOLDERS & set(PurePosixPath(name).parts[:-1])]
    safetensors = [name for name in names if name.endswith(".safetensors")]
    if safetensors:
        return sorted(safetensors)
    return sorted(name for name in names if PYTORCH_CHECKPOINT.fullmatch(PurePosixPath(name).name))


def safetensors_parameters(path: Path) -> int:
    """Parameter count from a safetensors header (8-byte length, then JSON of dtypes and shapes)."""
    with path.open("rb") as handle:
        header_length = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(header_length))
    return sum(math.prod(tensor["shape"]) for name, tensor in header.items() if name != "__metadata__")


def hub_error_reason(error: Exception, model: str, revision: str) -> str | None:
    """The refusal for a failed Hub lookup; None when the Hub simply could not be reached."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    if isinstance(error, GatedRepoError):
        return f"{model} is gated on the Hub and this leaderboard's token has no access to it"
    if isinstance(error, RepositoryNotFoundError):
        return f"{model} was not found on the Hub (check the spelling; private models cannot be evaluated)"
    if isinstance(error, RevisionNotFoundError):
        return f"{model} has no revision {revision!r} on the Hub"
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        return f"the Hub could not describe {model} (HTTP {error.response.status_code}); try again later"
    return None


def refusal_reason(model: str, facts: ModelFacts, remote_code_allowed: bool, parameter_limit: int) -> str | None:
    if facts.needs_remote_code and not remote_code_allowed:
        return (
            f"{model} needs trust_remote_code (it ships its own model code), which the worker never runs "
            f"unless a maintainer allows that model: python -m evaluator allow-remote-code {model}"
        )
    if facts.parameters is not None and facts.parameters > parameter_limit:
        return (
            f"{model} has {human_count(facts.parameters)} parameters, over this leaderboard's limit of "
            f"{human_count(parameter_limit)}"
        )
    return None


def human_count(number: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if number >= size:
            return f"{number / size:.3g}{unit}"
    return f"{number:.0f}"


# network ---------------------------------------------------------------------------------------------


def fetch_model_info(model: str, revision: str, token: str | None = None) -> "ModelInfo":
    from huggingface_hub import HfApi

    return HfApi(token=token).model_info(model, revision=revision, files_metadata=True, timeout=HUB_TIMEOUT_S * 3)


# the whole check -------------------------------------------------------------------------------------


def submit(
    store: Store,
    submission: Submission,
    *,
    hub_reachable: bool | None = None,
    parameter_limit: int | None = None,
    hf_token: str | None = None,
    now: datetime | None = None,
) -> jobs.Job:
    """Validate and enqueue; raises SubmissionRefused with the reason."""
    model = submission.model.strip()
    requested_revision = submission.revision.strip() or "main"
    for reason in (malformed_id_reason(model), malformed_revision_reason(requested_revision)):
        if reason:
            raise SubmissionRefused(reason)
    if submission.precision not in PRECISIONS:
        raise SubmissionRefused(f"precision must be one of {', '.join(PRECISIONS)}")
    selection = submission.tasks.strip()
    if not selection.strip(", "):
        raise SubmissionRefused("select the tasks to evaluate, such as PatenTEB or demo")
    reason = jobs.active_job_reason(store, model, requested_revision)
    if reason:
        raise SubmissionRefused(reason)

    load_from = str(Path(submission.load_from).expanduser().resolve()) if submission.load_from else None
    facts, note = _model_facts(model, requested_revision, load_from, hub_reachable, hf_token)
    limit = parameter_limit if parameter_limit is not None else max_parameters()
    reason = refusal_reason(model, facts, jobs.remote_code_allowed(store, model), limit)
    if reason:
        raise SubmissionRefused(reason)

    tasks = _resolve(selection)
    job = jobs.NewJob(
        model=model,
        load_from=load_from or model,
        revision=facts.revision or requested_revision,
        requested_revision=requested_revision,
        precision=submission.precision,
        selection=selection,
        tasks=tuple(tasks),
        submitter=submission.submitter.strip() or None,
        note=note,
    )
    try:
        return jobs.enqueue(store, job, now=now)
    except jobs.DuplicateSubmission as error:
        raise SubmissionRefused(str(error)) from None


def _model_facts(
    model: str, revision: str, load_from: str | None, hub_reachable: bool | None, hf_token: str | None
) -> tuple[ModelFacts, str | None]:
    if load_from:
        if not Path(load_from).is_dir():
            raise SubmissionRefused(f"{load_from} is not a model folder")
        return facts_from_folder(Path(load_from)), None
    unchecked = ModelFacts(revision=None, parameters=None, needs_remote_code=False)
    if not (hub_reachable if hub_reachable is not None else hub_is_reachable()):
        return unchecked, "not checked against the Hub (unreachable at submission)"
    try:
        info = fetch_model_info(model, revision, token=hf_token)
    except Exception as error:
        reason = hub_error_reason(error, model, revision)
        if reason:
            raise SubmissionRefused(reason) from None
        return unchecked, f"not checked against the Hub ({type(error).__name__}: {error})"
    return facts_from_model_info(info), None


def _resolve(selection: str) -> list[str]:
    try:
        return resolve_tasks(selection)
    except ValueError as error:
        raise SubmissionRefused(str(error)) from None
