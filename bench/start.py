"""The first minute: `python app.py` on a fresh store, as `make run` starts it once `.venv` exists.

    python bench/start.py [--runs 2] [--timeout-s 300]

Each run starts the app (with its worker) on a new, empty store in a scratch folder, with Chromium already
open as a visitor's browser would be, and polls, every 0.2 s:
  page_s          the page answers HTTP 200; Chromium then opens it:
  rendered_s      the leaderboard's rows are on the page in Chromium (the first table render)
  plots_s         its first plot is drawn
and, beside the browser from page_s on,
  search_ready_s  GET /api/v1/search with the four default explorer models answers 200 (503 while any of them
                  is still being prepared)
then times one more search with the same models and another query (warm_search_ms). The floor, started the
same way in the same run: a Gradio page with one Markdown (floor_page_s), which no app can beat.

Prints one line per run, then as the last line one JSON object with the medians over the runs:
  page_s, rendered_s, plots_s, search_ready_s, search_after_render_s (search_ready_s - rendered_s: after the
  page is up with its leaderboard; negative when the search was ready first), first_search_ms (the answering
  search's own latency), warm_search_ms, floor_page_s, page_vs_floor, load_before, commit
Goals (issue 10): rendered_s <= 15 and search_after_render_s <= 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import Processes, free_port, status_of, tail, wait_for_http  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODELS = "bm25,hybrid/bm25+all-MiniLM-L6-v2,sentence-transformers/all-MiniLM-L6-v2,wordllama/l2_supercat-256"
QUERIES = ("a lithium battery electrode with a ceramic coated separator",
           "an image sensor with stacked photodiodes and a shared readout circuit")
CHROMIUM = "/usr/bin/chromium"
ROWS_SHOWN = "document.querySelector('#lb-table') && document.querySelector('#lb-table').innerText.includes('patembed')"
FLOOR_APP = "import gradio as gr\nwith gr.Blocks() as demo:\n    gr.Markdown('floor')\ndemo.launch(server_name='127.0.0.1', server_port={port})\n"


def search_url(base: str, query: str) -> str:
    return f"{base}/api/v1/search?" + urllib.parse.urlencode({"q": query, "models": DEFAULT_MODELS, "k": 10})


def one_run(processes: Processes, scratch: Path, timeout_s: float, browser: Page) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = scratch / f"app-{port}.log"
    env = {**os.environ, "PATENTEB_STORE": str(scratch / f"store-{port}" / "patenteb.duckdb")}
    started = time.perf_counter()
    app = processes.start([sys.executable, "app.py", "--port", str(port)], log, env)
    try:
        page_s, _ = wait_for_http(base + "/", app, log, timeout_s, started)
        with ThreadPoolExecutor(max_workers=1) as beside:
            search = beside.submit(wait_for_http, search_url(base, QUERIES[0]), app, log, timeout_s, started)
            browser.goto(base + "/")
            browser.wait_for_function(ROWS_SHOWN, timeout=timeout_s * 1000)
            rendered_s = time.perf_counter() - started
            browser.wait_for_selector("#lb-plot-params .js-plotly-plot", timeout=timeout_s * 1000)
            plots_s = time.perf_counter() - started
            search_ready_s, first_search_s = search.result()
        warm_asked = time.perf_counter()
        if status_of(search_url(base, QUERIES[1])) != 200:
            raise SystemExit(f"a search after the first failed; log tail:\n{tail(log)}")
        warm_search_s = time.perf_counter() - warm_asked
    finally:
        processes.stop(app)

    floor_port = free_port()
    floor_log = scratch / f"floor-{floor_port}.log"
    floor_started = time.perf_counter()
    floor = processes.start([sys.executable, "-c", FLOOR_APP.format(port=floor_port)], floor_log, dict(os.environ))
    try:
        floor_page_s, _ = wait_for_http(f"http://127.0.0.1:{floor_port}/", floor, floor_log, timeout_s, floor_started)
    finally:
        processes.stop(floor)
    return {
        "page_s": round(page_s, 2), "rendered_s": round(rendered_s, 2), "plots_s": round(plots_s, 2),
        "search_ready_s": round(search_ready_s, 2), "search_after_render_s": round(search_ready_s - rendered_s, 2),
        "first_search_ms": round(first_search_s * 1000),
        "warm_search_ms": round(warm_search_s * 1000), "floor_page_s": round(floor_page_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--timeout-s", type=float, default=300)
    args = parser.parse_args()
    load_before = [round(value, 2) for value in os.getloadavg()]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-start-") as scratch, sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        processes = Processes(REPO)
        try:
            for number in range(1, args.runs + 1):
                browser = chromium.new_page(viewport={"width": 1440, "height": 1000})
                run = one_run(processes, Path(scratch), args.timeout_s, browser)
                browser.close()
                runs.append(run)
                print(f"run {number}: " + ", ".join(f"{name} {value}" for name, value in run.items()), flush=True)
        finally:
            processes.stop_all()
            chromium.close()
    summary = {name: round(statistics.median(run[name] for run in runs), 2) for name in runs[0]}
    summary["page_vs_floor"] = round(summary["page_s"] / summary["floor_page_s"], 2)
    print(json.dumps({**summary, "runs": len(runs), "load_before": load_before, "commit": commit}))


if __name__ == "__main__":
    main()
