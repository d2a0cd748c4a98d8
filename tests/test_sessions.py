"""Closed tabs' Gradio sessions are forgotten after their grace; open tabs and recently closed ones are kept; memory
freed then goes back to the system."""

from __future__ import annotations

import asyncio
import datetime
import threading

import anyio.to_thread
import gradio as gr
import psutil
from gradio.state_holder import StateHolder

from patenteb.sessions import ClosedSessionPruner, release_freed_memory


def blocks_with_a_state(deleted: list) -> gr.Blocks:
    with gr.Blocks() as demo:
        gr.Textbox("shown")
        gr.State([], delete_callback=deleted.append)
    return demo


def test_closed_idle_sessions_are_dropped_and_open_or_recently_closed_ones_kept():
    deleted: list = []
    demo = blocks_with_a_state(deleted)
    holder = StateHolder()
    holder.set_blocks(demo)
    state_id = next(block_id for block_id, block in demo.blocks.items() if isinstance(block, gr.State))
    now = datetime.datetime.now()
    sessions = {"open-old": (False, 600), "closed-old": (True, 600), "closed-recent": (True, 5), "closed-older": (True, 3600)}
    for session, (closed, idle_s) in sessions.items():
        holder[session][state_id] = [session]
        holder.session_data[session].is_closed = closed
        holder.time_last_used[session] = now - datetime.timedelta(seconds=idle_s)

    pruner = ClosedSessionPruner(demo, grace_s=60)
    assert pruner.prune(now) == 2
    assert set(holder.session_data) == set(holder.time_last_used) == {"open-old", "closed-recent"}
    assert sorted(deleted) == [["closed-old"], ["closed-older"]], "each dropped gr.State's delete callback ran"
    assert holder["closed-recent"][state_id] == ["closed-recent"]
    assert pruner.prune(now + datetime.timedelta(seconds=61)) == 1
    assert set(holder.session_data) == {"open-old"}


def test_before_the_app_is_launched_there_is_nothing_to_prune():
    assert ClosedSessionPruner(blocks_with_a_state([])).prune() == 0


def test_freed_heap_memory_goes_back_to_the_system():
    process = psutil.Process()
    blocks = [bytes(60_000) for _ in range(3000)]  # ~180 MB in malloc'd blocks below glibc's mmap threshold
    survivors = blocks[::50]  # a few live blocks scattered through the heap keep it from shrinking by itself
    del blocks
    held = process.memory_info().rss
    assert release_freed_memory()
    assert process.memory_info().rss < held - 100 * 2**20
    assert len(survivors) == 60


def test_handler_threads_left_idle_after_a_crowd_end(monkeypatch):
    from anyio._backends._asyncio import WorkerThread

    from patenteb import sessions

    monkeypatch.setattr(sessions, "IDLE_THREAD_CHECK_S", 0.2)
    monkeypatch.setattr(WorkerThread, "MAX_IDLE_TIME", 0.5)
    started = threading.active_count()

    async def crowd_then_quiet() -> tuple[int, int]:
        async with sessions.retire_idle_handler_threads(None):
            release = threading.Barrier(20)
            await asyncio.gather(*(anyio.to_thread.run_sync(release.wait) for _ in range(20)))
            during = threading.active_count()
            await asyncio.sleep(1.5)
            return during, threading.active_count()

    during, after = asyncio.run(crowd_then_quiet())
    assert during >= started + 20
    assert after <= started + 1
