"""Every filter in every combination, against the pure table functions: no combination raises, and the models
that pass are exactly those a plain per-model reading of the filters lets through.

Models carry the store's own dtypes (nullable Int32, boolean and string columns), so missing metadata is pandas'
NA, the value that once crashed the "Uses prompts" filter.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaderboard import styling
from leaderboard import views as v
from leaderboard.filters import (
    DIM_BUCKETS,
    DIM_CHOICES,
    PARAM_BUCKETS,
    PARAM_CHOICES,
    PROMPT_CHOICES,
    TOKEN_BUCKETS,
    TOKEN_CHOICES,
    UNKNOWN,
    ZERO_SHOT_CHOICES,
    Filters,
    matching_models,
)
from leaderboard.page import build_page
from leaderboard.tables import choose_cells, prepare_board
from patenteb.plots import failure_drawn
from results.seed import task_catalogue
from results.store import Snapshot
from results.vocabulary import PROVENANCE_PREFERENCE

TASKS = task_catalogue()
MAIN_METRIC = dict(zip(TASKS["task"], TASKS["main_metric"]))
MODEL_IDS = [f"org/model-{i}" for i in range(6)]
EDGE_PARAMS = [0.0, 22.7, 99.99, 100.0, 499.0, 500.0, 999.9, 1000.0, 7000.0, -5.0]
EDGE_DIMS = [0, 384, 385, 768, 769, 1024, 1025, 4096]
EDGE_TOKENS = [128, 512, 513, 2048, 2049, 32768]

SETTINGS = settings(derandomize=True, max_examples=200, deadline=None)


def _maybe(values: list) -> st.SearchStrategy:
    return st.one_of(st.none(), st.sampled_from(values))


model_metadata = st.fixed_dictionaries(
    {
        "display_name": st.one_of(st.none(), st.text(alphabet="abcMODEL-_ ,", max_size=8)),
        "params_m": _maybe(EDGE_PARAMS),
        "embedding_dim": _maybe(EDGE_DIMS),
        "max_tokens": _maybe(EDGE_TOKENS),
        "uses_prompts": st.one_of(st.none(), st.booleans()),
        "zero_shot": st.one_of(st.none(), st.booleans()),
    }
)


def _models_frame(metadata: list[dict]) -> pd.DataFrame:
    """A models frame with the dtypes the store returns."""
    ids = MODEL_IDS[: len(metadata)]
    return pd.DataFrame(
        {
            "model": pd.array(ids, dtype="str"),
            "display_name": pd.array([m["display_name"] for m in metadata], dtype="str"),
            "hub_id": pd.array(ids, dtype="str"),
            "params_m": pd.array([np.nan if m["params_m"] is None else m["params_m"] for m in metadata], dtype=float),
            "embedding_dim": pd.array([m["embedding_dim"] for m in metadata], dtype="Int32"),
            "max_tokens": pd.array([m["max_tokens"] for m in metadata], dtype="Int32"),
            "uses_prompts": pd.array([m["uses_prompts"] for m in metadata], dtype="boolean"),
            "zero_shot": pd.array([m["zero_shot"] for m in metadata], dtype="boolean"),
        }
    )


def _score_rows(model: str, values: dict[str, float], provenance: str = "evaluated") -> list[dict]:
    """Long score rows, built the way the table tests build them."""
    return [
        {"model": model, "revision": "r1", "task": task, "subset": "default", "metric": MAIN_METRIC[task],
         "value": value, "provenance": provenance, "source": "test", "prompt": None, "mteb_version": "2.26.0",
         "evaluated_at": pd.Timestamp("2026-01-01"), "notes": None}
        for task, value in values.items()
    ]


def _world(metadata: list[dict], rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _models_frame(metadata), pd.DataFrame(rows, columns=list(_score_rows("x", {"retrieval_IN": 0.0})[0]))


def _worlds() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Stores a filter meets: metadata partly or wholly missing, scores complete, partial, NaN or quoted twice."""
    every_task = TASKS["task"].tolist()
    rng = np.random.default_rng(7)
    metadata = [
        {"display_name": "Small", "params_m": 22.7, "embedding_dim": 384, "max_tokens": 512, "uses_prompts": False, "zero_shot": True},
        {"display_name": None, "params_m": 7000.0, "embedding_dim": 4096, "max_tokens": 32768, "uses_prompts": True, "zero_shot": False},
        {"display_name": "No facts", "params_m": None, "embedding_dim": None, "max_tokens": None, "uses_prompts": None, "zero_shot": None},
        {"display_name": "Edge", "params_m": 100.0, "embedding_dim": 385, "max_tokens": 513, "uses_prompts": None, "zero_shot": True},
        {"display_name": "Half", "params_m": 500.0, "embedding_dim": None, "max_tokens": 2049, "uses_prompts": True, "zero_shot": None},
        {"display_name": "b,c", "params_m": -5.0, "embedding_dim": 0, "max_tokens": 128, "uses_prompts": False, "zero_shot": False},
    ]
    rich = []
    for index, model in enumerate(MODEL_IDS):
        tasks = every_task if index < 2 else list(rng.choice(every_task, size=8 + index, replace=False))
        values = {task: (math.nan if rng.random() < 0.1 else float(rng.uniform(0.1, 0.9))) for task in tasks}
        rich += _score_rows(model, values, PROVENANCE_PREFERENCE[index % len(PROVENANCE_PREFERENCE)])
    rich += _score_rows(MODEL_IDS[0], {"retrieval_IN": 0.42, "BigPatentClustering.v2": 0.3}, "paper")
    return {
        "rich": _world(metadata, rich),
        "nothing known": _world([dict.fromkeys(metadata[0]) for _ in range(3)], []),
        "one NaN score": _world(metadata[2:3], _score_rows(MODEL_IDS[0], {"retrieval_IN": math.nan})),
    }


