"""Submissions: check a model before it enters the evaluation queue, then enqueue it.

Refused with a reason: a malformed Hub id, revision or submitter name (too long, control characters), an
unknown precision or task selection, a full queue or a submitter over their limits, a job or evaluated scores
that already exist for the model and revision, a model that needs trust_remote_code and is not on the
maintainers' allow-list, and a model over the size limit. When the Hub is reachable: a model the Hub does
not know, and (each configurable) one without a model card, without a licence or without safetensors
weights; the revision is resolved to its commit hash. When the Hub is not reachable, only a model the worker
can load without it is taken: one with a configured local copy (`local_copies`, read from the same TOML
as the explorer's registry) or one in the local Hugging Face cache; the job's note says which.

The decisions are pure functions (`facts_from_model_info`, `hub_error_reason`, `refusal_reason`,
`hub_check_reason`); only `fetch_model_info` and `patenteb.hub.hub_is_reachable` talk to the network.
huggingface_hub is imported lazily: the worker must decide on offline mode before that package reads its
settings.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from evaluator.runner import PRECISIONS, resolve_tasks
from evaluator.tasks import DEMO_TASKS, EXTERNAL_TASKS
from evaluator.tasks.data import DataSource
from patenteb import settings
from patenteb.hub import HUB_TIMEOUT_S, hub_is_reachable
from results import jobs
from results.store import Store
from results.vocabulary import NO_PROMPTS_VARIANT

if TYPE_CHECKING:
    from huggingface_hub import ModelInfo

BYTES_PER_PARAMETER_GUESS = 4
"""Without a parameter count, weights are assumed float32: a half-precision file counts as half its size."""

REVISION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
NON_WEIGHT_FOLDERS = {"onnx", "openvino"}
PYTORCH_CHECKPOINT = re.compile(r"(pytorch_)?model(-\d+-of-\d+)?\.bin")
CONFIG_FILES = {"config.json", "tokenizer_config.json"}
"""Where transformers looks for `auto_map` (the model's own code); other *.json files are not configuration."""
MAX_SELECTION_CHARS = 1000
SHOWN_CHARS = 60
"""A refused value is quoted up to this length in the message."""
SHIPPED_LOCAL_MODELS = Path(__file__).resolve().parent.parent / "explorer" / "models.toml"
"""The explorer's registry: its offline copies (hub_id + revision + path or package) serve the worker too."""


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
    submitter_verified: bool = False
    """The name comes from a Hub sign-in (the website on a Space), not from what was typed."""
    without_prompts: bool = False
    """Evaluate the model without its own prompts: its scores go to a row of their own (NO_PROMPTS_VARIANT)."""


@dataclass(frozen=True)
class ModelFacts:
    revision: str | None
    parameters: int | None
    needs_remote_code: bool
    has_model_card: bool | None = None
    licence: str | None = None
    has_safetensors: bool | None = None
    """None: not known (the Hub's answer or the folder did not say)."""


@dataclass(frozen=True)
class HubChecks:
    """What a Hub model needs besides a size within the limit and no unapproved code."""

    model_card: bool = True
    licence: bool = True
    safetensors: bool = True

    @classmethod
    def from_settings(cls) -> "HubChecks":
        return cls(*settings.required_hub_checks())


@dataclass(frozen=True)
class LocalCopy:
    hub_id: str
    revision: str | None
    path: Path
    origin: str
    """Where the copy comes from, for the job's note: a folder or an installed package."""


def max_parameters() -> int:
    return settings.max_model_params()


def queue_limits() -> jobs.QueueLimits:
    return jobs.QueueLimits(*settings.queue_limits())


def shown(value: str) -> str:
    """A submitted value quoted for a message, cut to SHOWN_CHARS."""
    return repr(value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "…") + (
        f" ({len(value):,} characters)" if len(value) > SHOWN_CHARS else ""
    )


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
            f"{shown(model)} is not a Hub model id: expected owner/name using letters, digits, '-', '_' and '.', "
            "at most 96 characters"
        )
    return None


def malformed_revision_reason(revision: str) -> str | None:
    if REVISION_PATTERN.fullmatch(revision) and ".." not in revision:
        return None
    return f"{shown(revision)} is not a revision: use a branch, a tag or a commit hash"


def malformed_submitter_reason(submitter: str, max_chars: int | None = None) -> str | None:
    limit = max_chars if max_chars is not None else settings.submitter_max_chars()
    if len(submitter) > limit:
        return f"the submitter name is {len(submitter):,} characters long; at most {limit} are accepted"
    if not submitter.isprintable():
        return "the submitter name contains control characters (such as a line break); use a plain name"
    return None


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
    config = info.config if isinstance(info.config, dict) else {}
    needs_remote_code = "custom_code" in (info.tags or []) or bool(config.get("auto_map"))
    names = [sibling.rfilename for sibling in info.siblings] if info.siblings is not None else None
    return ModelFacts(
        revision=info.sha,
        parameters=parameters,
        needs_remote_code=needs_remote_code,
        has_model_card=None if names is None else "README.md" in names or info.card_data is not None,
        licence=_licence_of(info),
        has_safetensors=info.safetensors is not None or (
            None if names is None else any(name.endswith(".safetensors") for name in weight_files(names))
        ),
    )


