"""Ray fan-out speed-up: the same 15-task workload evaluated with one Ray worker and with two.

The workload is bench/patenteb_workload.py at --scale (synthetic, PatenTEB's shape; its scores are never
PatenTEB scores and never reach a real store), the model the tiny random test model. For each worker count a
fresh local Ray cluster (loopback, `num_cpus` = workers) is started, its worker processes are warmed (each
imports mteb and torch once, outside the timing), and `run_evaluation(..., fanout=...)` is timed into a
fresh store: every task is one Ray task with one CPU and one torch thread. The same workload in this process
without Ray (one thread) is timed too, as the baseline Ray's own overhead is read against.

    python bench/evaluator_ray.py [--scale 0.02] [--skip-baseline]

Last line, one JSON object: `speedup` (one worker's wall over two workers'; goal >= 1.6 on 2 cores), the wall
seconds and texts encoded of each run (the shards share one embedding cache: two workers should encode what one
does), `largest_score_difference` between the runs' main scores, and what to read the speed-up
against on a shared machine: the load average before and after; `ray_N_cores_used`, the Ray workers' CPU
seconds over the wall (what the run actually got); `schedule_bound_speedup`, the speed-up the measured task
times allow on two workers (largest first); and whether the kernel schedules by autogroup (then all processes
of one session share one session's CPU share, so a second worker gets no more CPU on a busy machine).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[variable] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[variable] = "1"

from bench.patenteb_workload import write_workload  # noqa: E402

WORKER_COUNTS = (1, 2)


def build_tiny_model(folder: Path) -> Path:
    import pandas as pd

    from patenteb.tiny_model import build_tiny_model as build

    texts = pd.read_parquet(REPO / "explorer" / "data" / "uspto_random_10000.parquet", columns=["text"])["text"]
    return build(folder, texts.head(2000).tolist())


def warm_workers(workers: int) -> list[int]:
    """Start each Ray worker process and import the evaluator's libraries in it, outside the timing; their pids."""
    import ray

    @ray.remote(num_cpus=1)
    def import_libraries() -> int:
        import mteb  # noqa: F401
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401

        import evaluator.runner  # noqa: F401

        time.sleep(1.0)
        return os.getpid()

    pids = sorted(set(ray.get([import_libraries.remote() for _ in range(workers)])))
    if len(pids) != workers:
        print(f"note: warm-up ran on {len(pids)} processes for {workers} workers", flush=True)
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes used so far (from /proc; 0 for one that is gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def schedule_bound(task_seconds: dict, workers: int) -> float:
    """The makespan of the largest-first schedule of the measured task times on `workers` workers."""
    loads = [0.0] * workers
    for seconds in sorted(task_seconds.values(), reverse=True):
        loads[loads.index(min(loads))] += seconds
    return max(loads)


def timed_run(model_path: Path, data_dir: Path, folder: Path, fanout) -> tuple[float, dict, dict, int]:
    from evaluator.runner import ModelSpec, run_evaluation
    from results.store import Store

    store = Store(folder / "store.duckdb")
    store.schema_version()
    started = time.perf_counter()
    report = run_evaluation(
        store, ModelSpec("bench/tiny", str(model_path), "r1"), "PatenTEB", data_dir=data_dir, device="cpu", fanout=fanout
    )
    wall_s = time.perf_counter() - started
    if report.problems:
        raise RuntimeError(f"the workload has unusable tasks: {report.problems}")
    per_task = {task: round(cost.wall_s, 2) for task, cost in report.costs.items()}
    return wall_s, report.scores, per_task, report.texts_encoded


def run_on_ray(workers: int, model_path: Path, data_dir: Path, folder: Path) -> tuple[float, dict, dict, int, float]:
    """Wall seconds, scores, per-task seconds, texts encoded, and the CPU seconds the Ray workers used."""
    import ray

    from evaluator.ray_fanout import RayFanout

    ray.init(num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        pids = warm_workers(workers)
        before = cpu_seconds(pids)
        wall_s, scores, per_task, encoded = timed_run(model_path, data_dir, folder, RayFanout())
        return wall_s, scores, per_task, encoded, cpu_seconds(pids) - before
    finally:
        ray.shutdown()


def largest_score_difference(first: dict, second: dict) -> float:
    """The largest |difference| of a main score between two runs (a shared cache may hand a task embeddings
    computed in another batch, which moves a score in its last digits)."""
    if first.keys() != second.keys():
        return math.inf
    differences = [abs(first[task] - second[task]) for task in first if not (math.isnan(first[task]) and math.isnan(second[task]))]
    return max(differences, default=0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.02, help="workload scale (1.0 = PatenTEB's full size)")
    parser.add_argument("--skip-baseline", action="store_true", help="skip the in-process run without Ray")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    load_before = os.getloadavg()
    scratch = Path(tempfile.mkdtemp(prefix="bench-evaluator-ray-"))
    try:
        model_path = build_tiny_model(scratch / "tiny-model")
        started = time.perf_counter()
        summary = write_workload(scratch / "workload", args.scale)
        print(f"workload at scale {args.scale}: {summary['test_rows']} test + {summary['train_rows']} train rows, "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        runs: dict[str, dict] = {}
        if not args.skip_baseline:
            import torch

            torch.set_num_threads(1)
            wall_s, scores, per_task, encoded = timed_run(model_path, scratch / "workload", scratch / "in-process", None)
            runs["in_process"] = {"wall_s": round(wall_s, 1), "scores": scores, "per_task_s": per_task, "encoded": encoded}
            print(f"in process, one thread: {wall_s:.1f} s", flush=True)
        for workers in WORKER_COUNTS:
            wall_s, scores, per_task, encoded, cpu_s = run_on_ray(
                workers, model_path, scratch / "workload", scratch / f"ray-{workers}"
            )
            runs[f"ray_{workers}"] = {
                "wall_s": round(wall_s, 1), "scores": scores, "per_task_s": per_task, "encoded": encoded, "cpu_s": cpu_s
            }
            print(f"Ray, {workers} worker(s): {wall_s:.1f} s, {encoded} texts encoded, the workers used {cpu_s:.1f} CPU s",
                  flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    score_sets = [run["scores"] for run in runs.values()]
    result = {
        "scale": args.scale,
        "cpu_cores": os.cpu_count(),
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        **{f"{name}_s": run["wall_s"] for name, run in runs.items()},
        **{f"{name}_texts_encoded": run["encoded"] for name, run in runs.items()},
        **{f"ray_{workers}_cores_used": round(runs[f"ray_{workers}"]["cpu_s"] / runs[f"ray_{workers}"]["wall_s"], 2)
           for workers in WORKER_COUNTS},
        "schedule_bound_speedup": round(
            sum(runs["ray_1"]["per_task_s"].values()) / schedule_bound(runs["ray_1"]["per_task_s"], 2), 3
        ),
        "autogroup_scheduling": Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
        if Path("/proc/sys/kernel/sched_autogroup_enabled").exists() else None,
        "per_task_s_one_worker": runs["ray_1"]["per_task_s"],
        "largest_score_difference": max(largest_score_difference(score_sets[0], other) for other in score_sets[1:]),
        "speedup": round(runs["ray_1"]["wall_s"] / runs["ray_2"]["wall_s"], 3),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
