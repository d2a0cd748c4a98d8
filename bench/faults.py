"""Fault figures of the evaluation queue: SIGKILL to the worker, and to the app, at chosen moments of real demo jobs.

Worker rounds: the real WorkerSupervisor, wired as the app wires it (a dead worker's jobs are handed back at once),
keeps `python -m evaluator worker` alive over a scratch store. Each round queues a demo job (3 tasks) for a tiny
random BERT and SIGKILLs the worker at one of these moments, in turn:
  random        a random delay after the claim, up to 0.8 x the length of an undisturbed job on a warm worker
  result-file   right after the k-th task's mteb result file appears, before its rows reach the store
  store-write   while the store's write-ahead log exists after the k-th result file (its rows being committed)
App rounds: `python app.py` runs with its own supervised worker; the app is SIGKILLed while its worker writes (the
store-write moment). The worker, which dies with the app, gets SIGTERM and hands its job back; the app is started
again and its new worker finishes the job.

Afterwards every job is audited against the store, the mteb result files and the workers' logs. Prints one line
per round, then as the last line one JSON object:
  rounds, app_rounds         rounds done (fewer than asked when --budget-s ran out or a round timed out)
  jobs, jobs_finished_once   jobs queued; those finished, with all their tasks, and logged as finished exactly once
  duplicate_rows             score or cost rows stored more than once for one key
  missing_rows               rows of a task's result file missing from the store, plus tasks without a usable file
  unexpected_rows            stored evaluated rows that no result file has
  stuck_jobs                 jobs left running without a live lease (lease expired or worker dead) at the end
  rounds_hitting_a_running_job  worker rounds whose kill found the job still running (the medians are over these)
  median_recovery_s          the kill -> the job running under the replacement worker (or finished)
  median_handback_s          the kill -> the job no longer running under the dead worker's name
  median_finish_after_kill_s the kill -> the job finished
  app_median_recovery_s      app rounds: the app's kill -> the restarted app's worker holding the job
  app_handed_back            app rounds whose worker, on its SIGTERM, handed the job back (the others failed it)
  cold_job_s, warm_job_s     undisturbed demo jobs (claim -> finish) on a fresh and on a warm worker
  load_average               the machine's 1-minute load average at the start and at the end

    python bench/faults.py [--rounds 20] [--app-rounds 3] [--seed 0] [--budget-s 900] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402

from results import jobs  # noqa: E402
from results.store import COST_KEY, SCORE_KEY, Store  # noqa: E402

MOMENTS = ("random", "result-file", "store-write")
HOST = socket.gethostname()
EXPLORER_CORPUS_SIZE = 100
WORKER_POLL_S = 0.2
BENCH_BACKOFF_S = (1.0,)
WAL_WATCH_S = 10.0
RANDOM_SHARE_OF_WARM_JOB = 0.8
"""random kills land within this share of an undisturbed warm job (counted from the claim), so most hit it running"""
UNLIMITED = jobs.QueueLimits(submissions_per_day=10**6, pending_per_submitter=10**6, queue_size=10**6)


class RoundTimeout(Exception):
    """A round waited longer than --round-timeout-s for something; the message says what."""


# the audit: also used by tests/test_app_worker_supervision.py --------------------------------------------


@dataclass(frozen=True)
class JobAudit:
    job: jobs.Job
    """as stored (a running job whose lease expired still reads as running here)"""
    finish_lines: int
    lost_lines: int
    duplicate_rows: int
    missing_rows: int
    unexpected_rows: int
    unreadable_files: tuple[str, ...]
    stuck: bool

    @property
    def finished_once(self) -> bool:
        return (
            self.job.status == "finished"
            and self.finish_lines == 1
            and self.lost_lines == 0
            and set(self.job.result or {}) == set(self.job.tasks)
        )


def worker_is_alive(worker: str | None) -> bool:
    """Whether the worker named `host:pid` (the worker's default name) is a live process on this machine."""
    host, _, pid = (worker or "").rpartition(":")
    if host != HOST or not pid.isdigit():
        return False
    try:
        return psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def audit_jobs(store: Store, worker_logs: str, now: datetime | None = None) -> list[JobAudit]:
    """Every job in the store checked against its scores, its mteb result files and the workers' log lines."""
    import mteb

    from results.mteb_files import ResultFileError, read_result_file

    now = now or jobs.utc_now()
    scores = store.all_scores()
    evaluated = scores[scores["provenance"] == jobs.EVALUATED]
    costs = store.evaluation_costs()
    main_metrics = store.tasks().set_index("task")["main_metric"].to_dict()
    result_cache = mteb.ResultCache(store.evaluations_dir)
    audits = []
    for listed in jobs.list_jobs(store, limit=10**6, now=now):
        job = jobs.get_job(store, listed.id)
        rows = evaluated[(evaluated["model"] == job.model) & (evaluated["revision"] == job.revision)]
        job_costs = costs[(costs["model"] == job.model) & (costs["revision"] == job.revision)]
        stored = set(zip(rows["task"], rows["split"], rows["subset"], rows["metric"]))
        expected: set[tuple] = set()
        unreadable = []
        for task in job.tasks:
            path = Path(result_cache.get_task_result_path(task, job.model, job.revision))
            try:
                result = read_result_file(path, main_metrics)
            except (OSError, ResultFileError) as error:
                unreadable.append(f"{task}: {error}")
                continue
            expected |= {(task, score.split, score.subset, score.metric) for score in result.scores}
        finished = len(re.findall(rf"job #{job.id}: finished in ", worker_logs))
        lost = len(re.findall(rf"job #{job.id}: done, but its lease was lost", worker_logs))
        audits.append(JobAudit(
            job=job,
            finish_lines=finished,
            lost_lines=lost,
            duplicate_rows=int(rows.duplicated(list(SCORE_KEY)).sum() + job_costs.duplicated(list(COST_KEY)).sum()),
            missing_rows=len(expected - stored) + len(unreadable),
            unexpected_rows=len(stored - expected),
            unreadable_files=tuple(unreadable),
            stuck=job.status == "running"
            and not (job.lease_expires_at and job.lease_expires_at > now and worker_is_alive(job.worker)),
        ))
    return audits


# the scratch world: a store, a tiny model, the environment of the worker and the app ----------------------


@dataclass
class Scratch:
    folder: Path
    store: Store
    model_dir: Path
    worker_log: Path
    app_log: Path
    environment: dict[str, str]

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in (self.worker_log, self.app_log) if path.exists())

    def result_files(self, job: jobs.Job) -> list[Path]:
        folder = self.store.evaluations_dir / "results" / job.model.replace("/", "__") / job.revision
        return [folder / f"{task}.json" for task in job.tasks]

    @property
    def wal(self) -> Path:
        return self.store.wal_path


