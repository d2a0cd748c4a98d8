"""Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): one ranking from several, by rank alone.

A document's fused score is the sum over the rankings that contain it of 1 / (rrf_k + rank), rank from 1;
rrf_k = 60 is the paper's constant. Scores of different retrievers (BM25's unbounded, a cosine's [-1, 1])
never meet, so no calibration is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def reciprocal_rank_fusion(
    rankings: Sequence[np.ndarray], k: int, rrf_k: int = 60
) -> tuple[np.ndarray, np.ndarray]:
    """Positions and fused scores of the k best documents, best first; ties go to the better best rank, then position."""
    fused: dict[int, float] = {}
    best_rank: dict[int, int] = {}
    for ranking in rankings:
        for rank, position in enumerate(np.asarray(ranking).tolist(), start=1):
            fused[position] = fused.get(position, 0.0) + 1.0 / (rrf_k + rank)
            best_rank[position] = min(best_rank.get(position, rank), rank)
    order = sorted(fused, key=lambda position: (-fused[position], best_rank[position], position))[:k]
    return np.array(order, dtype=np.int64), np.array([fused[position] for position in order], dtype=np.float32)
