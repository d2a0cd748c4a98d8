"""The explorer as one object over a store: compare models on a query, build indexes, open UMAP maps.

The UI, the HTTP API, the CLI and the benchmark all go through `Explorer`; it holds loaded models and opened
indexes for the life of the process (at most one index per registry model: the corpus is fixed per Explorer)
and opens the store only briefly (to find or record an index or a projection).

Every search request is checked here, once, for all callers (`check_search`): the query text (not empty, at
most MAX_QUERY_CHARACTERS, no control characters), k (a whole number within K_LIMITS) and the models (1 to
MAX_MODELS known names). A problem raises `BadQuery` (or `UnknownModel`) with a message for the person asking.

In the app, `start_warm_up` loads the default models and their indexes in the background (explorer.builds);
until a model is ready a search answers with the others and says why that one is missing.

Maps: a projection is computed once per (model, revision, corpus, sample, parameters) and kept in the store
for every visitor and process (at most one row per model and sample size: MAP_SAMPLE_LIMITS / MAP_SAMPLE_STEP
sizes). At most one projection is computed at a time in a process (others wait and are told so), and a
visitor may ask for a new one of at most VISITOR_MAP_LIMIT patents; larger maps are served only once
precomputed (`python -m explorer map --model NAME --sample N`). Nothing a map request computed is kept in
memory after it answers.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import numpy as np

from explorer.builds import FAILED, READY, IndexBuilds
from explorer.corpus import SECTION_TITLES, Corpus, load_corpus
from explorer.encoders import Bm25Model, Model, ModelPool
from explorer.errors import BadQuery, ExplorerError, MissingIndex, ModelUnavailable
from explorer.index import Index, StageProgress, ensure_index, find_usable_index
from explorer.maps import (
    LEXICAL_VECTORS,
    MAP_SAMPLE_LIMITS,
    UMAP_PARAMETERS,
    embedding_metrics,
    lexical_vectors,
    map_points,
    parameters_key,
    sample_positions,
    umap_projection,
)
from explorer.registry import ModelSpec, Registry, load_registry
from explorer.retrieve import retrieve
from explorer.search import highlight_terms, jaccard_at_k, rank_biased_overlap, section_share
from results.explorer_cache import ProjectionRecord, find_projection, list_indexes, record_projection
from results.store import Store

MAX_QUERY_CHARACTERS = 20_000
MAX_PATENT_ID_CHARACTERS = 100
MAX_MODELS = 4
K_LIMITS = (1, 100)
DEFAULT_K = 10
VISITOR_MAP_LIMIT = 5_000
"""The largest map computed on request: a 10,000-point UMAP took 58 s and 0.5 GB on 2 cores (issue 12)."""
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Refused in a query: C0 and C1 control characters other than tab, line feed and carriage return."""


class NotReady(ExplorerError):
    """A model still being loaded or indexed in the background; the message says how far along it is."""


@dataclass(frozen=True)
class SearchRequest:
    """A checked search: the query text, the registry names of its models (in the order asked), and k."""

    query: str
    models: tuple[str, ...]
    k: int


