"""The evaluation queue: jobs with leases in the store, and the maintainers' allow-list for remote code.

A worker claims the oldest pending job (or one whose lease expired) in one UPDATE ... RETURNING inside a
write transaction, which holds the DuckDB file exclusively: two workers can never claim the same job.
The claim gives the job a fresh lease token; renewing, finishing, failing and releasing all name that
token, so a worker whose lease expired and was taken over can no longer change the job. A lease that
expires counts as a failed attempt: the job is claimed again, and after MAX_ATTEMPTS it is marked failed.
From the moment its lease expires a job is read as pending ("will be retried") or failed, never as
running (`Job.as_of`). A worker known to be dead hands its jobs back at once (`release_worker_jobs`).
Every change of the queue is reported to the store (`Store.queue_changed`), which keeps the durable record.
Times are naive UTC.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta, timezone

import duckdb

from results.store import Store
from results.vocabulary import EVALUATED

MAX_ATTEMPTS = 3
STATUSES = ("pending", "running", "finished", "failed")

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
    "submitter_verified",
)
SNAPSHOT_FORMAT = "patenteb-queue/1"
_SELECT_JOB = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"
_RETURNING_JOB = f"RETURNING {', '.join(JOB_COLUMNS)}"


class DuplicateSubmission(ValueError):
    """The same model and revision is already queued, or already evaluated on the selected tasks."""


class LimitReached(ValueError):
    """The queue, or this submitter's share of it, is full; the message says which limit and when it frees."""


@dataclass(frozen=True)
class QueueLimits:
    submissions_per_day: int
    """per submitter, over the last 24 hours"""
    pending_per_submitter: int
    """pending or running jobs of one submitter"""
    queue_size: int
    """pending or running jobs in all"""


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
    submitter_verified: bool = False
    """True when the name comes from a Hub sign-in; a typed name is unverified."""


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
    submitter_verified: bool = False

    @classmethod
    def from_row(cls, row: tuple) -> "Job":
        values = dict(zip(JOB_COLUMNS, row))
        values["tasks"] = tuple(values["tasks"])
        values["result"] = json.loads(values["result"]) if values["result"] else None
        return cls(**values)

    def lease_expired(self, now: datetime) -> bool:
        return self.status == "running" and self.lease_expires_at is not None and self.lease_expires_at < now

    def as_of(self, now: datetime, max_attempts: int = MAX_ATTEMPTS) -> "Job":
        """The job as the queue treats it at `now`: a running job whose lease expired is pending again
        (it will be retried) or, after its last attempt, failed."""
        if not self.lease_expired(now):
            return self
        if self.attempts < max_attempts:
            return replace(self, status="pending", error=_lease_lost(self.attempts, self.worker, max_attempts))
        return replace(
            self, status="failed", finished_at=self.lease_expires_at, error=_gave_up(self.attempts, self.worker)
        )


def _lease_lost(attempts: int, worker: str | None, max_attempts: int) -> str:
    return (
        f"attempt {attempts} ({worker}) stopped renewing its lease; "
        f"it will be retried (attempt {attempts + 1} of {max_attempts})"
    )


def _gave_up(attempts: int, worker: str | None) -> str:
    return f"gave up after {attempts} attempts: the last worker ({worker}) stopped renewing its lease"


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# submissions -----------------------------------------------------------------------------------------


def enqueue(store: Store, job: NewJob, now: datetime | None = None, limits: QueueLimits | None = None) -> Job:
    """Add a pending job, refusing duplicates and (with `limits`) a full queue in the transaction that inserts it."""
    if not job.tasks:
        raise ValueError("a job needs at least one task")
    now = now or utc_now()
    with store.transaction() as connection:
        _fail_exhausted_leases(connection, now, MAX_ATTEMPTS)
        reason = duplicate_reason(connection, job.model, job.revision, job.tasks, now=now)
        if reason:
            raise DuplicateSubmission(reason)
        if limits is not None:
            reason = limit_reason(connection, job.submitter, limits, now)
            if reason:
                raise LimitReached(reason)
        row = connection.execute(
            "INSERT INTO jobs (model, load_from, revision, requested_revision, precision, selection, tasks, "
            "submitter, note, status, submitted_at, submitter_verified) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) " + _RETURNING_JOB,
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
                now,
                job.submitter_verified,
            ],
        ).fetchone()
    store.queue_changed()
    return Job.from_row(row)


