"""The results store: one DuckDB file, opened briefly per operation, never held between requests.

DuckDB lets one process at a time hold a file open for writing (and no other process may even read it
meanwhile), so every operation opens, works and closes, retrying while another process holds the lock.
DuckDB's own lock was not enough between processes: four processes racing to claim 60 jobs on a busy machine
read a half-written page or claimed one job twice in 2-3 rounds of 20. So each operation, from open to close,
also holds `<store>.lock`, one process at a time; with it, 20 rounds of 20 were clean.
Readers keep frames in memory and reload them only when the file changed and its generation moved.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import duckdb
import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from patenteb import settings
from results.migrations import MIGRATIONS
from results.task_table import task_catalogue

if TYPE_CHECKING:
    import pyarrow

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STORE_PATH = REPO_ROOT / "data" / "patenteb.duckdb"

SCORE_KEY = ("model", "revision", "task", "split", "subset", "metric", "provenance")
SCORE_COLUMNS = SCORE_KEY + (
    "value",
    "source",
    "prompt",
    "mteb_version",
    "evaluated_at",
    "evaluation_time_s",
    "notes",
    "dataset_revision",
)

RECORD_FROM_SETTINGS = "from settings"
"""`Store(record=...)` default: the durable record named by $PATENTEB_RECORD_REPO, if any."""

COST_KEY = ("model", "revision", "task")

EXAMPLE_KEY = ("model", "revision", "task", "split", "subset", "example_id")
EXAMPLE_COLUMNS = EXAMPLE_KEY + ("metric", "value", "gold", "predicted", "retrieved")
"""`example_scores`: what each example of an evaluated task scored (evaluator/tasks/examples.py)."""

INTERVAL_KEY = ("model", "revision", "task", "split", "subset", "metric")
INTERVAL_COLUMNS = INTERVAL_KEY + ("low", "high", "n_resamples", "method")
"""`score_intervals`: the bootstrap interval of a task's main score (`metric`) for each (split, subset) of its
per-example rows, recomputed whenever those rows are written (patenteb/statistics.py `task_interval`, seeded, 
`INTERVAL_RESAMPLES` resamples). low and high are NULL where the metric is undefined on too many resamples."""
INTERVAL_RESAMPLES = 1000
INTERVAL_SEED = 0
DRAWS_COLUMNS = INTERVAL_KEY + ("draws",)
"""`score_draws`: the `task_bootstrap` distribution each interval was read from (float32, INTERVAL_RESAMPLES
values), kept so that rank ranges and paired comparisons reuse it instead of resampling the examples again."""

log = logging.getLogger("results.store")

_path_locks: dict[Path, _PathLocks] = {}
_path_locks_guard = threading.Lock()


def default_store_path() -> Path:
    return settings.store_path()


class StoreBusy(RuntimeError):
    """Another process kept the store locked for longer than the lock timeout."""


class StoreCorrupt(RuntimeError):
    """The store file exists but is not a readable DuckDB database."""


@dataclass(frozen=True)
class UpsertCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def written(self) -> int:
        return self.new + self.changed


@dataclass(frozen=True)
class Snapshot:
    """Everything the leaderboard reads, as of one store generation."""

    generation: int
    tasks: pd.DataFrame
    models: pd.DataFrame
    scores: pd.DataFrame
    costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    """What each evaluated task cost (the `evaluation_costs` rows)."""
    intervals: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(INTERVAL_COLUMNS)))
    """The bootstrap interval of each main score that has per-example rows (INTERVAL_COLUMNS; the task's main
    metric on its evaluation split, like `scores`); scores without per-example data have none."""


@dataclass(frozen=True)
class _PathLocks:
    """The locks of one store file: `threads` among this process's threads, then `processes` (its lock file)
    among processes, taken by whichever thread holds `threads`.

    Kept for the life of the process: a FileLock that is garbage-collected closes its file and so lets go of
    the lock while its holder is still inside.
    """

    threads: threading.RLock
    processes: FileLock


def _locks_for(store: Store) -> _PathLocks:
    with _path_locks_guard:
        if store.path not in _path_locks:
            _path_locks[store.path] = _PathLocks(
                threading.RLock(),
                FileLock(store.lock_path, thread_local=False, poll_interval=0.01, preserve_lock_file=True),
            )
        return _path_locks[store.path]


def _is_lock_conflict(error: duckdb.Error) -> bool:
    message = str(error)
    return "lock" in message.lower() and ("Conflicting" in message or "Could not set lock" in message)


class Store:
    def __init__(
        self,
        path: str | os.PathLike | None = None,
        lock_timeout_s: float | None = None,
        record: str | None = RECORD_FROM_SETTINGS,
    ):
        """`record`: where the durable record lives (`results.record`), None for none; every queue change
        and every closed job is pushed there."""
        self.record = settings.record_location() if record == RECORD_FROM_SETTINGS else record
        self.path = Path(path) if path is not None else default_store_path()
        self.path = self.path.expanduser().resolve()
        self.lock_timeout_s = (
            lock_timeout_s if lock_timeout_s is not None else settings.lock_timeout_s()
        )
        self._schema_checked = False
        self._snapshot: Snapshot | None = None
        self._snapshot_signature: tuple | None = None
        self._snapshot_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # files beside the store: a store and what was computed for it move together ----------------------

    @property
    def wal_path(self) -> Path:
        """DuckDB's write-ahead log of the store file."""
        return self.path.with_name(self.path.name + ".wal")

    @property
    def lock_path(self) -> Path:
        """Held by the one process inside the store file (`_locks_for`)."""
        return self.path.with_name(self.path.name + ".lock")

    @property
    def evaluations_dir(self) -> Path:
        """mteb's result files of the worker's evaluations (an `mteb.ResultCache` folder)."""
        return self.path.parent / "evaluations"

    @property
    def embedding_cache_dir(self) -> Path:
        """Texts the worker already encoded, per model, revision and precision."""
        return self.path.parent / "embedding_cache"

    @property
    def index_dir(self) -> Path:
        """The explorer's corpus index files (their rows are in the store's `explorer_indexes`)."""
        return self.path.parent / "explorer"

    # the durable record ------------------------------------------------------------------------------

    def queue_changed(self, job_closed: bool = False) -> None:
        """Called by `results.jobs` after each committed change of the queue: push it to the record.

        A closed job also pushes any result file of the evaluations folder that the record lacks. A failed
        push is logged, never raised: the queue goes on, and the next change pushes the whole state again.
        """
        if self.record:
            from results.record import push_after_queue_change

            push_after_queue_change(self, job_closed)

    # connections -------------------------------------------------------------------------------------

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.005
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.IOException as error:
                if not _is_lock_conflict(error):
                    raise StoreCorrupt(f"cannot open the store {self.path}: {error}") from error
                if time.monotonic() > deadline:
                    raise self._stayed_locked() from error
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 1.6, 0.2)
            except duckdb.Error as error:
                raise StoreCorrupt(f"cannot open the store {self.path}: {error}") from error

    def _stayed_locked(self) -> StoreBusy:
        return StoreBusy(f"the store {self.path} stayed locked by another process for {self.lock_timeout_s:.0f} s")

    @contextmanager
    def _only_user(self) -> Iterator[None]:
        """The one thread of the one process that may open the file, until it closed it again."""
        locks = _locks_for(self)
        with locks.threads:
            try:
                locks.processes.acquire(timeout=self.lock_timeout_s)
            except Timeout as error:
                raise self._stayed_locked() from error
            try:
                yield
            finally:
                locks.processes.release()

    def take_file_of(self, built: Store) -> None:
        """Move `built`'s file into this store's place, while no process has this store open."""
        with self._only_user():
            self.wal_path.unlink(missing_ok=True)
            os.replace(built.path, self.path)
        self._schema_checked = False

    @contextmanager
    def connect(self, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection; one at a time per process (DuckDB refuses mixed configurations)."""
        self._ensure_schema()
        with self._only_user():
            connection = self._open(read_only=not write)
            try:
                yield connection
            finally:
                connection.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction (for results/ only); call `_bump_generation` inside it when data visible to readers changed."""
        with self.connect(write=True) as connection:
            connection.begin()
            try:
                yield connection
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

    @staticmethod
    def _bump_generation(connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute(
            "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'generation'"
        )

    def _ensure_schema(self) -> None:
        """Apply the missing migrations, then write the task catalogue: a new store knows every task.

        A brand-new file starts at generation 0 with the catalogue in place; a catalogue change found in an
        existing file moves the generation like any other write.
        """
        if self._schema_checked:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._only_user():
            connection = self._open(read_only=False)
            try:
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)"
                )
                applied = {row[0] for row in connection.execute("SELECT version FROM schema_migrations").fetchall()}
                brand_new = not applied
                for version, description, sql in MIGRATIONS:
                    if version in applied:
                        continue
                    connection.begin()
                    connection.execute(sql)
                    connection.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, now()::TIMESTAMP)", [version, description]
                    )
                    connection.commit()
                self._write_catalogue(connection, bump=not brand_new)
            finally:
                connection.close()
        self._schema_checked = True

    def _write_catalogue(self, connection: duckdb.DuckDBPyConnection, bump: bool) -> None:
        connection.begin()
        counts = _upsert(connection, "tasks", task_catalogue(), key=("task",), keep_existing_when_null=False)
        if counts.written and bump:
            self._bump_generation(connection)
        connection.commit()

    def schema_version(self) -> int:
        with self.connect() as connection:
            return connection.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]

    # change detection --------------------------------------------------------------------------------

    def signature(self) -> tuple:
        """Cheap fingerprint of the file on disk; it moves whenever any process wrote to the store."""
        parts = []
        for candidate in (self.path, self.wal_path):
            try:
                stat = candidate.stat()
                parts.append((stat.st_mtime_ns, stat.st_size))
            except FileNotFoundError:
                parts.append(None)
        return tuple(parts)

    def generation(self) -> int:
        with self.connect() as connection:
            return int(connection.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def snapshot(self) -> Snapshot:
        """Frames for the leaderboard, reloaded only when another write has landed since the last call."""
        signature = self.signature()
        cached = self._snapshot
        if cached is not None and signature == self._snapshot_signature:
            return cached
        with self._snapshot_lock:
            if self._snapshot is not None and self.signature() == self._snapshot_signature:
                return self._snapshot
            signature = self.signature()
            with self.connect() as connection:
                generation = int(
                    connection.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
                )
                if self._snapshot is not None and self._snapshot.generation == generation:
                    self._snapshot_signature = signature
                    return self._snapshot
                snapshot = Snapshot(
                    generation=generation,
                    tasks=_tasks_frame(connection),
                    models=_models_frame(connection),
                    scores=_main_scores_frame(connection),
                    costs=_costs_frame(connection),
                    intervals=_main_intervals_frame(connection),
                )
            self._snapshot, self._snapshot_signature = snapshot, signature
            return snapshot

    # reads -------------------------------------------------------------------------------------------

    def tasks(self) -> pd.DataFrame:
        with self.connect() as connection:
            return _tasks_frame(connection)

    def models(self) -> pd.DataFrame:
        with self.connect() as connection:
            return _models_frame(connection)

    def main_scores(self) -> pd.DataFrame:
        with self.connect() as connection:
            return _main_scores_frame(connection)

    def all_scores(self) -> pd.DataFrame:
        with self.connect() as connection:
            return connection.execute(
                f"SELECT {', '.join(SCORE_COLUMNS)} FROM scores ORDER BY {', '.join(SCORE_KEY)}"
            ).df()

    def score_count(self, provenance: str | None = None) -> int:
        with self.connect() as connection:
            if provenance is None:
                return connection.execute("SELECT count(*) FROM scores").fetchone()[0]
            return connection.execute("SELECT count(*) FROM scores WHERE provenance = ?", [provenance]).fetchone()[0]

    def stats(self) -> dict:
        with self.connect() as connection:
            by_provenance = dict(
                connection.execute(
                    "SELECT provenance, count(*) FROM scores GROUP BY provenance ORDER BY provenance"
                ).fetchall()
            )
            by_benchmark = dict(
                connection.execute(
                    "SELECT t.benchmark, count(DISTINCT s.model) FROM scores s JOIN tasks t USING (task) "
                    "GROUP BY t.benchmark ORDER BY t.benchmark"
                ).fetchall()
            )
            return {
                "store": str(self.path),
                "schema_version": connection.execute("SELECT max(version) FROM schema_migrations").fetchone()[0],
                "generation": int(connection.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0]),
                "models": connection.execute("SELECT count(*) FROM models").fetchone()[0],
                "models_with_scores": connection.execute("SELECT count(DISTINCT model) FROM scores").fetchone()[0],
                "tasks": connection.execute("SELECT count(*) FROM tasks").fetchone()[0],
                "scores": sum(by_provenance.values()),
                "scores_by_provenance": by_provenance,
                "models_by_benchmark": by_benchmark,
            }

    # writes ------------------------------------------------------------------------------------------

    def upsert_tasks(self, tasks: pd.DataFrame) -> UpsertCounts:
        with self.transaction() as connection:
            counts = _upsert(connection, "tasks", tasks, key=("task",), keep_existing_when_null=False)
            if counts.written:
                self._bump_generation(connection)
            return counts

    def upsert_models(self, models: pd.DataFrame) -> UpsertCounts:
        with self.transaction() as connection:
            counts = _upsert(connection, "models", models, key=("model",), keep_existing_when_null=True)
            if counts.written:
                self._bump_generation(connection)
            return counts

    def upsert_scores(
        self,
        scores: pd.DataFrame,
        models: pd.DataFrame | None = None,
        keep_sources: bool = False,
        costs: pd.DataFrame | None = None,
        examples: pd.DataFrame | None = None,
    ) -> UpsertCounts:
        """Write score rows (and optionally their models' metadata) in one transaction.

        With `keep_sources`, a row whose figures are already stored keeps the source text it was stored with:
        re-importing a file that is already in the store (under another path or label) changes nothing.
        `costs`: what evaluating them cost, one `evaluation_costs` row per (model, revision, task), written in
        the same transaction. `examples`: their per-example rows (EXAMPLE_COLUMNS), written in the same
        transaction as in `upsert_example_scores`, with the tasks' bootstrap intervals.
        """
        incoming = self._prepare_examples(examples)
        with self.transaction() as connection:
            counts = _write_scores(connection, scores, models, keep_sources)
            if costs is not None and not costs.empty:
                _upsert(connection, "evaluation_costs", costs, key=COST_KEY, keep_existing_when_null=False)
            examples_changed = incoming is not None and _replace_example_scores(connection, incoming).changed
            if counts.written or examples_changed:
                self._bump_generation(connection)
            return counts

    def upsert_example_scores(self, examples: pd.DataFrame) -> int:
        """Write per-example rows (EXAMPLE_COLUMNS); each (model, revision, task) present replaces its stored
        rows as a whole, so a task evaluated again keeps no example of its earlier run, and its bootstrap
        intervals (`score_intervals`) are computed again. A task whose rows are stored as they are is left alone.
        Returns the rows written."""
        incoming = self._prepare_examples(examples)
        if incoming is None:
            return 0
        with self.transaction() as connection:
            replaced = _replace_example_scores(connection, incoming)
            if replaced.changed:
                self._bump_generation(connection)
            return replaced.examples

    def _prepare_examples(self, examples: pd.DataFrame | None) -> IncomingExamples | None:
        """Check per-example rows and compute, before any write lock is taken, the intervals of the tasks whose
        rows are new or changed or have none yet (computing one can take seconds; the lock blocks every reader)."""
        if examples is None or examples.empty:
            return None
        _check_example_rows(examples)
        incoming = IncomingExamples(examples, _examples_table(examples))
        with self.connect() as connection:
            needed = incoming.runs_needing_work(connection)
            incoming.main_metrics = _main_metrics(connection)
        incoming.compute_intervals(needed.runs)
        return incoming

    def example_scores(self, model: str | None = None, task: str | None = None) -> pd.DataFrame:
        """Stored per-example rows (EXAMPLE_COLUMNS), optionally of one model and/or one task."""
        return self._rows_of("example_scores", EXAMPLE_COLUMNS, EXAMPLE_KEY, model, task)

    def score_draws(self, runs: pd.DataFrame) -> dict[tuple[str, str, str, str, str], np.ndarray]:
        """The saved bootstrap draws of the main score of each (model, revision, task) in `runs`, by (model,
        revision, task, split, subset); runs without saved draws are left out."""
        wanted = runs[["model", "revision", "task"]].drop_duplicates()
        if wanted.empty:
            return {}
        with self.connect() as connection:
            connection.register("wanted_runs", wanted)
            try:
                rows = connection.execute(
                    """
                    SELECT d.model, d.revision, d.task, d.split, d.subset, d.draws
                    FROM score_draws d
                    JOIN wanted_runs w USING (model, revision, task)
                    JOIN tasks t ON d.task = t.task AND d.metric = t.main_metric AND d.split = t.eval_split
                    """
                ).fetchall()
            finally:
                connection.unregister("wanted_runs")
        return {tuple(row[:5]): np.asarray(row[5], dtype=np.float64) for row in rows}

    def score_intervals(self, model: str | None = None, task: str | None = None) -> pd.DataFrame:
        """Stored bootstrap intervals (INTERVAL_COLUMNS) of every split and subset, optionally of one model and/or
        one task (`snapshot().intervals` holds those of the main scores)."""
        return self._rows_of("score_intervals", INTERVAL_COLUMNS, INTERVAL_KEY, model, task)

    def _rows_of(self, table: str, columns: tuple[str, ...], key: tuple[str, ...], model: str | None,
                 task: str | None) -> pd.DataFrame:
        conditions, parameters = [], []
        for column, value in (("model", model), ("task", task)):
            if value is not None:
                conditions.append(f"{column} = ?")
                parameters.append(value)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        with self.connect() as connection:
            return connection.execute(
                f"SELECT {', '.join(columns)} FROM {table} {where} ORDER BY {', '.join(key)}", parameters
            ).df()

    def evaluation_costs(self) -> pd.DataFrame:
        """What each evaluated task cost: device, texts/s of encoding, peak memory, wall time (one row per task)."""
        with self.connect() as connection:
            return _costs_frame(connection)


