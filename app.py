"""PatenTEB Leaderboard & Explorer: assembles the tabs over one results store and launches Gradio.

    python app.py [--store FILE] [--port 7860] [--host 127.0.0.1] [--no-worker]

An evaluation worker (`python -m evaluator worker`) runs beside the app and stops with it.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

THREADS_VARIABLE = "OMP_NUM_THREADS"
THREADS_SET_BY_USER = THREADS_VARIABLE in os.environ
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from patenteb import settings  # noqa: E402

if not settings.record_on_the_hub() and not settings.on_space():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault(THREADS_VARIABLE, "1")
os.environ.setdefault(settings.ARROW_MEMORY_POOL.name, settings.ARROW_MEMORY_POOL.default)
settings.set_gradio_queue_defaults()
if "GRADIO_TEMP_DIR" not in os.environ:
    os.environ["GRADIO_TEMP_DIR"] = private_temp_dir = tempfile.mkdtemp(prefix="patenteb-app-")
    atexit.register(shutil.rmtree, private_temp_dir, ignore_errors=True)

import gradio as gr  # noqa: E402

from evaluator import ui as evaluator_ui  # noqa: E402
from evaluator.supervisor import WorkerSupervisor  # noqa: E402
from evaluator.tasks import evaluation_note  # noqa: E402
from explorer import ui as explorer_ui  # noqa: E402
from leaderboard import ui as leaderboard_ui  # noqa: E402
from patenteb.sessions import SESSION_CAPACITY, ClosedSessionPruner, retire_idle_handler_threads  # noqa: E402
from results.jobs import release_worker_jobs  # noqa: E402
from results.record import RecordError, pull  # noqa: E402
from results.seed import is_seeded, seed  # noqa: E402
from results.store import Store, default_store_path  # noqa: E402
from webapi import LEADERBOARD_PATH, PublicApi, add_gradio_endpoints, hide_unlisted_events, http_routes  # noqa: E402

TITLE = "PatenTEB Leaderboard & Explorer"
REPO_ROOT = Path(__file__).resolve().parent
MAX_UPLOAD = "64kb"
"""The app has no upload field; Gradio's upload route stays open, so it takes only small bodies."""
TEMP_FILE_MAX_AGE_S = 600
"""Files Gradio serves from the app's private temp folder are deleted after this long."""
CSS = """
#lb-table table { font-variant-numeric: tabular-nums; }
#lb-download a { display: inline-block; padding: 4px 12px; border: 1px solid var(--border-color-primary);
  border-radius: var(--button-small-radius); background: var(--button-secondary-background-fill);
  color: var(--button-secondary-text-color); text-decoration: none; font-size: var(--button-small-text-size); }
footer { display: none !important; }
"""


def build_app(
    store: Store, api: PublicApi | None = None, worker_status: Callable[[], str] | None = None
) -> gr.Blocks:
    """The tabs, plus the named API endpoints over `api` (which shares the tabs' explorer and leaderboard boards);
    `worker_status` is the supervisor's line for the Submit tab."""
    api = api or PublicApi(store)
    with gr.Blocks(title=TITLE, fill_width=True, delete_cache=(TEMP_FILE_MAX_AGE_S, TEMP_FILE_MAX_AGE_S)) as demo:
        with gr.Tabs(elem_id="main-tabs"):
            with gr.Tab("Leaderboard", id="leaderboard", elem_id="tab-leaderboard"):
                leaderboard_ui.build(store, demo, LEADERBOARD_PATH, boards=api.boards)
            with gr.Tab("Explorer", id="explorer", elem_id="tab-explorer"):
                explorer_ui.build(store, api.explorer)
            with gr.Tab("Submit", id="submit", elem_id="tab-submit"):
                evaluator_ui.build(store, demo, worker_status=worker_status)
            with gr.Tab("Tasks", id="tasks", elem_id="tab-tasks"):
                leaderboard_ui.build_task_info(store, evaluation_note)
        add_gradio_endpoints(api)
    hide_unlisted_events(demo)
    return demo


def start_worker(store: Store) -> WorkerSupervisor:
    """The app encodes one query at a time (one thread is fastest on a busy machine); the worker gets all cores.

    A worker that dies hands its running job back at once (the replacement takes it) instead of after its lease."""
    environment = dict(os.environ)
    if not THREADS_SET_BY_USER:
        environment.pop(THREADS_VARIABLE, None)

    def hand_back_jobs_of(pid: int, reason: str) -> None:
        release_worker_jobs(store, f"{socket.gethostname()}:{pid}", reason=reason)

    supervisor = WorkerSupervisor(
        [sys.executable, "-m", "evaluator", "worker", "--store", str(store.path)], cwd=str(REPO_ROOT), env=environment,
        on_exit=hand_back_jobs_of, niceness=settings.worker_niceness(),
    ).start()
    atexit.register(supervisor.stop)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    return supervisor


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--store", default=None, help="DuckDB results store (default: $PATENTEB_STORE or data/patenteb.duckdb)")
    parser.add_argument("--host", default=settings.host())
    parser.add_argument("--port", type=int, default=settings.port())
    parser.add_argument("--no-worker", action="store_true", default=not settings.start_worker(),
                        help="do not start an evaluation worker beside the app (also PATENTEB_NO_WORKER=1)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    store = Store(args.store or default_store_path())
    if store.record:
        try:
            pull(store.record, store)
        except RecordError:
            logging.exception("could not rebuild the store from the record %s; serving the local store", store.record)
    if not is_seeded(store):
        seed(store)
    api = PublicApi(store)
    api.explorer.start_warm_up(compile_maps=settings.compile_maps())
    supervisor = None if args.no_worker else start_worker(store)
    demo = build_app(store, api, worker_status=supervisor.describe if supervisor else None)
    ClosedSessionPruner(demo).start()
    demo.queue(default_concurrency_limit=8).launch(
        server_name=args.host, server_port=args.port, show_error=True, css=CSS, max_file_size=MAX_UPLOAD,
        app_kwargs={"routes": http_routes(api), "lifespan": retire_idle_handler_threads},
        state_session_capacity=SESSION_CAPACITY,
    )


if __name__ == "__main__":
    main()
