"""The Submit tab: a submission form over evaluator.queue and a view of the evaluation queue."""

from __future__ import annotations

import threading
from collections import Counter

import gradio as gr
import pandas as pd

from evaluator.submissions import Submission, SubmissionRefused, submit
from evaluator.runner import PRECISIONS
from results import jobs as queue
from results.store import Store, StoreBusy, StoreCorrupt

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


def _time(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else ""


def queue_frame(jobs: list[queue.Job]) -> pd.DataFrame:
    rows = [
        [
            job.id,
            job.status,
            job.model,
            job.revision[:12],
            job.selection if job.precision == "float32" else f"{job.selection} ({job.precision})",
            job.submitter or "",
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


def submission_message(job: queue.Job) -> str:
    message = (
        f"**Queued** as job #{job.id}: `{job.model}` at revision `{job.revision}` "
        f"on {len(job.tasks)} tasks ({job.selection})."
    )
    return message + (f" Note: {job.note}." if job.note else "")


class QueueReader:
    """The job list, re-read only when the store file changed: page refreshes never open it for nothing."""

    def __init__(self, store: Store):
        self.store = store
        self._signature = None
        self._jobs: list[queue.Job] = []
        self._lock = threading.Lock()

    def jobs(self) -> list[queue.Job]:
        with self._lock:
            signature = self.store.signature()
            if signature != self._signature:
                self._jobs = queue.list_jobs(self.store)
                self._signature = signature
            return self._jobs


def load_queue(reader: QueueReader, statuses: list[str] | None = None) -> tuple[pd.DataFrame, str]:
    """The table (only the chosen statuses) and the counts of every status."""
    try:
        jobs = reader.jobs()
    except (StoreBusy, StoreCorrupt) as error:
        return queue_frame([]), f"The queue could not be read: {error}"
    shown = [job for job in jobs if statuses is None or job.status in statuses]
    return queue_frame(shown), queue_summary(jobs)


def submit_form(store: Store, model: str, revision: str, precision: str, submitter: str, tasks: str) -> str:
    """The form's answer as Markdown: the queued job, or the refusal and its reason."""
    submission = Submission(
        model=model or "", revision=revision or "main", precision=precision, submitter=submitter or "", tasks=tasks or ""
    )
    try:
        return submission_message(submit(store, submission))
    except SubmissionRefused as refusal:
        return f"**Refused:** {refusal}"
    except (StoreBusy, StoreCorrupt) as error:
        return f"**Not queued:** the store is unavailable ({error})"


def build(store: Store) -> None:
    reader = QueueReader(store)

    def on_submit(model, revision, precision, submitter, tasks, statuses):
        return submit_form(store, model, revision, precision, submitter, tasks), *load_queue(reader, statuses)

    def on_refresh(statuses):
        return load_queue(reader, statuses)

    gr.Markdown(INTRO, elem_id="submit-intro")
    with gr.Row():
        model = gr.Textbox(label="Hub model id", placeholder="org/name", elem_id="submit-model", scale=3)
        revision = gr.Textbox(label="Revision", value="main", elem_id="submit-revision", scale=1)
    with gr.Row():
        precision = gr.Dropdown(list(PRECISIONS), value="float32", label="Precision", elem_id="submit-precision")
        submitter = gr.Textbox(label="Submitter", placeholder="your name or Hub user", elem_id="submit-submitter")
        tasks = gr.Radio(TASK_CHOICES, value="PatenTEB", label="Tasks", elem_id="submit-tasks")
    submit_button = gr.Button("Submit", variant="primary", elem_id="submit-button")
    status = gr.Markdown(elem_id="submit-status")

    gr.Markdown("### Queue", elem_id="queue-heading")
    with gr.Row():
        statuses = gr.CheckboxGroup(
            list(queue.STATUSES), value=list(queue.STATUSES), label="Show", elem_id="queue-status", scale=3
        )
        refresh_button = gr.Button("Refresh", size="sm", elem_id="queue-refresh", scale=0)
    summary = gr.Markdown(lambda: load_queue(reader)[1], elem_id="queue-summary")
    table = gr.Dataframe(
        lambda: load_queue(reader)[0],
        headers=QUEUE_COLUMNS, column_widths=QUEUE_COLUMN_WIDTHS, interactive=False, wrap=True,
        elem_id="queue-table", label="Jobs, newest first",
    )
    timer = gr.Timer(REFRESH_SECONDS)

    submit_button.click(
        on_submit, [model, revision, precision, submitter, tasks, statuses], [status, table, summary], api_name="submit"
    )
    gr.on([refresh_button.click, statuses.change, timer.tick], on_refresh, [statuses], [table, summary],
          show_progress="hidden", api_name="queue")
