"""Device, precision and batch-size choices (evaluator/devices.py) and the cost meter, on this machine's CPU."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from evaluator.devices import (
    DEFAULT_BATCH_SIZE,
    CostMeter,
    DeviceUnavailable,
    PeakMemory,
    device_name,
    encode_settings,
)
from evaluator.embedding_cache import CacheStats

torch = pytest.importorskip("torch")
needs_no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the choices of a machine without a GPU")


@needs_no_gpu
def test_auto_is_the_cpu_here_with_float32_and_the_cpu_batch_size():
    settings = encode_settings("auto", "bfloat16")
    assert (settings.device, settings.precision, settings.batch_size) == ("cpu", "float32", DEFAULT_BATCH_SIZE["cpu"])
    assert settings.note == "bfloat16 was submitted; on a CPU the model runs in float32"
    assert encode_settings("cpu", "float32").note is None


@needs_no_gpu
def test_cuda_asked_for_without_a_gpu_is_a_clear_error():
    with pytest.raises(DeviceUnavailable, match=r"--device cuda, but torch sees no CUDA device"):
        encode_settings("cuda", "float16")


def test_the_environment_gives_defaults_and_arguments_win(monkeypatch):
    monkeypatch.setenv("PATENTEB_DEVICE", "cpu")
    monkeypatch.setenv("PATENTEB_BATCH_SIZE", "48")
    assert (encode_settings().device, encode_settings().batch_size) == ("cpu", 48)
    assert encode_settings(batch_size=5).batch_size == 5


def test_bad_choices_are_refused():
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda, not 'tpu'"):
        encode_settings("tpu")
    with pytest.raises(ValueError, match="batch size must be at least 1"):
        encode_settings("cpu", batch_size=-3)


def test_the_cpu_is_named_as_proc_cpuinfo_names_it():
    found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    assert device_name("cpu") == (found.group(1).strip() if found else device_name("cpu"))
    assert device_name("cpu")


def test_peak_resident_memory_is_measured_from_the_reset():
    memory = PeakMemory("cpu")
    memory.reset()
    big = np.ones(400 * 1024 * 1024 // 8)
    with_big = memory.peak_gib()
    del big
    memory.reset()
    after_reset = memory.peak_gib()
    assert memory.kind == "peak_rss"
    assert with_big - after_reset > 0.3


def test_the_meter_takes_the_tasks_share_of_the_cache_counts():
    stats = CacheStats(requested=100, encoded=40, encode_s=2.0)
    with CostMeter(encode_settings("cpu", "float32", 16), stats) as meter:
        stats.requested, stats.encoded, stats.encode_s = 150, 60, 3.0
    cost = meter.cost
    assert (cost.texts_requested, cost.texts_encoded, cost.encode_s) == (50, 20, 1.0)
    assert cost.texts_per_s == 20.0 and cost.batch_size == 16 and cost.device == "cpu"
    assert cost.wall_s >= 0 and cost.peak_memory_gib > 0 and cost.host
    assert cost.as_record()["texts_per_s"] == 20.0
