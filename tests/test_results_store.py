"""The DuckDB store: migrations, upserts, change detection, and several processes on one file."""

from __future__ import annotations

import fcntl
import math
import subprocess
import sys
import textwrap
import time

import duckdb
import pandas as pd
import pytest

from patenteb.catalogue import TASKS
from results.migrations import LATEST_VERSION, MIGRATIONS
from results.store import Store, StoreBusy, StoreCorrupt
from tests.conftest import REPO


def _score(model="org/m", task="retrieval_IN", value=0.5, provenance="evaluated", **extra) -> dict:
    row = {
        "model": model, "revision": "r1", "task": task, "split": "test", "subset": "default",
        "metric": "ndcg_at_10", "provenance": provenance, "value": value,
    }
    row.update(extra)
    return row


def test_a_new_file_gets_every_migration_once(empty_store):
    assert empty_store.schema_version() == LATEST_VERSION
    with empty_store.connect() as connection:
        applied = [row[0] for row in connection.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
    assert applied == [version for version, _, _ in MIGRATIONS]
    reopened = Store(empty_store.path)
    assert reopened.schema_version() == LATEST_VERSION
    with reopened.connect() as connection:
        assert connection.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)


def test_the_catalogue_is_written_with_the_schema_and_kept_in_step(empty_store):
    assert empty_store.generation() == 0
    assert len(empty_store.tasks()) == len(TASKS)
    with duckdb.connect(str(empty_store.path)) as connection:
        connection.execute("UPDATE tasks SET label = 'stale' WHERE task = 'retrieval_IN'")
        connection.execute("DELETE FROM tasks WHERE task = 'para_solution'")
    reopened = Store(empty_store.path)
    tasks = reopened.tasks().set_index("task")
    assert tasks.loc["retrieval_IN", "label"] == "retrieval_IN" and "para_solution" in tasks.index
    assert reopened.generation() == 1
    assert Store(empty_store.path).generation() == 1


def test_upsert_counts_new_changed_unchanged_and_stores_nan_as_null(empty_store):
    first = empty_store.upsert_scores(pd.DataFrame([_score(value=0.5), _score(task="retrieval_OUT", value=math.nan)]))
    assert (first.new, first.changed, first.unchanged) == (2, 0, 0)
    again = empty_store.upsert_scores(pd.DataFrame([_score(value=0.5), _score(task="retrieval_OUT", value=math.nan)]))
    assert (again.new, again.changed, again.unchanged) == (0, 0, 2)
    changed = empty_store.upsert_scores(pd.DataFrame([_score(value=0.75)]))
    assert (changed.new, changed.changed, changed.unchanged) == (0, 1, 0)
    rows = empty_store.all_scores().set_index("task")["value"]
    assert rows["retrieval_IN"] == 0.75
    assert pd.isna(rows["retrieval_OUT"])
    with empty_store.connect() as connection:
        nulls = connection.execute("SELECT count(*) FROM scores WHERE value IS NULL").fetchone()[0]
    assert nulls == 1


def test_two_provenances_of_one_cell_are_both_kept(empty_store):
    empty_store.upsert_scores(pd.DataFrame([_score(provenance="paper", value=0.37), _score(provenance="evaluated", value=0.36)]))
    assert sorted(empty_store.all_scores()["provenance"]) == ["evaluated", "paper"]


def test_model_metadata_merges_without_erasing_known_facts(empty_store):
    empty_store.upsert_models(pd.DataFrame([{"model": "org/m", "params_m": 110.0, "embedding_dim": 768}]))
    counts = empty_store.upsert_models(pd.DataFrame([{"model": "org/m", "params_m": None, "embedding_dim": None, "max_tokens": 512}]))
    assert counts.changed == 1
    row = empty_store.models().set_index("model").loc["org/m"]
    assert (row["params_m"], row["embedding_dim"], row["max_tokens"]) == (110.0, 768, 512)


def test_scores_for_an_unknown_model_create_its_row(empty_store):
    empty_store.upsert_scores(pd.DataFrame([_score(model="new/model")]))
    assert "new/model" in set(empty_store.models()["model"])


