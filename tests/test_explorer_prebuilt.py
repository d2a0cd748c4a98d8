"""Prebuilt indexes shipped with the code: used when they match, rebuilt (in the background) when they do not.

WordLlama, the fastest real model, rebuilds its 10,000-abstract index in seconds: the rebuild goes through the
real CLI and must reproduce the shipped vectors within float16 rounding.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from explorer.builds import BUILDING, FAILED, READY, IndexBuilds, warm_up
from explorer.corpus import SHIPPED_CORPUS, load_corpus
from explorer.encoders import ModelPool
from explorer.index import install_prebuilt, prebuilt_problem
from explorer.prebuilt import PREBUILT_FOLDER, folder_for, mismatch, read_prebuilt
from explorer.registry import load_registry
from explorer.service import Explorer
from results.explorer_cache import explorer_folder, list_indexes
from results.store import Store
from tests.conftest import REPO

WORDLLAMA = "wordllama/l2_supercat-256"
FLOAT16_ROUNDING = 2.0**-11


def shipped_prebuilt_models() -> list[str]:
    return [spec.name for spec in load_registry() if spec.prebuilt]


def test_every_model_marked_prebuilt_ships_an_index_of_the_shipped_corpus():
    corpus = load_corpus(SHIPPED_CORPUS)
    names = shipped_prebuilt_models()
    assert WORDLLAMA in names
    for name in names:
        prebuilt = read_prebuilt(name)
        assert prebuilt is not None, f"{name} is marked prebuilt but explorer/indexes/ has no index for it"
        assert prebuilt.corpus_hash == corpus.content_hash and prebuilt.n_documents == len(corpus)
        vectors = prebuilt.vectors()
        assert vectors.dtype == np.float16 and vectors.shape == (len(corpus), prebuilt.dim)
        assert np.allclose(np.linalg.norm(vectors.astype(np.float32), axis=1), 1.0, atol=1e-2)


@pytest.mark.slow
def test_rebuilt_index_matches_the_shipped_one(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    command = [
        sys.executable, "-m", "explorer", "index", "--model", WORDLLAMA, "--rebuild",
        "--store", str(tmp_path / "store.duckdb"), "--prebuilt-dir", str(tmp_path / "prebuilt"),
    ]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert f"{WORDLLAMA}: built an index of 10,000 documents" in result.stdout
    rebuilt, shipped = read_prebuilt(WORDLLAMA, tmp_path / "prebuilt"), read_prebuilt(WORDLLAMA)
    for field in ("model", "revision", "corpus_hash", "settings", "n_documents", "dim"):
        assert getattr(rebuilt, field) == getattr(shipped, field), field
    difference = np.abs(rebuilt.vectors().astype(np.float32) - shipped.vectors().astype(np.float32))
    assert difference.max() <= 2 * FLOAT16_ROUNDING


def test_a_fresh_store_starts_from_the_shipped_index_without_embedding(tmp_path):
    explorer = Explorer(Store(tmp_path / "store.duckdb"))
    model, index, built = explorer.index(WORDLLAMA)
    prebuilt = read_prebuilt(WORDLLAMA)
    assert not built and index.record.build_seconds == prebuilt.build_seconds
    assert index.vectors.dtype == np.float32
    assert np.abs(index.vectors - prebuilt.vectors().astype(np.float32)).max() <= 2 * FLOAT16_ROUNDING
    assert [record.model for record in list_indexes(explorer.store)] == [WORDLLAMA]
    rows = [0, 4321, 9999]
    fresh = model.encode_documents([explorer.corpus.texts[row] for row in rows])
    assert np.abs(fresh - index.vectors[rows]).max() <= 2 * FLOAT16_ROUNDING


@pytest.mark.parametrize("name", [name for name in shipped_prebuilt_models() if name != WORDLLAMA])
def test_shipped_rows_match_a_fresh_encoding(name):
    """Slower models: a few rows re-encoded now must equal the shipped ones (the whole file is checked by hash)."""
    corpus = load_corpus(SHIPPED_CORPUS)
    model = ModelPool(load_registry()).get(name)
    assert prebuilt_problem(corpus, model) is None
    rows = [7, 5000]
    fresh = model.encode_documents([corpus.texts[row] for row in rows])
    assert np.abs(fresh - read_prebuilt(name).vectors()[rows].astype(np.float32)).max() <= 4 * FLOAT16_ROUNDING


def test_a_prebuilt_index_is_refused_when_anything_differs(tmp_path):
    corpus = load_corpus(SHIPPED_CORPUS)
    model = Explorer(Store(tmp_path / "store.duckdb"), corpus=corpus).models.get(WORDLLAMA)
    root = tmp_path / "prebuilt"
    shutil.copytree(folder_for(WORDLLAMA), folder_for(WORDLLAMA, root))
    assert prebuilt_problem(corpus, model, root) is None

    metadata_path = folder_for(WORDLLAMA, root) / "index.json"
    metadata = json.loads(metadata_path.read_text())
    metadata_path.write_text(json.dumps({**metadata, "revision": "sha256:0000"}))
    assert "revision sha256:0000 (here sha256:" in prebuilt_problem(corpus, model, root)

    metadata_path.write_text(json.dumps(metadata))
    vectors = np.load(folder_for(WORDLLAMA, root) / "vectors.npy")
    vectors[0, 0] += 1
    np.save(folder_for(WORDLLAMA, root) / "vectors.npy", vectors)
    assert "does not match its checksum" in prebuilt_problem(corpus, model, root)
    assert mismatch(None, WORDLLAMA, "r", "c", "s") == "no prebuilt index ships for this model"


def test_mismatched_index_is_rebuilt_in_the_background_with_progress(tmp_path):
    shipped = pd.read_parquet(SHIPPED_CORPUS)
    shipped.iloc[:600].to_parquet(tmp_path / "other.parquet")
    explorer = Explorer(Store(tmp_path / "store.duckdb"), corpus=str(tmp_path / "other.parquet"))
    seen = []
    builds = IndexBuilds(explorer, ["bm25"], listener=seen.append).start()
    assert builds.add(WORDLLAMA).state == "waiting"
    assert builds.wait(timeout=300)
    final = {status.name: status for status in builds.status()}
    assert final["bm25"].state == READY and final[WORDLLAMA].state == READY
    assert final[WORDLLAMA].message == "index built here" and final[WORDLLAMA].fraction == 1.0
    building = [status for status in seen if status.name == WORDLLAMA and status.state == BUILDING]
    assert any("built for corpus" in status.message for status in building)
    assert any(0 < status.done < status.total == 600 for status in building)
    assert builds.ready(WORDLLAMA) and "2 of 2 ready" in builds.summary()
    assert builds.maps_compiled is None, "UMAP's code is compiled only when asked (the app asks)"
    _, index, built = explorer.index(WORDLLAMA)
    assert not built and index.vectors.shape == (600, 256)


def test_warm_up_loads_the_defaults_and_reports_a_model_that_cannot_load(tmp_path):
    registry = tmp_path / "models.toml"
    registry.write_text(
        f"""
[[models]]
name = "{WORDLLAMA}"
kind = "wordllama"
default = true

[[models]]
name = "unreachable"
kind = "sentence-transformers"
hub_id = "patenteb-tests/not-on-this-machine"
default = true
""",
        encoding="utf-8",
    )
    explorer = Explorer(Store(tmp_path / "store.duckdb"), registry=str(registry))
    builds = warm_up(explorer)
    assert builds.wait(timeout=300)
    final = {status.name: status for status in builds.status()}
    assert final[WORDLLAMA].state == READY and final[WORDLLAMA].message == "index loaded"
    assert final["unreachable"].state == FAILED and "cannot be loaded" in final["unreachable"].message
    assert explorer.models.is_loaded(WORDLLAMA)


def test_install_copies_the_shipped_vectors_beside_the_store(tmp_path):
    store = Store(tmp_path / "store.duckdb")
    explorer = Explorer(store)
    model = explorer.models.get(WORDLLAMA)
    record = install_prebuilt(store, explorer.corpus, model, PREBUILT_FOLDER)
    copied = explorer_folder(store) / record.vector_path
    assert copied.read_bytes() == read_prebuilt(WORDLLAMA).vectors_path.read_bytes()
