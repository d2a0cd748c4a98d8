"""Corpus indexes: built once per (model, revision, corpus hash), recorded in the store, read from files.

Dense vectors are a .npy file beside the store, memory-mapped on load (bench/explorer.py measured this
against DuckDB FLOAT[] arrays: a full load is ~1 ms from .npy vs ~60 ms from DuckDB, one vector by id µs vs
~12 ms, and the store stays unlocked). BM25 indexes are bm25s's own saved folders. Where no index is in the
store yet, a matching prebuilt one that ships with the code (explorer.prebuilt) is copied in instead of
embedding the corpus. Past `explorer.ann.ann_threshold()` documents a dense index also carries an
approximate nearest-neighbour index (explorer.ann). A hybrid's index is its two parts' indexes.
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

from explorer.ann import AnnIndex, ann_threshold, load_or_build_ann
from explorer.corpus import Corpus
from explorer.encoders import BM25_PARAMETERS, Bm25Model, DenseEncoder, HybridModel, Model, normalised
from explorer.prebuilt import PREBUILT_FOLDER, mismatch, read_prebuilt, write_prebuilt
from patenteb.lru import LruCache
from results.explorer_cache import IndexRecord, explorer_folder, find_index, record_index
from results.store import Store

StageProgress = Callable[[int, int, str], None]

_build_locks: dict[tuple, threading.RLock] = {}
_build_locks_guard = threading.Lock()
MAX_OPEN_INDEXES = 8
"""Indexes kept open per process (each (model, corpus) is one; a rebuilt file is a new entry and the old one ages out).
At the shipped 10,000 abstracts a dense index is 15 MB as float32 and BM25 a few MB, so under ~120 MB in all."""
_open_indexes: LruCache["Index"] = LruCache(MAX_OPEN_INDEXES)


@dataclass(frozen=True)
class DenseIndex:
    record: IndexRecord
    vectors: np.ndarray
    ann: AnnIndex | None = None


@dataclass(frozen=True)
class Bm25Index:
    record: IndexRecord
    retriever: object


@dataclass(frozen=True)
class HybridIndex:
    lexical: Bm25Index
    dense: DenseIndex

    @property
    def record(self) -> IndexRecord:
        return self.dense.record


Index = DenseIndex | Bm25Index | HybridIndex


@dataclass(frozen=True)
class IndexResult:
    index: Index
    built: bool
    source: str = "store"  # "store", "prebuilt" (shipped vectors copied in by this call) or "built"


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


def _lock(store: Store, corpus: Corpus, model: Model) -> threading.RLock:
    key = (str(store.path), model.spec.name, model.revision, corpus.content_hash)
    with _build_locks_guard:
        return _build_locks.setdefault(key, threading.RLock())


def find_usable_index(
    store: Store, corpus: Corpus, model: Model, prebuilt_root: Path = PREBUILT_FOLDER
) -> IndexRecord | None:
    """The store's index for this model and corpus, else a matching prebuilt one copied into the store.

    None, at once, while another thread is building this index: a search never waits for a build.
    """
    if isinstance(model, HybridModel):
        lexical = find_usable_index(store, corpus, model.lexical, prebuilt_root)
        dense = find_usable_index(store, corpus, model.dense, prebuilt_root)
        return dense if lexical and dense else None
    lock = _lock(store, corpus, model)
    if not lock.acquire(blocking=False):
        return None
    try:
        record = find_index(store, model.spec.name, model.revision, corpus.content_hash)
        if record is not None and record.settings == index_settings(model):
            if (explorer_folder(store) / record.vector_path).exists():
                return record
        if isinstance(model, DenseEncoder) and prebuilt_problem(corpus, model, prebuilt_root) is None:
            return install_prebuilt(store, corpus, model, prebuilt_root)
        return None
    finally:
        lock.release()


def prebuilt_problem(corpus: Corpus, model: Model, prebuilt_root: Path = PREBUILT_FOLDER) -> str | None:
    """None when a prebuilt index can serve this model and corpus, else why not (checked against the model as loaded)."""
    if not isinstance(model, DenseEncoder):
        return f"{model.spec.label} has no vectors to ship"
    prebuilt = read_prebuilt(model.spec.name, prebuilt_root)
    return mismatch(prebuilt, model.spec.name, model.revision, corpus.content_hash, index_settings(model))


def install_prebuilt(store: Store, corpus: Corpus, model: DenseEncoder, prebuilt_root: Path = PREBUILT_FOLDER) -> IndexRecord:
    """Copy the shipped vectors beside the store and record them, as if they had been built here."""
    prebuilt = read_prebuilt(model.spec.name, prebuilt_root)
    relative = index_file_name(model, corpus)
    target = explorer_folder(store) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".partial")
    os.close(handle)
    shutil.copyfile(prebuilt.vectors_path, partial)
    os.chmod(partial, 0o644)
    os.replace(partial, target)
    record = IndexRecord(
        model=model.spec.name,
        revision=model.revision,
        corpus_hash=corpus.content_hash,
        kind=model.spec.kind,
        vector_path=relative,
        n_documents=prebuilt.n_documents,
        dim=prebuilt.dim,
        settings=index_settings(model),
        built_at=datetime.fromisoformat(prebuilt.built_at),
        build_seconds=prebuilt.build_seconds,
    )
    record_index(store, record)
    return record


def ensure_index(
    store: Store,
    corpus: Corpus,
    model: Model,
    progress: StageProgress | None = None,
    rebuild: bool = False,
    prebuilt_root: Path = PREBUILT_FOLDER,
) -> IndexResult:
    """Load the index for this model and corpus, building it first when none is usable (or `rebuild`). Thread-safe."""
    if isinstance(model, HybridModel):
        lexical = ensure_index(store, corpus, model.lexical, progress, rebuild, prebuilt_root)
        dense = ensure_index(store, corpus, model.dense, progress, rebuild, prebuilt_root)
        sources = {lexical.source, dense.source}
        source = "built" if "built" in sources else "prebuilt" if "prebuilt" in sources else "store"
        return IndexResult(HybridIndex(lexical.index, dense.index), built=source == "built", source=source)
    with _lock(store, corpus, model):
        if not rebuild:
            in_store = find_index(store, model.spec.name, model.revision, corpus.content_hash)
            record = find_usable_index(store, corpus, model, prebuilt_root)
            if record is not None:
                source = "store" if in_store == record else "prebuilt"
                return IndexResult(load_index(store, record, progress), built=False, source=source)
        record = build_index(store, corpus, model, progress)
        return IndexResult(load_index(store, record, progress), built=True, source="built")


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


def export_prebuilt(store: Store, record: IndexRecord, root: Path = PREBUILT_FOLDER):
    """Write a dense index of the store as the prebuilt index future clones start from."""
    vectors = np.load(explorer_folder(store) / record.vector_path)
    return write_prebuilt(
        record.model,
        record.revision,
        record.corpus_hash,
        record.settings,
        vectors,
        built_at=record.built_at.isoformat(),
        build_seconds=record.build_seconds,
        root=root,
    )


def index_file_name(model: Model, corpus: Corpus) -> str:
    """Relative to the explorer folder beside the store; one folder per model, one file per revision+corpus."""
    revision = _slug(model.revision.replace("sha256:", ""))[:40]
    name = f"{revision}-{corpus.content_hash}"
    return f"indexes/{_slug(model.spec.name)}/{name}" + ("" if isinstance(model, Bm25Model) else ".npy")


def _write_dense(model: DenseEncoder, texts: list[str], target: Path, report) -> int:
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


def load_index(store: Store, record: IndexRecord, progress: StageProgress | None = None) -> Index:
    """Open an index file once per process (again only when the file changed); float16 vectors become float32."""
    path = explorer_folder(store) / record.vector_path
    with_ann = record.kind != "bm25" and record.n_documents >= ann_threshold()
    key = (str(path), path.stat().st_mtime_ns, record, with_ann)
    return _open_indexes.get(key, lambda: _open_index(path, record, with_ann, progress))


def _open_index(path: Path, record: IndexRecord, with_ann: bool, progress: StageProgress | None) -> Index:
    if record.kind == "bm25":
        import bm25s

        return Bm25Index(record, bm25s.BM25.load(str(path), show_progress=False))
    vectors = np.load(path, mmap_mode="r")
    if vectors.dtype != np.float32:
        vectors = normalised(vectors.astype(np.float32))
    ann = None
    if with_ann:
        report = (lambda done, total: progress(done, total, f"ANN index of {record.model}")) if progress else None
        ann = load_or_build_ann(path.with_suffix(".ann"), vectors, report)
    return DenseIndex(record, vectors, ann)


def _slug(text: str) -> str:
    return "".join(character if character.isalnum() or character in "._-" else "__" for character in text)