WORLDS = _worlds()


@lru_cache(maxsize=None)
def _board(world: str, provenances: tuple[str, ...]):
    models, scores = WORLDS[world]
    return prepare_board(choose_cells(scores, provenances), TASKS, models)


def _choice(choices) -> st.SearchStrategy:
    """Any subset of a checkbox group, in any order (the browser sends them in click order)."""
    return st.lists(st.sampled_from(list(choices)), unique=True).map(tuple)


filters_strategy = st.builds(
    Filters,
    params=_choice(PARAM_CHOICES),
    dims=_choice(DIM_CHOICES),
    max_tokens=_choice(TOKEN_CHOICES),
    prompts=_choice(PROMPT_CHOICES),
    zero_shot=_choice(ZERO_SHOT_CHOICES),
    provenances=_choice(PROVENANCE_PREFERENCE),
    search=st.one_of(st.just(""), st.text(alphabet="abcdlmoe-/0123 ,MODEL", max_size=12)),
    models=st.lists(st.sampled_from(MODEL_IDS + ["org/not-in-the-store"]), unique=True, max_size=4).map(tuple),
)


def _bucket(value, buckets: dict[str, tuple[float, float]]) -> str:
    if value is None or pd.isna(value):
        return UNKNOWN
    return next((name for name, (low, high) in buckets.items() if low <= value < high), UNKNOWN)


def _passes(model: dict, filters: Filters) -> bool:
    """One model against the filters, read the way a visitor reads the checkboxes."""
    prompts = {True: "yes", False: "no"}.get(model["uses_prompts"], UNKNOWN)
    zero_shot = {True: "yes", False: "no"}.get(model["zero_shot"], UNKNOWN)
    name = f"{model['model']} {model['display_name'] or ''}".lower()
    terms = [term.strip().lower() for term in filters.search.split(",") if term.strip()]
    return (
        _bucket(model["params_m"], PARAM_BUCKETS) in filters.params
        and _bucket(model["embedding_dim"], DIM_BUCKETS) in filters.dims
        and _bucket(model["max_tokens"], TOKEN_BUCKETS) in filters.max_tokens
        and prompts in filters.prompts
        and zero_shot in filters.zero_shot
        and (not terms or any(term in name for term in terms))
        and (not filters.models or model["model"] in filters.models)
    )


@pytest.mark.slow
@SETTINGS
@given(metadata=st.lists(model_metadata, max_size=len(MODEL_IDS)), filters=filters_strategy)
def test_the_models_that_pass_are_those_every_checked_box_allows(metadata, filters):
    models = _models_frame(metadata)
    expected = [model["model"] for model in (dict(model=i, **m) for i, m in zip(MODEL_IDS, metadata))
                if _passes(model, filters)]
    assert matching_models(models, filters) == expected


@pytest.mark.slow
@SETTINGS
@given(world=st.sampled_from(list(WORLDS)), view_key=st.sampled_from([view.key for view in v.VIEWS]),
       filters=filters_strategy)
def test_no_filter_combination_breaks_a_table_or_its_csv(world, view_key, filters):
    models, scores = WORLDS[world]
    snapshot = Snapshot(generation=1, tasks=TASKS, models=models, scores=scores)

    page = build_page(snapshot, _board(world, filters.provenances), view_key, filters, with_figures=False)

    assert set(page.table.frame[v.MODEL]) <= set(matching_models(models, filters))
    assert len(page.value["data"]) == len(page.table.frame) == len(styling.csv_frame(page.table))
    assert page.value["headers"][:len(styling.GRID_DATATYPES)] == styling.GRID_LEADING_COLUMNS


@pytest.mark.slow
def test_unchecking_any_box_of_any_filter_keeps_tables_and_figures(seeded_store):
    """The defect as a visitor met it: unticking one box (e.g. "Uses prompts: unknown") crashed every table."""
    snapshot = seeded_store.snapshot()
    assert snapshot.models["uses_prompts"].isna().any() and snapshot.models["embedding_dim"].isna().any()
    assert set(snapshot.models["zero_shot"].map({True: "yes", False: "no"}).fillna(UNKNOWN)) == set(ZERO_SHOT_CHOICES)
    board = prepare_board(choose_cells(snapshot.scores), snapshot.tasks, snapshot.models)
    facets = {"params": PARAM_CHOICES, "dims": DIM_CHOICES, "max_tokens": TOKEN_CHOICES, "prompts": PROMPT_CHOICES,
              "zero_shot": ZERO_SHOT_CHOICES}
    unticked_one = [
        Filters(**{facet: tuple(choice for choice in choices if choice != unticked)})
        for facet, choices in facets.items()
        for unticked in choices
    ]
    for filters, view in zip(unticked_one, itertools.cycle(v.VIEWS)):
        page = build_page(snapshot, board, view.key, filters)
        assert set(page.table.frame[v.MODEL]) <= set(matching_models(snapshot.models, filters))
        assert {name: failure_drawn(figure) for name, figure in page.figures.items()} == dict.fromkeys(page.figures)
