"""Keeps one evaluation worker process alive beside the app.

The supervisor starts `python -m evaluator worker`, waits on it in a thread, and when it exits for any reason
(a crash, SIGKILL, the OOM killer) logs why and starts another after a short back-off. Restarts are bounded:
at most `max_restarts` within `window_s`; past that it waits until the oldest restart leaves the window. The
worker dies with the app even on `kill -9` of the app (Linux PR_SET_PDEATHSIG). It may run at a lower CPU priority
(`niceness`), so that on a shared machine the app's visitors are served first and evaluation takes what is left.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

log = logging.getLogger("evaluator.supervisor")

PR_SET_PDEATHSIG = 1
DEFAULT_MAX_RESTARTS = 5
DEFAULT_WINDOW_S = 300.0
BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
STOP_GRACE_S = 30.0


def _worker_preparation(niceness: int) -> Callable[[], None]:
    """What the child runs before exec: lower its CPU priority by `niceness`, and have the kernel send it SIGTERM
    when the supervising thread's process dies."""

    def prepare() -> None:
        if niceness:
            os.nice(niceness)
        if sys.platform.startswith("linux"):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return prepare


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


@dataclass(frozen=True)
class WorkerStatus:
    alive: bool
    pid: int | None
    started_at: float | None
    restarts: int
    last_exit: str | None
    waiting_s: float
    """Seconds until the next start when the worker is down (back-off or restart-rate limit), else 0."""

    def describe(self) -> str:
        if self.alive:
            line = f"worker running (pid {self.pid}, up {time.time() - (self.started_at or time.time()):.0f} s)"
        elif self.waiting_s > 0:
            line = f"worker down, restarting in {self.waiting_s:.0f} s"
        else:
            line = "no worker running"
        if self.restarts:
            line += f"; restarted {self.restarts}× (last: {self.last_exit})"
        return line


class WorkerSupervisor:
    def __init__(
        self,
        command: Sequence[str],
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        max_restarts: int = DEFAULT_MAX_RESTARTS,
        window_s: float = DEFAULT_WINDOW_S,
        backoff_s: Sequence[float] = BACKOFF_S,
        on_exit: Callable[[int, str], None] | None = None,
        output: IO | None = None,
        niceness: int = 0,
    ):
        """`on_exit(pid, reason)` runs after each unexpected exit, before the restart (e.g. to free its jobs);
        `output`: an open file for the workers' stdout and stderr (default: this process's); `niceness`: how much
        lower than this process the workers' CPU priority is."""
        self.command, self.cwd, self.env, self.output = list(command), cwd, env, output
        self.niceness = niceness
        self.max_restarts, self.window_s, self.backoff_s = max_restarts, window_s, tuple(backoff_s)
        self.on_exit = on_exit
        self._process: subprocess.Popen | None = None
        self._started_at: float | None = None
        self._restart_times: deque[float] = deque()
        self._restarts = 0
        self._last_exit: str | None = None
        self._next_start_at = 0.0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)

    def start(self) -> "WorkerSupervisor":
        self._thread.start()
        return self

    def status(self) -> WorkerStatus:
        with self._lock:
            process = self._process
            alive = process is not None and process.poll() is None
            return WorkerStatus(
                alive=alive,
                pid=process.pid if alive else None,
                started_at=self._started_at if alive else None,
                restarts=self._restarts,
                last_exit=self._last_exit,
                waiting_s=0.0 if alive else max(0.0, self._next_start_at - time.monotonic()),
            )

    def describe(self) -> str:
        """One line for the Submit tab: whether the worker is alive, restarts and the last exit."""
        return self.status().describe()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=STOP_GRACE_S)

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=self.output,
            stderr=self.output,
            preexec_fn=_worker_preparation(self.niceness),
        )

    def _delay_before_restart(self, now: float) -> float:
        while self._restart_times and now - self._restart_times[0] > self.window_s:
            self._restart_times.popleft()
        backoff = self.backoff_s[min(len(self._restart_times), len(self.backoff_s) - 1)]
        if len(self._restart_times) >= self.max_restarts:
            return max(backoff, self._restart_times[0] + self.window_s - now)
        return backoff

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                self._process = self._spawn()
                self._started_at = time.time()
            log.info("worker started (pid %d)", self._process.pid)
            returncode = self._process.wait()
            if self._stopping.is_set():
                return
            reason = describe_exit(returncode)
            pid = self._process.pid
            now = time.monotonic()
            delay = self._delay_before_restart(now)
            with self._lock:
                self._last_exit = reason
                self._restarts += 1
                self._restart_times.append(now)
                self._next_start_at = now + delay
            log.warning("worker pid %d %s; restarting in %.0f s", pid, reason, delay)
            if self.on_exit is not None:
                try:
                    self.on_exit(pid, reason)
                except Exception:
                    log.exception("after worker pid %d exited: cleanup failed", pid)
            if self._stopping.wait(delay):
                return
