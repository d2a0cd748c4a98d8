"""The approximate nearest-neighbour path, exercised on 2,000 real abstracts with the threshold lowered.

The real library builds a real graph; its answers are compared with an exact brute-force search.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from explorer.ann import load_or_build_ann
from explorer.corpus import SHIPPED_CORPUS
from explorer.index import load_index
from explorer.retrieve import dense_search, retrieve
from explorer.search import dense_top_k
from explorer.service import Explorer
from results.explorer_cache import explorer_folder
from results.store import Store

WORDLLAMA = "wordllama/l2_supercat-256"
CORPUS_SIZE = 2000


@pytest.fixture(scope="module")
def ann_explorer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ann")
    shipped = pd.read_parquet(SHIPPED_CORPUS)
    shipped.iloc[:CORPUS_SIZE].to_parquet(folder / "corpus.parquet")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATENTEB_ANN_THRESHOLD", "1000")
        explorer = Explorer(Store(folder / "store.duckdb"), corpus=str(folder / "corpus.parquet"))
        explorer.index(WORDLLAMA)
    return explorer, shipped.iloc[CORPUS_SIZE : CORPUS_SIZE + 40]["text"].tolist()


@pytest.mark.slow
def test_ann_index_is_built_above_the_threshold_and_saved(ann_explorer):
    explorer, _ = ann_explorer
    _, index, _ = explorer.index(WORDLLAMA)
    assert index.ann is not None and len(index.ann) == CORPUS_SIZE
    assert (explorer_folder(explorer.store) / index.record.vector_path).with_suffix(".ann").exists()


def test_ann_recall_against_brute_force(ann_explorer):
    explorer, unseen = ann_explorer
    model, index, _ = explorer.index(WORDLLAMA)
    found = 0
    for text in unseen:
        query = model.encode_query(text)
        exact, _ = dense_top_k(index.vectors, query, 10)
        approximate, scores = dense_search(index, query, 10)
        assert np.allclose(scores, index.vectors[approximate] @ query, atol=1e-6)
        assert np.all(np.diff(scores) <= 1e-7)
        found += len(set(exact.tolist()) & set(approximate.tolist()))
    assert found / (10 * len(unseen)) >= 0.95


def test_ann_search_keeps_filters_and_leaves_the_query_patent_out(ann_explorer):
    explorer, _ = ann_explorer
    model, index, _ = explorer.index(WORDLLAMA)
    corpus = explorer.corpus
    for section in ("G", "H"):
        position = int(np.flatnonzero(corpus.sections == section)[0])
        allowed = corpus.section_mask(section).copy()
        allowed[position] = False
        positions, _, _ = retrieve(model, index, corpus.texts[position], 10, allowed, query_position=position)
        assert len(positions) == 10 and position not in positions.tolist()
        assert {corpus.sections[p] for p in positions} == {section}
        exact, _ = dense_top_k(index.vectors, index.vectors[position], 10, allowed)
        assert len(set(exact.tolist()) & set(positions.tolist())) >= 8


def test_a_narrow_filter_is_searched_exactly(ann_explorer):
    explorer, unseen = ann_explorer
    model, index, _ = explorer.index(WORDLLAMA)
    allowed = np.zeros(CORPUS_SIZE, dtype=bool)
    allowed[[3, 50, 700, 1999]] = True
    query = model.encode_query(unseen[0])
    positions, scores = dense_search(index, query, 10, allowed)
    expected, expected_scores = dense_top_k(index.vectors, query, 10, allowed)
    assert positions.tolist() == expected.tolist() and np.allclose(scores, expected_scores)


def test_saved_graph_is_reopened_and_rebuilt_only_for_newer_vectors(ann_explorer):
    explorer, _ = ann_explorer
    _, index, _ = explorer.index(WORDLLAMA)
    vectors_path = explorer_folder(explorer.store) / index.record.vector_path
    graph = vectors_path.with_suffix(".ann")
    written = graph.stat().st_mtime_ns
    reopened = load_or_build_ann(graph, index.vectors)
    assert len(reopened) == CORPUS_SIZE and graph.stat().st_mtime_ns == written
    os.utime(vectors_path, ns=(written + 10**9, written + 10**9))
    load_or_build_ann(graph, index.vectors)
    assert graph.stat().st_mtime_ns > written


def test_below_the_threshold_there_is_no_graph(ann_explorer, monkeypatch):
    explorer, _ = ann_explorer
    _, index, _ = explorer.index(WORDLLAMA)
    monkeypatch.setenv("PATENTEB_ANN_THRESHOLD", str(CORPUS_SIZE + 1))
    assert load_index(explorer.store, index.record).ann is None