def _write_scores(
    connection: duckdb.DuckDBPyConnection,
    scores: pd.DataFrame,
    models: pd.DataFrame | None = None,
    keep_sources: bool = False,
) -> UpsertCounts:
    """Upsert score rows inside an open transaction; NaN values are stored as NULL."""
    if models is not None and not models.empty:
        _upsert(connection, "models", models, key=("model",), keep_existing_when_null=True)
        _ensure_models_exist(connection, scores)
    elif not scores.empty:
        _ensure_models_exist(connection, scores)
    scores = scores.copy()
    if "value" in scores:
        scores["value"] = pd.to_numeric(scores["value"], errors="coerce").astype("float64")
        scores["value"] = scores["value"].astype(object).where(scores["value"].notna(), None)
    return _upsert(
        connection, "scores", scores, key=SCORE_KEY, keep_existing_when_null=False,
        descriptive=("source",) if keep_sources else (),
    )


@dataclass(frozen=True)
class ExamplesReplaced:
    examples: int = 0
    """Per-example rows written (those of tasks whose stored rows differed)."""
    intervals: int = 0
    """Interval rows written."""

    @property
    def changed(self) -> bool:
        return bool(self.examples or self.intervals)


TASK_RUN = ("model", "revision", "task")


@dataclass(frozen=True)
class RunsNeedingWork:
    changed: pd.DataFrame
    """(model, revision, task) whose incoming rows differ from the stored ones."""
    runs: pd.DataFrame
    """Those and the ones with no stored interval: their intervals are computed (again)."""


