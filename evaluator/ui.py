"""The Submit tab: a submission form over evaluator.submissions and a view of the evaluation queue.

On a Hugging Face Space the submitter is whoever signed in with their Hub account (Gradio's OAuth login);
anonymous visitors can browse the queue but not submit. Elsewhere (offline, in development) a typed name is
accepted and stored as unverified.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import gradio as gr
import pandas as pd

from evaluator.runner import PRECISIONS
from evaluator.submissions import Submission, SubmissionRefused, human_count, max_parameters, queue_limits, submit
from patenteb import settings
from results import jobs as queue
from results.store import Store, StoreBusy, StoreCorrupt
from results.vocabulary import NO_PROMPTS_VARIANT

REFRESH_SECONDS = 5
TASK_CHOICES = [
    ("PatenTEB (the 15 tasks)", "PatenTEB"),
    ("Demo (a small offline sample, shown apart from PatenTEB)", "demo"),
]
QUEUE_COLUMNS = [
    "Job", "Status", "Model", "Revision", "Tasks", "Submitter", "Attempts",
    "Submitted (UTC)", "Started (UTC)", "Ended (UTC)", "Reason or note",
]
QUEUE_COLUMN_WIDTHS = ["4%", "7%", "13%", "8%", "8%", "7%", "6%", "9%", "9%", "9%", "20%"]
INTRO = (
    "Submit a model from the Hugging Face Hub. A worker evaluates queued models one at a time with mteb; "
    "the scores then appear in the Leaderboard marked *evaluated*. Models that need `trust_remote_code` "
    "run only after a maintainer allows them."
)
SIGN_IN_FIRST = "**Sign in with Hugging Face** to submit a model (browsing the queue needs no account)."
NAME_NEEDED = "**Refused:** enter your name or Hub user name as the submitter."
UNVERIFIED = " (unverified)"


def _time(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else ""


def _submitter(job: queue.Job) -> str:
    if not job.submitter:
        return ""
    return job.submitter if job.submitter_verified else job.submitter + UNVERIFIED


def queue_frame(jobs: list[queue.Job]) -> pd.DataFrame:
    rows = [
        [
            job.id,
            job.status,
            job.model,
            job.revision[:12],
            job.selection if job.precision == "float32" else f"{job.selection} ({job.precision})",
            _submitter(job),
            f"{job.attempts} of {queue.MAX_ATTEMPTS}",
            _time(job.submitted_at),
            _time(job.started_at),
            _time(job.finished_at),
            job.error or job.note or "",
        ]
        for job in jobs
    ]
    return pd.DataFrame(rows, columns=QUEUE_COLUMNS)


def queue_summary(jobs: list[queue.Job]) -> str:
    counts = Counter(job.status for job in jobs)
    return " · ".join(f"{counts[status]} {status}" for status in queue.STATUSES)


def limits_text(sign_in: bool) -> str:
    """The rules a submission must meet, as the Submit tab states them (each one is a setting)."""
    limits = queue_limits()
    card, licence, safetensors = settings.required_hub_checks()
    needs = [need for need, required in (("a model card", card), ("a licence", licence),
                                         ("safetensors weights", safetensors)) if required]
    who = (
        "Sign in with your Hugging Face account to submit."
        if sign_in
        else f"Type your name as the submitter (up to {settings.submitter_max_chars()} characters; stored as unverified)."
    )
    hub = f"On the Hub a model needs {', '.join(needs)}; " if needs else ""
    return (
        f"**Limits.** {who} Each submitter may submit {limits.submissions_per_day} models a day and have "
        f"{limits.pending_per_submitter} waiting or running; the queue holds {limits.queue_size} jobs in all. "
        f"{hub}at most {human_count(max_parameters())} parameters; no model code of its own unless a maintainer "
        "allows it. When the Hub is unreachable, only models with a local copy here are taken."
    )


def submission_message(job: queue.Job) -> str:
    message = (
        f"**Queued** as job #{job.id}: `{job.model}` at revision `{job.revision}` "
        f"on {len(job.tasks)} tasks ({job.selection})."
    )
    return message + (f" Note: {job.note}." if job.note else "")


class QueueReader:
    """The job list, re-read only when the store file changed: page refreshes never open it for nothing.

    A running job whose lease expires is shown as what it has become (pending again, or failed) without a
    re-read: that change is one of time, not of the file.
    """

    def __init__(self, store: Store):
        self.store = store
        self._signature = None
        self._jobs: list[queue.Job] = []
        self._lock = threading.Lock()

    def jobs(self) -> list[queue.Job]:
        with self._lock:
            now = queue.utc_now()
            signature = self.store.signature()
            if signature != self._signature:
                self._jobs = queue.list_jobs(self.store, now=now)
                self._signature = signature
            elif any(job.lease_expired(now) for job in self._jobs):
                self._jobs = [job.as_of(now) for job in self._jobs]
            return self._jobs


def load_queue(reader: QueueReader, statuses: list[str] | None = None) -> tuple[pd.DataFrame, str]:
    """The table (only the chosen statuses) and the counts of every status."""
    try:
        jobs = reader.jobs()
    except (StoreBusy, StoreCorrupt) as error:
        return queue_frame([]), f"The queue could not be read: {error}"
    shown = [job for job in jobs if statuses is None or job.status in statuses]
    return queue_frame(shown), queue_summary(jobs)


def worker_line(reader: QueueReader, worker_status: Callable[[], str] | None) -> str:
    """Whether a worker is alive (from the app's supervisor) and which job it is evaluating."""
    try:
        running = [job for job in reader.jobs() if job.status == "running"]
    except (StoreBusy, StoreCorrupt):
        running = []
    doing = "; ".join(
        f"evaluating job #{job.id} ({job.model}, attempt {job.attempts} of {queue.MAX_ATTEMPTS})" for job in running
    )
    alive = worker_status() if worker_status is not None else ""
    parts = [part for part in (alive, doing or ("idle" if alive else "")) if part]
    return f"**Worker:** {' — '.join(parts)}" if parts else ""


def _text(value) -> str:
    """What a form field sent: None (a field left out by an API caller) counts as empty."""
    return "" if value is None else value


def submit_form(
    store: Store,
    model,
    revision,
    precision,
    submitter,
    tasks,
    profile: gr.OAuthProfile | None = None,
    sign_in_required: bool = False,
    without_prompts: bool = False,
) -> str:
    """The form's answer as Markdown: the queued job, or the refusal and its reason.

    A signed-in visitor submits under their Hub user name (verified); without sign-in a typed name is used
    (unverified), unless `sign_in_required` (on a Space), where an anonymous visitor is asked to sign in.
    """
    if profile is not None:
        name, verified = profile.username, True
    elif sign_in_required:
        return SIGN_IN_FIRST
    else:
        name, verified = _text(submitter), False
        if isinstance(name, str) and not name.strip():
            return NAME_NEEDED
    submission = Submission(
        model=_text(model),
        revision=_text(revision) or "main",
        precision=_text(precision),
        submitter=name,
        tasks=_text(tasks),
        submitter_verified=verified,
        without_prompts=bool(without_prompts),
    )
    try:
        return submission_message(submit(store, submission))
    except SubmissionRefused as refusal:
        return f"**Refused:** {refusal}"
    except (StoreBusy, StoreCorrupt) as error:
        return f"**Not queued:** the store is unavailable ({error})"


def build(store: Store, demo: gr.Blocks, worker_status: Callable[[], str] | None = None) -> None:
    """The tab's components and events; `worker_status` (from the app's supervisor) says whether a worker lives.
    A page open fills the queue, its counts and the worker line in one event (`demo.load`)."""
    reader = QueueReader(store)
    sign_in = settings.on_space()

    def on_submit(model, revision, precision, submitter, tasks, without_prompts, statuses,
                  profile: gr.OAuthProfile | None):
        answer = submit_form(store, model, revision, precision, submitter, tasks, profile, sign_in_required=sign_in,
                             without_prompts=without_prompts)
        return answer, *load_queue(reader, statuses)

    def on_refresh(statuses):
        return *load_queue(reader, statuses), worker_line(reader, worker_status)

    gr.Markdown(INTRO, elem_id="submit-intro")
    gr.Markdown(limits_text(sign_in), elem_id="submit-limits")
    if sign_in:
        gr.LoginButton(elem_id="submit-login")
    with gr.Row():
        model = gr.Textbox(label="Hub model id", placeholder="org/name", elem_id="submit-model", scale=3, max_length=200)
        revision = gr.Textbox(label="Revision", value="main", elem_id="submit-revision", scale=1, max_length=200)
    with gr.Row():
        precision = gr.Dropdown(list(PRECISIONS), value="float32", label="Precision", elem_id="submit-precision")
        submitter = gr.Textbox(
            label="Submitter (typed names are stored as unverified)", placeholder="your name or Hub user",
            elem_id="submit-submitter", visible=not sign_in, max_length=settings.submitter_max_chars(),
        )
        tasks = gr.Radio(TASK_CHOICES, value="PatenTEB", label="Tasks", elem_id="submit-tasks")
    without_prompts = gr.Checkbox(
        value=False, elem_id="submit-no-prompts",
        label=f"Evaluate without the model's own prompts (its scores get a row of their own, "
              f"<model>{NO_PROMPTS_VARIANT}, and the table shows the prompt effect)",
    )
    submit_button = gr.Button("Submit", variant="primary", elem_id="submit-button")
    status = gr.Markdown(elem_id="submit-status")

    gr.Markdown("### Queue", elem_id="queue-heading")
    worker = gr.Markdown(elem_id="worker-status")
    with gr.Row():
        statuses = gr.CheckboxGroup(
            list(queue.STATUSES), value=list(queue.STATUSES), label="Show", elem_id="queue-status", scale=3
        )
        refresh_button = gr.Button("Refresh", size="sm", elem_id="queue-refresh", scale=0)
    summary = gr.Markdown(elem_id="queue-summary")
    table = gr.Dataframe(
        headers=QUEUE_COLUMNS, column_widths=QUEUE_COLUMN_WIDTHS, interactive=False, wrap=True,
        elem_id="queue-table", label="Jobs, newest first",
    )
    timer = gr.Timer(REFRESH_SECONDS)

    submit_button.click(
        on_submit, [model, revision, precision, submitter, tasks, without_prompts, statuses], [status, table, summary],
        api_name="submit",
    )
    gr.on([demo.load, refresh_button.click, statuses.change, timer.tick], on_refresh, [statuses],
          [table, summary, worker], show_progress="hidden", api_name="queue")
