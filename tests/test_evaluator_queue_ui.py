"""The Submit tab: its pure parts on a real store, then the tab itself in Chromium."""

from __future__ import annotations

import json
from datetime import datetime

import gradio as gr
import pytest

from evaluator import ui
from results import jobs as queue
from tests.browser import chromium_page, free_port

T0 = datetime(2026, 1, 5, 9, 0, 0)


def test_the_queue_frame_shows_status_times_attempts_and_reason(empty_store):
    queue.enqueue(empty_store, queue.NewJob("org/broken", "0123456789abcdef", ("task_a",), "PatenTEB"), now=T0)
    waiting = queue.NewJob("org/waiting", "main", ("task_a",), "demo", submitter="ada", note="unchecked")
    queue.enqueue(empty_store, waiting, now=T0)
    claimed = queue.claim(empty_store, "w", lease_s=60, now=T0)
    queue.fail(empty_store, claimed.id, claimed.lease_token, "ModelLoadError: no weights", now=T0)

    reader = ui.QueueReader(empty_store)
    frame, summary = ui.load_queue(reader)
    assert frame.columns.tolist() == ui.QUEUE_COLUMNS
    rows = frame.set_index("Model")
    assert rows.loc["org/waiting", ["Status", "Submitter", "Attempts", "Reason or note"]].tolist() == [
        "pending", "ada", "0 of 3", "unchecked"]
    assert rows.loc["org/broken", ["Status", "Revision", "Attempts", "Ended (UTC)", "Reason or note"]].tolist() == [
        "failed", "0123456789ab", "1 of 3", "2026-01-05 09:00", "ModelLoadError: no weights"]
    assert summary == "1 pending · 0 running · 0 finished · 1 failed"
    assert ui.load_queue(reader, ["failed"])[0]["Model"].tolist() == ["org/broken"]
    assert ui.load_queue(reader, [])[0].empty


def test_the_queue_is_reread_only_after_a_write(empty_store):
    reader = ui.QueueReader(empty_store)
    assert reader.jobs() == []
    first = reader.jobs()
    assert reader.jobs() is first
    queue.enqueue(empty_store, queue.NewJob("org/new", "main", ("task_a",), "demo"))
    assert [job.model for job in reader.jobs()] == ["org/new"]


def test_the_form_answers_with_the_job_or_the_refusal(empty_store):
    assert ui.submit_form(empty_store, "no such id!", "main", "float32", "", "demo").startswith(
        "**Refused:** 'no such id!' is not a Hub model id")
    queued = ui.submit_form(empty_store, "org/model", "", "float32", "ada", "demo")
    assert queued == ("**Queued** as job #1: `org/model` at revision `main` on 3 tasks (demo). "
                      "Note: not checked against the Hub (unreachable at submission).")
    assert ui.submit_form(empty_store, "org/model", "main", "float32", "ada", "demo") == (
        "**Refused:** org/model at revision main is already in the queue (job #1, pending)")


@pytest.fixture
def submit_tab_url(empty_store):
    with gr.Blocks() as demo:
        with gr.Tab("Submit"):
            ui.build(empty_store)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", empty_store
    finally:
        demo.close()


def _wait_for_text(page, elem_id: str, text: str) -> None:
    page.wait_for_function(
        f"(document.querySelector('#{elem_id}') || {{innerText: ''}}).innerText.includes({json.dumps(text)})"
    )


def test_submitting_in_the_browser(submit_tab_url):
    url, store = submit_tab_url
    with chromium_page() as page:
        page.goto(url)
        page.wait_for_selector("#submit-model textarea, #submit-model input")
        _wait_for_text(page, "queue-summary", "0 pending")

        page.locator("#submit-model textarea, #submit-model input").first.fill("not/a/model")
        page.locator("#submit-button").click()
        _wait_for_text(page, "submit-status", "Refused: 'not/a/model' is not a Hub model id")

        page.locator("#submit-model textarea, #submit-model input").first.fill("org/browser-model")
        page.locator("#submit-submitter textarea, #submit-submitter input").first.fill("grace")
        page.locator("#submit-tasks label", has_text="Demo").click()
        page.locator("#submit-button").click()
        _wait_for_text(page, "submit-status", "Queued as job #1")
        _wait_for_text(page, "queue-table", "org/browser-model")
        assert "grace" in page.locator("#queue-table").inner_text()

        job = queue.claim(store, "another-process", lease_s=60)
        queue.fail(store, job.id, job.lease_token, "ModelLoadError: cannot load Hub model 'org/browser-model'")
        page.locator("#queue-refresh").click()
        _wait_for_text(page, "queue-table", "ModelLoadError: cannot load Hub model")
        _wait_for_text(page, "queue-summary", "1 failed")
        assert queue.get_job(store, job.id).tasks == tuple(["demo_uspto_retrieval", "demo_uspto_clustering",
                                                            "demo_uspto_classification"])