def make_scratch(folder: Path, with_app: bool) -> Scratch:
    import pandas as pd

    from patenteb.shipped import USPTO_SAMPLE, patent_abstracts
    from patenteb.tiny_model import build_tiny_model

    store = Store(folder / "store.duckdb", record=None)
    model_dir = build_tiny_model(folder / "tiny-bert", patent_abstracts(500))
    shipped = pd.read_parquet(USPTO_SAMPLE).head(EXPLORER_CORPUS_SIZE)
    corpus = folder / "explorer-corpus.jsonl"
    corpus.write_text("".join(
        json.dumps({"id": row.id, "text": row.text, "codes": ";".join(row.codes)}) + "\n" for row in shipped.itertuples()
    ))
    registry = folder / "explorer-models.toml"
    registry.write_text('[[models]]\nname = "bm25"\nkind = "bm25"\ndefault = true\n')
    environment = {
        **{name: value for name, value in os.environ.items() if name != "PATENTEB_RECORD_REPO"},
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(folder / "hf"),
        "MTEB_CACHE": str(folder / "mteb"),
        "GRADIO_TEMP_DIR": str(folder / "gradio"),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PATENTEB_EXPLORER_CORPUS": str(corpus),
        "PATENTEB_EXPLORER_MODELS": str(registry),
    }
    if with_app:
        from results.seed import seed

        seed(store)
    return Scratch(folder, store, model_dir, folder / "workers.log", folder / "app.log", environment)


def queue_demo_job(scratch: Scratch, model: str) -> jobs.Job:
    from evaluator.submissions import Submission, submit

    submission = Submission(model=model, tasks="demo", submitter="bench-faults", load_from=str(scratch.model_dir))
    return submit(scratch.store, submission, hub_reachable=False, limits=UNLIMITED)


# waiting ---------------------------------------------------------------------------------------------------


