"""Where an evaluation runs and what it cost: the one home for device, precision and batch-size choices.

`encode_settings` turns what was asked (`--device auto|cpu|cuda`, the submitted precision, `--batch-size`)
into what is used: CUDA when asked for or, with `auto`, when torch sees a GPU; the submitted float16/bfloat16
on a GPU, float32 on a CPU (with a note); a batch size per device unless one was given. `CostMeter` measures
one task: texts encoded and seconds inside the model, peak memory (GPU memory allocated on a GPU, resident
memory on a CPU), wall time, and the device's name. torch is imported only when a GPU question is asked.
"""

from __future__ import annotations

import re
import resource
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from patenteb import settings

DEVICES = ("auto", "cpu", "cuda")
RAY_LOCAL_CLUSTER = "local"
"""`--ray` without an address: a Ray cluster started on this machine for this process (or $RAY_ADDRESS's)."""
DEFAULT_BATCH_SIZE = {"cpu": 32, "cuda": 128}
FULL_PRECISION = "float32"
GPU_MEMORY = "cuda_max_allocated"
"""torch.cuda.max_memory_allocated during the task (what the evaluation itself allocated, weights included)."""
RESIDENT_MEMORY = "peak_rss"
"""The process's peak resident memory during the task (VmHWM, reset before the task)."""
RESIDENT_MEMORY_SINCE_START = "peak_rss_since_start"
"""The process's peak resident memory since it started, where the kernel does not let the peak be reset."""
GIB = 1024**3


class DeviceUnavailable(RuntimeError):
    """CUDA was asked for and torch sees no GPU."""


@dataclass(frozen=True)
class EncodeSettings:
    device: str
    """'cpu' or 'cuda': where the model runs."""
    precision: str
    """The precision the model runs in."""
    batch_size: int
    submitted_precision: str = FULL_PRECISION

    @property
    def note(self) -> str | None:
        if self.precision != self.submitted_precision:
            return f"{self.submitted_precision} was submitted; on a CPU the model runs in {self.precision}"
        return None


def default_device() -> str:
    return settings.device()


def default_batch_size() -> int | None:
    return settings.batch_size()


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def encode_settings(
    device: str | None = None, precision: str = FULL_PRECISION, batch_size: int | None = None
) -> EncodeSettings:
    """What is used for `device` (default $PATENTEB_DEVICE or auto), `precision` and `batch_size`."""
    requested = device or default_device()
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {requested!r}")
    if requested == "cuda" and not cuda_available():
        raise DeviceUnavailable("--device cuda, but torch sees no CUDA device here (torch.cuda.is_available() is False)")
    used = "cuda" if requested == "cuda" or (requested == "auto" and cuda_available()) else "cpu"
    size = batch_size or default_batch_size() or DEFAULT_BATCH_SIZE[used]
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    return EncodeSettings(
        device=used,
        precision=precision if used == "cuda" else FULL_PRECISION,
        batch_size=size,
        submitted_precision=precision,
    )


def device_name(device: str) -> str:
    """The GPU's name, or the CPU's model name from /proc/cpuinfo."""
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name(torch.cuda.current_device())
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    except OSError:
        found = None
    import platform

    return found.group(1).strip() if found else (platform.processor() or platform.machine() or "unknown CPU")


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


@dataclass(frozen=True)
class TaskCost:
    """What one task's evaluation cost, as stored beside its scores (the store's `evaluation_costs`)."""

    device: str
    device_name: str
    threads: int
    precision: str
    batch_size: int
    texts_requested: int
    texts_encoded: int
    encode_s: float
    peak_memory_gib: float | None
    memory_kind: str
    wall_s: float
    host: str

    @property
    def texts_per_s(self) -> float | None:
        """Texts the model encoded per second inside the model (None when every text came from the cache)."""
        return self.texts_encoded / self.encode_s if self.texts_encoded and self.encode_s > 0 else None

    def as_record(self) -> dict:
        return {**asdict(self), "texts_per_s": self.texts_per_s}

    @classmethod
    def from_record(cls, record: dict) -> "TaskCost":
        return cls(**{name: record[name] for name in cls.__dataclass_fields__})


class PeakMemory:
    """Peak memory of this process from `reset()` on: GPU memory allocated on a GPU, resident memory on a CPU."""

    def __init__(self, device: str):
        self.device = device
        self.kind = GPU_MEMORY if device == "cuda" else RESIDENT_MEMORY

    def reset(self) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
            return
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.kind = RESIDENT_MEMORY_SINCE_START

    def peak_gib(self) -> float | None:
        if self.device == "cuda":
            import torch

            return torch.cuda.max_memory_allocated() / GIB
        if self.kind == RESIDENT_MEMORY:
            try:
                found = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
                return int(found.group(1)) * 1024 / GIB
            except (OSError, AttributeError):
                self.kind = RESIDENT_MEMORY_SINCE_START
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


class CostMeter:
    """Measures one task: `with CostMeter(settings, cache_stats) as meter: ...`, then `meter.cost`.

    `cache_stats` is the embedding cache's running count (texts requested, texts encoded, seconds encoding);
    the task's share is the difference across the block."""

    def __init__(self, settings: EncodeSettings, cache_stats):
        self.settings = settings
        self.cache_stats = cache_stats
        self.memory = PeakMemory(settings.device)
        self.cost: TaskCost | None = None

    def __enter__(self) -> "CostMeter":
        self.before = (self.cache_stats.requested, self.cache_stats.encoded, self.cache_stats.encode_s)
        self.memory.reset()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exception) -> None:
        wall_s = time.perf_counter() - self.started
        requested, encoded, encode_s = self.before
        self.cost = TaskCost(
            device=self.settings.device,
            device_name=device_name(self.settings.device),
            threads=torch_threads(),
            precision=self.settings.precision,
            batch_size=self.settings.batch_size,
            texts_requested=self.cache_stats.requested - requested,
            texts_encoded=self.cache_stats.encoded - encoded,
            encode_s=self.cache_stats.encode_s - encode_s,
            peak_memory_gib=self.memory.peak_gib(),
            memory_kind=self.memory.kind,
            wall_s=wall_s,
            host=socket.gethostname(),
        )
