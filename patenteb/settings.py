"""Every environment variable the project reads, with its default and meaning, in one place.

Read at call time (not import time), so a test or a CLI flag that sets a variable takes effect. The README's
configuration table is checked against `VARIABLES` by a test: a documented variable that does nothing, or a
read variable that is undocumented, fails it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TRUE_WORDS = frozenset({"1", "ON", "YES", "TRUE"})


@dataclass(frozen=True)
class Variable:
    name: str
    default: str | None
    description: str

    def raw(self) -> str | None:
        value = os.environ.get(self.name, "").strip()
        return value or self.default


STORE = Variable("PATENTEB_STORE", "data/patenteb.duckdb", "the results store")
LOCK_TIMEOUT = Variable("PATENTEB_LOCK_TIMEOUT", "60", "seconds to wait for another process's lock on the store")
HOST = Variable("HOST", "127.0.0.1", "where the app listens")
PORT = Variable("PORT", "7860", "the app's port")
NO_WORKER = Variable("PATENTEB_NO_WORKER", None, "`1`: the app starts no worker")
COMPILE_MAPS = Variable(
    "PATENTEB_COMPILE_MAPS", "1", "`0`: the app does not compile UMAP's code once its explorer models are ready (the first map then pays ~25 s)"
)
WORKER_NICENESS = Variable(
    "PATENTEB_WORKER_NICENESS", "10", "how much lower the CPU priority of the app's worker is (`nice`): visitors first"
)
HUB_OFFLINE = Variable("HF_HUB_OFFLINE", None, "`1` (the default of `make run` and `app.py`): never call the Hub")
HUB_ENDPOINT = Variable("HF_ENDPOINT", "https://huggingface.co", "the Hugging Face Hub's address")
HUB_TOKEN = Variable("HF_TOKEN", None, "a Hub token: the gated PatenTEB datasets, Hub model look-ups")
DATA_DIR = Variable("PATENTEB_DATA_DIR", None, "local PatenTEB parquet files (`<task>/<split>/data.parquet`) instead of the Hub")
MAX_MODEL_PARAMS = Variable("PATENTEB_MAX_MODEL_PARAMS", "1e9", "submission size limit, in parameters")
EXPLORER_CORPUS = Variable(
    "PATENTEB_EXPLORER_CORPUS", None, "another explorer corpus (parquet/JSONL with `id`, `text`, `codes`); default: the shipped one"
)
EXPLORER_MODELS = Variable("PATENTEB_EXPLORER_MODELS", None, "another explorer model registry; default: `explorer/models.toml`")
DATASETS_OFFLINE = Variable("HF_DATASETS_OFFLINE", None, "`1` (set with HF_HUB_OFFLINE by `make run` and `app.py`): never load datasets from the Hub")
TRANSFORMERS_OFFLINE = Variable("TRANSFORMERS_OFFLINE", None, "`1`: transformers never calls the Hub (the worker sets it when the Hub is unreachable)")
TOKENIZERS_PARALLELISM = Variable("TOKENIZERS_PARALLELISM", None, "`false` (set by `make`): no tokenizer thread pools beside torch's")
HUB_CACHE = Variable("HF_HUB_CACHE", None, "the Hugging Face cache of Hub models; default `$HF_HOME/hub`")
HF_HOME = Variable("HF_HOME", None, "Hugging Face's home folder; default `$XDG_CACHE_HOME/huggingface`")
XDG_CACHE_HOME = Variable("XDG_CACHE_HOME", "~/.cache", "the user's cache folder, under which Hugging Face keeps its own")
GRADIO_TEMP_DIR = Variable("GRADIO_TEMP_DIR", None, "the app's private temp folder for the files Gradio serves; default: a new one per run, removed at exit")
GRADIO_ANALYTICS_CACHE_FREQUENCY = Variable(
    "GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000",
    "events between two of Gradio's per-event timing summaries (Gradio's own default, 1, rebuilds a pandas frame of "
    "its last 10,000 events after every event: a third of the app's CPU under load)",
)
GRADIO_ANALYTICS_MAX_EVENTS = Variable("GRADIO_ANALYTICS_MAX_EVENTS", "1000", "events Gradio keeps for those summaries")
DEVICE = Variable("PATENTEB_DEVICE", "auto", "`auto` (CUDA when present), `cpu` or `cuda`: where the evaluator runs models")
BATCH_SIZE = Variable("PATENTEB_BATCH_SIZE", None, "the evaluator's encoding batch size; default per device")
RAY_ADDRESS = Variable("RAY_ADDRESS", None, "the Ray cluster `--ray` joins when given no address (Ray's own variable)")
ANN_THRESHOLD = Variable("PATENTEB_ANN_THRESHOLD", None, "corpus size from which the explorer's dense search uses the ANN index; default 200,000")
THREADS = Variable("OMP_NUM_THREADS", None, "torch threads; the app sets 1 for itself, its worker gets all cores unless set")
ARROW_MEMORY_POOL = Variable(
    "ARROW_DEFAULT_MEMORY_POOL", "system", "Arrow's allocator; the app sets `system` unless set (its default, mimalloc, "
    "keeps each thread's freed memory, so the app stayed larger after a crowd left)"
)
RECORD_REPO = Variable(
    "PATENTEB_RECORD_REPO", None,
    "the durable record: `hf://datasets/<org>/<name>` (a Hub dataset repository) or a local folder; result files "
    "and the queue are pushed there, and the store is rebuilt from it on start",
)
SUBMISSIONS_PER_DAY = Variable("PATENTEB_SUBMISSIONS_PER_DAY", "5", "submissions per submitter in any 24 hours")
PENDING_PER_SUBMITTER = Variable("PATENTEB_PENDING_PER_SUBMITTER", "2", "jobs one submitter may have waiting or running")
QUEUE_SIZE = Variable("PATENTEB_QUEUE_SIZE", "50", "jobs waiting or running in all, beyond which submissions are refused")
SUBMITTER_MAX_CHARS = Variable("PATENTEB_SUBMITTER_MAX_CHARS", "64", "the longest submitter name accepted")
REQUIRE_MODEL_CARD = Variable("PATENTEB_REQUIRE_MODEL_CARD", "1", "`0`: accept Hub models without a model card (README.md)")
REQUIRE_LICENCE = Variable("PATENTEB_REQUIRE_LICENCE", "1", "`0`: accept Hub models whose card names no licence")
REQUIRE_SAFETENSORS = Variable("PATENTEB_REQUIRE_SAFETENSORS", "1", "`0`: accept Hub models without safetensors weights")
LOCAL_MODELS = Variable(
    "PATENTEB_LOCAL_MODELS", None,
    "TOML of local model copies (`[[models]]` with `hub_id`, `revision` and `path` or `fallback_path` or "
    "`fallback_package`) the worker evaluates when the Hub is unreachable; default: the explorer's registry",
)
SPACE_ID = Variable("SPACE_ID", None, "set by Hugging Face on a Space: with SYSTEM=spaces, submitters sign in with their Hub account")
SPACE_SYSTEM = Variable("SYSTEM", None, "`spaces` on a Hugging Face Space (set by the Hub)")

GRADIO_QUEUE_ANALYTICS = (GRADIO_ANALYTICS_CACHE_FREQUENCY, GRADIO_ANALYTICS_MAX_EVENTS)
"""Gradio's own variables, read by Gradio; the app (and the load bench's floor) set these defaults before it starts."""


def set_gradio_queue_defaults() -> None:
    for variable in GRADIO_QUEUE_ANALYTICS:
        os.environ.setdefault(variable.name, variable.default)


VARIABLES: tuple[Variable, ...] = tuple(value for value in dict(globals()).values() if isinstance(value, Variable))


def is_true(variable: Variable) -> bool:
    return (variable.raw() or "").upper() in TRUE_WORDS


def current(names: tuple[str, ...]) -> dict[str, str]:
    """The variables among `names` that are set now, to hand to another process."""
    declared = {variable.name: variable for variable in VARIABLES}
    return {name: os.environ[name] for name in names if name in declared and name in os.environ}


def store_path() -> Path:
    return Path(STORE.raw())


def lock_timeout_s() -> float:
    return float(LOCK_TIMEOUT.raw())


def hub_endpoint() -> str:
    return HUB_ENDPOINT.raw().rstrip("/")


def hub_offline() -> bool:
    return is_true(HUB_OFFLINE)


def hub_token() -> str | None:
    return HUB_TOKEN.raw()


def datasets_offline() -> bool:
    return is_true(DATASETS_OFFLINE) or hub_offline()


def hub_cache_dir() -> Path:
    """Where huggingface_hub keeps Hub models, as its variables say now."""
    if HUB_CACHE.raw():
        return Path(HUB_CACHE.raw()).expanduser()
    home = HF_HOME.raw() or str(Path(XDG_CACHE_HOME.raw()) / "huggingface")
    return Path(home).expanduser() / "hub"


def host() -> str:
    return HOST.raw()


def port() -> int:
    return int(PORT.raw())


def start_worker() -> bool:
    return not is_true(NO_WORKER)


def compile_maps() -> bool:
    return is_true(COMPILE_MAPS)


def worker_niceness() -> int:
    return int(WORKER_NICENESS.raw())


def device() -> str:
    return DEVICE.raw()


def batch_size() -> int | None:
    value = BATCH_SIZE.raw()
    return int(value) if value else None


def ray_address() -> str | None:
    return RAY_ADDRESS.raw()


def ann_threshold() -> int | None:
    value = ANN_THRESHOLD.raw()
    return int(value) if value and value.isdigit() else None


def data_dir() -> Path | None:
    folder = DATA_DIR.raw()
    return Path(folder).expanduser() if folder else None


def max_model_params() -> int:
    return int(float(MAX_MODEL_PARAMS.raw()))


def explorer_corpus() -> Path | None:
    path = EXPLORER_CORPUS.raw()
    return Path(path) if path else None


def explorer_models() -> Path | None:
    path = EXPLORER_MODELS.raw()
    return Path(path) if path else None


def record_location() -> str | None:
    return RECORD_REPO.raw()


def record_on_the_hub() -> bool:
    return (record_location() or "").startswith("hf://")


def queue_limits() -> tuple[int, int, int]:
    """(submissions per submitter per day, pending jobs per submitter, queue size)."""
    return int(SUBMISSIONS_PER_DAY.raw()), int(PENDING_PER_SUBMITTER.raw()), int(QUEUE_SIZE.raw())


def submitter_max_chars() -> int:
    return int(SUBMITTER_MAX_CHARS.raw())


def required_hub_checks() -> tuple[bool, bool, bool]:
    """Whether a Hub model needs (a model card, a licence, safetensors weights)."""
    return tuple(is_true(variable) for variable in (REQUIRE_MODEL_CARD, REQUIRE_LICENCE, REQUIRE_SAFETENSORS))


def local_models() -> Path | None:
    path = LOCAL_MODELS.raw()
    return Path(path).expanduser() if path else None


def on_space() -> bool:
    """Running as a Hugging Face Space (Gradio's own test: SYSTEM=spaces and a SPACE_ID), where OAuth works."""
    return SPACE_SYSTEM.raw() == "spaces" and bool(SPACE_ID.raw())