@dataclass
class IncomingExamples:
    """Per-example rows on their way into the store, with the intervals computed for them so far."""

    rows: pd.DataFrame
    table: pyarrow.Table
    """The rows as an Arrow table with `example_scores`' types."""
    main_metrics: dict[str, str] = field(default_factory=dict)
    intervals: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(INTERVAL_COLUMNS)))
    computed: set[tuple[str, str, str]] = field(default_factory=set)

    def runs_needing_work(self, connection: duckdb.DuckDBPyConnection) -> RunsNeedingWork:
        """Which task runs to write (rows differ from the stored ones: a different count or sum of row hashes, a
        tenth of the time of comparing the rows, which matters when a store pulled at start compares them all)
        and which need their intervals computed (those, and runs with none stored)."""
        columns, run = ", ".join(EXAMPLE_COLUMNS), ", ".join(TASK_RUN)
        connection.register("incoming_examples", self.table)
        try:
            changed = connection.execute(
                f"""
                WITH incoming AS (
                    SELECT {run}, count(*) AS n, sum(hash({columns})) AS fingerprint FROM incoming_examples GROUP BY ALL
                ), stored AS (
                    SELECT {run}, count(*) AS n, sum(hash({columns})) AS fingerprint FROM example_scores
                    WHERE ({run}) IN (SELECT {run} FROM incoming) GROUP BY ALL
                )
                SELECT {run} FROM incoming i LEFT JOIN stored s USING ({run})
                WHERE s.n IS DISTINCT FROM i.n OR s.fingerprint IS DISTINCT FROM i.fingerprint
                """
            ).df()
            without_intervals = connection.execute(
                f"SELECT DISTINCT {run} FROM incoming_examples i WHERE NOT EXISTS (SELECT 1 FROM score_intervals s "
                "WHERE s.model = i.model AND s.revision = i.revision AND s.task = i.task) OR NOT EXISTS (SELECT 1 "
                "FROM score_draws d WHERE d.model = i.model AND d.revision = i.revision AND d.task = i.task)"
            ).df()
        finally:
            connection.unregister("incoming_examples")
        return RunsNeedingWork(changed, pd.concat([changed, without_intervals]).drop_duplicates())

    def compute_intervals(self, runs: pd.DataFrame) -> None:
        """Compute the intervals of those `runs` that were not computed yet."""
        todo = runs[[run not in self.computed for run in runs.itertuples(index=False, name=None)]]
        if todo.empty:
            return
        computed = _interval_rows(self.rows.merge(todo, on=list(TASK_RUN)), self.main_metrics)
        self.intervals = pd.concat([self.intervals, computed], ignore_index=True) if not self.intervals.empty else computed
        self.computed |= set(todo.itertuples(index=False, name=None))

    def intervals_of(self, runs: pd.DataFrame) -> pd.DataFrame:
        return self.intervals.merge(runs, on=list(TASK_RUN))


