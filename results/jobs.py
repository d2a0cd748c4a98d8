"""The evaluation queue: jobs with leases in the store, and the maintainers' allow-list for remote code.

A worker claims the oldest pending job (or one whose lease expired) in one UPDATE ... RETURNING inside a
write transaction, which holds the DuckDB file exclusively: two workers can never claim the same job.
The claim gives the job a fresh lease token; renewing, finishing, failing and releasing all name that
token, so a worker whose lease expired and was taken over can no longer change the job. A lease that
expires counts as a failed attempt: the job is claimed again, and after MAX_ATTEMPTS it is marked failed.
Times are naive UTC.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import duckdb

from results.store import Store

MAX_ATTEMPTS = 3
STATUSES = ("pending", "running", "finished", "failed")
EVALUATED = "evaluated"

JOB_COLUMNS = (
    "id",
    "model",
    "load_from",
    "revision",
    "requested_revision",
    "precision",
    "selection",
    "tasks",
    "submitter",
    "note",
    "status",
    "attempts",
    "submitted_at",
    "started_at",
    "finished_at",
    "worker",
    "lease_token",
    "lease_expires_at",
    "error",
    "result",
)
_SELECT_JOB = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"
_RETURNING_JOB = f"RETURNING {', '.join(JOB_COLUMNS)}"


class DuplicateSubmission(ValueError):
    """The same model and revision is already queued, or already evaluated on the selected tasks."""


@dataclass(frozen=True)
class NewJob:
    model: str
    revision: str
    tasks: tuple[str, ...]
    selection: str
    load_from: str | None = None
    requested_revision: str | None = None
    precision: str = "float32"
    submitter: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Job:
    id: int
    model: str
    load_from: str
    revision: str
    requested_revision: str
    precision: str
    selection: str
    tasks: tuple[str, ...]
    submitter: str | None
    note: str | None
    status: str
    attempts: int
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker: str | None
    lease_token: str | None
    lease_expires_at: datetime | None
    error: str | None
    result: dict[str, float | None] | None

    @classmethod
    def from_row(cls, row: tuple) -> "Job":
        values = dict(zip(JOB_COLUMNS, row))
        values["tasks"] = tuple(values["tasks"])
        values["result"] = json.loads(values["result"]) if values["result"] else None
        return cls(**values)


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# submissions -----------------------------------------------------------------------------------------


def enqueue(store: Store, job: NewJob, now: datetime | None = None) -> Job:
    """Add a pending job, refusing duplicates in the same transaction that inserts it."""
    if not job.tasks:
        raise ValueError("a job needs at least one task")
    with store.transaction() as connection:
        reason = duplicate_reason(connection, job.model, job.revision, job.tasks)
        if reason:
            raise DuplicateSubmission(reason)
        row = connection.execute(
            "INSERT INTO jobs (model, load_from, revision, requested_revision, precision, selection, tasks, "
            "submitter, note, status, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) "
            + _RETURNING_JOB,
            [
                job.model,
                job.load_from or job.model,
                job.revision,
                job.requested_revision or job.revision,
                job.precision,
                job.selection,
                list(job.tasks),
                job.submitter,
                job.note,
                now or utc_now(),
            ],
        ).fetchone()
    return Job.from_row(row)


def duplicate_reason(
    connection: duckdb.DuckDBPyConnection, model: str, revision: str, tasks: tuple[str, ...] | None = None
) -> str | None:
    """Why a submission of this model, revision and tasks would repeat work, or None.

    Refused: any pending or running job of the model and revision; a finished job that covered every
    selected task; 'evaluated' scores already stored for every selected task. A failed job never blocks
    a new submission (that is how a job is retried after, say, a maintainer allowed its remote code).
    """
    active = connection.execute(
        "SELECT id, status FROM jobs WHERE model = ? AND revision = ? AND status IN ('pending', 'running') "
        "ORDER BY id LIMIT 1",
        [model, revision],
    ).fetchone()
    if active:
        return f"{model} at revision {revision} is already in the queue (job #{active[0]}, {active[1]})"
    if not tasks:
        return None
    covered = connection.execute(
        "SELECT id FROM jobs WHERE model = ? AND revision = ? AND status = 'finished' "
        "AND list_has_all(tasks, ?) ORDER BY id LIMIT 1",
        [model, revision, list(tasks)],
    ).fetchone()
    if covered:
        return f"{model} at revision {revision} was already evaluated on these tasks (job #{covered[0]})"
    done = evaluated_tasks(connection, model, revision, tasks)
    if done >= set(tasks):
        return f"{model} at revision {revision} already has evaluated scores for all {len(set(tasks))} selected tasks"
    return None


def evaluated_tasks(
    connection: duckdb.DuckDBPyConnection, model: str, revision: str, tasks: tuple[str, ...] | list[str]
) -> set[str]:
    rows = connection.execute(
        "SELECT DISTINCT task FROM scores WHERE model = ? AND revision = ? AND provenance = ? "
        "AND list_contains(?, task)",
        [model, revision, EVALUATED, list(tasks)],
    ).fetchall()
    return {row[0] for row in rows}


def active_job_reason(store: Store, model: str, revision: str) -> str | None:
    """The cheap part of the duplicate check, for refusing early before any Hub or task lookup."""
    with store.connect() as connection:
        return duplicate_reason(connection, model, revision)


# the worker's side -----------------------------------------------------------------------------------


def claim(
    store: Store,
    worker: str,
    lease_s: float,
    now: datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> Job | None:
    """Take the oldest claimable job and lease it to `worker`; None when there is nothing to do."""
    now = now or utc_now()
    with store.transaction() as connection:
        _fail_exhausted_leases(connection, now, max_attempts)
        row = connection.execute(
            """
            UPDATE jobs SET
                status = 'running',
                attempts = attempts + 1,
                worker = ?,
                lease_token = ?,
                lease_expires_at = ?,
                started_at = ?,
                error = CASE WHEN status = 'running'
                             THEN 'attempt ' || attempts || ' (' || worker || ') stopped renewing its lease'
                             ELSE error END
            WHERE id = (
                SELECT id FROM jobs
                WHERE (status = 'pending' OR (status = 'running' AND lease_expires_at < ?)) AND attempts < ?
                ORDER BY submitted_at, id
                LIMIT 1
            )
            """
            + _RETURNING_JOB,
            [worker, uuid.uuid4().hex, now + timedelta(seconds=lease_s), now, now, max_attempts],
        ).fetchone()
    return Job.from_row(row) if row else None


def _fail_exhausted_leases(connection: duckdb.DuckDBPyConnection, now: datetime, max_attempts: int) -> None:
    connection.execute(
        """
        UPDATE jobs SET
            status = 'failed',
            finished_at = ?,
            lease_token = NULL,
            lease_expires_at = NULL,
            error = 'gave up after ' || attempts || ' attempts: the last worker (' || worker
                    || ') stopped renewing its lease'
        WHERE status = 'running' AND lease_expires_at < ? AND attempts >= ?
        """,
        [now, now, max_attempts],
    )


def renew_lease(store: Store, job_id: int, token: str, lease_s: float, now: datetime | None = None) -> bool:
    """Extend the lease; False when the job is no longer this lease holder's (it expired and was taken)."""
    now = now or utc_now()
    with store.transaction() as connection:
        row = connection.execute(
            "UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND lease_token = ? AND status = 'running' "
            "RETURNING id",
            [now + timedelta(seconds=lease_s), job_id, token],
        ).fetchone()
    return row is not None