def submitter_key(submitter: str | None) -> str:
    """Whose share of the queue a job counts against: names compare without case or surrounding space."""
    return (submitter or "").strip().casefold()


def limit_reason(
    connection: duckdb.DuckDBPyConnection, submitter: str | None, limits: QueueLimits, now: datetime
) -> str | None:
    """Why the queue takes no new job from `submitter` now, or None."""
    active = connection.execute("SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')").fetchone()[0]
    if active >= limits.queue_size:
        return (
            f"the queue is full ({active} jobs waiting or running, the limit is {limits.queue_size}); "
            "try again when some have finished"
        )
    key = submitter_key(submitter)
    mine = "lower(trim(coalesce(submitter, ''))) = ?"
    pending = connection.execute(
        f"SELECT count(*) FROM jobs WHERE {mine} AND status IN ('pending', 'running')", [key]
    ).fetchone()[0]
    who = f"{submitter.strip()!r}" if key else "anonymous submitters"
    if pending >= limits.pending_per_submitter:
        return (
            f"{who} already {'has' if key else 'have'} {pending} jobs waiting or running "
            f"(at most {limits.pending_per_submitter}); submit again when one has finished"
        )
    since = now - timedelta(days=1)
    recent = connection.execute(
        f"SELECT count(*), min(submitted_at) FROM jobs WHERE {mine} AND submitted_at > ?", [key, since]
    ).fetchone()
    if recent[0] >= limits.submissions_per_day:
        frees_at = recent[1] + timedelta(days=1)
        return (
            f"{who} submitted {recent[0]} models in the last 24 hours (at most {limits.submissions_per_day}); "
            f"the next submission is possible after {frees_at:%Y-%m-%d %H:%M} UTC"
        )
    return None


def duplicate_reason(
    connection: duckdb.DuckDBPyConnection,
    model: str,
    revision: str,
    tasks: tuple[str, ...] | None = None,
    now: datetime | None = None,
) -> str | None:
    """Why a submission of this model, revision and tasks would repeat work, or None.

    Refused: any pending or running job of the model and revision (a running job whose lease expired is
    explained: it will be retried); a finished job that covered every selected task; 'evaluated' scores
    already stored for every selected task. A failed job, or one whose last lease expired after its last
    attempt, never blocks a new submission (that is how a job is retried after, say, a maintainer allowed
    its remote code).
    """
    now = now or utc_now()
    rows = connection.execute(
        _SELECT_JOB + " WHERE model = ? AND revision = ? AND status IN ('pending', 'running') ORDER BY id",
        [model, revision],
    ).fetchall()
    active = [job for job in (Job.from_row(row).as_of(now) for row in rows) if job.status != "failed"]
    if active:
        job = active[0]
        if job.attempts and job.status == "pending" and job.error:
            return f"{model} at revision {revision} is already in the queue (job #{job.id}): {job.error}"
        return f"{model} at revision {revision} is already in the queue (job #{job.id}, {job.status})"
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


def active_limit_reason(store: Store, submitter: str | None, limits: QueueLimits, now: datetime | None = None) -> str | None:
    """The limits, checked early (before any Hub lookup); `enqueue` checks them again as it inserts."""
    with store.connect() as connection:
        return limit_reason(connection, submitter, limits, now or utc_now())


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
        gave_up = _fail_exhausted_leases(connection, now, max_attempts)
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
    if row or gave_up:
        store.queue_changed()
    return Job.from_row(row) if row else None


def _fail_exhausted_leases(connection: duckdb.DuckDBPyConnection, now: datetime, max_attempts: int) -> int:
    """Mark failed the running jobs whose last allowed attempt lost its lease; returns how many."""
    return len(connection.execute(
        """
        UPDATE jobs SET
            status = 'failed',
            finished_at = ?,
            lease_token = NULL,
            lease_expires_at = NULL,
            error = 'gave up after ' || attempts || ' attempts: the last worker (' || worker
                    || ') stopped renewing its lease'
        WHERE status = 'running' AND lease_expires_at < ? AND attempts >= ?
        RETURNING id
        """,
        [now, now, max_attempts],
    ).fetchall())


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
    if row is not None:
        store.queue_changed(job_closed=True)
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
    if row is not None:
        store.queue_changed()
    return row is not None