def _check_example_rows(examples: pd.DataFrame) -> None:
    missing = [column for column in EXAMPLE_KEY + ("metric",) if column not in examples.columns]
    unknown = set(examples.columns) - set(EXAMPLE_COLUMNS)
    if missing or unknown:
        raise ValueError(
            f"per-example rows need the columns {list(EXAMPLE_COLUMNS)}; missing {missing}, unknown {sorted(unknown)}"
        )
    if examples.duplicated(list(EXAMPLE_KEY)).any():
        duplicates = examples[examples.duplicated(list(EXAMPLE_KEY), keep=False)].head(4)
        raise ValueError(f"duplicate per-example keys in one write:\n{duplicates[list(EXAMPLE_KEY)]}")


def _replace_example_scores(connection: duckdb.DuckDBPyConnection, incoming: IncomingExamples) -> ExamplesReplaced:
    """Inside an open transaction: replace the stored rows of each (model, revision, task) whose incoming rows
    differ from the stored ones, and the intervals of those (and of any that has none yet). The intervals were
    computed before the transaction; a run that another writer changed in between is computed here."""
    needed = incoming.runs_needing_work(connection)
    incoming.compute_intervals(needed.runs)
    columns, run = ", ".join(EXAMPLE_COLUMNS), ", ".join(TASK_RUN)
    connection.register("incoming_examples", incoming.table)
    connection.register("changed_runs", needed.changed)
    connection.register("recomputed_runs", needed.runs)
    try:
        written = connection.execute(
            f"SELECT count(*) FROM incoming_examples WHERE ({run}) IN (SELECT {run} FROM changed_runs)"
        ).fetchone()[0]
        connection.execute(f"DELETE FROM example_scores WHERE ({run}) IN (SELECT {run} FROM changed_runs)")
        connection.execute(
            f"INSERT INTO example_scores ({columns}) "
            f"SELECT {columns} FROM incoming_examples WHERE ({run}) IN (SELECT {run} FROM changed_runs)"
        )
        connection.execute(f"DELETE FROM score_intervals WHERE ({run}) IN (SELECT {run} FROM recomputed_runs)")
        connection.execute(f"DELETE FROM score_draws WHERE ({run}) IN (SELECT {run} FROM recomputed_runs)")
    finally:
        for name in ("incoming_examples", "changed_runs", "recomputed_runs"):
            connection.unregister(name)
    intervals = incoming.intervals_of(needed.runs) if not needed.runs.empty else incoming.intervals.iloc[:0]
    if not intervals.empty:
        connection.register("incoming_intervals", intervals)
        try:
            connection.execute(
                f"INSERT INTO score_intervals ({', '.join(INTERVAL_COLUMNS)}) "
                f"SELECT {', '.join(INTERVAL_COLUMNS)} FROM incoming_intervals"
            )
            connection.execute(
                f"INSERT INTO score_draws ({', '.join(DRAWS_COLUMNS)}) "
                f"SELECT {', '.join(DRAWS_COLUMNS)} FROM incoming_intervals"
            )
        finally:
            connection.unregister("incoming_intervals")
    return ExamplesReplaced(examples=written, intervals=len(intervals))


