"""Each distinct text is encoded once per (model, revision, precision, prompt): across tasks, splits and runs.
(Models with a Router module, which embed queries and documents through different modules, also key by role.)

On disk, beside the store: `embedding_cache/<model>/<revision>/<namespace>/` holds `namespace.json` (what the
namespace is) and chunk pairs `<chunk>.keys.npy` (text hashes) + `<chunk>.vectors.npy` (float32 rows), one pair
per encode call. A chunk is written to a temporary name and renamed, vectors first, so a killed process leaves
no half chunk. `CachingEncoder` is the mteb encoder that reads through this cache and records the prompts it used.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mteb.models.abs_encoder import AbsEncoder

from evaluator.devices import DEFAULT_BATCH_SIZE
from evaluator.offline_models import OfflineModel
from evaluator.tasks.prompts import DOCUMENT, QUERY, SINGLE_TEXT, Prompt, resolve_prompt


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
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        description_path = folder / "namespace.json"
        if not description_path.exists():
            description_path.write_text(json.dumps(description, indent=1, ensure_ascii=False), encoding="utf-8")
        for keys_path in sorted(folder.glob("*.keys.npy")):
            vectors_path = keys_path.with_name(keys_path.name.replace(".keys.npy", ".vectors.npy"))
            self._index(np.load(keys_path).tolist(), np.load(vectors_path, mmap_mode="r"))

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
        if missing:
            started = time.perf_counter()
            vectors = encode(list(missing.values()))
            self.stats.encode_s += time.perf_counter() - started
            namespace.add(list(missing), vectors)
        self.stats.requested += len(texts)
        self.stats.encoded += len(missing)
        return namespace.get(keys)

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
