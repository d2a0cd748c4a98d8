"""The Submit tab: its pure parts on a real store, then the tab itself in Chromium."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime

import gradio as gr
import httpx2
import pytest
from gradio_client import Client

from evaluator import ui
from results import jobs as queue
from tests.browser import chromium_page, free_port
from tests.conftest import REPO

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
        "pending", "ada (unverified)", "0 of 3", "unchecked"]
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


@pytest.fixture
def local_copy_of_org_model(tiny_model_path, tmp_path, monkeypatch):
    """Offline, a Hub id with a configured local copy is what the form can queue."""
    registry = tmp_path / "local-models.toml"
    registry.write_text("".join(
        f'[[models]]\nhub_id = "{name}"\npath = "{tiny_model_path}"\n' for name in ("org/model", "org/browser-model")
    ))
    monkeypatch.setenv("PATENTEB_LOCAL_MODELS", str(registry))
    return tiny_model_path


def test_the_form_answers_with_the_job_or_the_refusal(empty_store, local_copy_of_org_model):
    assert ui.submit_form(empty_store, "no such id!", "main", "float32", "ada", "demo").startswith(
        "**Refused:** 'no such id!' is not a Hub model id")
    assert ui.submit_form(empty_store, "org/model", "", "float32", "  ", "demo") == ui.NAME_NEEDED
    queued = ui.submit_form(empty_store, "org/model", "", "float32", "ada", "demo")
    assert queued == ("**Queued** as job #1: `org/model` at revision `main` on 3 tasks (demo). "
                      f"Note: the Hub was unreachable: evaluated from the local copy in the folder {local_copy_of_org_model}.")
    assert ui.submit_form(empty_store, "org/model", "main", "float32", "ada", "demo") == (
        "**Refused:** org/model at revision main is already in the queue (job #1, pending)")
    assert ui.submit_form(empty_store, "org/other", "main", "float32", "ada", "demo").startswith(
        "**Refused:** the Hub is unreachable from this server and org/other has no local copy here")
    without = ui.submit_form(empty_store, "org/model", "main", "float32", "ada", "demo", without_prompts=True)
    assert without.startswith("**Queued** as job #2: `org/model@no-prompts` at revision `main`")
    job = queue.get_job(empty_store, 2)
    assert (job.model, job.load_from) == ("org/model@no-prompts", str(local_copy_of_org_model))


def test_fields_an_api_caller_leaves_out_or_mistypes_are_refused(empty_store):
    assert ui.submit_form(empty_store, None, None, None, "ada", None) == (
        "**Refused:** enter a Hub model id, such as sentence-transformers/all-MiniLM-L6-v2")
    assert ui.submit_form(empty_store, 42, "main", "float32", "ada", "demo") == "**Refused:** the model must be text"
    assert ui.submit_form(empty_store, "org/model", "main", "float32", ["ada"], "demo") == (
        "**Refused:** the submitter must be text")


def test_on_a_space_only_a_signed_in_visitor_submits_under_their_hub_name(empty_store, local_copy_of_org_model,
                                                                         monkeypatch):
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "org/patenteb")
    assert ui.submit_form(empty_store, "org/model", "main", "float32", "typed-name", "demo",
                          sign_in_required=True) == ui.SIGN_IN_FIRST
    profile = gr.OAuthProfile({"name": "Ada L.", "preferred_username": "ada-hf", "profile": "", "picture": ""})
    answer = ui.submit_form(empty_store, "org/model", "main", "float32", "typed-name", "demo", profile,
                            sign_in_required=True)
    assert answer.startswith("**Queued** as job #1")
    job = queue.get_job(empty_store, 1)
    assert (job.submitter, job.submitter_verified) == ("ada-hf", True)
    assert ui.queue_frame([job])["Submitter"].tolist() == ["ada-hf"]

    assert "Sign in with your Hugging Face account to submit" in ui.limits_text(sign_in=True)


def test_the_tab_states_every_limit_from_the_settings(monkeypatch):
    monkeypatch.setenv("PATENTEB_SUBMISSIONS_PER_DAY", "7")
    monkeypatch.setenv("PATENTEB_PENDING_PER_SUBMITTER", "3")
    monkeypatch.setenv("PATENTEB_QUEUE_SIZE", "40")
    monkeypatch.setenv("PATENTEB_REQUIRE_SAFETENSORS", "0")
    text = ui.limits_text(sign_in=False)
    assert "Each submitter may submit 7 models a day and have 3 waiting or running; the queue holds 40 jobs" in text
    assert "On the Hub a model needs a model card, a licence; at most 1B parameters" in text
    assert "up to 64 characters; stored as unverified" in text


def test_a_job_whose_lease_expires_is_shown_as_waiting_again_without_a_reread(empty_store):
    queue.enqueue(empty_store, queue.NewJob("org/model", "main", ("task_a",), "demo"))
    queue.claim(empty_store, "host:41", lease_s=1)
    reader = ui.QueueReader(empty_store)
    assert [job.status for job in reader.jobs()] == ["running"]
    assert ui.worker_line(reader, lambda: "worker running (pid 41, up 3 s)") == (
        "**Worker:** worker running (pid 41, up 3 s) — evaluating job #1 (org/model, attempt 1 of 3)")
    time.sleep(1.2)
    frame, summary = ui.load_queue(reader)
    assert frame[["Status", "Reason or note"]].values.tolist() == [
        ["pending", "attempt 1 (host:41) stopped renewing its lease; it will be retried (attempt 2 of 3)"]]
    assert summary == "1 pending · 0 running · 0 finished · 0 failed"
    assert ui.worker_line(reader, lambda: "no worker running") == "**Worker:** no worker running — idle"


def test_a_page_open_fills_the_queue_its_counts_and_the_worker_line_in_one_event(empty_store):
    with gr.Blocks() as demo:
        ui.build(empty_store, demo)
    on_open = [fn for fn in demo.fns.values() if any(event == "load" for _, event in fn.targets)]
    assert len(on_open) == 1
    assert {block.elem_id for block in on_open[0].outputs} == {"queue-table", "queue-summary", "worker-status"}


@pytest.fixture
def submit_tab_url(empty_store, local_copy_of_org_model):
    with gr.Blocks() as demo:
        with gr.Tab("Submit"):
            ui.build(empty_store, demo)
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


@pytest.mark.slow
def test_submitting_in_the_browser(submit_tab_url):
    url, store = submit_tab_url
    with chromium_page() as page:
        page.goto(url)
        page.wait_for_selector("#submit-model textarea, #submit-model input")
        _wait_for_text(page, "queue-summary", "0 pending")

        _wait_for_text(page, "submit-limits", "Each submitter may submit 5 models a day")
        page.locator("#submit-model textarea, #submit-model input").first.fill("not/a/model")
        page.locator("#submit-button").click()
        _wait_for_text(page, "submit-status", "Refused: enter your name or Hub user name")

        page.locator("#submit-submitter textarea, #submit-submitter input").first.fill("grace")
        page.locator("#submit-button").click()
        _wait_for_text(page, "submit-status", "Refused: 'not/a/model' is not a Hub model id")

        page.locator("#submit-model textarea, #submit-model input").first.fill("org/browser-model")
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


def test_the_submit_endpoint_over_http_stores_a_typed_name_as_unverified(submit_tab_url):
    url, store = submit_tab_url
    client = Client(url, verbose=False)
    submit_endpoint = "/submit"
    answer = client.predict("org/model", "main", "float32", "x" * 99_000, "demo", ["pending"], api_name=submit_endpoint)
    assert answer[0] == "**Refused:** the submitter name is 99,000 characters long; at most 64 are accepted"
    answer = client.predict("org/model", "main", "float32", "grace", "demo", ["pending"], api_name=submit_endpoint)
    assert answer[0].startswith("**Queued** as job #1")
    assert [(job.submitter, job.submitter_verified) for job in queue.list_jobs(store)] == [("grace", False)]


SPACE_APP = """
import sys
import gradio as gr
from evaluator import ui
from results.store import Store
with gr.Blocks() as demo:
    ui.build(Store(sys.argv[1], record=None), demo)
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[2]))
"""


@pytest.fixture
def openid_provider():
    """A local stand-in for the Hub's OpenID configuration (only the discovery document is needed here)."""
    class Discovery(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            base = f"http://127.0.0.1:{self.server.server_port}"
            body = json.dumps({"issuer": base, "authorization_endpoint": f"{base}/oauth/authorize",
                               "token_endpoint": f"{base}/oauth/token", "jwks_uri": f"{base}/oauth/jwks"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Discovery)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.slow
def test_on_a_space_anonymous_visitors_browse_and_are_asked_to_sign_in(empty_store, openid_provider, tmp_path):
    port = free_port()
    space = {"SYSTEM": "spaces", "SPACE_ID": "org/patenteb", "OAUTH_CLIENT_ID": "test-client",
             "OAUTH_CLIENT_SECRET": "test-secret", "OAUTH_SCOPES": "openid profile",
             "OPENID_PROVIDER_URL": openid_provider}
    log = (tmp_path / "space.log").open("w")
    app = subprocess.Popen([sys.executable, "-c", SPACE_APP, str(empty_store.path), str(port)], cwd=REPO,
                           env={**os.environ, **space}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        page = _wait_for_page(url, app)
        assert "submit-login" in page and "Sign in with your Hugging Face account to submit" in page
        client = Client(url, verbose=False)
        endpoint = "/submit"
        answer = client.predict("org/model", "main", "float32", "typed-name", "demo", ["pending"], api_name=endpoint)
        assert answer[0] == ui.SIGN_IN_FIRST
        login = httpx2.get(url + "login/huggingface", follow_redirects=False, timeout=30)
        assert login.status_code in (302, 307)
        assert login.headers["location"].startswith(f"{openid_provider}/oauth/authorize?")
        assert "client_id=test-client" in login.headers["location"]
    finally:
        app.terminate()
        app.wait(timeout=30)
        log.close()
    assert queue.list_jobs(empty_store) == []


def _wait_for_page(url: str, process: subprocess.Popen, timeout_s: float = 90) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited with {process.returncode}")
        try:
            return httpx2.get(url, timeout=5).text
        except httpx2.HTTPError:
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout_s:.0f} s")