def _licence_of(info: "ModelInfo") -> str | None:
    licence = getattr(info.card_data, "license", None) if info.card_data is not None else None
    if isinstance(licence, list):
        licence = ", ".join(str(item) for item in licence) or None
    if isinstance(licence, str) and licence.strip():
        return licence.strip()
    tagged = [tag.split(":", 1)[1] for tag in info.tags or [] if tag.startswith("license:")]
    return tagged[0] if tagged else None


class FolderRefused(SubmissionRefused):
    """A local folder that cannot be evaluated as a model; the message says what is wrong with it."""


def facts_from_folder(folder: Path) -> ModelFacts:
    """The same facts read from a local sentence-transformers or transformers model folder.

    Raises FolderRefused when the folder is not a model the worker can load: no modules.json or config.json,
    a configuration file that is not JSON, a modules.json that lists no modules, weights with an unreadable
    header.
    """
    files = {path.relative_to(folder).as_posix(): path for path in sorted(folder.rglob("*")) if path.is_file()}
    if "modules.json" not in files and "config.json" not in files:
        raise FolderRefused(
            f"{folder} is not a sentence-transformers or transformers model folder (no modules.json or config.json)"
        )
    weights = weight_files(files)
    if not weights:
        raise FolderRefused(f"{folder} holds no weights (*.safetensors or pytorch_model.bin)")
    if all(name.endswith(".safetensors") for name in weights):
        parameters = sum(safetensors_parameters(files[name]) for name in weights)
    else:
        parameters = sum(files[name].stat().st_size for name in weights) // BYTES_PER_PARAMETER_GUESS
    configurations = [_json_file(path) for name, path in files.items() if PurePosixPath(name).name in CONFIG_FILES]
    needs_remote_code = any(isinstance(config, dict) and bool(config.get("auto_map")) for config in configurations)
    if "modules.json" in files:
        needs_remote_code |= any(not kind.startswith("sentence_transformers.") for kind in _module_types(files["modules.json"]))
    card = files.get("README.md")
    return ModelFacts(
        revision=None,
        parameters=parameters,
        needs_remote_code=needs_remote_code,
        has_model_card=card is not None,
        licence=_card_licence(card) if card is not None else None,
        has_safetensors=any(name.endswith(".safetensors") for name in weights),
    )


