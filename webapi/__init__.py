"""The public API: named Gradio endpoints and plain HTTP under /api/v1, both over `PublicApi`."""

from webapi.core import BadRequest, PublicApi
from webapi.gradio_endpoints import PUBLIC_ENDPOINTS, add_gradio_endpoints, hide_unlisted_events
from webapi.routes import LEADERBOARD_PATH, http_routes

__all__ = ["LEADERBOARD_PATH", "PUBLIC_ENDPOINTS", "BadRequest", "PublicApi", "add_gradio_endpoints", "hide_unlisted_events", "http_routes"]
