"""The public API's answers, shared by the HTTP routes and the Gradio endpoints. No HTTP and no gradio here.

Every request is checked first (a bad value raises `BadRequest` with a message for the caller), then answered
from the leaderboard's pure core or the explorer's service. Leaderboard answers are kept per (store
generation, view, filters, format) in bounded LRU caches, comparisons of two models per (store generation,
models, tasks) in the BoardCache shared with the Leaderboard tab, so a repeat costs a lookup.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from explorer.errors import ExplorerError
from explorer.service import MAX_MODELS, Explorer
from leaderboard import styling
from leaderboard.cache import BoardCache
from leaderboard.compare import comparison_json
from leaderboard.filters import FILTER_CHOICES, FILTER_FIELDS, MAX_SEARCH_CHARACTERS, Filters, matching_models
from leaderboard.tables import build_table
from leaderboard.views import VIEWS, VIEWS_BY_KEY
from patenteb.lru import LruCache
from patenteb.statistics import INTERVAL_METHOD, RANK_METHOD, StatisticsInputError
from results.store import Snapshot, Store, StoreBusy, StoreCorrupt

API_VERSION = "v1"
FORMATS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
DEFAULT_VIEW = "overall"
DEFAULT_FORMAT = "json"
MAX_MODEL_NAME_CHARACTERS = 300
MAX_CACHED_TABLES = 32
MAX_CACHED_BODIES = 64
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class BadRequest(ValueError):
    """A request the caller can fix; the message says what is wrong and what is accepted."""


class Unavailable(RuntimeError):
    """Not now, maybe in a moment: the store is locked by a writer or damaged, or the models asked for are still
    being prepared at start."""


@dataclass(frozen=True)
class LeaderboardQuery:
    """A checked leaderboard request: the store snapshot it reads and the normalised view and filters."""

    snapshot: Snapshot
    view: str
    filters: Filters

    @property
    def key(self) -> tuple:
        return self.snapshot.generation, self.view, self.filters


@dataclass(frozen=True)
class SearchQuery:
    query: str
    models: tuple[str, ...]
    k: int
    generation: int


def entity_tag(*parts) -> str:
    """A strong HTTP entity tag for an answer made from `parts` (the store generation comes first)."""
    digest = hashlib.sha256(json.dumps([API_VERSION, *parts], default=str).encode()).hexdigest()[:20]
    return f'"{parts[0]}-{digest}"'


def table_json(frame: pd.DataFrame, **about) -> dict:
    """A frame as a JSON-friendly table: what it is, its column names, and one object per row (NaN → null)."""
    return {**about, "columns": [str(column) for column in frame.columns], "rows": json.loads(frame.to_json(orient="records"))}


def encoded(frame: pd.DataFrame, format: str, **about) -> bytes:
    if format == "json":
        return json.dumps(table_json(frame, **about), ensure_ascii=False).encode()
    if format == "csv":
        return frame.to_csv(index=False).encode()
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def checked_format(format: str | None) -> str:
    format = (format or DEFAULT_FORMAT).strip().lower()
    if format not in FORMATS:
        raise BadRequest(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    return format


def checked_text(name: str, value: str | None, limit: int, required: bool = False) -> str:
    text = (value or "").strip()
    if CONTROL_CHARACTERS.search(text):
        character = CONTROL_CHARACTERS.search(text).group()
        raise BadRequest(f"{name} contains a control character (U+{ord(character):04X}); remove it")
    if required and not text:
        raise BadRequest(f"{name} is empty; give 1 to {limit:,} characters")
    if len(text) > limit:
        raise BadRequest(f"{name} is {len(text):,} characters long; at most {limit:,} are accepted")
    return text


def checked_choices(name: str, chosen: Iterable[str] | None, choices: Sequence[str]) -> tuple[str, ...]:
    """The chosen values in the choices' own order (so the same set is the same cache key); None keeps all."""
    if chosen is None:
        return tuple(choices)
    chosen = [value.strip() for value in chosen if value is not None]
    unknown = [value for value in chosen if value not in choices]
    if unknown:
        raise BadRequest(f"unknown {name} value {unknown[0]!r}; use any of {', '.join(repr(c) for c in choices)}")
    return tuple(choice for choice in choices if choice in chosen)