def test_generation_moves_only_when_data_changed(empty_store):
    start = empty_store.generation()
    empty_store.upsert_scores(pd.DataFrame([_score()]))
    after_write = empty_store.generation()
    empty_store.upsert_scores(pd.DataFrame([_score()]))
    assert after_write == start + 1
    assert empty_store.generation() == after_write


def test_duplicate_keys_in_one_write_are_refused(empty_store):
    with pytest.raises(ValueError, match="duplicate"):
        empty_store.upsert_scores(pd.DataFrame([_score(), _score(value=0.1)]))
    assert empty_store.score_count() == 0


def test_snapshot_is_reused_until_another_process_writes(seeded_store):
    first = seeded_store.snapshot()
    assert seeded_store.snapshot() is first
    write = textwrap.dedent(
        f"""
        import pandas as pd
        from results.store import Store
        Store({str(seeded_store.path)!r}).upsert_scores(pd.DataFrame([{{
            "model": "other/process", "revision": "r", "task": "retrieval_IN", "split": "test",
            "subset": "default", "metric": "ndcg_at_10", "provenance": "evaluated", "value": 0.42}}]))
        """
    )
    subprocess.run([sys.executable, "-c", write], cwd=REPO, check=True)
    second = seeded_store.snapshot()
    assert second is not first
    assert second.generation == first.generation + 1
    assert "other/process" in set(second.scores["model"])


def test_a_corrupt_store_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "broken.duckdb"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreCorrupt, match="broken.duckdb"):
        Store(path).stats()


def test_a_lock_held_too_long_gives_store_busy(empty_store):
    empty_store.stats()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(empty_store.path)!r}); print('held', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        impatient = Store(empty_store.path, lock_timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="locked by another process"):
            impatient.stats()
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()
    assert Store(empty_store.path).score_count() == 0


def test_a_store_operation_holds_the_store_lock_until_it_closed_the_file(empty_store):
    """DuckDB's own lock once let racing processes read a half-written page: every operation, from open to close,
    also holds `<store>.lock`, whatever the garbage collector does meanwhile."""
    empty_store.stats()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(
            f"""
            import gc, time
            from results.store import Store
            with Store({str(empty_store.path)!r}).connect(write=True):
                gc.collect()
                print("inside", flush=True)
                time.sleep(30)
            """
        )],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    lock_file = empty_store.lock_path
    try:
        assert holder.stdout.readline().strip() == "inside"
        with lock_file.open("a") as handle:
            with pytest.raises(BlockingIOError):
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(StoreBusy, match="locked by another process"):
            Store(empty_store.path, lock_timeout_s=0.5).stats()
    finally:
        holder.kill()
        holder.wait()
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(handle, fcntl.LOCK_UN)
    assert Store(empty_store.path).score_count() == 0


@pytest.mark.slow
def test_two_writer_processes_and_a_reader_lose_nothing(empty_store):
    empty_store.stats()
    writer = textwrap.dedent(
        """
        import sys, pandas as pd
        from results.store import Store
        store = Store(sys.argv[1])
        for i in range(40):
            store.upsert_scores(pd.DataFrame([{
                "model": f"writer{sys.argv[2]}/m", "revision": str(i), "task": "retrieval_IN", "split": "test",
                "subset": "default", "metric": "ndcg_at_10", "provenance": "evaluated", "value": i / 100}]))
        """
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", writer, str(empty_store.path), name], cwd=REPO) for name in ("a", "b")
    ]
    reads = 0
    while any(process.poll() is None for process in processes):
        empty_store.snapshot()
        reads += 1
    assert [process.returncode for process in processes] == [0, 0]
    scores = empty_store.all_scores()
    assert len(scores) == 80
    assert scores.groupby("model")["revision"].nunique().to_dict() == {"writera/m": 40, "writerb/m": 40}
    assert reads > 0
    with duckdb.connect(str(empty_store.path), read_only=True) as connection:
        assert connection.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0] == "80"
