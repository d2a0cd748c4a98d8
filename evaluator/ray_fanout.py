"""A job's tasks as Ray tasks: `python -m evaluator run|worker --ray [ADDRESS]`. Imported only when asked for.

Each PatenTEB task becomes one Ray task (a shard) that asks for one GPU where the cluster has GPUs, one CPU
otherwise. A shard loads the data, evaluates with mteb into a scratch folder on its node and hands back the
result file, the run's notes and what it cost (`TaskOutcome`); it never opens the store. The process that
claimed the job writes each outcome into the store as it arrives, one transaction per task, exactly as
without Ray; the task's per-example rows travel back the same way, as the parquet file beside its result
file. A shard whose process dies (killed, out of memory, node lost) is run again by Ray itself, at most
MAX_SHARD_RETRIES times; an error inside a shard (a model that does not load) is not retried.

Every node needs this repository at the same path with the same packages (Ray gives its workers the driver's
`sys.path`), and the data where the shards can read it (the same --data-dir path, or the Hub with HF_TOKEN).
"""

from __future__ import annotations

import gc
import logging
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import ray

from evaluator.devices import RAY_LOCAL_CLUSTER
from evaluator.runner import (
    EvaluationCancelled,
    EvaluationRequest,
    ModelSpec,
    TaskEvaluator,
    TaskOutcome,
)
from patenteb import catalogue, settings
from results.record import examples_file

log = logging.getLogger("evaluator.ray")

MAX_SHARD_RETRIES = 2
REACH_TIMEOUT_S = 10.0
WAIT_S = 0.5
DEFAULT_GCS_PORT = 6379
DEFAULT_CLIENT_PORT = 10001
PASSED_ENVIRONMENT = (
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "TOKENIZERS_PARALLELISM",
    "PATENTEB_DATA_DIR",
)
"""Driver settings the shards need wherever they run (a remote node's own HF_HOME and caches are left alone)."""
NODE_EMBEDDING_CACHE = Path(tempfile.gettempdir()) / "patenteb-embedding-cache"


class RayUnavailable(RuntimeError):
    """The Ray cluster cannot be reached or started; the message says which address and why."""


class ShardLost(RuntimeError):
    """A task's Ray task died more often than Ray retries it."""


def connect(address: str | None = RAY_LOCAL_CLUSTER) -> "RayFanout":
    """Join the Ray cluster at `address` (host:port, ray://host:port, or 'auto'), or start one here."""
    environment = settings.current(PASSED_ENVIRONMENT)
    options = {"runtime_env": {"env_vars": environment}, "log_to_driver": True}
    if address in (None, "", RAY_LOCAL_CLUSTER):
        options.update(include_dashboard=False)
        if not settings.ray_address():
            options.update(_node_ip_address="127.0.0.1")
        described = "a Ray cluster on this machine"
    else:
        if address != "auto":
            _check_reachable(address)
        options.update(address=address)
        described = f"the Ray cluster at {address}"
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise RayUnavailable(f"cannot join {described}: {' '.join(str(error).split())}") from error
    fanout = RayFanout()
    log.info("Ray: %s with %s", described, fanout.describe())
    return fanout


def _check_reachable(address: str) -> None:
    """Ray itself waits minutes for an address that does not answer; a plain TCP connect says so in seconds."""
    client = address.startswith("ray://")
    host_and_port = address.removeprefix("ray://")
    host, _, port = host_and_port.rpartition(":")
    if not host or not port.isdigit():
        host, port = host_and_port, str(DEFAULT_CLIENT_PORT if client else DEFAULT_GCS_PORT)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_TIMEOUT_S).close()
    except OSError as error:
        raise RayUnavailable(
            f"cannot reach the Ray cluster at {address}: {host}:{port} does not answer "
            f"({type(error).__name__}: {error}); start one with `ray start --head` and pass the address it prints"
        ) from error


