"""One query against one model's index: BM25, dense (exact, or approximate past the ANN threshold) or hybrid.

`retrieve` is the explorer's single search entry point; every path returns (positions, scores, note), best
first, restricted to `allowed` when it is given (a section filter, or everything but the query patent).
"""

from __future__ import annotations

import math

import numpy as np

from explorer.encoders import Bm25Model, DenseEncoder, HybridModel, Model
from explorer.hybrid import reciprocal_rank_fusion
from explorer.index import Bm25Index, DenseIndex, HybridIndex, Index
from explorer.search import bm25_top_k, dense_top_k, top_k

ANN_OVERSAMPLING = 2
EXACT_BELOW_SHARE = 0.05


def retrieve(
    model: Model,
    index: Index,
    text: str,
    k: int,
    allowed: np.ndarray | None = None,
    query_position: int | None = None,
) -> tuple[np.ndarray, np.ndarray, str | None]:
    if isinstance(model, HybridModel):
        assert isinstance(index, HybridIndex)
        return _hybrid(model, index, text, k, allowed, query_position)
    if isinstance(model, Bm25Model):
        assert isinstance(index, Bm25Index)
        terms, note = model.query_terms(text)
        positions, scores = bm25_top_k(index.retriever, terms, k, allowed)
        if not positions.size and terms:
            note = note or f"{model.spec.label}: no document shares a word with the query"
        return positions, scores, note
    assert isinstance(model, DenseEncoder) and isinstance(index, DenseIndex)
    note = None
    if query_position is not None and model.spec.query_prompt == model.spec.document_prompt:
        query_vector = np.asarray(index.vectors[query_position], dtype=np.float32)
    else:
        fitted, note = model.fit_query(text)
        query_vector = model.encode_query(fitted)
    positions, scores = dense_search(index, query_vector, k, allowed)
    return positions, scores, note


def dense_search(index: DenseIndex, query_vector: np.ndarray, k: int, allowed: np.ndarray | None = None):
    """Cosine top-k: exact matmul, or the ANN index's candidates rescored exactly when the index has one.

    With a filter the ANN index is asked for enough candidates to leave k after filtering (k / share of
    allowed documents, twice over); a narrow filter, or too few survivors, falls back to the exact search.
    """
    if index.ann is None:
        return dense_top_k(index.vectors, query_vector, k, allowed)
    n = len(index.vectors)
    share = 1.0 if allowed is None else np.count_nonzero(allowed) / n
    if share < EXACT_BELOW_SHARE:
        return _exact_over(index.vectors, query_vector, k, np.flatnonzero(allowed))
    wanted = min(n, math.ceil(k / share * ANN_OVERSAMPLING) + 1)
    candidates = index.ann.search(query_vector, wanted)
    if allowed is not None:
        candidates = candidates[allowed[candidates]]
        if len(candidates) < min(k, int(np.count_nonzero(allowed))):
            return _exact_over(index.vectors, query_vector, k, np.flatnonzero(allowed))
    return _exact_over(index.vectors, query_vector, k, candidates)


def _exact_over(vectors: np.ndarray, query_vector: np.ndarray, k: int, candidates: np.ndarray):
    positions, scores = top_k(np.asarray(vectors[candidates]) @ query_vector, k)
    return candidates[positions].astype(np.int64), scores


def _hybrid(model: HybridModel, index: HybridIndex, text, k, allowed, query_position):
    depth = max(model.spec.depth, k)
    lexical, _, lexical_note = retrieve(model.lexical, index.lexical, text, depth, allowed, query_position)
    dense, _, dense_note = retrieve(model.dense, index.dense, text, depth, allowed, query_position)
    positions, scores = reciprocal_rank_fusion([lexical, dense], k, model.spec.rrf_k)
    notes = [note for note in (lexical_note, dense_note) if note]
    return positions, scores, "; ".join(notes) or None
