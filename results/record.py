"""The durable record: what rebuilds the store, kept where a restart does not wipe it.

A Hugging Face Space loses its disk on every restart, so the DuckDB file is only a cache. What rebuilds it:
the shipped seed (in the code), the mteb result files the worker writes, and the queue. The record keeps
the last two at a location the operator names ($PATENTEB_RECORD_REPO), as an fsspec URL:
`hf://datasets/<org>/<name>` (a Hub dataset repository, written through huggingface_hub) or a plain local
folder (a mounted disk, tests). Layout:

    queue.json                                     every job and the remote-code allow-list
    evaluations/results/<org>__<model>/<revision>/ the worker's result files, model_meta.json, its notes,
                                                   and each task's per-example file (<Task>.examples.parquet)

`pull` rebuilds a store from a record; `rebuild` does it into a new file from a record or from a folder of
the worker's result files. Pushes happen on their own: the queue functions report each change to the
store (`Store.queue_changed`), and the worker calls `record_task_result` after each task it writes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import fsspec
from filelock import FileLock
from fsspec.implementations.local import LocalFileSystem

from results import jobs
from results.importer import ImportReport, import_evaluations
from results.mteb_files import MODEL_META_FILE, RUNS_FILE, examples_file
from results.store import Store

log = logging.getLogger("results.record")

QUEUE_FILE = "queue.json"
EVALUATIONS = "evaluations"
RESULT_LAYOUT_DEPTH = 3
"""A result file's place in an mteb ResultCache: results/<org>__<model>/<revision>/<Task>.json."""


class RecordError(RuntimeError):
    """The record cannot be read or written; the message says where and why."""


@dataclass(frozen=True)
class Record:
    location: str
    fs: fsspec.AbstractFileSystem
    root: str

    @classmethod
    def at(cls, location: str | os.PathLike) -> "Record":
        """The record at an fsspec URL (`hf://datasets/org/name`, `file:///…`) or a local folder."""
        location = str(location)
        try:
            fs, root = fsspec.core.url_to_fs(location)
        except (ValueError, ImportError) as error:
            raise RecordError(f"cannot use {location!r} as a record: {error}") from error
        return cls(location, fs, root.rstrip("/"))

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}" if relative else self.root

    def read_bytes(self, relative: str) -> bytes | None:
        """The file's bytes, or None when the record has no such file."""
        try:
            return self.fs.cat_file(self.path(relative))
        except FileNotFoundError:
            return None

    def files(self, under: str) -> dict[str, int]:
        """{path relative to the record: size} of every file below `under`."""
        self.fs.invalidate_cache()
        base = self.path(under)
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return {}
        return {
            str(PurePosixPath(name).relative_to(self.root)): int(info.get("size") or 0)
            for name, info in found.items()
            if info.get("type") == "file"
        }

    def write(self, files: dict[str, bytes], message: str) -> None:
        """Write files (relative path -> bytes) at once: one commit on the Hub, atomic renames on disk."""
        if not files:
            return
        if self.is_local:
            for relative, data in files.items():
                _write_atomically(Path(self.path(relative)), data)
            return
        self._commit_to_hub(files, message)

    def _commit_to_hub(self, files: dict[str, bytes], message: str) -> None:
        from huggingface_hub import CommitOperationAdd, HfApi

        resolved = self.fs.resolve_path(self.root)
        prefix = resolved.path_in_repo.strip("/")
        operations = [
            CommitOperationAdd(path_in_repo=f"{prefix}/{relative}" if prefix else relative, path_or_fileobj=data)
            for relative, data in files.items()
        ]
        api = HfApi(token=getattr(self.fs, "token", None))
        api.create_repo(resolved.repo_id, repo_type=resolved.repo_type, private=True, exist_ok=True)
        api.create_commit(
            resolved.repo_id,
            operations=operations,
            commit_message=message,
            repo_type=resolved.repo_type,
            revision=resolved.revision,
        )
        self.fs.invalidate_cache()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _as_record(record: Record | str | os.PathLike) -> Record:
    return record if isinstance(record, Record) else Record.at(record)


# pushing ---------------------------------------------------------------------------------------------


def push_jobs(record: Record | str, store: Store) -> None:
    """Write the queue's state (every job, the allow-list) to the record."""
    snapshot = jobs.queue_snapshot(store)
    data = json.dumps(snapshot, indent=1, ensure_ascii=False).encode("utf-8")
    _as_record(record).write({QUEUE_FILE: data}, message=f"queue: {len(snapshot['jobs'])} jobs")