def wait_until(condition, timeout_s: float, what: str, poll_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RoundTimeout(f"waited {timeout_s:.0f} s for {what}")
        time.sleep(poll_s)


def claimed_by_live_worker(store: Store, job_id: int) -> jobs.Job | None:
    job = jobs.get_job(store, job_id)
    return job if job.status == "running" and worker_is_alive(job.worker) else None


def wait_for_result_files(scratch: Scratch, job: jobs.Job, count: int, timeout_s: float, worker_pid: int) -> int:
    """Watch (every ~2 ms) until `count` of the job's result files exist; returns how many exist."""
    files = scratch.result_files(job)
    deadline = time.monotonic() + timeout_s
    next_check = 0.0
    while (present := sum(path.exists() for path in files)) < count:
        now = time.monotonic()
        if now > next_check:
            if not psutil.pid_exists(worker_pid):
                raise RoundTimeout(f"worker {worker_pid} ended before result file {count} appeared")
            if jobs.get_job(scratch.store, job.id).status != "running":
                return present
            next_check = now + 0.5
        if now > deadline:
            raise RoundTimeout(f"waited {timeout_s:.0f} s for result file {count} of job #{job.id}")
        time.sleep(0.002)
    return present


def wait_for_store_write(scratch: Scratch) -> bool:
    """Watch (every ~0.5 ms) for the store's write-ahead log: a transaction being committed; False if none came."""
    deadline = time.monotonic() + WAL_WATCH_S
    while time.monotonic() < deadline:
        if scratch.wal.exists():
            return True
        time.sleep(0.0005)
    return False


def moment_of_kill(scratch: Scratch, job: jobs.Job, moment: str, rng: random.Random, warm_job_s: float,
                   worker_pid: int, timeout_s: float) -> str:
    """Wait for the chosen moment of the job; returns what was reached, for the round's line."""
    if moment == "random":
        delay = rng.uniform(0, RANDOM_SHARE_OF_WARM_JOB * warm_job_s)
        time.sleep(delay)
        return f"after {delay:.1f} s"
    target = rng.randint(1, len(job.tasks))
    present = wait_for_result_files(scratch, job, target, timeout_s, worker_pid)
    reached = f"result file {present}/{len(job.tasks)}"
    if moment == "store-write" and present >= target:
        reached += ", in a store write" if wait_for_store_write(scratch) else ", no store write seen"
    return reached


def stored_tasks(scratch: Scratch, job: jobs.Job) -> int:
    scores = scratch.store.main_scores()
    return int(((scores["model"] == job.model) & (scores["provenance"] == jobs.EVALUATED)).sum())


# rounds ----------------------------------------------------------------------------------------------------


@dataclass
class WorkerRound:
    handback_s: float
    recovery_s: float
    finish_after_kill_s: float
    hit_running_job: bool


def run_until_finished(scratch: Scratch, job_id: int, timeout_s: float) -> jobs.Job:
    return wait_until(
        lambda: (job := jobs.get_job(scratch.store, job_id)).status in ("finished", "failed") and job,
        timeout_s, f"job #{job_id} to finish", poll_s=0.2,
    )


def undisturbed_job_s(scratch: Scratch, model: str, timeout_s: float) -> float:
    job = queue_demo_job(scratch, model)
    done = run_until_finished(scratch, job.id, timeout_s)
    return (done.finished_at - done.started_at).total_seconds()


def worker_round(scratch: Scratch, number: int, total: int, moment: str, rng: random.Random, warm_job_s: float,
                 timeout_s: float) -> WorkerRound:
    job = queue_demo_job(scratch, f"local/faults-worker-{number:02d}")
    claimed = wait_until(lambda: claimed_by_live_worker(scratch.store, job.id), timeout_s, f"a claim of job #{job.id}")
    victim = claimed.worker
    pid = int(victim.rpartition(":")[2])
    reached = moment_of_kill(scratch, claimed, moment, rng, warm_job_s, pid, timeout_s)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    handback_s = recovery_s = None
    while True:
        now_job = jobs.get_job(scratch.store, job.id)
        elapsed = time.monotonic() - killed_at
        if handback_s is None and not (now_job.status == "running" and now_job.worker == victim):
            handback_s = elapsed
            state_at_kill = (
                "the job had finished" if now_job.status == "finished"
                else f"{stored_tasks(scratch, claimed)}/{len(claimed.tasks)} tasks stored"
            )
        if recovery_s is None and (
            now_job.status in ("finished", "failed") or (now_job.status == "running" and now_job.worker != victim)
        ):
            recovery_s = elapsed
        if now_job.status in ("finished", "failed"):
            break
        if elapsed > timeout_s:
            raise RoundTimeout(f"job #{job.id} did not finish within {timeout_s:.0f} s of the kill ({now_job.status})")
        time.sleep(0.05)
    finish_s = time.monotonic() - killed_at
    print(
        f"worker round {number:2d}/{total} {moment:<11} killed pid {pid} at {reached} ({state_at_kill}): "
        f"handed back {handback_s:.2f} s, "
        f"recovered {recovery_s:.1f} s, {now_job.status} {finish_s:.1f} s after the kill (attempt {now_job.attempts})",
        flush=True,
    )
    return WorkerRound(handback_s, recovery_s, finish_s, hit_running_job=state_at_kill != "the job had finished")


def start_app(scratch: Scratch) -> subprocess.Popen:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with scratch.app_log.open("a") as log:
        return subprocess.Popen(
            [sys.executable, "app.py", "--store", str(scratch.store.path), "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO, env=scratch.environment, stdout=log, stderr=subprocess.STDOUT,
        )


def app_round(scratch: Scratch, number: int, total: int, rng: random.Random, timeout_s: float,
              app: subprocess.Popen) -> tuple[subprocess.Popen, float | None]:
    """Kill the app while its worker writes the store, start it again; returns the new app and the seconds from the
    kill until the new app's worker held the job (None when the old worker did not hand the job back)."""
    job = queue_demo_job(scratch, f"local/faults-app-{number:02d}")
    claimed = wait_until(lambda: claimed_by_live_worker(scratch.store, job.id), timeout_s, f"a claim of job #{job.id}")
    worker_pid = int(claimed.worker.rpartition(":")[2])
    if worker_pid not in {child.pid for child in psutil.Process(app.pid).children()}:
        raise RoundTimeout(f"job #{job.id} was claimed by {claimed.worker}, not by the app's worker")
    reached = moment_of_kill(scratch, claimed, "store-write", rng, 0.0, worker_pid, timeout_s)
    app.kill()
    app.wait()
    killed_at = time.monotonic()
    wait_until(lambda: not worker_is_alive(claimed.worker), timeout_s, f"the app's worker {worker_pid} to exit", 0.05)
    worker_exit_s = time.monotonic() - killed_at
    after_worker = jobs.get_job(scratch.store, job.id)
    if after_worker.status == "running":
        raise RoundTimeout(f"job #{job.id} is left running under {after_worker.worker}, which has exited")
    app = start_app(scratch)
    wait_until(
        lambda: (now_job := jobs.get_job(scratch.store, job.id)).status in ("finished", "failed")
        or (now_job.status == "running" and now_job.worker != claimed.worker),
        timeout_s, f"job #{job.id} taken up after the app's restart", poll_s=0.1,
    )
    recovery_s = time.monotonic() - killed_at if after_worker.status == "pending" else None
    done = run_until_finished(scratch, job.id, timeout_s)
    outcome = (
        f"the restarted app's worker took it up {recovery_s:.1f} s after the kill"
        if recovery_s is not None else f"({after_worker.error})"
    )
    print(
        f"app round {number}/{total} killed the app at {reached}: its worker exited {worker_exit_s:.1f} s later "
        f"leaving the job {after_worker.status}; {outcome}; job {done.status} (attempt {done.attempts})",
        flush=True,
    )
    return app, recovery_s


def stop_processes_of(scratch: Scratch) -> None:
    """Kill whatever this bench started and is still running (they all name the scratch store)."""
    marker = str(scratch.store.path)
    for process in psutil.process_iter(["pid", "cmdline"]):
        if process.pid != os.getpid() and marker in " ".join(process.info["cmdline"] or []):
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="worker rounds (SIGKILL to the worker)")
    parser.add_argument("--app-rounds", type=int, default=3, help="app rounds (SIGKILL to the app)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--round-timeout-s", type=float, default=300.0)
    parser.add_argument("--budget-s", type=float, default=900.0, help="start no new round after this long")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (store, logs)")
    args = parser.parse_args(argv)

    from evaluator.supervisor import WorkerSupervisor

    started = time.monotonic()
    load_at_start = os.getloadavg()[0]
    rng = random.Random(args.seed)
    scratch = make_scratch(Path(tempfile.mkdtemp(prefix="bench-faults-")), with_app=args.app_rounds > 0)
    print(f"scratch {scratch.folder}; load average {load_at_start:.1f} on {os.cpu_count()} cores", flush=True)
    worker_rounds: list[WorkerRound] = []
    app_recoveries: list[float | None] = []
    cold_s = warm_s = None
    problem = timed_out = None
    supervisor = app = None
    try:
        worker_output = scratch.worker_log.open("a")
        supervisor = WorkerSupervisor(
            [sys.executable, "-m", "evaluator", "worker", "--store", str(scratch.store.path), "--poll", str(WORKER_POLL_S)],
            cwd=str(REPO), env=scratch.environment, backoff_s=BENCH_BACKOFF_S, max_restarts=args.rounds + 10,
            output=worker_output,
            on_exit=lambda pid, reason: jobs.release_worker_jobs(scratch.store, f"{HOST}:{pid}", reason=reason),
        ).start()
        try:
            cold_s = undisturbed_job_s(scratch, "local/faults-cold", args.round_timeout_s)
            warm_s = undisturbed_job_s(scratch, "local/faults-warm", args.round_timeout_s)
            print(f"undisturbed demo job: {cold_s:.1f} s on a fresh worker, {warm_s:.1f} s on a warm one; "
                  f"supervisor back-off {BENCH_BACKOFF_S[0]:.0f} s", flush=True)
            for number in range(1, args.rounds + 1):
                if time.monotonic() - started > args.budget_s:
                    problem = f"budget of {args.budget_s:.0f} s spent after {len(worker_rounds)} worker rounds"
                    break
                moment = MOMENTS[(number - 1) % len(MOMENTS)]
                worker_rounds.append(
                    worker_round(scratch, number, args.rounds, moment, rng, warm_s, args.round_timeout_s)
                )
        finally:
            supervisor.stop()
            worker_output.close()
        if args.app_rounds and problem is None:
            app = start_app(scratch)
            for number in range(1, args.app_rounds + 1):
                if time.monotonic() - started > args.budget_s:
                    problem = f"budget of {args.budget_s:.0f} s spent after {len(app_recoveries)} app rounds"
                    break
                app, recovery_s = app_round(scratch, number, args.app_rounds, rng, args.round_timeout_s, app)
                app_recoveries.append(recovery_s)
    except RoundTimeout as timeout:
        timed_out = problem = str(timeout)
        print(f"stopped: {problem}", flush=True)
    finally:
        if app is not None and app.poll() is None:
            app.terminate()
            try:
                app.wait(timeout=60)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()
        stop_processes_of(scratch)

    audits = audit_jobs(scratch.store, scratch.logs())
    for audit in audits:
        if not audit.finished_once or audit.duplicate_rows or audit.missing_rows or audit.unexpected_rows or audit.stuck:
            print(f"job #{audit.job.id} {audit.job.model}: {audit.job.status}, attempts {audit.job.attempts}, "
                  f"finish lines {audit.finish_lines}, lost {audit.lost_lines}, duplicate {audit.duplicate_rows}, "
                  f"missing {audit.missing_rows} {list(audit.unreadable_files)}, unexpected {audit.unexpected_rows}, "
                  f"stuck {audit.stuck}; {audit.job.error or ''}", flush=True)
    hits = [r for r in worker_rounds if r.hit_running_job]
    summary = {
        "rounds": len(worker_rounds),
        "app_rounds": len(app_recoveries),
        "jobs": len(audits),
        "jobs_finished_once": sum(audit.finished_once for audit in audits),
        "duplicate_rows": sum(audit.duplicate_rows for audit in audits),
        "missing_rows": sum(audit.missing_rows for audit in audits),
        "unexpected_rows": sum(audit.unexpected_rows for audit in audits),
        "stuck_jobs": sum(audit.stuck for audit in audits),
        "rounds_hitting_a_running_job": len(hits),
        "median_recovery_s": median([r.recovery_s for r in hits]),
        "median_handback_s": median([r.handback_s for r in hits]),
        "median_finish_after_kill_s": median([r.finish_after_kill_s for r in hits]),
        "app_median_recovery_s": median([s for s in app_recoveries if s is not None]),
        "app_handed_back": sum(s is not None for s in app_recoveries),
        "cold_job_s": round(cold_s, 1) if cold_s else None,
        "warm_job_s": round(warm_s, 1) if warm_s else None,
        "load_average": [round(load_at_start, 1), round(os.getloadavg()[0], 1)],
        "wall_s": round(time.monotonic() - started, 1),
        "problem": problem,
    }
    if args.keep:
        print(f"kept {scratch.folder}", flush=True)
    else:
        shutil.rmtree(scratch.folder, ignore_errors=True)
    print(json.dumps(summary), flush=True)
    sound = summary["jobs_finished_once"] == summary["jobs"] and not any(
        summary[name] for name in ("duplicate_rows", "missing_rows", "unexpected_rows", "stuck_jobs")
    )
    return 0 if sound and timed_out is None else 1


if __name__ == "__main__":
    sys.exit(main())
