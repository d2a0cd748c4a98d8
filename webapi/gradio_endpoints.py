"""The app's named Gradio endpoints, and the pass that hides every other event from the API page.

`gradio_client.Client(url).view_api()` lists exactly PUBLIC_ENDPOINTS. `leaderboard`, `search` and `compare` are
API-only endpoints defined here over `PublicApi`; `submit` and `queue` are the Submit tab's own events,
named where they are wired (evaluator/ui.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import gradio as gr

from explorer.service import DEFAULT_K, K_LIMITS, MAX_MODELS, MAX_QUERY_CHARACTERS
from leaderboard.views import VIEWS
from webapi.core import DEFAULT_VIEW, FILTER_CHOICES, BadRequest, PublicApi, Unavailable

PUBLIC_ENDPOINTS = ("leaderboard", "search", "submit", "queue", "compare")


def described(fn: Callable, summary: str, arguments: dict[str, str]) -> Callable:
    """Give `fn` the docstring Gradio reads for the API page (summary, then one line per argument)."""
    fn.__doc__ = summary + "\n\nArgs:\n" + "\n".join(f"    {name}: {text}" for name, text in arguments.items())
    return fn


def _listed(choices) -> str:
    return ", ".join(f'"{choice}"' for choice in choices)


def add_gradio_endpoints(api: PublicApi) -> None:
    """Add `leaderboard`, `search` and `compare` to the Blocks being built (call inside its `with` block)."""

    def leaderboard(
        view: str = DEFAULT_VIEW,
        search: str = "",
        models: list[str] | None = None,
        params: list[str] | None = None,
        dims: list[str] | None = None,
        max_tokens: list[str] | None = None,
        prompts: list[str] | None = None,
        zero_shot: list[str] | None = None,
        sources: list[str] | None = None,
    ) -> dict:
        try:
            query = api.leaderboard_query(
                view, search, models, params=params, dims=dims, max_tokens=max_tokens, prompts=prompts,
                zero_shot=zero_shot, sources=sources,
            )
            return api.leaderboard_rows(query)
        except (BadRequest, Unavailable) as error:
            raise gr.Error(str(error)) from error

    def search(query: str, models: list[str] | None = None, k: int = DEFAULT_K) -> dict:
        try:
            return api.search(api.search_query(query, models, k))
        except (BadRequest, Unavailable) as error:
            raise gr.Error(str(error)) from error

    def compare(model_a: str, model_b: str, tasks: list[str] | None = None) -> dict:
        try:
            return api.compare(model_a, model_b, tasks)
        except (BadRequest, Unavailable) as error:
            raise gr.Error(str(error)) from error

    keep = "which to keep (all when left out): "
    described(
        leaderboard,
        "One leaderboard table as rows: {view, title, generation, columns, rows}; scores ×100, each with its source.",
        {
            "view": "the table: " + ", ".join(view.key for view in VIEWS),
            "search": "keep models whose id or name contains this text (commas for several)",
            "models": "keep only these model ids (GET /api/v1/models lists them)",
            "params": "parameter-count buckets " + keep + _listed(FILTER_CHOICES["params"]),
            "dims": "embedding-dimension buckets " + keep + _listed(FILTER_CHOICES["dims"]),
            "max_tokens": "context-length buckets " + keep + _listed(FILTER_CHOICES["max_tokens"]),
            "prompts": "whether models use prompts, " + keep + _listed(FILTER_CHOICES["prompts"]),
            "zero_shot": "whether models are zero-shot on PatenTEB (no: trained on its training split), " + keep
                         + _listed(FILTER_CHOICES["zero_shot"]),
            "sources": "score sources to use, " + keep + _listed(FILTER_CHOICES["sources"]),
        },
    )
    described(
        search,
        f"Search the explorer's patent corpus with 1 to {MAX_MODELS} models: "
        "{query, k, generation, results (hits per model), errors (per model), notes}.",
        {
            "query": f"patent-style text, 1 to {MAX_QUERY_CHARACTERS:,} characters",
            "models": "model names (GET /api/v1/search/models lists them); the default models when left out",
            "k": f"hits per model, {K_LIMITS[0]} to {K_LIMITS[1]}",
        },
    )
    described(
        compare,
        "Is model A really better than B? Per task both have per-example data for: "
        "{model_a, model_b, verdict, method, generation, tasks: [{task, family, n_examples, a, b, delta, ci_low, "
        "ci_high, p_value, p_holm, result}]}; scores on the metric's scale (0-1), delta = a - b with its 95% paired "
        "bootstrap interval, a paired permutation-test p-value and the Holm-adjusted p over the tasks compared.",
        {
            "model_a": "a model id evaluated here (GET /api/v1/models lists the ids)",
            "model_b": "another such model id",
            "tasks": "task names to compare on (GET /api/v1/tasks lists them); every task both have when left out",
        },
    )
    gr.api(leaderboard, api_name="leaderboard")
    gr.api(search, api_name="search")
    gr.api(compare, api_name="compare")


def hide_unlisted_events(demo: gr.Blocks, public: tuple[str, ...] = PUBLIC_ENDPOINTS) -> None:
    """Make every event not in `public` private (off the API page, refused by gradio_client); the page still runs them.

    Raises when a public endpoint is missing or was renamed by Gradio (a name clash gives it a suffix).
    """
    names = [fn.api_name for fn in demo.fns.values()]
    for name in public:
        if name not in names:
            raise RuntimeError(f"the app has no event named {name!r}; public endpoints: {', '.join(public)}")
        clashes = [other for other in names if re.fullmatch(rf"{re.escape(name)}_\d+", str(other))]
        if clashes:
            raise RuntimeError(f"two events want the name {name!r} (Gradio renamed one {clashes[0]!r})")
    for fn in demo.fns.values():
        if fn.api_name not in public:
            fn.api_visibility = "private"
