"""The evaluation worker: claim a job, keep its lease alive, evaluate, record the outcome.

`Worker.step()` does one job; `Worker.run()` is the loop around it. A background thread renews the lease
while the job runs, so a worker that dies (kill -9, power loss) stops renewing and another worker takes
the job over once the lease expires; the runner skips the tasks already in the store, so finished tasks
are not recomputed. SIGTERM or Ctrl-C while a job runs hands the job back to the queue (the attempt does
not count) and ends the loop; while idle it just ends the loop.

With a Ray fan-out (`--ray`), the worker keeps up to `concurrent_jobs` jobs claimed at once, each seen
through by its own thread while Ray computes their tasks; this process still writes every result.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from patenteb.hub import hub_is_reachable
from results import jobs
from results.store import Store, StoreBusy
from results.vocabulary import NO_PROMPTS_VARIANT

DEFAULT_LEASE_S = 300.0
DEFAULT_POLL_S = 5.0
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
ERROR_SUMMARY_CHARS = 1000

log = logging.getLogger("evaluator.worker")


class StopRequested(BaseException):
    """SIGTERM or SIGINT arrived while a job was being evaluated."""


@dataclass(frozen=True)
class StepOutcome:
    job: jobs.Job
    status: str
    """finished, failed, lost (the lease had expired and another worker owned the job), or handed back (stopped)."""
    scores: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0


def go_offline_if_hub_unreachable() -> bool:
    """Set the Hugging Face offline flags when the Hub does not answer, so Hub models fail in seconds.

    Call it before anything imports huggingface_hub, which reads these variables once, at import.
    """
    if hub_is_reachable():
        return False
    for variable in OFFLINE_VARIABLES:
        os.environ[variable] = "1"
    return True


def error_summary(error: BaseException) -> str:
    """One line for the queue view: the runner's own reason, or the exception's type and message."""
    from evaluator.devices import DeviceUnavailable
    from evaluator.runner import DataUnavailable, ModelLoadError

    if isinstance(error, (ModelLoadError, DataUnavailable, DeviceUnavailable)):
        summary = str(error)
    else:
        summary = f"{type(error).__name__}: {error}"
    summary = " ".join(summary.split())
    return summary if len(summary) <= ERROR_SUMMARY_CHARS else summary[: ERROR_SUMMARY_CHARS - 1] + "…"


def problems_summary(problems: dict[str, str], total: int) -> str:
    """The job's error when some tasks' data could not be used (the other tasks' scores are stored)."""
    listed = "; ".join(problems.values())
    summary = f"no usable data for {len(problems)} of {total} tasks: {listed}"
    return summary if len(summary) <= ERROR_SUMMARY_CHARS else summary[: ERROR_SUMMARY_CHARS - 1] + "…"


class TaskProgress:
    """A tqdm bar over a job's tasks, in the runner's progress-callback shape."""

    def __init__(self, description: str):
        self.description = description
        self.bar = None

    def __call__(self, task: str, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.description, unit="task", file=sys.stderr)
        self.bar.set_postfix_str(task)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class LeaseKeeper(threading.Thread):
    """Renews a job's lease every third of its length until stopped, or until the lease is found lost."""

    def __init__(self, store: Store, job: jobs.Job, lease_s: float):
        super().__init__(name=f"lease-job-{job.id}", daemon=True)
        self.store, self.job, self.lease_s = store, job, lease_s
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.lease_s / 3):
            try:
                if not jobs.renew_lease(self.store, self.job.id, self.job.lease_token, self.lease_s):
                    log.warning("job #%s: lease lost; another worker may have taken the job", self.job.id)
                    return
            except StoreBusy as error:
                log.warning("job #%s: could not renew the lease: %s", self.job.id, error)

    def stop(self) -> None:
        self._stopped.set()
        self.join()