def _json_file(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FolderRefused(f"{path} is not readable JSON ({type(error).__name__}: {error})") from None


def _module_types(path: Path) -> list[str]:
    modules = _json_file(path)
    if not isinstance(modules, list) or not modules or not all(
        isinstance(module, dict) and isinstance(module.get("type"), str) for module in modules
    ):
        raise FolderRefused(f"{path} does not list sentence-transformers modules (a list of objects with a 'type')")
    return [module["type"] for module in modules]


def _card_licence(card: Path) -> str | None:
    from huggingface_hub.repocard import metadata_load

    try:
        metadata = metadata_load(card) or {}
    except Exception:  # a card whose front matter is not YAML names no licence; the card itself still counts
        return None
    licence = metadata.get("license") if isinstance(metadata, dict) else None
    if not licence:
        return None
    return str(licence).strip() or None


def weight_files(names) -> list[str]:
    """The files holding a model's weights: its safetensors files, else its PyTorch checkpoints."""
    names = [name for name in names if not NON_WEIGHT_FOLDERS & set(PurePosixPath(name).parts[:-1])]
    safetensors = [name for name in names if name.endswith(".safetensors")]
    if safetensors:
        return sorted(safetensors)
    return sorted(name for name in names if PYTORCH_CHECKPOINT.fullmatch(PurePosixPath(name).name))


MAX_SAFETENSORS_HEADER = 100_000_000
"""The safetensors format's own bound on its header length."""


def safetensors_parameters(path: Path) -> int:
    """Parameter count from a safetensors header (8-byte length, then JSON of dtypes and shapes)."""
    try:
        with path.open("rb") as handle:
            header_length = int.from_bytes(handle.read(8), "little")
            if not 0 < header_length <= MAX_SAFETENSORS_HEADER:
                raise ValueError(f"header length {header_length}")
            header = json.loads(handle.read(header_length))
        return sum(math.prod(tensor["shape"]) for name, tensor in header.items() if name != "__metadata__")
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise FolderRefused(f"{path} is not a readable safetensors file ({type(error).__name__}: {error})") from None


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


def hub_check_reason(model: str, facts: ModelFacts, checks: HubChecks) -> str | None:
    """What a Hub model lacks that this leaderboard asks for before spending a GPU on it, or None."""
    if checks.model_card and facts.has_model_card is False:
        return f"{model} has no model card (README.md) on the Hub; a leaderboard entry needs one that says what the model is"
    if checks.licence and facts.licence is None:
        return f"{model}'s model card names no licence (the card's `license:` field); add one and submit again"
    if checks.safetensors and facts.has_safetensors is False:
        return (
            f"{model} has no safetensors weights on the Hub (pickled PyTorch checkpoints can run code when loaded); "
            "upload model.safetensors and submit again"
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


# offline: local copies and the Hugging Face cache ---------------------------------------------------


def local_copies(registry: Path | None = None) -> dict[str, LocalCopy]:
    """{Hub id: its local copy}, from a TOML list of models (`[[models]]` with `hub_id`, `revision`, and `path`,
    `fallback_path` or `fallback_package`): $PATENTEB_LOCAL_MODELS, else the explorer's registry. Entries whose
    copy is missing (a package not installed, a folder gone) are left out."""
    path = registry or settings.local_models() or settings.explorer_models() or SHIPPED_LOCAL_MODELS
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("models", [])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SubmissionRefused(f"the list of local model copies {path} cannot be read: {error}") from None
    copies = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("hub_id"), str):
            continue
        if entry.get("kind", "sentence-transformers") != "sentence-transformers":
            continue
        found = _copy_location(entry, path.parent)
        if found is not None:
            folder, origin = found
            revision = entry.get("revision") if isinstance(entry.get("revision"), str) else None
            copies[entry["hub_id"]] = LocalCopy(entry["hub_id"], revision, folder, origin)
    return copies


def _copy_location(entry: dict, relative_to: Path) -> tuple[Path, str] | None:
    for key in ("path", "fallback_path"):
        if isinstance(entry.get(key), str):
            folder = (relative_to / Path(entry[key]).expanduser()).resolve()
            if folder.is_dir():
                return folder, f"the folder {folder}"
    package = entry.get("fallback_package")
    if isinstance(package, str):
        try:
            folder = Path(importlib.import_module(package).get_model_path())
        except (ImportError, AttributeError):
            return None
        if folder.is_dir():
            return folder, f"the installed package {package}"
    return None


def hub_cache_dir() -> Path:
    """The Hugging Face cache the worker reads, as its variables say now (huggingface_hub reads them at import)."""
    return settings.hub_cache_dir()


def cached_snapshot(model: str, revision: str) -> Path | None:
    """The model's folder in the local Hugging Face cache at `revision`, or None when it is not there."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(model, revision=revision, cache_dir=hub_cache_dir(), local_files_only=True)
    except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError):
        return None
    return Path(folder) if Path(folder).is_dir() else None


def offline_data_reason(tasks: list[str]) -> str | None:
    """Which selected tasks the worker could not find data for without the Hub, or None."""
    data_dir = DataSource.resolve().data_dir
    needs_hub = [
        task for task in tasks
        if task in EXTERNAL_TASKS or (task not in DEMO_TASKS and (data_dir is None or not (data_dir / task).is_dir()))
    ]
    if not needs_hub:
        return None
    where = f"the data folder {data_dir} has no {needs_hub[0]}" if data_dir else "no local data folder is set (PATENTEB_DATA_DIR)"
    return (
        f"the Hub is unreachable from this server and {where}: the worker could not load the data of "
        f"{len(needs_hub)} selected task(s) ({', '.join(needs_hub[:3])}{', …' if len(needs_hub) > 3 else ''}); "
        "choose the demo tasks, or submit again when the Hub is reachable"
    )


# the whole check -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    facts: ModelFacts
    load_from: str
    note: str | None


def submit(
    store: Store,
    submission: Submission,
    *,
    hub_reachable: bool | None = None,
    parameter_limit: int | None = None,
    hf_token: str | None = None,
    now: datetime | None = None,
    limits: jobs.QueueLimits | None = None,
    hub_checks: HubChecks | None = None,
    local_models: Path | None = None,
) -> jobs.Job:
    """Validate and enqueue; raises SubmissionRefused with the reason. Limits and checks default to the settings."""
    model, requested_revision, submitter, selection = _fields(submission)
    stored_as = model + NO_PROMPTS_VARIANT if submission.without_prompts else model
    limits = limits or queue_limits()
    reason = jobs.active_limit_reason(store, submitter, limits, now) or jobs.active_job_reason(
        store, stored_as, requested_revision
    )
    if reason:
        raise SubmissionRefused(reason)
    tasks = _resolve(selection)

    reachable = hub_reachable if hub_reachable is not None else hub_is_reachable()
    if submission.load_from:
        folder = Path(submission.load_from).expanduser().resolve()
        if not folder.is_dir():
            raise SubmissionRefused(f"{folder} is not a model folder")
        plan = _Plan(facts_from_folder(folder), str(folder), None)
    elif reachable:
        plan = _hub_plan(model, requested_revision, hf_token, hub_checks or HubChecks.from_settings())
    else:
        plan = _offline_plan(model, requested_revision, local_models)
    limit = parameter_limit if parameter_limit is not None else max_parameters()
    reason = refusal_reason(model, plan.facts, jobs.remote_code_allowed(store, model), limit)
    if not reason and not reachable:
        reason = offline_data_reason(tasks)
    if reason:
        raise SubmissionRefused(reason)

    job = jobs.NewJob(
        model=stored_as,
        load_from=plan.load_from,
        revision=plan.facts.revision or requested_revision,
        requested_revision=requested_revision,
        precision=submission.precision,
        selection=selection,
        tasks=tuple(tasks),
        submitter=submitter,
        note=plan.note,
        submitter_verified=submission.submitter_verified,
    )
    try:
        return jobs.enqueue(store, job, now=now, limits=limits)
    except (jobs.DuplicateSubmission, jobs.LimitReached) as error:
        raise SubmissionRefused(str(error)) from None


def _fields(submission: Submission) -> tuple[str, str, str | None, str]:
    """The submitted text fields, stripped and checked; SubmissionRefused for the first that is wrong."""
    for name in ("model", "revision", "precision", "submitter", "tasks"):
        if not isinstance(getattr(submission, name), str):
            raise SubmissionRefused(f"the {name} must be text")
    model = submission.model.strip()
    revision = submission.revision.strip() or "main"
    submitter = submission.submitter.strip()
    selection = submission.tasks.strip()
    for reason in (
        malformed_id_reason(model),
        malformed_revision_reason(revision),
        malformed_submitter_reason(submitter),
    ):
        if reason:
            raise SubmissionRefused(reason)
    if submission.precision not in PRECISIONS:
        raise SubmissionRefused(f"precision must be one of {', '.join(PRECISIONS)}")
    if len(selection) > MAX_SELECTION_CHARS:
        raise SubmissionRefused(f"the task selection is {len(selection):,} characters long; at most {MAX_SELECTION_CHARS}")
    if not selection.strip(", "):
        raise SubmissionRefused("select the tasks to evaluate, such as PatenTEB or demo")
    return model, revision, submitter or None, selection


def _hub_plan(model: str, revision: str, hf_token: str | None, checks: HubChecks) -> _Plan:
    try:
        info = fetch_model_info(model, revision, token=hf_token)
    except Exception as error:  # any failure of the lookup: a refusal when the Hub answered, else unchecked
        reason = hub_error_reason(error, model, revision)
        if reason:
            raise SubmissionRefused(reason) from None
        unchecked = ModelFacts(revision=None, parameters=None, needs_remote_code=False)
        return _Plan(unchecked, model, f"not checked against the Hub ({type(error).__name__}: {error})")
    facts = facts_from_model_info(info)
    reason = hub_check_reason(model, facts, checks)
    if reason:
        raise SubmissionRefused(reason)
    return _Plan(facts, model, None)


def _offline_plan(model: str, revision: str, local_models: Path | None) -> _Plan:
    """Without the Hub: the configured local copy, else the Hugging Face cache, else a refusal saying why."""
    copy = local_copies(local_models).get(model)
    if copy is not None:
        if revision != "main" and not (copy.revision and copy.revision.startswith(revision)):
            raise SubmissionRefused(
                f"the Hub is unreachable from this server and the local copy of {model} is revision "
                f"{copy.revision or 'unknown'}, not {shown(revision)}; submit revision main, or again when the Hub "
                "is reachable"
            )
        facts = facts_from_folder(copy.path)
        pinned = ModelFacts(copy.revision, facts.parameters, facts.needs_remote_code, facts.has_model_card,
                            facts.licence, facts.has_safetensors)
        revision_note = f" (revision {copy.revision[:12]})" if copy.revision else ""
        return _Plan(pinned, str(copy.path),
                     f"the Hub was unreachable: evaluated from the local copy in {copy.origin}{revision_note}")
    cached = cached_snapshot(model, revision)
    if cached is not None:
        return _Plan(
            facts_from_folder(cached), model,
            "not checked against the Hub (unreachable at submission); the worker loads it from the local Hugging Face cache",
        )
    raise SubmissionRefused(
        f"the Hub is unreachable from this server and {model} has no local copy here (none configured, none in "
        "the Hugging Face cache), so the worker could not load it; submit it again when the Hub is reachable"
    )


def _resolve(selection: str) -> list[str]:
    try:
        return resolve_tasks(selection)
    except ValueError as error:
        raise SubmissionRefused(str(error)) from None
