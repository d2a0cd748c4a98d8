"""Each distinct text is encoded once per (model, revision, precision, prompt): across tasks, splits and runs.
(Models with a Router module, which embed queries and documents through different modules, also key by role.)

On disk, beside the store: `embedding_cache/<model>/<revision>/<namespace>/` holds `namespace.json` (what the
namespace is) and chunk pairs `<chunk>.keys.npy` (text hashes) + `<chunk>.vectors.npy` (float32 rows), one pair
per encode call. A chunk is written to a temporary name and renamed, vectors first, so a killed process leaves
no half chunk. `CachingEncoder` is the mteb encoder that reads through this cache and records the prompts it used.

Processes sharing one cache folder (Ray shards, the worker's parallel jobs) share the encoding of a large call:
its missing texts fall into SHARED_BUCKETS buckets by hash, each guarded by a lock file (`flock`, released by
the kernel when its holder dies); a process encodes the buckets no one holds, then waits for the others' and
reads their chunks, so a text two tasks need at once is still encoded once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mteb.models.abs_encoder import AbsEncoder

from evaluator.devices import DEFAULT_BATCH_SIZE
from evaluator.offline_models import OfflineModel
from evaluator.tasks.prompts import DOCUMENT, QUERY, SINGLE_TEXT, Prompt, resolve_prompt


SHARED_ENCODING_MIN_TEXTS = 512
"""A call with fewer missing texts than this encodes them alone: sharing would cut it into tiny chunks."""
SHARED_BUCKETS = 16


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _safe_folder_name(value: str) -> str:
    return "".join(character if character.isalnum() or character in "-_." else "_" for character in value) or "_"


@dataclass
class CacheStats:
    requested: int = 0
    encoded: int = 0
    encode_s: float = 0.0
    """Seconds spent inside the model encoding the `encoded` texts."""

    @property
    def saved(self) -> int:
        return self.requested - self.encoded


class _Namespace:
    """The cached embeddings of one (model, revision, precision, prompt, route)."""

    def __init__(self, folder: Path | None, description: dict):
        self.folder = folder
        self.chunks: list[np.ndarray] = []
        self.rows: dict[str, tuple[int, int]] = {}
        self.chunks_read: set[str] = set()
        self.folder_changed: int | None = None
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        description_path = folder / "namespace.json"
        if not description_path.exists():
            description_path.write_text(json.dumps(description, indent=1, ensure_ascii=False), encoding="utf-8")
        self.read_new_chunks()

    def read_new_chunks(self) -> None:
        """Index the chunks written to the folder (by any process) since the last look (a missed one only costs
        a second encode of its texts)."""
        folder_changed = os.stat(self.folder).st_mtime_ns
        if folder_changed == self.folder_changed:
            return
        self.folder_changed = folder_changed
        for keys_path in sorted(self.folder.glob("*.keys.npy")):
            stem = keys_path.name.removesuffix(".keys.npy")
            if stem not in self.chunks_read:
                self.chunks_read.add(stem)
                vectors_path = keys_path.with_name(f"{stem}.vectors.npy")
                self._index(np.load(keys_path).tolist(), np.load(vectors_path, mmap_mode="r"))

    @contextmanager
    def bucket_lock(self, bucket: int, wait: bool) -> Iterator[bool]:
        """Hold the lock of one bucket of texts; yields False at once when another process holds it and not `wait`."""
        locks = self.folder / "locks"
        locks.mkdir(exist_ok=True)
        descriptor = os.open(locks / f"{bucket:03d}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(descriptor)

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def _index(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        chunk = len(self.chunks)
        self.chunks.append(vectors)
        for row, key in enumerate(keys):
            self.rows.setdefault(key, (chunk, row))

    def add(self, keys: list[str], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.folder is not None:
            stem = f"{time.time_ns():020d}-{os.getpid()}"
            _write_atomically(self.folder / f"{stem}.vectors.npy", vectors)
            _write_atomically(self.folder / f"{stem}.keys.npy", np.asarray(keys, dtype="<U32"))
            self.chunks_read.add(stem)
        self._index(keys, vectors)

    def get(self, keys: Sequence[str]) -> np.ndarray:
        missing = [key for key in keys if key not in self.rows]
        if missing:
            raise KeyError(f"{len(missing)} texts are not in the embedding cache")
        if not keys:
            return np.zeros((0, self.chunks[0].shape[1] if self.chunks else 0), dtype=np.float32)
        locations = np.array([self.rows[key] for key in keys])
        result = np.empty((len(keys), self.chunks[locations[0, 0]].shape[1]), dtype=np.float32)
        for chunk in np.unique(locations[:, 0]):
            positions = np.flatnonzero(locations[:, 0] == chunk)
            result[positions] = self.chunks[chunk][locations[positions, 1]]
        return result


def _write_atomically(path: Path, array: np.ndarray) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as handle:
        np.save(handle, array)
    os.replace(temporary, path)


class EmbeddingCache:
    """Embeddings of one model revision, keyed by prompt, route and text hash; `root=None` keeps them in memory."""

    def __init__(self, root: Path | None, model: str, revision: str, precision: str = "float32"):
        self.root = Path(root) if root is not None else None
        self.model = model
        self.revision = revision
        self.precision = precision
        self.stats = CacheStats()
        self._namespaces: dict[tuple[str, str | None], _Namespace] = {}

    def _namespace(self, prompt: str, route: str | None) -> _Namespace:
        key = (prompt, route)
        if key not in self._namespaces:
            description = {
                "model": self.model,
                "revision": self.revision,
                "precision": self.precision,
                "prompt": prompt,
                "route": route,
            }
            folder = None
            if self.root is not None:
                digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode("utf-8")).hexdigest()[:20]
                folder = self.root / _safe_folder_name(self.model) / _safe_folder_name(self.revision) / digest
            self._namespaces[key] = _Namespace(folder, description)
        return self._namespaces[key]

    def embed(
        self,
        texts: Sequence[str],
        encode: Callable[[list[str]], np.ndarray],
        prompt: str = "",
        route: str | None = None,
    ) -> np.ndarray:
        """Embeddings of `texts` in order; only texts never seen under this prompt and route go to `encode`."""
        namespace = self._namespace(prompt, route)
        keys = [text_key(text) for text in texts]
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts):
            if key not in namespace and key not in missing:
                missing[key] = text
        if namespace.folder is not None and len(missing) >= SHARED_ENCODING_MIN_TEXTS:
            self._encode_shared(namespace, missing, encode)
        elif missing:
            self._encode(namespace, missing, encode)
        self.stats.requested += len(texts)
        return namespace.get(keys)

    def _encode(self, namespace: _Namespace, missing: dict[str, str], encode: Callable[[list[str]], np.ndarray]) -> None:
        started = time.perf_counter()
        vectors = encode(list(missing.values()))
        self.stats.encode_s += time.perf_counter() - started
        self.stats.encoded += len(missing)
        namespace.add(list(missing), vectors)

    def _encode_shared(
        self, namespace: _Namespace, missing: dict[str, str], encode: Callable[[list[str]], np.ndarray]
    ) -> None:
        """Encode the buckets no other process holds, then wait for the held ones and encode what they left."""
        buckets: dict[int, dict[str, str]] = {}
        for key, text in missing.items():
            buckets.setdefault(int(key[:8], 16) % SHARED_BUCKETS, {})[key] = text
        held_elsewhere = list(buckets)
        for wait in (False, True):
            skipped = []
            for bucket in held_elsewhere:
                with namespace.bucket_lock(bucket, wait) as locked:
                    if not locked:
                        skipped.append(bucket)
                        continue
                    namespace.read_new_chunks()
                    left = {key: text for key, text in buckets[bucket].items() if key not in namespace}
                    if left:
                        self._encode(namespace, left, encode)
            held_elsewhere = skipped

    def lookup(self, texts: Sequence[str], prompt: str = "", route: str | None = None) -> np.ndarray:
        """Cached embeddings of `texts`; KeyError when one was never encoded."""
        return self._namespace(prompt, route).get([text_key(text) for text in texts])


def _is_routed(model) -> bool:
    """Models with a Router module embed queries and documents through different modules."""
    if isinstance(model, OfflineModel):
        return False
    from sentence_transformers.base.modules import Router

    return any(isinstance(module, Router) for module in model)


class CachingEncoder(AbsEncoder):
    """An mteb encoder over a SentenceTransformer (or an offline model with the same surface,
    evaluator/offline_models.py): applies the model's own prompts, encodes through the cache."""

    def __init__(self, model, cache: EmbeddingCache, meta):
        self.model = model
        self.cache = cache
        self.mteb_model_meta = meta
        self.prompts_used: dict[str, dict[str, Prompt | None]] = {}
        self.routed = _is_routed(model)

    def prompt_for(self, task_metadata, role: str) -> Prompt | None:
        return resolve_prompt(
            self.model.prompts, task_metadata.name, task_metadata.type, role, self.model.default_prompt_name
        )

    def encode(self, inputs, *, task_metadata, hf_split: str, hf_subset: str, prompt_type=None, **kwargs) -> np.ndarray:
        texts = [text for batch in inputs for text in batch["text"]]
        role = prompt_type.value if prompt_type is not None else SINGLE_TEXT
        prompt = self.prompt_for(task_metadata, role)
        self.prompts_used.setdefault(task_metadata.name, {})[role] = prompt
        prompt_text = prompt.text if prompt else ""
        batch_size = kwargs.get("batch_size") or DEFAULT_BATCH_SIZE["cpu"]

        def encode_missing(missing: list[str]) -> np.ndarray:
            encode = {QUERY: self.model.encode_query, DOCUMENT: self.model.encode_document}.get(role, self.model.encode)
            vectors = encode(missing, prompt=prompt_text, batch_size=batch_size, show_progress_bar=False)
            return np.asarray(vectors, dtype=np.float32)

        return self.cache.embed(texts, encode_missing, prompt=prompt_text, route=role if self.routed else None)