def release_worker_jobs(
    store: Store,
    worker: str,
    reason: str = "the worker died",
    now: datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> list[int]:
    """Hand back at once the running jobs of a worker known to be dead (its name, `host:pid`).

    The attempt counts, as when a lease expires (a model that kills its worker must not loop forever):
    a job with attempts left is pending again, one without is failed. Returns the ids handed back.
    """
    with store.transaction() as connection:
        ids = _hand_back(connection, "worker = ?", [worker], reason, now or utc_now(), max_attempts)
    if ids:
        store.queue_changed()
    return ids


def _hand_back(
    connection: duckdb.DuckDBPyConnection,
    which: str,
    parameters: list,
    reason: str,
    now: datetime,
    max_attempts: int,
) -> list[int]:
    """Running jobs matching `which` (SQL over jobs' columns, from this module only) become pending or failed."""
    rows = connection.execute(
        f"""
        UPDATE jobs SET
            status = CASE WHEN attempts < ? THEN 'pending' ELSE 'failed' END,
            finished_at = CASE WHEN attempts < ? THEN NULL ELSE ? END,
            error = CASE WHEN attempts < ?
                         THEN 'attempt ' || attempts || ' (' || coalesce(worker, '?') || ') ended: ' || ?
                              || '; it will be retried (attempt ' || (attempts + 1) || ' of ' || CAST(? AS VARCHAR) || ')'
                         ELSE 'gave up after ' || attempts || ' attempts: the last one (' || coalesce(worker, '?')
                              || ') ended: ' || ? END,
            lease_token = NULL,
            lease_expires_at = NULL
        WHERE status = 'running' AND {which}
        RETURNING id
        """,
        [max_attempts, max_attempts, now, max_attempts, reason, max_attempts, reason, *parameters],
    ).fetchall()
    return sorted(row[0] for row in rows)


def scores_for_json(scores: dict[str, float | None]) -> dict[str, float | None]:
    """{task: score} with NaN as None, since JSON has no NaN."""
    return {task: None if value is None or math.isnan(value) else float(value) for task, value in scores.items()}


# reading the queue -----------------------------------------------------------------------------------


def get_job(store: Store, job_id: int) -> Job | None:
    """The job as stored (a running job keeps its status after its lease expired: see `Job.as_of`)."""
    with store.connect() as connection:
        row = connection.execute(_SELECT_JOB + " WHERE id = ?", [job_id]).fetchone()
    return Job.from_row(row) if row else None


def list_jobs(
    store: Store,
    statuses: tuple[str, ...] | list[str] = STATUSES,
    limit: int = 500,
    now: datetime | None = None,
) -> list[Job]:
    """Newest first, as the queue treats them at `now`: a job whose lease expired is no longer running."""
    now = now or utc_now()
    with store.connect() as connection:
        rows = connection.execute(
            _SELECT_JOB + " WHERE list_contains(?, status) OR status = 'running' "
            "ORDER BY submitted_at DESC, id DESC",
            [list(statuses)],
        ).fetchall()
    seen = (Job.from_row(row).as_of(now) for row in rows)
    return [job for job in seen if job.status in statuses][:limit]


def next_lease_expiry(jobs: list[Job]) -> datetime | None:
    """When the first of these running jobs stops being running unless its lease is renewed."""
    expiries = [job.lease_expires_at for job in jobs if job.status == "running" and job.lease_expires_at]
    return min(expiries) if expiries else None


# the remote-code allow-list --------------------------------------------------------------------------


def allow_remote_code(store: Store, model: str, allowed_by: str | None = None, now: datetime | None = None) -> bool:
    """Let the worker run this model's own code; False when it was already allowed."""
    with store.transaction() as connection:
        row = connection.execute(
            "INSERT INTO remote_code_allowed VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING model",
            [model, allowed_by, now or utc_now()],
        ).fetchone()
    if row is not None:
        store.queue_changed()
    return row is not None


def remote_code_allowed(store: Store, model: str) -> bool:
    with store.connect() as connection:
        return connection.execute("SELECT count(*) FROM remote_code_allowed WHERE model = ?", [model]).fetchone()[0] > 0


# the queue as a document (the durable record) --------------------------------------------------------


def queue_snapshot(store: Store) -> dict:
    """Every job and allow-list entry as plain JSON values (lease tokens left out: they die with the worker)."""
    with store.connect() as connection:
        rows = connection.execute(_SELECT_JOB + " ORDER BY id").fetchall()
        allowed = connection.execute(
            "SELECT model, allowed_by, allowed_at FROM remote_code_allowed ORDER BY model"
        ).fetchall()
    return {
        "format": SNAPSHOT_FORMAT,
        "jobs": [_job_document(Job.from_row(row)) for row in rows],
        "remote_code_allowed": [
            {"model": model, "allowed_by": allowed_by, "allowed_at": allowed_at.isoformat()}
            for model, allowed_by, allowed_at in allowed
        ],
    }


def _job_document(job: Job) -> dict:
    document = asdict(job)
    document["tasks"] = list(job.tasks)
    document["lease_token"] = None
    for name in ("submitted_at", "started_at", "finished_at", "lease_expires_at"):
        document[name] = document[name].isoformat() if document[name] else None
    return document


class SnapshotError(ValueError):
    """A queue document that cannot be restored; nothing was changed."""


def restore_queue(
    store: Store, snapshot: dict, reason: str = "the app restarted", now: datetime | None = None
) -> list[Job]:
    """Replace the queue with a snapshot's, in one transaction; jobs that were running are handed back.

    Their workers did not survive what made a restore necessary: each running job counts its attempt and is
    pending again (or failed after its last attempt), as if its worker had died. Returns the jobs restored.
    """
    jobs_rows, allowed_rows = _snapshot_rows(snapshot)
    with store.transaction() as connection:
        connection.execute("DELETE FROM jobs")
        connection.execute("DELETE FROM remote_code_allowed")
        placeholders = ", ".join("?" for _ in JOB_COLUMNS)
        for row in jobs_rows:
            connection.execute(f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) VALUES ({placeholders})", row)
        for row in allowed_rows:
            connection.execute("INSERT INTO remote_code_allowed VALUES (?, ?, ?)", row)
        _advance_job_ids(connection)
        _hand_back(connection, "true", [], reason, now or utc_now(), MAX_ATTEMPTS)
        restored = connection.execute(_SELECT_JOB + " ORDER BY id").fetchall()
    return [Job.from_row(row) for row in restored]


def _snapshot_rows(snapshot: dict) -> tuple[list[list], list[list]]:
    if not isinstance(snapshot, dict) or snapshot.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotError(f"not a queue snapshot (expected format {SNAPSHOT_FORMAT!r})")
    try:
        jobs_rows = []
        for document in snapshot["jobs"]:
            values = {name: document.get(name) for name in JOB_COLUMNS}
            values["lease_token"] = None
            values["tasks"] = [str(task) for task in values["tasks"]]
            values["result"] = json.dumps(values["result"]) if values["result"] is not None else None
            values["submitter_verified"] = bool(values["submitter_verified"])
            for name in ("submitted_at", "started_at", "finished_at", "lease_expires_at"):
                values[name] = datetime.fromisoformat(values[name]) if values[name] else None
            jobs_rows.append([values[name] for name in JOB_COLUMNS])
        allowed_rows = [
            [entry["model"], entry.get("allowed_by"), datetime.fromisoformat(entry["allowed_at"])]
            for entry in snapshot["remote_code_allowed"]
        ]
    except (KeyError, TypeError, ValueError) as error:
        raise SnapshotError(f"a queue snapshot entry is malformed: {type(error).__name__}: {error}") from None
    return jobs_rows, allowed_rows


def _advance_job_ids(connection: duckdb.DuckDBPyConnection) -> None:
    """Move the id sequence past the highest restored id, so new jobs never reuse one."""
    highest = connection.execute("SELECT coalesce(max(id), 0) FROM jobs").fetchone()[0]
    last = connection.execute(
        "SELECT coalesce(last_value, 0) FROM duckdb_sequences() WHERE sequence_name = 'job_ids'"
    ).fetchone()[0]
    if highest > last:
        connection.execute("SELECT max(nextval('job_ids')) FROM range(?)", [highest - last])