def result_files_of(result_path: Path) -> dict[str, Path]:
    """A result file and the files beside it that rebuilding its rows needs, by their place in the record."""
    result_path = Path(result_path)
    if len(result_path.parts) <= RESULT_LAYOUT_DEPTH:
        raise RecordError(f"{result_path} is not inside an mteb results folder (results/<model>/<revision>/)")
    folder = PurePosixPath(EVALUATIONS, *result_path.parts[-RESULT_LAYOUT_DEPTH - 1 : -1])
    files = {str(folder / result_path.name): result_path}
    for name in (MODEL_META_FILE, RUNS_FILE, examples_file(result_path).name):
        beside = result_path.parent / name
        if beside.is_file():
            files[str(folder / name)] = beside
    return files


def push_result(record: Record | str, result_path: Path) -> None:
    """Write one of the worker's result files, with its model_meta.json and the worker's notes, to the record."""
    files = result_files_of(result_path)
    _as_record(record).write(
        {relative: path.read_bytes() for relative, path in files.items()},
        message=f"result: {PurePosixPath(next(iter(files)))}",
    )


def sync_evaluations(record: Record | str, store: Store) -> int:
    """Push every file of the store's evaluations folder that the record lacks or holds at another size."""
    record = _as_record(record)
    local = _local_files(store.evaluations_dir)
    remote = record.files(EVALUATIONS)
    missing = {
        f"{EVALUATIONS}/{relative}": path
        for relative, path in local.items()
        if remote.get(f"{EVALUATIONS}/{relative}") != path.stat().st_size
    }
    record.write({relative: path.read_bytes() for relative, path in missing.items()},
                 message=f"results: {len(missing)} files")
    return len(missing)


def _local_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {
        path.relative_to(folder).as_posix(): path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }


def _push_lock(store: Store) -> FileLock:
    """One pusher at a time per store (the app and its worker): each push reads the state after the last one."""
    return FileLock(str(store.path) + ".record.lock")


def pulled_marker(store: Store) -> Path:
    """Beside the store: which record it was last pulled from. Without it nothing is pushed, so that a store
    that could not be pulled (the Hub was down at start) never overwrites the record's queue with its own."""
    return store.path.with_name(store.path.name + ".record")


def was_pulled_from(store: Store, location: str) -> bool:
    try:
        return json.loads(pulled_marker(store).read_text(encoding="utf-8")).get("record") == location
    except (OSError, ValueError, AttributeError):
        return False


def push_after_queue_change(store: Store, job_closed: bool) -> None:
    """The store's hook: push the queue (and, when a job closed, missing result files); log a failure."""
    if not was_pulled_from(store, store.record):
        log.warning("queue change not pushed: %s was never pulled from the record %s", store.path, store.record)
        return
    try:
        record = Record.at(store.record)
        with _push_lock(store):
            push_jobs(record, store)
            if job_closed:
                sync_evaluations(record, store)
    except Exception:  # the record is remote: a failure must not stop the queue; the next change pushes again
        log.exception("could not push the queue to the record %s", store.record)


def record_task_result(store: Store, result_path: Path) -> None:
    """For the worker, after each task it wrote: push that result file to the store's record, if it has one."""
    if not store.record or not was_pulled_from(store, store.record):
        return
    try:
        record = Record.at(store.record)
        with _push_lock(store):
            push_result(record, result_path)
    except Exception:  # as above: the job goes on, and the job's end pushes any file still missing
        log.exception("could not push %s to the record %s", result_path, store.record)


# pulling and rebuilding ------------------------------------------------------------------------------


@dataclass
class PullReport:
    files_downloaded: int
    seeded: bool
    jobs_restored: int | None
    """None when the record held no queue (the store's own queue, if any, was pushed instead)."""
    evaluations: ImportReport

    def summary(self) -> str:
        queue = "no queue in the record" if self.jobs_restored is None else f"{self.jobs_restored} jobs restored"
        return (
            f"{self.files_downloaded} result files downloaded; {'seeded; ' if self.seeded else ''}{queue}; "
            f"evaluations: {self.evaluations.summary()}"
        )


