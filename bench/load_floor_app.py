"""The floor for bench/load.py: a trivial Gradio app whose one event returns a fixed table.

The table is one the leaderboard sent (headers and rows saved as JSON by bench/load.py), so the floor pays
what Gradio itself pays for a table of that shape — queue, postprocessing, serialisation, SSE — and
nothing of the leaderboard's own work. It runs with the app's settings of Gradio's queue.

    python bench/load_floor_app.py --table TABLE.json --port PORT [--concurrency 0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from patenteb import settings  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
settings.set_gradio_queue_defaults()

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

VIEW_ELEM_ID = "floor-view"


def build(table: pd.DataFrame, views: list[str], concurrency_limit: int | None = None) -> gr.Blocks:
    with gr.Blocks(title="load floor") as demo:
        view = gr.Radio(views, value=views[0], label="Table", elem_id=VIEW_ELEM_ID)
        shown = gr.Dataframe(interactive=False, elem_id="floor-table")
        view.input(lambda _view: table, view, shown, api_name="table", concurrency_limit=concurrency_limit)
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", type=Path, required=True, help="JSON with 'headers' and 'data' (rows)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=0,
                        help="the event's concurrency limit; 0 (default): none, as the app's table switch")
    args = parser.parse_args()
    saved = json.loads(args.table.read_text())
    table = pd.DataFrame(saved["data"], columns=saved["headers"])
    demo = build(table, saved.get("views") or ["a", "b"], args.concurrency or None)
    demo.queue().launch(server_name="127.0.0.1", server_port=args.port)


if __name__ == "__main__":
    main()
