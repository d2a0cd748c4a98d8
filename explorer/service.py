"""The explorer as one object over a store: compare models on a query, build indexes, open UMAP maps.

The UI, the CLI and the benchmark all go through `Explorer`; it holds loaded models and opened indexes for
the life of the process and opens the store only briefly (to find or record an index or a projection).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import numpy as np

from explorer.corpus import SECTION_TITLES, Corpus, load_corpus
from explorer.encoders import Bm25Model, Model, ModelPool
from explorer.errors import BadQuery, ExplorerError, MissingIndex, ModelUnavailable
from explorer.index import Bm25Index, DenseIndex, Index, StageProgress, ensure_index, find_usable_index
from explorer.maps import (
    MAP_SAMPLE_LIMITS,
    UMAP_PARAMETERS,
    embedding_metrics,
    map_points,
    parameters_key,
    sample_positions,
    umap_projection,
)
from explorer.registry import Registry, load_registry
from explorer.search import bm25_top_k, dense_top_k, highlight_terms, jaccard_at_k, rank_biased_overlap, section_share
from results.explorer_cache import ProjectionRecord, find_projection, list_indexes, record_projection
from results.store import Store

MAX_QUERY_CHARACTERS = 20_000
MAX_MODELS = 4
K_LIMITS = (1, 100)
DEFAULT_K = 10


@dataclass(frozen=True)
class Hit:
    rank: int
    position: int
    id: str
    score: float


@dataclass
class ModelResult:
    name: str
    label: str
    hits: list[Hit]
    seconds: float
    section_share: float | None = None


@dataclass
class Comparison:
    query: str
    patent_id: str | None
    query_section: str | None
    section_filter: str | None
    k: int
    terms: list[str]
    results: list[ModelResult] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def overlaps(self) -> list[dict]:
        """Jaccard@k and rank-biased overlap for every pair of models that returned results."""
        rows = []
        for first, second in itertools.combinations(self.results, 2):
            first_ids = [hit.id for hit in first.hits]
            second_ids = [hit.id for hit in second.hits]
            rows.append(
                {
                    "model_a": first.label,
                    "model_b": second.label,
                    "jaccard_at_k": round(jaccard_at_k(first_ids, second_ids), 3),
                    "rbo": round(rank_biased_overlap(first_ids, second_ids), 3),
                }
            )
        return rows

    def to_json(self) -> dict[str, list[dict]]:
        return {
            result.name: [{"rank": hit.rank, "id": hit.id, "score": round(hit.score, 6)} for hit in result.hits]
            for result in self.results
        }


@dataclass(frozen=True)
class MapView:
    model: str
    label: str
    sample: str
    points: object
    metrics: dict
    from_cache: bool
    computed_at: datetime
    compute_seconds: float | None


class Explorer:
    def __init__(self, store: Store, corpus: Corpus | str | None = None, registry: Registry | str | None = None):
        self.store = store
        self.registry = registry if isinstance(registry, Registry) else load_registry(registry)
        self.models = ModelPool(self.registry)
        self._corpus = corpus if isinstance(corpus, Corpus) else None
        self._corpus_path = None if isinstance(corpus, Corpus) else corpus
        self._indexes: dict[tuple[str, str], Index] = {}
        self._guard = threading.Lock()

    @property
    def corpus(self) -> Corpus:
        if self._corpus is None:
            self._corpus = load_corpus(self._corpus_path)
        return self._corpus

    # indexes -----------------------------------------------------------------------------------------

    def index(self, name: str, build: bool = True, progress: StageProgress | None = None) -> tuple[Model, Index, bool]:
        """The loaded model and its index for this corpus; (…, built) says whether this call built it."""
        model = self.models.get(name)
        key = (model.spec.name, self.corpus.content_hash)
        cached = self._indexes.get(key)
        if cached is not None:
            return model, cached, False
        if not build and find_usable_index(self.store, self.corpus, model) is None:
            raise MissingIndex(model.spec.name)
        result = ensure_index(self.store, self.corpus, model, progress)
        with self._guard:
            self._indexes[key] = result.index
        return model, result.index, result.built

    def indexed_models(self) -> dict[str, str]:
        """Model name → revision of an index already built for this corpus (any revision)."""
        return {record.model: record.revision for record in list_indexes(self.store, self.corpus.content_hash)}

    # query compare -----------------------------------------------------------------------------------

    def compare(
        self,
        query: str = "",
        models: list[str] | None = None,
        k: int = DEFAULT_K,
        patent_id: str | None = None,
        section: str | None = None,
        build_missing: bool = True,
        progress: StageProgress | None = None,
    ) -> Comparison:
        """Run one query (or one patent, excluded from its own results) through each model's index."""
        names = self._checked_models(models)
        k = self._checked_k(k)
        section = self._checked_section(section)
        corpus = self.corpus
        text, query_position, notes = self._query_text(query, patent_id)
        allowed = corpus.section_mask(section).copy() if section else None
        if query_position is not None:
            allowed = np.ones(len(corpus), dtype=bool) if allowed is None else allowed
            allowed[query_position] = False
        query_section = (corpus.sections[query_position] or None) if query_position is not None else None
        comparison = Comparison(
            query=text,
            patent_id=corpus.ids[query_position] if query_position is not None else None,
            query_section=query_section,
            section_filter=section,
            k=k,
            terms=highlight_terms(text, _stopwords()),
            notes=notes,
        )
        for name in names:
            try:
                model, index, _ = self.index(name, build=build_missing, progress=progress)
            except (ModelUnavailable, MissingIndex) as problem:
                comparison.unavailable[name] = str(problem)
                continue
            started = time.perf_counter()
            positions, scores, note = self._search(model, index, text, k, allowed, query_position)
            seconds = time.perf_counter() - started
            if note:
                comparison.notes.append(note)
            hits = [
                Hit(rank=rank, position=int(position), id=corpus.ids[position], score=float(score))
                for rank, (position, score) in enumerate(zip(positions, scores), start=1)
            ]
            comparison.results.append(
                ModelResult(
                    name=model.spec.name,
                    label=model.spec.label,
                    hits=hits,
                    seconds=seconds,
                    section_share=section_share([corpus.sections[hit.position] for hit in hits], query_section),
                )
            )
        return comparison

    def _query_text(self, query: str, patent_id: str | None) -> tuple[str, int | None, list[str]]:
        """(query text, the query patent's position in prior-art mode, notes about the text)."""
        if patent_id and patent_id.strip():
            position = self.corpus.position_of(patent_id)
            return self.corpus.texts[position], position, []
        text = (query or "").strip()
        if not text:
            raise BadQuery("type a query, or give a patent id to use as the query")
        if len(text) > MAX_QUERY_CHARACTERS:
            return text[:MAX_QUERY_CHARACTERS], None, [f"query cut to its first {MAX_QUERY_CHARACTERS:,} characters"]
        return text, None, []

    def _search(self, model: Model, index: Index, text: str, k: int, allowed, query_position: int | None):
        if isinstance(model, Bm25Model):
            assert isinstance(index, Bm25Index)
            terms, note = model.query_terms(text)
            positions, scores = bm25_top_k(index.retriever, terms, k, allowed)
            if not positions.size and terms:
                note = note or f"{model.spec.label}: no document shares a word with the query"
            return positions, scores, note
        assert isinstance(index, DenseIndex)
        note = None
        if query_position is not None and model.spec.query_prompt == model.spec.document_prompt:
            query_vector = np.asarray(index.vectors[query_position])
        else:
            fitted, note = model.fit_query(text)
            query_vector = model.encode_query(fitted)
        positions, scores = dense_top_k(index.vectors, query_vector, k, allowed)
        return positions, scores, note

    def _checked_models(self, models: list[str] | None) -> list[str]:
        names = list(dict.fromkeys(name.strip() for name in (models or []) if name and name.strip()))
        if not names:
            raise BadQuery("pick at least one model")
        if len(names) > MAX_MODELS:
            raise BadQuery(f"pick at most {MAX_MODELS} models (got {len(names)})")
        return [self.registry.get(name).name for name in names]

    @staticmethod
    def _checked_k(k) -> int:
        try:
            k = int(k)
        except (TypeError, ValueError):
            raise BadQuery(f"k must be a whole number, got {k!r}") from None
        if not K_LIMITS[0] <= k <= K_LIMITS[1]:
            raise BadQuery(f"k must be between {K_LIMITS[0]} and {K_LIMITS[1]}, got {k}")
        return k

    @staticmethod
    def _checked_sample_size(sample_size) -> int:
        try:
            sample_size = int(sample_size)
        except (TypeError, ValueError):
            raise BadQuery(f"the map sample must be a whole number, got {sample_size!r}") from None
        low, high = MAP_SAMPLE_LIMITS
        if not low <= sample_size <= high:
            raise BadQuery(f"a map shows between {low:,} and {high:,} patents, got {sample_size:,}")
        return sample_size

    @staticmethod
    def _checked_section(section: str | None) -> str | None:
        if not section or section.strip().lower() in {"all", "any"}:
            return None
        letter = section.strip()[0].upper()
        if letter not in SECTION_TITLES:
            raise BadQuery(f"unknown CPC section {section!r}; use one of {', '.join(SECTION_TITLES)}")
        return letter

    # maps --------------------------------------------------------------------------------------------

    def map_view(self, name: str, sample_size: int, progress: StageProgress | None = None) -> MapView:
        """A cached projection when there is one, else UMAP + metrics now, stored for the next visitor."""
        model = self.models.get(name)
        if isinstance(model, Bm25Model):
            raise ExplorerError(f"{model.spec.label} is lexical: it has no embeddings to map; pick a dense model")
        corpus = self.corpus
        sample, positions = sample_positions(len(corpus), self._checked_sample_size(sample_size))
        parameters = parameters_key()
        record = find_projection(self.store, model.spec.name, model.revision, corpus.content_hash, sample, parameters)
        from_cache = record is not None
        if record is None:
            _, index, _ = self.index(name, progress=progress)
            if progress:
                stage = f"UMAP of {len(positions):,} {model.spec.label} embeddings (a process's first map compiles ~10 s)"
                progress(0, 2, stage)
            started = time.perf_counter()
            vectors = np.asarray(index.vectors[positions])
            coordinates = umap_projection(vectors, UMAP_PARAMETERS)
            if progress:
                progress(1, 2, "k-means and silhouette on the full-dimensional embeddings")
            metrics = embedding_metrics(vectors, corpus.sections[positions])
            record = ProjectionRecord(
                model=model.spec.name,
                revision=model.revision,
                corpus_hash=corpus.content_hash,
                sample=sample,
                parameters=parameters,
                positions=positions,
                coordinates=coordinates,
                metrics=metrics,
                computed_at=datetime.now().replace(microsecond=0),
                compute_seconds=round(time.perf_counter() - started, 3),
            )
            record_projection(self.store, record)
        return MapView(
            model=model.spec.name,
            label=model.spec.label,
            sample=sample,
            points=map_points(corpus.frame, record.positions, record.coordinates),
            metrics=record.metrics,
            from_cache=from_cache,
            computed_at=record.computed_at,
            compute_seconds=record.compute_seconds,
        )


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)