def pull(record: Record | str, store: Store, show_progress: bool = False, push_back: bool = True) -> PullReport:
    """Bring the store up to the record: its result files, their scores, and its queue.

    Result files are downloaded beside the store (where the worker looks for finished tasks) and imported
    with the rows the worker wrote; the queue replaces the store's (jobs that were running are handed back:
    their worker did not survive). With `push_back`, what the store has and the record lacks (its queue,
    when the record has none; result files) is pushed to the record. Only a store pulled this way pushes its
    queue changes afterwards (`pulled_marker`). Idempotent.
    """
    from results.seed import is_seeded, seed

    record = _as_record(record)
    try:
        downloaded = _download_evaluations(record, store.evaluations_dir)
        queue_document = record.read_bytes(QUEUE_FILE)
    except (OSError, ValueError) as error:
        raise RecordError(f"cannot read the record {record.location}: {type(error).__name__}: {error}") from error
    restored = None
    if queue_document is not None:
        try:
            snapshot = json.loads(queue_document)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RecordError(f"{record.location}/{QUEUE_FILE} is not JSON: {error}") from error
        try:
            restored = len(jobs.restore_queue(store, snapshot, reason="the store was rebuilt from its record"))
        except jobs.SnapshotError as error:
            raise RecordError(f"{record.location}/{QUEUE_FILE}: {error}") from error
    seeded = not is_seeded(store)
    if seeded:
        seed(store, show_progress=show_progress)
    evaluations = import_evaluations(store, store.evaluations_dir, _job_models(store), show_progress)
    if push_back:
        if queue_document is None:
            push_jobs(record, store)
        sync_evaluations(record, store)
    _write_atomically(pulled_marker(store), json.dumps({"record": record.location}).encode("utf-8"))
    return PullReport(downloaded, seeded, restored, evaluations)


def _download_evaluations(record: Record, target: Path) -> int:
    downloaded = 0
    for relative, size in record.files(EVALUATIONS).items():
        local = target / PurePosixPath(relative).relative_to(EVALUATIONS)
        if local.is_file() and local.stat().st_size == size:
            continue
        data = record.read_bytes(relative)
        if data is not None:
            _write_atomically(local, data)
            downloaded += 1
    return downloaded


def _job_models(store: Store) -> dict[tuple[str, str], tuple[str, str]]:
    """{(the name mteb files a result under, revision): (the store's model name, precision)} from the queue."""
    known = {}
    for job in sorted(jobs.list_jobs(store, limit=10**9), key=lambda job: job.id):
        mteb_name = job.model if "/" in job.model else f"local/{job.model}"
        known[(mteb_name, job.revision)] = (job.model, job.precision)
    return known


def is_record(location: str | os.PathLike) -> bool:
    """Whether `location` is a record (a queue or an evaluations folder in it), not a bare results folder."""
    record = Record.at(location)
    return record.fs.exists(record.path(QUEUE_FILE)) or record.fs.isdir(record.path(EVALUATIONS))


def rebuild(source: str | os.PathLike, target: Path, replace: bool = False, show_progress: bool = False) -> PullReport:
    """Build a new store at `target` from a record or a folder of the worker's result files.

    The store is built beside `target` under another name and moved into place only when complete, so an
    interrupted rebuild leaves `target` as it was. An existing `target` is replaced only with `replace`.
    """
    target = Path(target).expanduser().resolve()
    if target.exists() and not replace:
        raise RecordError(f"{target} exists; pass --replace to rebuild it (its scores and queue are then lost)")
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f".{target.name}.rebuild-{os.getpid()}")
    building.unlink(missing_ok=True)
    store = Store(building, record=None)
    try:
        if is_record(source):
            report = pull(Record.at(source), store, show_progress, push_back=False)
        else:
            report = _rebuild_from_results(Path(source), store, show_progress)
        rebuilt = Store(target, record=None)
        rebuilt.take_file_of(store)
        if pulled_marker(store).exists():
            os.replace(pulled_marker(store), pulled_marker(rebuilt))
        else:
            pulled_marker(rebuilt).unlink(missing_ok=True)
    finally:
        for leftover in (building, store.wal_path, store.lock_path, pulled_marker(store)):
            leftover.unlink(missing_ok=True)
    return report


def _rebuild_from_results(folder: Path, store: Store, show_progress: bool) -> PullReport:
    from results.seed import seed

    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        raise RecordError(f"{folder} is not a folder of result files")
    copied = 0
    if folder != store.evaluations_dir.resolve():
        source = folder / "results" if (folder / "results").is_dir() else folder
        for relative, path in _local_files(source).items():
            local = store.evaluations_dir / "results" / relative
            if not (local.is_file() and local.stat().st_size == path.stat().st_size):
                local.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, local)
                copied += 1
    seed(store, show_progress=show_progress)
    evaluations = import_evaluations(store, store.evaluations_dir, show_progress=show_progress)
    return PullReport(copied, True, None, evaluations)
