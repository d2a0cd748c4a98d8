"""A light Gradio 6 client for load tests: what a browser tab sends, over aiohttp, and nothing more.

`AppConfig` reads a running app's `/config` and finds events by the elem_id of the component that triggers
them, so a load script survives layout changes. `Page` is one open browser tab: a session hash, the values
its components hold, and the queue protocol (POST `<api>/queue/join`, then the SSE stream
`<api>/queue/data?session_hash=…`, one per tab, which carries the results of all its events). Several events
may be in flight at once, as in a browser (a timer tick beside a click). Events chained with `.then` run as
soon as their parent completes; JavaScript-only events are skipped.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

INPUT_TYPES_WITH_CHOICES = {"radio", "checkboxgroup", "dropdown"}


class CallFailed(Exception):
    """An event that did not complete successfully; the message says how, in one line."""


def choice_values(choices: list | None) -> list:
    """Component choices as the values a browser sends ([label, value] pairs in the config)."""
    return [c[1] if isinstance(c, (list, tuple)) else c for c in (choices or [])]


@dataclass
class AppConfig:
    base_url: str
    config: dict
    components: dict[int, dict] = field(init=False)
    dependencies: dict[int, dict] = field(init=False)

    def __post_init__(self):
        self.components = {c["id"]: c for c in self.config["components"]}
        self.dependencies = {d["id"]: d for d in self.config["dependencies"]}

    @property
    def api_url(self) -> str:
        return self.base_url + self.config.get("api_prefix", "/gradio_api")

    @classmethod
    async def fetch(cls, http: aiohttp.ClientSession, base_url: str) -> "AppConfig":
        async with http.get(f"{base_url}/config") as response:
            response.raise_for_status()
            return cls(base_url, await response.json())

    def component_id(self, elem_id: str) -> int:
        for component_id, component in self.components.items():
            if component.get("props", {}).get("elem_id") == elem_id:
                return component_id
        raise KeyError(f"no component with elem_id {elem_id!r} in the app's config")

    def kind(self, component_id: int) -> str:
        return self.components[component_id]["type"]

    def dependency_on(self, component_id: int, event: str) -> dict:
        for dependency in self.dependencies.values():
            if dependency["backend_fn"] and [component_id, event] in [list(t) for t in dependency["targets"]]:
                return dependency
        raise KeyError(f"no server event on {event} of component {component_id}")

    def dependencies_on_event(self, event: str) -> list[dict]:
        return [
            d for d in self.dependencies.values()
            if d["backend_fn"] and d["trigger_after"] is None and any(t[1] == event for t in d["targets"])
        ]

    def chained_after(self, dependency_id: int, succeeded: bool) -> list[dict]:
        chained = []
        for d in self.dependencies.values():
            if d["trigger_after"] != dependency_id or not d["backend_fn"]:
                continue
            if (d["trigger_only_on_success"] and not succeeded) or (d.get("trigger_only_on_failure") and succeeded):
                continue
            chained.append(d)
        return chained

    def initial_values(self) -> dict[int, Any]:
        return {i: c.get("props", {}).get("value") for i, c in self.components.items()}

    def initial_choices(self) -> dict[int, list]:
        return {
            i: choice_values(c["props"].get("choices"))
            for i, c in self.components.items()
            if c["type"] in INPUT_TYPES_WITH_CHOICES
        }


class Page:
    """One open tab: its session, its components' current values, and a heartbeat connection while open."""

    def __init__(self, http: aiohttp.ClientSession, app: AppConfig, query: str = "", request_timeout_s: float = 120):
        self.http = http
        self.app = app
        self.query = query
        self.session_hash = uuid.uuid4().hex[:11]
        self.values = app.initial_values()
        self.choices = app.initial_choices()
        self.timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._stream_timeout = aiohttp.ClientTimeout(total=None, sock_read=request_timeout_s)
        self.requests = 0
        self._pending: dict[str, asyncio.Future] = {}
        self._early: dict[str, dict] = {}
        self._reader: asyncio.Task | None = None
        self._heartbeat: asyncio.Task | None = None

    async def open(self) -> None:
        """The page itself, the API description the browser's client reads, the heartbeat, then the load events."""
        await self.get(f"{self.app.base_url}/" + (f"?{self.query}" if self.query else ""))
        await self.get(f"{self.app.api_url}/info")
        self._heartbeat = asyncio.create_task(self._hold_heartbeat())
        await self.run(self.app.dependencies_on_event("load"))

    async def close(self) -> None:
        for task in (self._reader, self._heartbeat):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._reader = self._heartbeat = None

    async def get(self, url: str) -> bytes:
        async with self.http.get(url, timeout=self.timeout) as response:
            body = await response.read()
            self.requests += 1
            if response.status != 200:
                raise CallFailed(f"GET {url.split('?')[0]} answered HTTP {response.status}")
            return body

    async def run(self, dependencies: list[dict], trigger_id: int | None = None) -> None:
        """Run these events at once, each followed by what is chained after it; raise the first failure."""
        outcomes = await asyncio.gather(*(self._run_chain(d, trigger_id) for d in dependencies), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _run_chain(self, dependency: dict, trigger_id: int | None) -> None:
        error = None
        try:
            self._apply(dependency, await self.call(dependency, trigger_id))
        except CallFailed as failure:
            error = failure
        chained = self.app.chained_after(dependency["id"], succeeded=error is None)
        if chained:
            await self.run(chained)
        if error is not None:
            raise error

    async def call(self, dependency: dict, trigger_id: int | None = None) -> list:
        """Join the queue and wait for this event's result on the tab's one stream."""
        event_id = await self._join(dependency, trigger_id)
        if event_id in self._early:
            return self._settle(self._early.pop(event_id))
        waiting = asyncio.get_running_loop().create_future()
        self._pending[event_id] = waiting
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_stream())
        try:
            return self._settle(await asyncio.wait_for(waiting, self.timeout.total))
        except asyncio.TimeoutError:
            raise CallFailed(f"{dependency.get('api_name')} did not complete within {self.timeout.total:.0f} s") from None
        finally:
            self._pending.pop(event_id, None)

    @staticmethod
    def _settle(message: dict) -> list:
        output = message.get("output") or {}
        if not message.get("success", True):
            raise CallFailed(one_line(output.get("error") or "failed"))
        return output.get("data", [])

    async def _join(self, dependency: dict, trigger_id: int | None) -> str:
        data = [None if self.app.kind(i) == "state" else self.values.get(i) for i in dependency["inputs"]]
        body = {
            "data": data,
            "event_data": None,
            "fn_index": dependency["id"],
            "trigger_id": trigger_id,
            "session_hash": self.session_hash,
        }
        url = f"{self.app.api_url}/queue/join" + (f"?{self.query}" if self.query else "")
        async with self.http.post(url, json=body, timeout=self.timeout) as response:
            text = await response.text()
            if response.status != 200:
                raise CallFailed(f"queue/join for {dependency.get('api_name')} answered HTTP {response.status}: {text[:160]}")
            return json.loads(text)["event_id"]

    async def _read_stream(self) -> None:
        """The tab's SSE stream, read until the server closes it; reopened while results are still awaited.

        Never left early: a stream the client drops makes the server forget the session's pending events.
        """
        url = f"{self.app.api_url}/queue/data"
        try:
            while self._pending:
                async with self.http.get(url, params={"session_hash": self.session_hash}, timeout=self._stream_timeout) as response:
                    if response.status != 200:
                        raise CallFailed(f"queue/data answered HTTP {response.status}")
                    async for raw_line in response.content:
                        line = raw_line.strip()
                        if not line.startswith(b"data:"):
                            continue
                        message = json.loads(line[5:])
                        kind = message.get("msg")
                        if kind == "close_stream":
                            break
                        if kind == "unexpected_error":
                            raise CallFailed(f"unexpected error: {message.get('message')}")
                        if kind == "process_completed":
                            self.requests += 1
                            waiting = self._pending.get(message.get("event_id"))
                            if waiting is None:
                                self._early[message.get("event_id")] = message
                            elif not waiting.done():
                                waiting.set_result(message)
        except (CallFailed, aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            failure = error if isinstance(error, CallFailed) else CallFailed(f"queue/data: {type(error).__name__}: {error}")
            for waiting in self._pending.values():
                if not waiting.done():
                    waiting.set_exception(failure)

    def _apply(self, dependency: dict, data: list) -> None:
        for component_id, value in zip(dependency["outputs"], data):
            if isinstance(value, dict) and value.get("__type__") == "update":
                if "value" in value:
                    self.values[component_id] = value["value"]
                if "choices" in value:
                    self.choices[component_id] = choice_values(value["choices"])
            else:
                self.values[component_id] = value

    async def _hold_heartbeat(self) -> None:
        url = f"{self.app.api_url}/heartbeat/{self.session_hash}"
        try:
            async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=None)) as response:
                async for _ in response.content:
                    pass
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass

    def pick_subset(self, component_id: int, rng: random.Random, at_most: int | None = None) -> list:
        options = self.choices.get(component_id, [])
        if not options:
            return []
        size = rng.randint(1, min(len(options), at_most or len(options)))
        return rng.sample(options, size)


def one_line(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
