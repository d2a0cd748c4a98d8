"""Pure model filters and the share-link state (`?family=…&models=…`, and `?compare=A,B` for a comparison)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import urlencode

import numpy as np
import pandas as pd

from leaderboard.views import VIEWS_BY_KEY
from results.vocabulary import PROVENANCE_PREFERENCE

UNKNOWN = "unknown"
PARAM_BUCKETS = {"< 100M": (0, 100), "100M–500M": (100, 500), "500M–1B": (500, 1000), "≥ 1B": (1000, math.inf)}
DIM_BUCKETS = {"≤ 384": (0, 385), "385–768": (385, 769), "769–1024": (769, 1025), "> 1024": (1025, math.inf)}
TOKEN_BUCKETS = {"≤ 512": (0, 513), "513–2048": (513, 2049), "> 2048": (2049, math.inf)}
PROMPT_CHOICES = ("yes", "no", UNKNOWN)
ZERO_SHOT_CHOICES = ("yes", "no", UNKNOWN)
"""Zero-shot on PatenTEB: 'no' for models trained on its training split, 'unknown' where the training data is."""

PARAM_CHOICES = (*PARAM_BUCKETS, UNKNOWN)
DIM_CHOICES = (*DIM_BUCKETS, UNKNOWN)
TOKEN_CHOICES = (*TOKEN_BUCKETS, UNKNOWN)
DEFAULT_VIEW = "overall"
MAX_SEARCH_CHARACTERS = 500
FILTER_CHOICES: dict[str, tuple[str, ...]] = {
    "params": PARAM_CHOICES,
    "dims": DIM_CHOICES,
    "max_tokens": TOKEN_CHOICES,
    "prompts": PROMPT_CHOICES,
    "zero_shot": ZERO_SHOT_CHOICES,
    "sources": PROVENANCE_PREFERENCE,
}
"""The checkbox filters by the name the API and the CSV link give them; leaving one out keeps every choice."""
FILTER_FIELDS = {"params": "params", "dims": "dims", "max_tokens": "max_tokens", "prompts": "prompts",
                 "zero_shot": "zero_shot", "sources": "provenances"}
"""Which `Filters` field each of FILTER_CHOICES fills."""


@dataclass(frozen=True)
class Filters:
    params: tuple[str, ...] = PARAM_CHOICES
    dims: tuple[str, ...] = DIM_CHOICES
    max_tokens: tuple[str, ...] = TOKEN_CHOICES
    prompts: tuple[str, ...] = PROMPT_CHOICES
    zero_shot: tuple[str, ...] = ZERO_SHOT_CHOICES
    provenances: tuple[str, ...] = PROVENANCE_PREFERENCE
    search: str = ""
    models: tuple[str, ...] = field(default_factory=tuple)


def buckets_of(values: pd.Series, buckets: dict[str, tuple[float, float]]) -> np.ndarray:
    """The bucket name of every value ('unknown' when missing or outside every bucket)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    names = np.full(len(numbers), UNKNOWN, dtype=object)
    for name, (low, high) in buckets.items():
        names[(numbers >= low) & (numbers < high)] = name
    return names


def _flag_labels(values: pd.Series) -> np.ndarray:
    """'yes' / 'no' per model, 'unknown' where the flag is missing (None, NaN or pandas' NA)."""
    return values.map({True: "yes", False: "no"}).fillna(UNKNOWN).to_numpy(dtype=object)


def matching_models(models: pd.DataFrame, filters: Filters) -> list[str]:
    """Model ids passing every filter; an empty choice list for a facet lets nothing through."""
    if models.empty:
        return []
    keep = np.ones(len(models), dtype=bool)
    unknown = pd.Series(None, index=models.index, dtype=object)
    facets = (
        (filters.params, PARAM_CHOICES, lambda: buckets_of(models["params_m"], PARAM_BUCKETS)),
        (filters.dims, DIM_CHOICES, lambda: buckets_of(models["embedding_dim"], DIM_BUCKETS)),
        (filters.max_tokens, TOKEN_CHOICES, lambda: buckets_of(models["max_tokens"], TOKEN_BUCKETS)),
        (filters.prompts, PROMPT_CHOICES, lambda: _flag_labels(models["uses_prompts"])),
        (filters.zero_shot, ZERO_SHOT_CHOICES, lambda: _flag_labels(models.get("zero_shot", unknown))),
    )
    for chosen, every_choice, labels in facets:
        if set(chosen) != set(every_choice):
            keep &= np.isin(labels(), list(chosen))
    terms = [term.strip().lower() for term in filters.search.split(",") if term.strip()]
    if terms:
        names = (models["model"].fillna("") + " " + models["display_name"].fillna("")).str.lower()
        keep &= names.map(lambda name: any(term in name for term in terms)).to_numpy(dtype=bool)
    if filters.models:
        keep &= models["model"].isin(filters.models).to_numpy()
    return models.loc[keep, "model"].tolist()


def share_query(view_key: str, models: list[str] | tuple[str, ...]) -> str:
    params = {"family": view_key}
    if models:
        params["models"] = ",".join(models)
    return "?" + urlencode(params, safe="/,")


def table_query(view_key: str, filters: Filters, format: str = "csv") -> str:
    """The query that asks the leaderboard API for exactly this table: the view, the format, and each filter that
    keeps less than everything (an empty choice is sent empty: it lets nothing through)."""
    params = [("view", view_key), ("format", format)]
    if filters.search:
        params.append(("search", filters.search))
    if filters.models:
        params.append(("models", ",".join(filters.models)))
    for name, choices in FILTER_CHOICES.items():
        chosen = getattr(filters, FILTER_FIELDS[name])
        if set(chosen) != set(choices):
            params.append((name, ",".join(chosen)))
    return "?" + urlencode(params, safe="/,")


def parse_share_query(params: dict[str, str], known_models: set[str]) -> tuple[str, list[str]]:
    """(view key, models) from URL parameters; unknown values fall back to defaults instead of failing."""
    view_key = params.get("family", DEFAULT_VIEW)
    if view_key not in VIEWS_BY_KEY:
        view_key = DEFAULT_VIEW
    requested = [m.strip() for m in params.get("models", "").split(",") if m.strip()]
    return view_key, [m for m in requested if m in known_models]


def compare_query(model_a: str, model_b: str) -> str:
    """The share link's query of a comparison: `?compare=A,B`."""
    return "?" + urlencode({"compare": f"{model_a},{model_b}"}, safe="/,")


def parse_compare_query(params: dict[str, str], known_models: set[str]) -> tuple[str, str] | None:
    """(model A, model B) from `?compare=A,B`; None when absent or when it does not name two known models."""
    requested = [m.strip() for m in params.get("compare", "").split(",") if m.strip()]
    if len(requested) != 2 or not all(model in known_models for model in requested):
        return None
    return requested[0], requested[1]
