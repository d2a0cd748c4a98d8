"""Approximate nearest neighbours for corpora past `ann_threshold()` documents: a faiss HNSW graph.

Chosen by measurement (bench/explorer_ann.py, vectors derived from real WordLlama embeddings of the shipped
abstracts, 2 shared cores). At 200,000 × 256, each at the search effort reaching recall@10 ≥ 0.95: faiss HNSW
0.979 at 0.15 ms median, 67 CPU-s to build, 239 MB; hnswlib 0.981, 0.16 ms, 65 CPU-s, 246 MB; usearch (f16)
0.979, 0.35 ms, 107 CPU-s, 153 MB; faiss IVF 0.971, 0.62 ms, 23 CPU-s, 278 MB. At 1,000,000: faiss HNSW
0.982 at efSearch 64, 0.25 ms median, 1.1 GB. Below the threshold an exact matmul is exact and fast enough
(~1 ms at 10k), so no graph is built.
The graph is saved beside the vectors (`<vectors>.ann`) and rebuilt when the vectors are newer.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from patenteb import settings

ANN_THRESHOLD = 200_000
GRAPH_DEGREE = 16
BUILD_EFFORT = 64
SEARCH_EFFORT = 128
BUILD_CHUNK = 50_000


def ann_threshold() -> int:
    """Documents from which dense search goes through the ANN index ($PATENTEB_ANN_THRESHOLD overrides)."""
    return settings.ann_threshold() or ANN_THRESHOLD


class AnnIndex:
    """Inner-product HNSW over L2-normalised vectors, i.e. cosine; `search` gives candidate positions, best first."""

    def __init__(self, index, search_effort: int = SEARCH_EFFORT):
        self.index = index
        self.search_effort = search_effort

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, query_vector: np.ndarray, k: int) -> np.ndarray:
        import faiss

        parameters = faiss.SearchParametersHNSW(efSearch=max(self.search_effort, k))
        query = np.ascontiguousarray(query_vector, dtype=np.float32)[None, :]
        _, positions = self.index.search(query, min(k, len(self)), params=parameters)
        positions = positions[0]
        return positions[positions >= 0].astype(np.int64)


def build_ann(vectors: np.ndarray, progress: Callable[[int, int], None] | None = None) -> AnnIndex:
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], GRAPH_DEGREE, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = BUILD_EFFORT
    for start in range(0, len(vectors), BUILD_CHUNK):
        if progress:
            progress(start, len(vectors))
        index.add(np.ascontiguousarray(vectors[start : start + BUILD_CHUNK], dtype=np.float32))
    if progress:
        progress(len(vectors), len(vectors))
    return AnnIndex(index)


def load_or_build_ann(path: Path, vectors: np.ndarray, progress: Callable[[int, int], None] | None = None) -> AnnIndex:
    """The saved graph when it is as new as the vectors and as long; else a new one, saved atomically."""
    import faiss

    vectors_path = path.with_suffix(".npy")
    if path.exists() and (not vectors_path.exists() or path.stat().st_mtime_ns >= vectors_path.stat().st_mtime_ns):
        index = faiss.read_index(str(path))
        if index.ntotal == len(vectors):
            return AnnIndex(index)
    ann = build_ann(vectors, progress)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".partial")
    os.close(handle)
    faiss.write_index(ann.index, partial)
    os.chmod(partial, 0o644)
    os.replace(partial, path)
    return ann
