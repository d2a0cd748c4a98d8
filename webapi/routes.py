"""Plain HTTP under /api/v1 on the app's own server: the leaderboard, models, tasks, search and comparisons.

Every answer carries an ETag made from the store generation and the (normalised) request; a request whose
If-None-Match holds it gets 304 before any work is done. A bad parameter gets 400 with {"error": message}.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from explorer.service import DEFAULT_K
from webapi.core import (
    API_VERSION,
    FILTER_CHOICES,
    FORMATS,
    BadRequest,
    PublicApi,
    Unavailable,
    checked_format,
    entity_tag,
)

log = logging.getLogger(__name__)

PREFIX = f"/api/{API_VERSION}"
LEADERBOARD_PATH = f"{PREFIX}/leaderboard"
"""Answers `leaderboard.filters.table_query`: the Leaderboard tab's CSV link points here."""
SEARCH_THREADS = 4
"""Searches running at once; more wait their turn without holding a server thread."""
LEADERBOARD_PARAMETERS = {"view", "format", "search", "models", *FILTER_CHOICES}
CATALOGUE_PARAMETERS = {"format"}
SEARCH_PARAMETERS = {"q", "models", "k"}
COMPARE_PARAMETERS = {"a", "b", "tasks"}
REVALIDATE = {"Cache-Control": "no-cache"}


class JsonErrorRoute(APIRoute):
    """A route whose failures answer in JSON: 400 for a bad request, 503 for a busy store, 500 for a bug."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except BadRequest as error:
                return JSONResponse({"error": str(error)}, status_code=400)
            except Unavailable as error:
                return JSONResponse({"error": str(error)}, status_code=503, headers={"Retry-After": "5"})
            except Exception as error:
                log.exception("%s %s failed", request.method, request.url.path)
                return JSONResponse({"error": f"internal error: {type(error).__name__}"}, status_code=500)

        return answer


class Parameters:
    """A request's query parameters, checked against the names a route takes."""

    def __init__(self, request: Request, accepted: set[str]):
        self.items = request.query_params.multi_items()
        unknown = sorted({name for name, _ in self.items} - accepted)
        if unknown:
            raise BadRequest(f"unknown parameter {unknown[0]!r}; this route takes {', '.join(sorted(accepted))}")

    def one(self, name: str, default: str | None = None) -> str | None:
        values = [value for key, value in self.items if key == name]
        if len(values) > 1:
            raise BadRequest(f"give {name} once (got {len(values)} values)")
        return values[0] if values else default

    def many(self, name: str) -> list[str] | None:
        """Repeated (`models=a&models=b`) or comma-separated (`models=a,b`) values; None when absent."""
        values = [value for key, value in self.items if key == name]
        if not values:
            return None
        return [part.strip() for value in values for part in value.split(",") if part.strip()]


def matches(request: Request, tag: str) -> bool:
    """Whether If-None-Match names this tag (or is `*`); weak and strong forms compare equal, as RFC 9110 asks."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    candidates = {candidate.strip().removeprefix("W/") for candidate in header.split(",")}
    return "*" in candidates or tag in candidates


def not_modified(tag: str) -> Response:
    return Response(status_code=304, headers={"ETag": tag, **REVALIDATE})


def body_response(body: bytes, format: str, tag: str, filename: str) -> Response:
    headers = {"ETag": tag, **REVALIDATE}
    if format != "json":
        headers["Content-Disposition"] = f'attachment; filename="{filename}.{format}"'
    return Response(body, media_type=FORMATS[format], headers=headers)


def http_routes(api: PublicApi) -> list[BaseRoute]:
    """The /api/v1 routes over `api`, ready for the app's FastAPI constructor (`app_kwargs={"routes": ...}`)."""
    router = APIRouter(prefix=PREFIX, route_class=JsonErrorRoute)
    search_limiter = anyio.CapacityLimiter(SEARCH_THREADS)

    @router.get(LEADERBOARD_PATH.removeprefix(PREFIX))
    def leaderboard(request: Request) -> Response:
        parameters = Parameters(request, LEADERBOARD_PARAMETERS)
        format = checked_format(parameters.one("format"))
        query = api.leaderboard_query(
            view=parameters.one("view"),
            search=parameters.one("search"),
            models=parameters.many("models"),
            **{name: parameters.many(name) for name in FILTER_CHOICES},
        )
        tag = api.leaderboard_tag(query, format)
        if matches(request, tag):
            return not_modified(tag)
        return body_response(api.leaderboard_body(query, format), format, tag, f"patenteb-{query.view}")

    def catalogue(name: str) -> Callable[[Request], Response]:
        def route(request: Request) -> Response:
            format = checked_format(Parameters(request, CATALOGUE_PARAMETERS).one("format"))
            snapshot = api.snapshot()
            tag = entity_tag(snapshot.generation, name, format)
            if matches(request, tag):
                return not_modified(tag)
            return body_response(api.catalogue_body(snapshot, name, format), format, tag, f"patenteb-{name}")

        route.__name__ = name
        return route

    router.add_api_route("/models", catalogue("models"), methods=["GET"])
    router.add_api_route("/tasks", catalogue("tasks"), methods=["GET"])

    @router.get("/views")
    def views() -> Response:
        return JSONResponse({"views": api.views()})

    @router.get("/search/models")
    def search_models() -> Response:
        return JSONResponse({"models": api.search_models()})

    @router.get("/search")
    async def search(request: Request) -> Response:
        parameters = Parameters(request, SEARCH_PARAMETERS)
        query = await anyio.to_thread.run_sync(
            lambda: api.search_query(parameters.one("q"), parameters.many("models"), parameters.one("k", str(DEFAULT_K)))
        )
        tag = api.search_tag(query)
        if matches(request, tag):
            return not_modified(tag)
        answer = await anyio.to_thread.run_sync(api.search, query, limiter=search_limiter)
        headers = REVALIDATE if answer["errors"] else {"ETag": tag, **REVALIDATE}
        return JSONResponse(answer, headers=headers)

    @router.get("/compare")
    def compare(request: Request) -> Response:
        """?a=MODEL&b=MODEL[&tasks=T1,T2]: the paired comparison (see PublicApi.compare)."""
        parameters = Parameters(request, COMPARE_PARAMETERS)
        a, b, tasks = parameters.one("a"), parameters.one("b"), parameters.many("tasks")
        snapshot = api.snapshot()
        tag = entity_tag(snapshot.generation, "compare", a, b, tasks)
        if matches(request, tag):
            return not_modified(tag)
        return JSONResponse(api.compare(a, b, tasks), headers={"ETag": tag, **REVALIDATE})

    return list(router.routes)
