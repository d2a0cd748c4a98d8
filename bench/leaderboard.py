"""Leaderboard speed on a synthetic store of 1,000 models x 20 tasks.

Prints progress lines, then as the last line one JSON object:
  cold_start_s      process start of `app.py` to its first HTTP 200
  table_switch_ms   median server-side time to build and style one family table (what a table switch runs)
  floor_ms          median time of a bare DuckDB query returning the same rows, same process, connection open
  switch_vs_floor   table_switch_ms / floor_ms
  board_ms          choosing one value per cell and pivoting (once per store generation, then cached)
  page_ms           a whole view with its four plots
Goals: cold start <= 5 s, table switch <= 50 ms.

    python bench/leaderboard.py [--models 1000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from leaderboard.filters import Filters  # noqa: E402
from leaderboard.page import build_page, styled_table  # noqa: E402
from leaderboard.tables import choose_cells, prepare_board  # noqa: E402
from leaderboard.views import VIEWS  # noqa: E402
from results.seed import seed  # noqa: E402
from results.store import Store  # noqa: E402

EXTERNAL_TASKS = [
    "BigPatentClustering.v2", "BigPatentClustering", "PatentClassification",
    "DAPFAMAllTitlAbsClmToTitlAbsClmRetrieval", "DAPFAMInTitlAbsClmToTitlAbsClmRetrieval",
]


def synthetic_store(path: Path, n_models: int) -> Store:
    store = Store(path)
    seed(store)
    tasks = store.tasks().set_index("task")
    chosen = [t for t in tasks.index if tasks.loc[t, "benchmark"] == "PatenTEB"] + EXTERNAL_TASKS
    rng = np.random.default_rng(0)
    rows, models = [], []
    for i in range(n_models):
        model = f"bench-org/model-{i:04d}"
        models.append({"model": model, "display_name": f"model-{i:04d}", "hub_id": model,
                       "params_m": float(rng.choice([22.7, 110, 335, 1500, 7000])),
                       "embedding_dim": int(rng.choice([384, 768, 1024, 4096])),
                       "max_tokens": int(rng.choice([256, 512, 8192])), "uses_prompts": bool(rng.random() < 0.5)})
        for task in chosen:
            if rng.random() < 0.05:
                continue
            rows.append({"model": model, "revision": "main", "task": task, "split": tasks.loc[task, "eval_split"],
                         "subset": "default", "metric": tasks.loc[task, "main_metric"], "provenance": "evaluated",
                         "value": float(rng.uniform(0.05, 0.9)), "mteb_version": "2.26.24",
                         "evaluated_at": pd.Timestamp("2026-11-01")})
    store.upsert_scores(pd.DataFrame(rows), pd.DataFrame(models))
    return store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cold_start_seconds(store_path: Path) -> float:
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PATENTEB_NO_WORKER": "1"}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--store", str(store_path), "--port", str(port)],
                               cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < 120:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the app did not answer within 120 s")
    finally:
        process.terminate()
        process.wait(timeout=30)


def median_ms(function, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.duckdb"
        started = time.perf_counter()
        store = synthetic_store(path, args.models)
        snapshot = store.snapshot()
        print(f"synthetic store: {len(snapshot.models)} models, {len(snapshot.scores)} main scores "
              f"({time.perf_counter() - started:.1f} s to build)", file=sys.stderr)

        def board():
            return prepare_board(choose_cells(snapshot.scores), snapshot.tasks, snapshot.models)

        board_ms = median_ms(board, args.repeats)
        prepared = board()
        filters = Filters()
        family_views = [view.key for view in VIEWS if view.key != "demo"]
        switch = [median_ms(lambda key=key: styled_table(snapshot, prepared, key, filters), args.repeats) for key in family_views]
        for key, ms in zip(family_views, switch):
            print(f"table switch {key:<22} {ms:7.1f} ms", file=sys.stderr)
        page_ms = median_ms(lambda: build_page(snapshot, prepared, "overall", filters), max(3, args.repeats // 3))

        import duckdb

        connection = duckdb.connect(str(path), read_only=True)
        floor_query = (
            "SELECT s.model, s.task, s.subset, s.value, s.provenance FROM scores s "
            "JOIN tasks t ON s.task = t.task AND s.metric = t.main_metric AND s.split = t.eval_split "
            "WHERE t.benchmark = 'PatenTEB'"
        )
        floor_ms = median_ms(lambda: connection.execute(floor_query).df(), args.repeats)
        connection.close()

        cold = cold_start_seconds(path)

    table_switch_ms = statistics.median(switch)
    print(json.dumps({
        "models": args.models,
        "tasks": 20,
        "cold_start_s": round(cold, 2),
        "table_switch_ms": round(table_switch_ms, 1),
        "floor_ms": round(floor_ms, 1),
        "switch_vs_floor": round(table_switch_ms / floor_ms, 2),
        "board_ms": round(board_ms, 1),
        "page_ms": round(page_ms, 1),
    }))


if __name__ == "__main__":
    main()