class Worker:
    def __init__(
        self,
        store: Store,
        *,
        name: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
        data_dir: Path | None = None,
        hf_token: str | None = None,
        show_progress: bool = False,
        device: str | None = None,
        batch_size: int | None = None,
        fanout=None,
        concurrent_jobs: int = 1,
    ):
        """`fanout`: an evaluator.ray_fanout.RayFanout to compute tasks on a Ray cluster; `concurrent_jobs`: how
        many jobs it keeps claimed at once (with a fan-out only)."""
        self.store = store
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.lease_s = lease_s
        self.data_dir = data_dir
        self.hf_token = hf_token
        self.show_progress = show_progress
        self.device = device
        self.batch_size = batch_size
        self.fanout = fanout
        self.concurrent_jobs = max(1, concurrent_jobs) if fanout is not None else 1
        self._stop = threading.Event()
        self._evaluating = False

    def step(self) -> StepOutcome | None:
        """Claim the oldest claimable job and see it through; None when the queue has nothing to do."""
        job = self._claim()
        return None if job is None else self._see_through(job)

    def _claim(self) -> jobs.Job | None:
        job = jobs.claim(self.store, self.name, self.lease_s)
        if job is not None:
            log.info(
                "job #%s: %s @ %s on %d tasks (attempt %d of %d)",
                job.id, job.model, job.revision, len(job.tasks), job.attempts, jobs.MAX_ATTEMPTS,
            )
        return job

    def _see_through(self, job: jobs.Job, in_thread: bool = False) -> StepOutcome:
        from evaluator.runner import EvaluationCancelled

        started = time.monotonic()
        keeper = LeaseKeeper(self.store, job, self.lease_s)
        keeper.start()
        try:
            scores, problems = self._evaluate(job, in_thread)
        except (StopRequested, EvaluationCancelled) as stop:
            return self._hand_back(job, started, in_thread, stop)
        except Exception as error:
            if self._stop.is_set():
                return self._hand_back(job, started, in_thread, error)
            return self._fail(job, error_summary(error), started)
        finally:
            keeper.stop()
        if problems:
            return self._fail(job, problems_summary(problems, len(job.tasks)), started)
        recorded = jobs.finish(self.store, job.id, job.lease_token, scores)
        seconds = time.monotonic() - started
        log.info("job #%s: %s in %.1f s", job.id, "finished" if recorded else "done, but its lease was lost", seconds)
        return StepOutcome(job, "finished" if recorded else "lost", scores=scores, seconds=seconds)

    def _hand_back(self, job: jobs.Job, started: float, in_thread: bool, cause: BaseException) -> StepOutcome:
        """A stop was requested: whatever the evaluation raised on the way out (DuckDB turns an interrupted
        query into RuntimeError), the job goes back to the queue without counting as a failure."""
        from evaluator.runner import EvaluationCancelled

        jobs.release(self.store, job.id, job.lease_token)
        log.info("job #%s: stopped (%s) and handed back to the queue", job.id, error_summary(cause) or "stop requested")
        if not in_thread:
            if isinstance(cause, (StopRequested, EvaluationCancelled)):
                raise cause
            raise StopRequested("stop requested") from cause
        return StepOutcome(job, "handed back", seconds=time.monotonic() - started)

    def _fail(self, job: jobs.Job, summary: str, started: float) -> StepOutcome:
        recorded = jobs.fail(self.store, job.id, job.lease_token, summary)
        log.error("job #%s: failed: %s", job.id, summary)
        return StepOutcome(job, "failed" if recorded else "lost", error=summary, seconds=time.monotonic() - started)

    def _evaluate(self, job: jobs.Job, in_thread: bool = False) -> tuple[dict[str, float], dict[str, str]]:
        progress = TaskProgress(f"job #{job.id}") if self.show_progress else None
        self._evaluating = not in_thread
        try:
            from evaluator.runner import ModelSpec, run_evaluation

            model = ModelSpec(
                name=job.model,
                load_from=job.load_from,
                revision=job.revision,
                trust_remote_code=jobs.remote_code_allowed(self.store, job.model.removesuffix(NO_PROMPTS_VARIANT)),
                precision=job.precision,
            )
            report = run_evaluation(
                self.store, model, list(job.tasks), data_dir=self.data_dir, hf_token=self.hf_token, progress=progress,
                device=self.device, batch_size=self.batch_size, fanout=self.fanout, should_stop=self._stop.is_set,
            )
            return report.scores, report.problems
        finally:
            self._evaluating = False
            if progress is not None:
                progress.close()

    def run(self, *, once: bool = False, poll_s: float = DEFAULT_POLL_S) -> int:
        """Process jobs until stopped (or one step with `once`); returns how many jobs it processed."""
        if self.fanout is not None:
            return self._run_with_fanout(once=once, poll_s=poll_s)
        processed = 0
        log.info("worker %s: watching %s", self.name, self.store.path)
        try:
            while not self._stop.is_set():
                try:
                    outcome = self.step()
                except StoreBusy as error:
                    log.warning("worker %s: %s", self.name, error)
                    outcome = None
                if outcome is not None:
                    processed += 1
                if once:
                    break
                if outcome is None:
                    self._stop.wait(poll_s)
        except StopRequested:
            pass
        log.info("worker %s: stopped after %d jobs", self.name, processed)
        return processed

    def _run_with_fanout(self, *, once: bool, poll_s: float) -> int:
        """Keep up to `concurrent_jobs` jobs claimed, each seen through in its own thread; `once`: claim one round
        of jobs, see them through, and stop. A stop hands every unfinished job back to the queue."""
        processed = 0
        running: list[threading.Thread] = []
        claiming = True
        log.info("worker %s: watching %s, up to %d jobs at once on Ray", self.name, self.store.path, self.concurrent_jobs)
        while True:
            running = [thread for thread in running if thread.is_alive()]
            while claiming and not self._stop.is_set() and len(running) < self.concurrent_jobs:
                try:
                    job = self._claim()
                except StoreBusy as error:
                    log.warning("worker %s: %s", self.name, error)
                    job = None
                if job is None:
                    break
                thread = threading.Thread(target=self._see_through, args=(job, True), name=f"job-{job.id}", daemon=True)
                thread.start()
                running.append(thread)
                processed += 1
            if once:
                claiming = False
            if not running and (once or self._stop.is_set()):
                break
            self._stop.wait(min(poll_s, 0.2) if running else poll_s)
            if self._stop.is_set():
                for thread in running:
                    thread.join()
                break
        log.info("worker %s: stopped after %d jobs", self.name, processed)
        return processed

    def request_stop(self, signum: int | None = None, frame=None) -> None:
        """Signal handler: end the loop; interrupt a running evaluation so its job goes back to the queue."""
        self._stop.set()
        if self._evaluating:
            self._evaluating = False
            raise StopRequested(signal.Signals(signum).name if signum else "stop requested")

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
