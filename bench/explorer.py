"""Explorer speed over the shipped 10,000-patent corpus, with models loaded.

Prints progress lines, then as the last line one JSON object:
  query_ms        median time of one query through the app's search path (Explorer.compare + the result
                  HTML) for bm25, all-MiniLM-L6-v2 and a tiny local BERT registered from a path; k=10
  floor_ms        median time of the same work done bare in the same process: model.encode of the query
                  per dense model + normalised numpy matmul + argpartition, and bm25s tokenize + retrieve
  query_vs_floor  query_ms / floor_ms
  encode_ratio    index build throughput / plain SentenceTransformer.encode throughput (MiniLM, wall time)
  encode_cpu_ratio  the same with process CPU time (steadier on a shared machine)
  umap_cached_ms  median time to reopen a cached 2,000-point map: store read + points + plotly figure
  storage         where vectors are fastest to look up: DuckDB FLOAT[dim] arrays vs a .npy file
Goals: query_ms <= 150 and <= 2 x floor_ms; encode_ratio >= 0.95; umap_cached_ms <= 100.

The store defaults to bench/out/explorer/ (git-ignored) so indexes and projections survive between runs;
the first run builds the MiniLM index (10k full abstracts: ~3 min on a free 2-core machine, ~55 docs/s).

On a shared machine torch's two intra-op threads spin against other processes: `--threads 1` measures
both paths (app and floor) with one intra-op thread, which is what a single short query needs anyway.

    python bench/explorer.py [--store FILE] [--repeats 30] [--encode-docs 600] [--threads N]
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

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from explorer.corpus import SHIPPED_CORPUS  # noqa: E402
from explorer.index import build_index  # noqa: E402
from explorer.maps import map_figure  # noqa: E402
from explorer.registry import ModelSpec, load_registry  # noqa: E402
from explorer.render import results_html  # noqa: E402
from explorer.service import Explorer  # noqa: E402
from explorer.ui import EXAMPLE_QUERIES  # noqa: E402
from results.store import Store  # noqa: E402

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TINY = "bench/tiny-bert"
MODELS = ["bm25", MINILM, TINY]
K = 10
MAP_SAMPLE = 2000


def milliseconds(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def tiny_model(folder: Path) -> Path:
    from patenteb.tiny_model import build_tiny_model

    if not (folder / "modules.json").exists():
        texts = pd.read_parquet(SHIPPED_CORPUS)["text"].head(2000).tolist()
        build_tiny_model(folder, texts, hidden_size=128)
    return folder


def app_query(explorer: Explorer, query: str) -> float:
    started = time.perf_counter()
    comparison = explorer.compare(query, MODELS, k=K)
    results_html(comparison, explorer.corpus)
    return milliseconds(started)


def bare_query(loaded: list[tuple], query: str) -> float:
    """What the libraries themselves need for the same answers: no validation, no ids, no rendering."""
    import bm25s

    started = time.perf_counter()
    for name, model, index in loaded:
        if name == "bm25":
            tokens = bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)
            index.retriever.retrieve(tokens, k=K, show_progress=False)
        else:
            vector = model.model.encode([query], prompt=model.spec.query_prompt, normalize_embeddings=True)[0]
            scores = index.vectors @ vector
            np.argpartition(-scores, K)[:K]
    return milliseconds(started)


def encode_throughput(explorer: Explorer, n_documents: int, rounds: int = 2) -> dict:
    """Best of `rounds` alternating runs of a plain encode and of the index build on the same documents."""
    model = explorer.models.get(MINILM)
    sample = explorer.corpus.frame.sample(n_documents, random_state=0).reset_index(drop=True)
    texts = sample["text"].tolist()
    with tempfile.TemporaryDirectory() as scratch:
        corpus_path = Path(scratch) / "sample.parquet"
        sample.to_parquet(corpus_path)
        sample_store = Store(Path(scratch) / "store.duckdb")
        sample_explorer = Explorer(sample_store, corpus=str(corpus_path), registry=explorer.registry)
        corpus = sample_explorer.corpus
        plain, ours = [], []
        for _ in range(rounds):
            wall, cpu = time.perf_counter(), time.process_time()
            model.model.encode(texts, prompt=model.spec.document_prompt, batch_size=32, normalize_embeddings=True)
            plain.append((time.perf_counter() - wall, time.process_time() - cpu))
            wall, cpu = time.perf_counter(), time.process_time()
            build_index(sample_explorer.store, corpus, model)
            ours.append((time.perf_counter() - wall, time.process_time() - cpu))
    best_plain = min(wall for wall, _ in plain), min(cpu for _, cpu in plain)
    best_ours = min(wall for wall, _ in ours), min(cpu for _, cpu in ours)
    return {
        "encode_ratio": round(best_plain[0] / best_ours[0], 3),
        "encode_cpu_ratio": round(best_plain[1] / best_ours[1], 3),
        "plain_docs_per_s": round(n_documents / best_plain[0], 1),
        "index_docs_per_s": round(n_documents / best_ours[0], 1),
    }


def storage_comparison(vectors: np.ndarray, ids: list[str], repeats: int = 9) -> dict:
    """Full load and one-vector lookup from DuckDB FLOAT[dim] vs .npy (loaded and memory-mapped)."""
    import duckdb
    import pyarrow as pa

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    probe_id = ids[n // 2]
    position_by_id = {patent_id: position for position, patent_id in enumerate(ids)}
    query = vectors[n // 3]

    def median_ms(work, times=repeats):
        samples = []
        for _ in range(times):
            started = time.perf_counter()
            work()
            samples.append(milliseconds(started))
        return round(statistics.median(samples), 3)

    with tempfile.TemporaryDirectory() as scratch:
        database = str(Path(scratch) / "vectors.duckdb")
        npy = Path(scratch) / "vectors.npy"
        np.save(npy, vectors)
        incoming = pa.table(
            {
                "position": pa.array(np.arange(n, dtype=np.int32)),
                "id": pa.array(ids),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim),
            }
        )
        with duckdb.connect(database) as connection:
            connection.execute(f"CREATE TABLE vectors (position INTEGER, id VARCHAR, vector FLOAT[{dim}])")
            connection.execute("INSERT INTO vectors SELECT * FROM incoming")

        def duckdb_full():
            with duckdb.connect(database, read_only=True) as connection:
                column = connection.sql("SELECT vector FROM vectors ORDER BY position").to_arrow_table().column(0)
            return column.combine_chunks().flatten().to_numpy().reshape(n, dim)

        def duckdb_one():
            with duckdb.connect(database, read_only=True) as connection:
                row = connection.execute("SELECT vector FROM vectors WHERE id = ?", [probe_id]).fetchone()
            return np.asarray(row[0], dtype=np.float32)

        mapped = np.load(npy, mmap_mode="r")
        in_memory = np.load(npy)
        assert np.array_equal(duckdb_full(), vectors) and np.array_equal(duckdb_one(), vectors[n // 2])
        return {
            "n": n,
            "dim": dim,
            "duckdb_full_load_ms": median_ms(duckdb_full),
            "npy_full_load_ms": median_ms(lambda: np.load(npy)),
            "npy_mmap_open_ms": median_ms(lambda: np.load(npy, mmap_mode="r")),
            "duckdb_one_vector_ms": median_ms(duckdb_one, 31),
            "npy_mmap_one_vector_ms": median_ms(lambda: np.array(mapped[position_by_id[probe_id]]), 301),
            "top10_in_memory_ms": median_ms(lambda: np.argpartition(-(in_memory @ query), K)[:K], 101),
            "top10_mmap_ms": median_ms(lambda: np.argpartition(-(mapped @ query), K)[:K], 101),
            "duckdb_file_mb": round(os.path.getsize(database) / 1e6, 1),
            "npy_file_mb": round(npy.stat().st_size / 1e6, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default=str(REPO / "bench" / "out" / "explorer" / "store.duckdb"))
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--encode-docs", type=int, default=600)
    parser.add_argument("--threads", type=int, help="torch intra-op threads for the whole run (default: torch's)")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    tiny = tiny_model(Path(args.store).parent / "tiny-bert")
    registry = load_registry().with_models(
        ModelSpec(name=TINY, kind="sentence-transformers", display_name="tiny BERT (128-d)", path=str(tiny))
    )
    explorer = Explorer(Store(args.store), registry=registry)
    print(f"corpus: {len(explorer.corpus):,} patents; store {args.store}", flush=True)
    loaded = []
    for name in MODELS:
        started = time.perf_counter()
        model, index, built = explorer.index(name)
        loaded.append((name, model, index))
        print(f"{name}: {'built' if built else 'loaded'} index in {time.perf_counter() - started:.1f} s", flush=True)

    queries = EXAMPLE_QUERIES
    for query in queries[:3]:
        app_query(explorer, query)
        bare_query(loaded, query)
    app_ms, floor_ms = [], []
    for repeat in range(args.repeats):
        query = queries[repeat % len(queries)]
        app_ms.append(app_query(explorer, query))
        floor_ms.append(bare_query(loaded, query))
    query_ms, floor = statistics.median(app_ms), statistics.median(floor_ms)
    print(f"query: {query_ms:.1f} ms through the app, {floor:.1f} ms bare (median of {args.repeats})", flush=True)

    started = time.perf_counter()
    first = explorer.map_view(MINILM, MAP_SAMPLE)
    print(f"map: {'cached' if first.from_cache else 'computed'} in {time.perf_counter() - started:.1f} s", flush=True)
    map_ms = []
    for _ in range(10):
        started = time.perf_counter()
        view = explorer.map_view(MINILM, MAP_SAMPLE)
        map_figure(view.points, colour_by="section")
        map_ms.append(milliseconds(started))
    umap_cached_ms = statistics.median(map_ms)
    print(f"cached map: {umap_cached_ms:.1f} ms", flush=True)

    minilm_index = loaded[MODELS.index(MINILM)][2]
    storage = storage_comparison(np.asarray(minilm_index.vectors), explorer.corpus.ids.tolist())
    print(f"storage: {json.dumps(storage)}", flush=True)

    encode = encode_throughput(explorer, args.encode_docs)
    print(f"encode: {json.dumps(encode)}", flush=True)

    print(
        json.dumps(
            {
                "query_ms": round(query_ms, 2),
                "floor_ms": round(floor, 2),
                "query_vs_floor": round(query_ms / floor, 3),
                **encode,
                "umap_cached_ms": round(umap_cached_ms, 2),
                "models": MODELS,
                "documents": len(explorer.corpus),
                "k": K,
                "repeats": args.repeats,
                "torch_threads": torch.get_num_threads(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "storage": storage,
            }
        )
    )


if __name__ == "__main__":
    main()