def checked_query(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        raise BadQuery(f"type a query: the query is empty (1 to {MAX_QUERY_CHARACTERS:,} characters are accepted)")
    control = CONTROL_CHARACTERS.search(text)
    if control:
        raise BadQuery(f"the query contains a control character (U+{ord(control.group()):04X}); remove it")
    if len(text) > MAX_QUERY_CHARACTERS:
        raise BadQuery(f"the query is {len(text):,} characters long; at most {MAX_QUERY_CHARACTERS:,} are accepted")
    return text


def checked_k(k) -> int:
    low, high = K_LIMITS
    whole = not isinstance(k, bool) and not (isinstance(k, float) and not k.is_integer())
    try:
        number = int(k) if whole else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise BadQuery(f"k must be a whole number from {low} to {high}, got {k!r}")
    if not low <= number <= high:
        raise BadQuery(f"k must be from {low} to {high}, got {number}")
    return number


def checked_models(registry: Registry, models) -> tuple[str, ...]:
    """Registry names of the chosen models, first mention kept; unknown names raise UnknownModel."""
    names = list(dict.fromkeys(name.strip() for name in (models or []) if name and name.strip()))
    if not names:
        raise BadQuery(f"pick at least one model (at most {MAX_MODELS})")
    if len(names) > MAX_MODELS:
        raise BadQuery(f"pick at most {MAX_MODELS} models at once, got {len(names)}")
    return tuple(dict.fromkeys(registry.get(name).name for name in names))


def checked_patent_id(patent_id: str) -> str:
    patent_id = patent_id.strip()
    if len(patent_id) > MAX_PATENT_ID_CHARACTERS or CONTROL_CHARACTERS.search(patent_id):
        raise BadQuery(f"that is not a patent id ({len(patent_id):,} characters); paste one id, e.g. US08814955-20140826")
    return patent_id


def model_description(registry: Registry, spec: ModelSpec) -> str:
    """One line saying what a model is; for a hybrid its recipe, e.g. "BM25 (bm25s) + all-MiniLM-L6-v2,
    reciprocal rank fusion, k=60, over each one's top 100"."""
    if not spec.is_hybrid:
        return spec.notes
    parts = " + ".join(registry.get(part).label if part in registry else part for part in spec.fuses)
    return f"{parts}, reciprocal rank fusion, k={spec.rrf_k}, over each one's top {spec.depth}"


def picker_label(spec: ModelSpec) -> str:
    """The model's name in a model picker; a hybrid's says how it fuses, e.g. "Hybrid BM25 + MiniLM, reciprocal
    rank fusion, k=60"."""
    if spec.is_hybrid:
        return f"{spec.display_name or spec.name}, reciprocal rank fusion, k={spec.rrf_k}"
    return spec.label


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
    description: str = ""


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
    preparing: set[str] = field(default_factory=set)
    """The names in `unavailable` that the background builds are still preparing (asking again later will work)."""
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
        self.builds: IndexBuilds | None = None
        self._corpus = corpus if isinstance(corpus, Corpus) else None
        self._corpus_path = None if isinstance(corpus, Corpus) else corpus
        self._indexes: dict[tuple[str, str], Index] = {}
        self._guard = threading.Lock()
        self._corpus_guard = threading.Lock()
        self._map_guard = threading.Lock()
        self._map_activity: tuple[str, float] | None = None

    @property
    def corpus(self) -> Corpus:
        if self._corpus is None:
            with self._corpus_guard:
                if self._corpus is None:
                    self._corpus = load_corpus(self._corpus_path)
        return self._corpus

    # background preparation --------------------------------------------------------------------------

    def start_warm_up(self, names: list[str] | None = None, compile_maps: bool = False) -> IndexBuilds:
        """Load the default models (or `names`) and their indexes in a background thread, then (`compile_maps`)
        compile UMAP's code; returns the tracker.

        From then on a search never waits for a model that is still being prepared (see `compare`)."""
        with self._guard:
            if self.builds is None:
                self.builds = IndexBuilds(self, names, compile_maps=compile_maps)
        return self.builds.start()

    def not_ready(self, name: str, queue: bool = False) -> str | None:
        """Why this model cannot answer now without waiting for the background builds (None when it can).

        `queue`: a model the builds do not track yet is handed to them (a visitor picked it)."""
        builds = self.builds
        if builds is None:
            return None
        spec = self.registry.get(name)
        if self._is_open(spec.name):
            return None
        status = next((status for status in builds.status() if status.name == spec.name), None)
        if status is None:
            if not queue:
                return None
            status = builds.add(spec.name)
        if status.state == READY:
            return None
        if status.state == FAILED:
            return status.message or f"{spec.label} could not be prepared"
        return f"{status.line()}: not ready yet; the other models answer now, search again in a moment"

    def _is_open(self, name: str) -> bool:
        return self.models.is_loaded(name) and (name, self.corpus.content_hash) in self._indexes

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

    def check_search(self, query: str | None, models, k) -> SearchRequest:
        """The one check of a text search, shared by the UI and the HTTP/Gradio API; raises BadQuery/UnknownModel."""
        return SearchRequest(query=checked_query(query), models=checked_models(self.registry, models), k=checked_k(k))

    def compare(
        self,
        query: str = "",
        models: list[str] | None = None,
        k: int = DEFAULT_K,
        patent_id: str | None = None,
        section: str | None = None,
        build_missing: bool = True,
        progress: StageProgress | None = None,
        background: bool = False,
    ) -> Comparison:
        """Run one query (or one patent, excluded from its own results) through each model's index.

        A model the background builds are still preparing is listed in `unavailable` with its progress; with
        `background`, a model without an index is handed to them too instead of being indexed in this call
        (else it is built here when `build_missing`, or reported missing)."""
        prior_art = bool(patent_id and patent_id.strip())
        if prior_art:
            names, k = checked_models(self.registry, models), checked_k(k)
        else:
            request = self.check_search(query, models, k)
            names, k = request.models, request.k
        section = self._checked_section(section)
        corpus = self.corpus
        if prior_art:
            query_position = corpus.position_of(checked_patent_id(patent_id))
            text = corpus.texts[query_position]
        else:
            query_position, text = None, request.query
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
        )
        build_here = build_missing and (not background or self.builds is None)
        for name in names:
            try:
                reason = self.not_ready(name, queue=background)
                if reason:
                    raise NotReady(reason)
                model, index, _ = self.index(name, build=build_here, progress=progress)
            except (ModelUnavailable, MissingIndex, NotReady) as problem:
                comparison.unavailable[name] = str(problem)
                if isinstance(problem, NotReady):
                    comparison.preparing.add(name)
                continue
            started = time.perf_counter()
            positions, scores, note = retrieve(model, index, text, k, allowed, query_position)
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
                    description=model_description(self.registry, model.spec) if model.spec.is_hybrid else "",
                )
            )
        return comparison

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

    def map_view(
        self, name: str, sample_size: int, progress: StageProgress | None = None, compute_limit: int | None = None
    ) -> MapView:
        """A cached projection when there is one, else UMAP + metrics now, stored for every later visitor.

        A dense model maps its own embeddings; BM25 maps TF-IDF vectors reduced by truncated SVD (LEXICAL_VECTORS).
        A projection of more than `compute_limit` patents is served only when already computed."""
        spec = self.registry.get(name)
        if spec.is_hybrid:
            raise ExplorerError(f"{spec.label} fuses two rankings and has no embeddings of its own; map its parts instead")
        size = self._checked_sample_size(sample_size)
        reason = self.not_ready(spec.name, queue=True)
        if reason:
            raise NotReady(reason)
        model = self.models.get(name)
        lexical = isinstance(model, Bm25Model)
        corpus = self.corpus
        sample, positions = sample_positions(len(corpus), size)
        parameters = parameters_key({"umap": UMAP_PARAMETERS, "vectors": LEXICAL_VECTORS}) if lexical else parameters_key()
        key = (model.spec.name, model.revision, corpus.content_hash, sample, parameters)
        record = find_projection(self.store, *key)
        from_cache = record is not None
        if record is None:
            if compute_limit is not None and len(positions) > compute_limit:
                raise BadQuery(
                    f"maps of more than {compute_limit:,} patents are not computed on request (a 10,000-patent map "
                    f"takes about a minute and 0.5 GB); this one is not precomputed yet: pick {compute_limit:,} or "
                    f"fewer, or ask a maintainer to run python -m explorer map --model {model.spec.name} --sample {size}"
                )
            record, from_cache = self._project(model, key, positions, progress)
        return MapView(
            model=model.spec.name,
            label=_map_label(model.spec, lexical),
            sample=sample,
            points=map_points(corpus.frame, record.positions, record.coordinates),
            metrics=record.metrics,
            from_cache=from_cache,
            computed_at=record.computed_at,
            compute_seconds=record.compute_seconds,
        )

    def map_activity(self) -> str:
        """What the one projection slot is doing now ("" when idle), for the page."""
        activity = self._map_activity
        if activity is None:
            return ""
        what, started = activity
        return f"Computing {what} (started {time.monotonic() - started:.0f} s ago); other new maps wait their turn."

    def _project(self, model: Model, key: tuple, positions: np.ndarray, progress: StageProgress | None):
        """(record, from_cache): compute one projection under the process-wide map lock, unless another request
        stored it while this one waited."""
        lexical = isinstance(model, Bm25Model)
        vectors_name = "TF-IDF → SVD vectors" if lexical else "embeddings"
        what = f"a UMAP map of {len(positions):,} {model.spec.label} {vectors_name}"
        if not self._map_guard.acquire(blocking=False):
            if progress:
                progress(0, 2, f"waiting: {self.map_activity() or 'another map is being computed'}")
            self._map_guard.acquire()
        try:
            record = find_projection(self.store, *key)
            if record is not None:
                return record, True
            self._map_activity = (what, time.monotonic())
            started = time.perf_counter()
            if lexical:
                if progress:
                    progress(0, 3, f"TF-IDF and truncated SVD of {len(positions):,} abstracts")
                vectors = lexical_vectors([self.corpus.texts[position] for position in positions])
            else:
                _, index, _ = self.index(model.spec.name, progress=progress)
                vectors = np.asarray(index.vectors[positions], dtype=np.float32)
            if progress:
                progress(1, 3, f"{what} (a process's first map compiles for ~10 s)")
            coordinates = umap_projection(vectors, UMAP_PARAMETERS)
            if progress:
                progress(2, 3, "k-means and silhouette on the full-dimensional vectors")
            metrics = embedding_metrics(vectors, self.corpus.sections[positions])
            if lexical:
                metrics["vectors"] = LEXICAL_VECTORS["description"]
            del vectors
            record = ProjectionRecord(
                *key,
                positions=positions,
                coordinates=coordinates,
                metrics=metrics,
                computed_at=datetime.now().replace(microsecond=0),
                compute_seconds=round(time.perf_counter() - started, 3),
            )
            record_projection(self.store, record)
            return record, False
        finally:
            self._map_activity = None
            self._map_guard.release()


def _map_label(spec: ModelSpec, lexical: bool) -> str:
    return f"{spec.label} · TF-IDF → SVD" if lexical else spec.label


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)