class PublicApi:
    """The leaderboard, its models and tasks, and the explorer's search, for scripts and notebooks."""

    def __init__(self, store: Store, explorer: Explorer | None = None, boards: BoardCache | None = None):
        self.store = store
        self.explorer = explorer or Explorer(store)
        self.boards = boards or BoardCache(store)
        self._tables: LruCache[tuple[pd.DataFrame, dict]] = LruCache(MAX_CACHED_TABLES)
        self._bodies: LruCache[bytes] = LruCache(MAX_CACHED_BODIES)

    def snapshot(self) -> Snapshot:
        try:
            return self.store.snapshot()
        except (StoreBusy, StoreCorrupt) as error:
            raise Unavailable(f"the results store cannot be read right now: {error}") from error

    # leaderboard ---------------------------------------------------------------------------------

    def leaderboard_query(
        self,
        view: str | None = DEFAULT_VIEW,
        search: str | None = "",
        models: Iterable[str] | None = None,
        **facets: Iterable[str] | None,
    ) -> LeaderboardQuery:
        """Check a leaderboard request; `facets` are FILTER_CHOICES names (params, dims, max_tokens, prompts,
        zero_shot, sources)."""
        view = (view or DEFAULT_VIEW).strip()
        if view not in VIEWS_BY_KEY:
            raise BadRequest(f"unknown view {view!r}; use one of {', '.join(VIEWS_BY_KEY)}")
        unknown_facets = set(facets) - set(FILTER_CHOICES)
        if unknown_facets:
            raise BadRequest(f"unknown filter {sorted(unknown_facets)[0]!r}; filters: {', '.join(FILTER_CHOICES)}")
        snapshot = self.snapshot()
        chosen = tuple(dict.fromkeys(name.strip() for name in (models or ()) if name and name.strip()))
        known = set(snapshot.models["model"])
        unknown_models = [name for name in chosen if name not in known]
        if unknown_models:
            raise BadRequest(f"unknown model {unknown_models[0]!r}; GET /api/{API_VERSION}/models lists them")
        choices = {name: checked_choices(name, facets.get(name), every) for name, every in FILTER_CHOICES.items()}
        filters = Filters(
            **{FILTER_FIELDS[name]: chosen_choices for name, chosen_choices in choices.items()},
            search=checked_text("search", search, MAX_SEARCH_CHARACTERS),
            models=chosen,
        )
        return LeaderboardQuery(snapshot, view, filters)

    def leaderboard_tag(self, query: LeaderboardQuery, format: str) -> str:
        return entity_tag(*query.key, format)

    def leaderboard_table(self, query: LeaderboardQuery) -> tuple[pd.DataFrame, dict]:
        """(the table as its CSV download has it, what it is) for a checked query."""
        return self._tables.get(query.key, lambda: self._make_table(query))

    def leaderboard_rows(self, query: LeaderboardQuery) -> dict:
        frame, about = self.leaderboard_table(query)
        return table_json(frame, **about)

    def leaderboard_body(self, query: LeaderboardQuery, format: str) -> bytes:
        def make() -> bytes:
            frame, about = self.leaderboard_table(query)
            return encoded(frame, format, **about)

        return self._bodies.get(("leaderboard", *query.key, format), make)

    def _make_table(self, query: LeaderboardQuery) -> tuple[pd.DataFrame, dict]:
        snapshot, filters = query.snapshot, query.filters
        board = self.boards.get(snapshot, filters.provenances)
        table = build_table(board, query.view, model_subset=matching_models(snapshot.models, filters))
        about = {"view": query.view, "title": VIEWS_BY_KEY[query.view].title, "generation": snapshot.generation,
                 "interval_method": INTERVAL_METHOD, "rank_method": RANK_METHOD}
        return styling.csv_frame(table), about

    @staticmethod
    def views() -> list[dict]:
        return [{"key": view.key, "title": view.title} for view in VIEWS]

    # comparison of two models --------------------------------------------------------------------

    def compare(self, model_a: str | None, model_b: str | None, tasks: Iterable[str] | None = None) -> dict:
        """Model A against B on every task both have per-example data for (or on `tasks`): the shape of
        `python -m results compare --json` (metric scale 0–1) with the verdict, the method and the store
        generation. A pair that cannot be compared (unknown model, a model with itself, no per-example data,
        no shared task) is a BadRequest whose message says why."""
        model_a = checked_text("model_a", model_a, MAX_MODEL_NAME_CHARACTERS, required=True)
        model_b = checked_text("model_b", model_b, MAX_MODEL_NAME_CHARACTERS, required=True)
        chosen = tuple(dict.fromkeys(task.strip() for task in (tasks or ()) if task and task.strip()))
        snapshot = self.snapshot()
        known_tasks = set(snapshot.tasks["task"])
        unknown = [task for task in chosen if task not in known_tasks]
        if unknown:
            raise BadRequest(f"unknown task {unknown[0]!r}; GET /api/{API_VERSION}/tasks lists them")
        try:
            comparison = self.boards.comparison(snapshot, model_a, model_b, chosen or None)
        except StatisticsInputError as error:
            raise BadRequest(str(error)) from error
        except (StoreBusy, StoreCorrupt) as error:
            raise Unavailable(f"the results store cannot be read right now: {error}") from error
        return {**comparison_json(comparison), "generation": snapshot.generation}

    # models and tasks ----------------------------------------------------------------------------

    def catalogue_body(self, snapshot: Snapshot, name: str, format: str) -> bytes:
        """The store's `models` or `tasks` table in `format`."""
        frame = {"models": snapshot.models, "tasks": snapshot.tasks}[name]
        return self._bodies.get(
            (name, snapshot.generation, format), lambda: encoded(frame, format, generation=snapshot.generation)
        )

    # search --------------------------------------------------------------------------------------

    def search_models(self) -> list[dict]:
        registry = self.explorer.registry
        return [
            {
                "name": spec.name,
                "label": spec.label,
                "kind": spec.kind,
                "default": spec.default,
                "unavailable": self.explorer.models.failure(spec.name),
            }
            for spec in registry
        ]

    def search_query(self, query: str | None, models: Iterable[str] | None, k) -> SearchQuery:
        """Checked by the explorer's own rules (explorer.service.check_search); no models means the defaults."""
        names = [name for name in (models or ()) if name and name.strip()]
        names = names or [spec.name for spec in self.explorer.registry.defaults()][:MAX_MODELS]
        try:
            request = self.explorer.check_search(query, names, k)
        except ExplorerError as error:
            raise BadRequest(str(error)) from error
        return SearchQuery(query=request.query, models=request.models, k=request.k, generation=self.snapshot().generation)

    @staticmethod
    def search_tag(query: SearchQuery) -> str:
        return entity_tag(query.generation, "search", query.query, query.models, query.k)

    def search(self, query: SearchQuery) -> dict:
        """Hits per model; models that cannot answer are listed under `errors`. None can answer → Unavailable when
        some are still being prepared, else BadRequest."""
        try:
            comparison = self.explorer.compare(query=query.query, models=list(query.models), k=query.k)
        except ExplorerError as error:
            raise BadRequest(str(error)) from error
        if not comparison.results:
            reasons = "; ".join(comparison.unavailable.values()) or "no model answered"
            if comparison.preparing:
                raise Unavailable(f"none of the models can search yet: {reasons}")
            raise BadRequest(f"none of the models can search here: {reasons}")
        corpus = self.explorer.corpus
        return {
            "query": comparison.query,
            "k": comparison.k,
            "generation": query.generation,
            "results": {
                result.name: [
                    {
                        "rank": hit.rank,
                        "id": hit.id,
                        "score": round(hit.score, 6),
                        "section": corpus.sections[hit.position] or None,
                        "text": corpus.texts[hit.position],
                    }
                    for hit in result.hits
                ]
                for result in comparison.results
            },
            "errors": dict(comparison.unavailable),
            "notes": list(comparison.notes),
        }