def finish(
    store: Store, job_id: int, token: str, scores: dict[str, float], now: datetime | None = None
) -> bool:
    result = json.dumps(scores_for_json(scores))
    return _close(store, job_id, token, "finished", now, error=None, result=result)


def fail(store: Store, job_id: int, token: str, error: str, now: datetime | None = None) -> bool:
    return _close(store, job_id, token, "failed", now, error=error, result=None)


def _close(
    store: Store, job_id: int, token: str, status: str, now: datetime | None, error: str | None, result: str | None
) -> bool:
    with store.transaction() as connection:
        row = connection.execute(
            "UPDATE jobs SET status = ?, finished_at = ?, lease_token = NULL, lease_expires_at = NULL, "
            "error = ?, result = ? WHERE id = ? AND lease_token = ? AND status = 'running' RETURNING id",
            [status, now or utc_now(), error, result, job_id, token],
        ).fetchone()
    return row is not None


def release(store: Store, job_id: int, token: str) -> bool:
    """Hand a job back to the queue when its worker was asked to stop; the attempt does not count."""
    with store.transaction() as connection:
        row = connection.execute(
            "UPDATE jobs SET status = 'pending', attempts = attempts - 1, worker = NULL, lease_token = NULL, "
            "lease_expires_at = NULL, started_at = NULL WHERE id = ? AND lease_token = ? AND status = 'running' "
            "RETURNING id",
            [job_id, token],
        ).fetchone()
    return row is not None


def scores_for_json(scores: dict[str, float | None]) -> dict[str, float | None]:
    """{task: score} with NaN as None, since JSON has no NaN."""
    return {task: None if value is None or math.isnan(value) else float(value) for task, value in scores.items()}


# reading the queue -----------------------------------------------------------------------------------


def get_job(store: Store, job_id: int) -> Job | None:
    with store.connect() as connection:
        row = connection.execute(_SELECT_JOB + " WHERE id = ?", [job_id]).fetchone()
    return Job.from_row(row) if row else None


def list_jobs(store: Store, statuses: tuple[str, ...] | list[str] = STATUSES, limit: int = 500) -> list[Job]:
    """Newest first."""
    with store.connect() as connection:
        rows = connection.execute(
            _SELECT_JOB + " WHERE list_contains(?, status) ORDER BY submitted_at DESC, id DESC LIMIT ?",
            [list(statuses), limit],
        ).fetchall()
    return [Job.from_row(row) for row in rows]


# the remote-code allow-list --------------------------------------------------------------------------


def allow_remote_code(store: Store, model: str, allowed_by: str | None = None, now: datetime | None = None) -> bool:
    """Let the worker run this model's own code; False when it was already allowed."""
    with store.transaction() as connection:
        row = connection.execute(
            "INSERT INTO remote_code_allowed VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING model",
            [model, allowed_by, now or utc_now()],
        ).fetchone()
    return row is not None


def remote_code_allowed(store: Store, model: str) -> bool:
    with store.connect() as connection:
        return connection.execute("SELECT count(*) FROM remote_code_allowed WHERE model = ?", [model]).fetchone()[0] > 0