def _main_metrics(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(connection.execute("SELECT task, main_metric FROM tasks").fetchall())


def _interval_rows(examples: pd.DataFrame, main_metric_by_task: dict[str, str]) -> pd.DataFrame:
    """The bootstrap interval of each (model, revision, task, split, subset) of `examples` (INTERVAL_COLUMNS, and
    `draws`: the distribution it was read from, as a list of float32 values)

    A group whose rows the statistics cannot use (fewer than two examples, no numeric values) gets no interval;
    the log says why, and its scores and examples are stored all the same."""
    from patenteb.statistics import StatisticsInputError, task_interval_and_draws

    rows = []
    for (model, revision, task, split, subset), group in examples.groupby(
        ["model", "revision", "task", "split", "subset"], sort=True
    ):
        try:
            interval, draws = task_interval_and_draws(group, n_resamples=INTERVAL_RESAMPLES, seed=INTERVAL_SEED)
        except StatisticsInputError as error:
            log.warning("no interval for %s %s on %s (%s/%s): %s", model, revision, task, split, subset, error)
            continue
        metric = main_metric_by_task.get(task) or str(group["metric"].iloc[0])
        rows.append({
            "model": model, "revision": revision, "task": task, "split": split, "subset": subset, "metric": metric,
            "low": _finite_or_none(interval.low), "high": _finite_or_none(interval.high),
            "n_resamples": interval.n_resamples, "method": interval.method,
            "draws": draws.astype(np.float32).tolist(),
        })
    return pd.DataFrame(rows, columns=[*INTERVAL_COLUMNS, "draws"])


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _examples_table(examples: pd.DataFrame):
    """The rows as an Arrow table with the table's types: a text column that is empty in the first rows (gold
    of retrieval rows written before classification rows) is never guessed to be of another type."""
    import pyarrow

    rows = examples.reindex(columns=list(EXAMPLE_COLUMNS))
    fields = []
    for column in EXAMPLE_COLUMNS:
        if column == "value":
            rows[column] = pd.to_numeric(rows[column], errors="coerce").astype("float64")
            fields.append(pyarrow.field(column, pyarrow.float64()))
        else:
            rows[column] = rows[column].astype(object).where(rows[column].notna(), None)
            fields.append(pyarrow.field(column, pyarrow.string()))
    return pyarrow.Table.from_pandas(rows, schema=pyarrow.schema(fields), preserve_index=False)


def _ensure_models_exist(connection: duckdb.DuckDBPyConnection, scores: pd.DataFrame) -> None:
    names = pd.DataFrame({"model": sorted(set(scores["model"]))})
    connection.register("incoming_model_names", names)
    try:
        connection.execute(
            "INSERT INTO models (model, display_name) SELECT model, model FROM incoming_model_names n "
            "WHERE NOT EXISTS (SELECT 1 FROM models m WHERE m.model = n.model)"
        )
    finally:
        connection.unregister("incoming_model_names")


def _table_columns(connection: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in connection.execute(f"DESCRIBE {table}").fetchall()]


def _upsert(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    rows: pd.DataFrame,
    key: tuple[str, ...],
    keep_existing_when_null: bool,
    descriptive: tuple[str, ...] = (),
) -> UpsertCounts:
    """Insert new rows, update rows whose values differ, leave identical rows untouched.

    `descriptive` columns (such as a score's source text) are not compared: a row whose other values are
    unchanged keeps them as stored; a row that changes gets the new ones.

    `table` and the column names come from this package's schema, never from user input; values are
    passed through a registered frame, never formatted into SQL.
    """
    if rows.empty:
        return UpsertCounts()
    columns = _table_columns(connection, table)
    unknown = set(rows.columns) - set(columns)
    if unknown:
        raise ValueError(f"columns not in table {table}: {sorted(unknown)}")
    if rows.duplicated(list(key)).any():
        duplicates = rows[rows.duplicated(list(key), keep=False)].head(4)
        raise ValueError(f"duplicate {table} keys in one write:\n{duplicates[list(key)]}")
    value_columns = [c for c in rows.columns if c not in key]
    compared_columns = [c for c in value_columns if c not in descriptive]
    connection.register("incoming_frame", rows)
    try:
        connection.execute(f"CREATE OR REPLACE TEMP TABLE incoming AS SELECT * FROM {table} LIMIT 0")
        connection.execute("INSERT INTO incoming BY NAME SELECT * FROM incoming_frame")
    finally:
        connection.unregister("incoming_frame")
    key_match = " AND ".join(f"t.{c} = i.{c}" for c in key)
    if keep_existing_when_null:
        differs = " OR ".join(f"(i.{c} IS NOT NULL AND i.{c} IS DISTINCT FROM t.{c})" for c in compared_columns)
        assignments = ", ".join(f"{c} = coalesce(i.{c}, t.{c})" for c in value_columns)
    else:
        differs = " OR ".join(f"i.{c} IS DISTINCT FROM t.{c}" for c in compared_columns)
        assignments = ", ".join(f"{c} = i.{c}" for c in value_columns)
    differs = differs or "false"
    total = len(rows)
    changed = 0
    if value_columns:
        changed = connection.execute(
            f"SELECT count(*) FROM incoming i JOIN {table} t ON {key_match} WHERE {differs}"
        ).fetchone()[0]
        if changed:
            connection.execute(
                f"UPDATE {table} AS t SET {assignments} FROM incoming i WHERE {key_match} AND ({differs})"
            )
    inserted_columns = ", ".join(rows.columns)
    new = connection.execute(
        f"INSERT INTO {table} ({inserted_columns}) SELECT {inserted_columns} FROM incoming i "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {key_match})"
    ).fetchone()[0]
    connection.execute("DROP TABLE incoming")
    return UpsertCounts(new=new, changed=changed, unchanged=total - new - changed)


