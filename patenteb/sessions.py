"""Gradio's per-tab session state, bounded: closed tabs are forgotten after a short grace.

Gradio keeps one `SessionState` per browser tab: its own copy of every component's config (about 255 KiB for
this app) plus what the tab's events returned. When a tab closes, Gradio drops only its `gr.State` values, and
only after an hour; the `SessionState` itself stays until 10,000 newer sessions push it out, so the app's memory
grows with every tab ever opened. `ClosedSessionPruner` removes a closed tab's session once it has been unused
for CLOSED_SESSION_GRACE_S (a tab that reconnects within that keeps it); SESSION_CAPACITY bounds the tabs open
at once (Gradio's `state_session_capacity`: beyond it the least recently used session is dropped, and that tab,
if still open, is back at the page's defaults: a model choice made there is refused until it reloads).

After a prune that dropped sessions, the C allocator is asked to hand its free pages back to the system
(`release_freed_memory`, glibc's malloc_trim): otherwise the process keeps them, and its size a minute after a
crowd leaves stays well above its idle size. For the same reason `retire_idle_handler_threads` (the app's lifespan)
lets the threads that ran event handlers for a crowd end once idle: anyio retires an idle thread only when it next
hands out work, so without it the app kept 45 threads, each with its stack and free memory, after the crowd left.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import datetime
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
import gradio as gr

log = logging.getLogger("patenteb.sessions")

CLOSED_SESSION_GRACE_S = 30
PRUNE_EVERY_S = 15
SESSION_CAPACITY = 1000
"""Open tabs whose state is kept: at most ~0.3 GB with this app's components."""
IDLE_THREAD_CHECK_S = 15
"""How often the app's lifespan lets anyio end handler threads idle for 10 s or more."""


@asynccontextmanager
async def retire_idle_handler_threads(app) -> AsyncIterator[None]:
    """A lifespan for the app: every IDLE_THREAD_CHECK_S, hand anyio's thread pool a no-op, on which it ends the
    handler threads idle for 10 s or more."""

    async def check_forever() -> None:
        while True:
            await asyncio.sleep(IDLE_THREAD_CHECK_S)
            await anyio.to_thread.run_sync(int)

    checker = asyncio.create_task(check_forever())
    try:
        yield
    finally:
        checker.cancel()


def release_freed_memory() -> bool:
    """Return the C heap's free pages to the system (glibc's malloc_trim); False where there is no glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False


class ClosedSessionPruner:
    """Every `every_s` seconds, drops the sessions of tabs closed and unused for `grace_s` (a daemon thread)."""

    def __init__(self, blocks: gr.Blocks, grace_s: float = CLOSED_SESSION_GRACE_S, every_s: float = PRUNE_EVERY_S):
        self.blocks = blocks
        self.grace = datetime.timedelta(seconds=grace_s)
        self.every_s = every_s
        self._stopped = threading.Event()

    def prune(self, now: datetime.datetime | None = None) -> int:
        """Drop the closed, idle sessions now (running their gr.State delete callbacks); how many were dropped."""
        holder = getattr(self.blocks, "state_holder", None)
        if holder is None:
            return 0
        now = now or datetime.datetime.now()
        idle_since = now - self.grace
        closed = [
            session for session, state in list(holder.session_data.items())
            if state.is_closed and holder.time_last_used.get(session, now) <= idle_since
        ]
        for session in closed:
            holder.delete_state(session)
            with holder.lock:
                holder.session_data.pop(session, None)
                holder.time_last_used.pop(session, None)
        return len(closed)

    def start(self) -> ClosedSessionPruner:
        threading.Thread(target=self._run, name="closed-session-pruner", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self.every_s):
            try:
                dropped = self.prune()
            except Exception:
                log.exception("pruning closed Gradio sessions failed; trying again in %s s", self.every_s)
                continue
            if dropped:
                release_freed_memory()
                log.info("dropped the state of %d closed tabs", dropped)
