"""The app's worker supervisor, on real child processes: a killed worker is reaped and replaced, restarts are bounded."""

import os
import signal
import socket
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


def test_the_worker_runs_below_the_apps_cpu_priority():
    supervisor = WorkerSupervisor(SLEEPER, niceness=7).start()
    try:
        pid = wait_for(lambda: supervisor.status().pid)
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 7)
    finally:
        supervisor.stop()


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


def test_a_dead_workers_job_is_handed_back_by_the_exit_hook_as_the_app_wires_it(empty_store, tmp_path):
    from results import jobs

    jobs.enqueue(empty_store, jobs.NewJob("org/model", "main", ("task_a",), "demo"))
    host = socket.gethostname()
    output = (tmp_path / "workers.log").open("w")
    supervisor = WorkerSupervisor(
        [sys.executable, "-c", "print('worker says hello', flush=True); import time; time.sleep(600)"],
        backoff_s=(0.1,), output=output,
        on_exit=lambda pid, reason: jobs.release_worker_jobs(empty_store, f"{host}:{pid}", reason=reason),
    )
    supervisor.start()
    try:
        first = wait_for(lambda: supervisor.status().pid)
        claimed = jobs.claim(empty_store, f"{host}:{first}", lease_s=300)
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: jobs.get_job(empty_store, claimed.id).status == "pending")
        assert "restarted 1× (last: killed by SIGKILL)" in supervisor.describe()
        wait_for(lambda: (tmp_path / "workers.log").read_text().count("worker says hello") == 2)
    finally:
        supervisor.stop()
        output.close()
    handed_back = jobs.get_job(empty_store, claimed.id)
    assert (handed_back.attempts, handed_back.lease_token) == (1, None)
    assert handed_back.error == (
        f"attempt 1 ({host}:{first}) ended: killed by SIGKILL; it will be retried (attempt 2 of {jobs.MAX_ATTEMPTS})"
    )