def _tasks_frame(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return connection.execute("SELECT * FROM tasks ORDER BY display_order NULLS LAST, task").df()


def _models_frame(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return connection.execute("SELECT * FROM models ORDER BY model").df()


def _costs_frame(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return connection.execute(f"SELECT * FROM evaluation_costs ORDER BY {', '.join(COST_KEY)}").df()


def _main_intervals_frame(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The intervals of the main scores (a task's main metric on its evaluation split), as `_main_scores_frame`."""
    columns = ", ".join(f"i.{column}" for column in INTERVAL_COLUMNS)
    return connection.execute(
        f"""
        SELECT {columns}
        FROM score_intervals i
        JOIN tasks t ON i.task = t.task AND i.metric = t.main_metric AND i.split = t.eval_split
        ORDER BY i.model, i.task, i.subset, i.revision
        """
    ).df()


def _main_scores_frame(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per score of a task's main metric on its evaluation split (the leaderboard's long frame)."""
    return connection.execute(
        """
        SELECT s.model, s.revision, s.task, s.subset, s.metric, s.value, s.provenance, s.source, s.prompt,
               s.mteb_version, s.evaluated_at, s.notes, s.dataset_revision
        FROM scores s
        JOIN tasks t ON s.task = t.task AND s.metric = t.main_metric AND s.split = t.eval_split
        ORDER BY s.model, s.task, s.subset, s.provenance, s.revision
        """
    ).df()
