"""The app's worker supervisor, on real child processes: a killed worker is reaped and replaced, restarts are bounded."""

import os
import signal
import sys
import time

from evaluator.supervisor import WorkerSupervisor, describe_exit

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
CRASHER = [sys.executable, "-c", "import sys; sys.exit(3)"]
PATIENCE_S = 30


def wait_for(condition, patience_s: float = PATIENCE_S):
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {patience_s} s")


def test_a_killed_worker_is_reaped_and_replaced_and_its_exit_reported():
    exits = []
    supervisor = WorkerSupervisor(SLEEPER, backoff_s=(0.1,), on_exit=lambda pid, reason: exits.append((pid, reason)))
    supervisor.start()
    try:
        first = wait_for(lambda: supervisor.status().pid)
        os.kill(first, signal.SIGKILL)
        second = wait_for(lambda: (pid := supervisor.status().pid) and pid != first and pid)
        status = supervisor.status()
        assert status.alive and status.restarts == 1 and status.last_exit == "killed by SIGKILL"
        assert exits == [(first, "killed by SIGKILL")]
        assert "restarted 1×" in status.describe()
        wait_for(lambda: not os.path.exists(f"/proc/{first}"))
    finally:
        supervisor.stop()
    assert not os.path.exists(f"/proc/{second}"), "stopping the supervisor leaves its worker behind"


def test_restarts_are_bounded_within_the_window():
    supervisor = WorkerSupervisor(CRASHER, max_restarts=2, window_s=120, backoff_s=(0.0,))
    supervisor.start()
    try:
        status = wait_for(lambda: (s := supervisor.status()).waiting_s > 60 and s)
        assert status.restarts == 3 and status.last_exit == "exited with code 3" and not status.alive
        assert "restarting in" in status.describe()
    finally:
        supervisor.stop()


def test_exit_descriptions():
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(2) == "exited with code 2"