class RayFanout:
    """Runs tasks as Ray tasks on the connected cluster; see the module's description."""

    def __init__(self):
        resources = ray.cluster_resources()
        self.gpus = int(resources.get("GPU", 0))
        self.cpus = int(resources.get("CPU", 0))

    @property
    def slots(self) -> int:
        """How many shards run at once: one per GPU, else one per CPU."""
        return max(1, self.gpus or self.cpus)

    def describe(self) -> str:
        return f"{self.gpus} GPUs, {self.cpus} CPUs: one {'GPU' if self.gpus else 'CPU'} per task"

    def shard_options(self) -> dict:
        return {"num_gpus": 1, "num_cpus": 1} if self.gpus else {"num_cpus": 1}

    def evaluate(
        self,
        model: ModelSpec,
        names: list[str],
        request: EvaluationRequest,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[TaskOutcome]:
        """The outcome of each task, in the order they finish; the largest tasks are sent first."""
        options = self.shard_options()
        pending = {
            evaluate_shard.options(**options, name=f"evaluate {name}").remote(model, name, request): name
            for name in sorted(names, key=_expected_size, reverse=True)
        }
        try:
            while pending:
                if should_stop is not None and should_stop():
                    raise EvaluationCancelled(f"stopped with {len(pending)} tasks not finished")
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_S)
                for reference in ready:
                    yield _outcome(reference, pending.pop(reference))
        finally:
            for reference in pending:
                ray.cancel(reference, force=True)

    def shutdown(self) -> None:
        ray.shutdown()


def _expected_size(name: str) -> int:
    try:
        return catalogue.task(name).test_size or 0
    except KeyError:
        return 0


def _outcome(reference, name: str) -> TaskOutcome:
    try:
        return ray.get(reference)
    except ray.exceptions.RayTaskError as error:
        cause = error.cause
        if isinstance(cause, Exception):
            raise cause from None
        raise
    except ray.exceptions.RayError as error:
        raise ShardLost(
            f"{name}: its Ray task was lost {MAX_SHARD_RETRIES + 1} times ({type(error).__name__}: "
            f"{' '.join(str(error).split())[:300]})"
        ) from error


@ray.remote(max_retries=MAX_SHARD_RETRIES, retry_exceptions=False, max_calls=0)
def evaluate_shard(model: ModelSpec, name: str, request: EvaluationRequest) -> TaskOutcome:
    """One task on this node: evaluated into a scratch folder, handed back whole; the store is never opened."""
    import mteb
    import torch

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    if cpus:
        torch.set_num_threads(max(1, int(cpus)))
    with tempfile.TemporaryDirectory(prefix="patenteb-shard-") as scratch:
        result_cache = mteb.ResultCache(scratch)
        outcome = _evaluator_for(model, request).evaluate(name, result_cache)
        if outcome.problem is None:
            path = result_cache.get_task_result_path(name, model.mteb_name, model.revision)
            outcome.result_json = path.read_text(encoding="utf-8")
            meta = path.parent / "model_meta.json"
            outcome.model_meta_json = meta.read_text(encoding="utf-8") if meta.is_file() else None
            examples = examples_file(path)
            outcome.examples_parquet = examples.read_bytes() if examples.is_file() else None
    return outcome


_evaluator_in_this_process: dict[tuple, TaskEvaluator] = {}
"""The last model a shard loaded in this Ray worker process, kept for the next shard of the same job."""


def _evaluator_for(model: ModelSpec, request: EvaluationRequest) -> TaskEvaluator:
    key = (model, request)
    if key not in _evaluator_in_this_process:
        _evaluator_in_this_process.clear()
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        _evaluator_in_this_process[key] = TaskEvaluator(model, request, _embedding_cache_dir(request))
    return _evaluator_in_this_process[key]


def _embedding_cache_dir(request: EvaluationRequest) -> Path:
    """The store's embedding cache when this node sees the store's folder (one machine, or a shared disk), else
    one on this node."""
    shared = Path(request.embedding_cache_dir) if request.embedding_cache_dir else None
    return shared if shared is not None and shared.parent.is_dir() else NODE_EMBEDDING_CACHE
