"""Corpus indexes: built once per (model, revision, corpus hash), recorded in the store, read from files.

Dense vectors are a float32 .npy file beside the store, memory-mapped on load (bench/explorer.py measured
this against DuckDB FLOAT[] arrays: a full load is ~1 ms from .npy vs ~60 ms from DuckDB, one vector by id
µs vs ~12 ms, and the store stays unlocked). BM25 indexes are bm25s's own saved folders.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np

from explorer.corpus import Corpus
from explorer.encoders import BM25_PARAMETERS, Bm25Model, DenseModel, Model
from results.explorer_cache import IndexRecord, explorer_folder, find_index, record_index
from results.store import Store

StageProgress = Callable[[int, int, str], None]

_build_locks: dict[tuple, threading.Lock] = {}
_build_locks_guard = threading.Lock()


@dataclass(frozen=True)
class DenseIndex:
    record: IndexRecord
    vectors: np.ndarray


@dataclass(frozen=True)
class Bm25Index:
    record: IndexRecord
    retriever: object


Index = DenseIndex | Bm25Index


@dataclass(frozen=True)
class IndexResult:
    index: Index
    built: bool


def index_settings(model: Model) -> str:
    """What else, besides the weights, shapes the vectors: a change makes the stored index stale."""
    if isinstance(model, Bm25Model):
        settings = dict(BM25_PARAMETERS)
    else:
        settings = {
            "document_prompt": model.spec.document_prompt,
            "max_seq_length": model.max_tokens,
            "normalised": True,
            "dtype": "float32",
        }
    return json.dumps(settings, sort_keys=True)


def find_usable_index(store: Store, corpus: Corpus, model: Model) -> IndexRecord | None:
    record = find_index(store, model.spec.name, model.revision, corpus.content_hash)
    if record is None or record.settings != index_settings(model):
        return None
    if not (explorer_folder(store) / record.vector_path).exists():
        return None
    return record


def ensure_index(store: Store, corpus: Corpus, model: Model, progress: StageProgress | None = None) -> IndexResult:
    """Load the index for this model and corpus, building it first when none is usable. Safe across threads."""
    key = (str(store.path), model.spec.name, model.revision, corpus.content_hash)
    with _build_locks_guard:
        lock = _build_locks.setdefault(key, threading.Lock())
    with lock:
        record = find_usable_index(store, corpus, model)
        if record is not None:
            return IndexResult(load_index(store, record), built=False)
        record = build_index(store, corpus, model, progress)
        return IndexResult(load_index(store, record), built=True)


def build_index(store: Store, corpus: Corpus, model: Model, progress: StageProgress | None = None) -> IndexRecord:
    """Encode the corpus (no store connection held meanwhile), write the file atomically, then record it."""
    started = time.perf_counter()
    relative = index_file_name(model, corpus)
    target = explorer_folder(store) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    label = f"indexing {corpus.name} with {model.spec.label}"
    report = (lambda done, total: progress(done, total, label)) if progress else None
    if isinstance(model, Bm25Model):
        dim = _write_bm25(model, corpus.texts, target, report)
    else:
        dim = _write_dense(model, corpus.texts, target, report)
    record = IndexRecord(
        model=model.spec.name,
        revision=model.revision,
        corpus_hash=corpus.content_hash,
        kind=model.spec.kind,
        vector_path=relative,
        n_documents=len(corpus),
        dim=dim,
        settings=index_settings(model),
        built_at=datetime.now().replace(microsecond=0),
        build_seconds=round(time.perf_counter() - started, 3),
    )
    record_index(store, record)
    return record


def index_file_name(model: Model, corpus: Corpus) -> str:
    """Relative to the explorer folder beside the store; one folder per model, one file per revision+corpus."""
    revision = _slug(model.revision.replace("sha256:", ""))[:40]
    name = f"{revision}-{corpus.content_hash}"
    return f"indexes/{_slug(model.spec.name)}/{name}" + ("" if isinstance(model, Bm25Model) else ".npy")


def _write_dense(model: DenseModel, texts: list[str], target: Path, report) -> int:
    vectors = model.encode_documents(texts, progress=report)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".partial")
    with os.fdopen(handle, "wb") as file:
        np.save(file, vectors)
    os.chmod(partial, 0o644)
    os.replace(partial, target)
    return int(vectors.shape[1])


def _write_bm25(model: Bm25Model, texts: list[str], target: Path, report) -> int:
    import bm25s

    if report:
        report(0, len(texts))
    retriever = bm25s.BM25(method=BM25_PARAMETERS["method"], k1=BM25_PARAMETERS["k1"], b=BM25_PARAMETERS["b"])
    retriever.index(model.tokenize_corpus(texts), show_progress=False)
    partial = tempfile.mkdtemp(dir=target.parent, prefix=target.name, suffix=".partial")
    retriever.save(partial, show_progress=False)
    os.chmod(partial, 0o755)
    shutil.rmtree(target, ignore_errors=True)
    try:
        os.replace(partial, target)
    except OSError:
        if not target.is_dir():
            raise
        shutil.rmtree(partial, ignore_errors=True)
    if report:
        report(len(texts), len(texts))
    return len(retriever.vocab_dict)


def load_index(store: Store, record: IndexRecord) -> Index:
    path = explorer_folder(store) / record.vector_path
    if record.kind == "bm25":
        import bm25s

        return Bm25Index(record, bm25s.BM25.load(str(path), show_progress=False))
    return DenseIndex(record, np.load(path, mmap_mode="r"))


def _slug(text: str) -> str:
    return "".join(character if character.isalnum() or character in "._-" else "__" for character in text)
