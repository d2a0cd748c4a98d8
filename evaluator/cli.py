"""Evaluator CLI: `python -m evaluator submit | queue | worker | allow-remote-code | run`.

Every command takes --store FILE (default: $PATENTEB_STORE or data/patenteb.duckdb). Errors print one
line on stderr and exit non-zero: 1 for a refused submission or a failed evaluation, 2 for usage or
store problems. Heavy packages (mteb, torch, huggingface_hub) load only in the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from patenteb import settings
from results import jobs as job_queue
from results.command_line import CommandError, run_command, store_from, store_option
from results.vocabulary import NO_PROMPTS_VARIANT

QUEUE_HEADER = ("id", "status", "model", "revision", "tasks", "attempts", "submitted", "ended", "reason")


def cmd_submit(args: argparse.Namespace) -> int:
    from evaluator.submissions import Submission, SubmissionRefused, submit

    submission = Submission(
        model=args.model,
        revision=args.revision,
        precision=args.precision,
        submitter=args.submitter,
        tasks=args.tasks,
        load_from=args.load_from,
        without_prompts=args.no_prompts,
    )
    try:
        job = submit(store_from(args), submission, parameter_limit=args.max_params)
    except SubmissionRefused as refusal:
        raise CommandError(f"refused: {refusal}") from None
    print(f"queued job #{job.id}: {job.model} @ {job.revision} on {len(job.tasks)} tasks ({job.selection})")
    if job.note:
        print(f"note: {job.note}")
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    jobs = job_queue.list_jobs(store_from(args), statuses=args.status or job_queue.STATUSES, limit=args.limit)
    if args.json:
        print(json.dumps([_job_record(job) for job in jobs]))
        return 0
    if not jobs:
        print("the queue is empty")
        return 0
    rows = [QUEUE_HEADER] + [_queue_row(job) for job in jobs]
    widths = [max(len(row[column]) for row in rows) for column in range(len(QUEUE_HEADER) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    return 0


def _queue_row(job: job_queue.Job) -> tuple[str, ...]:
    return (
        str(job.id),
        job.status,
        job.model,
        job.revision[:12],
        job.selection,
        str(job.attempts),
        f"{job.submitted_at:%Y-%m-%d %H:%M:%S}",
        f"{job.finished_at:%Y-%m-%d %H:%M:%S}" if job.finished_at else "-",
        job.error or "",
    )


def _job_record(job: job_queue.Job) -> dict:
    record = {name: getattr(job, name) for name in job_queue.JOB_COLUMNS if name != "lease_token"}
    record["tasks"] = list(job.tasks)
    for name in ("submitted_at", "started_at", "finished_at", "lease_expires_at"):
        record[name] = record[name].isoformat() if record[name] else None
    return record


def cmd_worker(args: argparse.Namespace) -> int:
    from evaluator.worker import Worker, go_offline_if_hub_unreachable

    if go_offline_if_hub_unreachable():
        logging.getLogger("evaluator.worker").info("the Hugging Face Hub is unreachable: running offline")
    fanout = _ray_fanout(args)
    if fanout is None:
        _check_device(args)
    worker = Worker(
        store_from(args),
        name=args.name,
        lease_s=args.lease,
        data_dir=args.data_dir,
        hf_token=settings.hub_token(),
        show_progress=True,
        device=args.device,
        batch_size=args.batch_size,
        fanout=fanout,
        concurrent_jobs=args.jobs or (fanout.slots if fanout is not None else 1),
    )
    worker.install_signal_handlers()
    worker.run(once=args.once, poll_s=args.poll)
    return 0


def _ray_fanout(args: argparse.Namespace):
    """The Ray fan-out asked for with --ray, connected before any job is claimed; None without --ray."""
    if args.ray is None:
        return None
    from evaluator.ray_fanout import RayUnavailable, connect

    try:
        fanout = connect(args.ray)
    except RayUnavailable as error:
        raise CommandError(str(error)) from None
    if args.device == "cuda" and not fanout.gpus:
        raise CommandError(f"--device cuda, but the Ray cluster has no GPU ({fanout.describe()})", 2)
    return fanout


def _check_device(args: argparse.Namespace) -> None:
    """Refuse a device this machine lacks before anything is claimed or loaded."""
    from evaluator.devices import DeviceUnavailable, encode_settings

    try:
        encode_settings(args.device, batch_size=args.batch_size)
    except (DeviceUnavailable, ValueError) as error:
        raise CommandError(str(error), 2) from None


def cmd_allow_remote_code(args: argparse.Namespace) -> int:
    from evaluator.submissions import malformed_id_reason

    reason = malformed_id_reason(args.model)
    if reason:
        raise CommandError(reason, status=2)
    added = job_queue.allow_remote_code(store_from(args), args.model, allowed_by=args.by)
    print(f"{args.model} {'may now' if added else 'was already allowed to'} run its own code in the worker")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from evaluator.worker import TaskProgress, go_offline_if_hub_unreachable

    local = Path(args.model).expanduser()
    if local.exists() and not args.name:
        raise CommandError(f"{args.model} is a local path: give the name to store its scores under with --name", 2)
    go_offline_if_hub_unreachable()

    from evaluator.offline_models import installed_revision
    from evaluator.runner import DataUnavailable, ModelLoadError, ModelSpec, resolve_tasks, run_evaluation

    try:
        tasks = resolve_tasks(args.tasks)
    except ValueError as error:
        raise CommandError(str(error), 2) from None
    if not tasks:
        raise CommandError("--tasks names no tasks", 2)
    model = ModelSpec(
        name=args.name or args.model,
        load_from=str(local.resolve()) if local.exists() else args.model,
        revision=args.revision or ("local" if local.exists() else installed_revision(args.model) or "main"),
        trust_remote_code=args.trust_remote_code,
        precision=args.precision,
    )
    if args.no_prompts:
        model = model.without_prompts()
    fanout = _ray_fanout(args)
    if fanout is None:
        _check_device(args)
    failures: tuple[type[Exception], ...] = (ModelLoadError, DataUnavailable)
    if fanout is not None:
        from evaluator.ray_fanout import ShardLost

        failures += (ShardLost,)
    progress = TaskProgress(model.name)
    try:
        report = run_evaluation(
            store_from(args), model, tasks, data_dir=args.data_dir, hf_token=settings.hub_token(), progress=progress,
            device=args.device, batch_size=args.batch_size, fanout=fanout,
        )
    except failures as error:
        raise CommandError(str(error)) from None
    finally:
        progress.close()
    print(json.dumps(job_queue.scores_for_json(report.scores)))
    for problem in report.problems.values():
        print(f"error: {problem}", file=sys.stderr)
    return 1 if report.problems else 0


def build_parser() -> argparse.ArgumentParser:
    from evaluator.runner import PRECISIONS
    from evaluator.worker import DEFAULT_LEASE_S, DEFAULT_POLL_S

    parser = argparse.ArgumentParser(prog="python -m evaluator", description=__doc__.split("\n")[0])
    store = store_option()
    commands = parser.add_subparsers(dest="command", required=True)

    submit = commands.add_parser("submit", parents=[store], help="queue a model for evaluation")
    submit.add_argument("model", metavar="MODEL", help="Hub model id, such as org/name")
    submit.add_argument("--revision", default="main", help="branch, tag or commit (default: main)")
    submit.add_argument("--tasks", default="PatenTEB", help="PatenTEB, demo, external or task names, comma-separated")
    submit.add_argument("--precision", default="float32", choices=PRECISIONS)
    submit.add_argument("--no-prompts", action="store_true",
                        help=f"evaluate without the model's own prompts, stored as its own row (MODEL{NO_PROMPTS_VARIANT})")
    submit.add_argument("--submitter", default="", help="who asked for it")
    submit.add_argument("--load-from", metavar="DIR", help="evaluate a local model folder under the name MODEL")
    submit.add_argument(
        "--max-params", type=float, help="size limit in parameters (default: $PATENTEB_MAX_MODEL_PARAMS or 1e9)"
    )

    listing = commands.add_parser("queue", parents=[store], help="list jobs, newest first")
    listing.add_argument("--status", action="append", choices=job_queue.STATUSES, help="only these (repeatable)")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="print one JSON array")

    worker = commands.add_parser("worker", parents=[store], help="evaluate queued jobs until stopped")
    worker.add_argument("--once", action="store_true", help="take at most one job, then exit")
    worker.add_argument("--lease", type=float, default=DEFAULT_LEASE_S, help="lease length in seconds")
    worker.add_argument("--poll", type=float, default=DEFAULT_POLL_S, help="seconds between looks at an empty queue")
    worker.add_argument("--data-dir", type=Path, help="local PatenTEB data (default: $PATENTEB_DATA_DIR or the Hub)")
    worker.add_argument("--name", help="worker name shown in the queue (default: host:pid)")
    _add_device_options(worker)
    worker.add_argument(
        "--jobs", type=int, help="with --ray: jobs evaluated at once (default: one per GPU, else per CPU, of the cluster)"
    )

    allow = commands.add_parser(
        "allow-remote-code", parents=[store], help="let the worker run a model's own code (trust_remote_code)"
    )
    allow.add_argument("model", metavar="MODEL")
    allow.add_argument("--by", help="the maintainer allowing it")

    run = commands.add_parser("run", parents=[store], help="evaluate a model now, without the queue")
    run.add_argument("--model", required=True, metavar="NAME_OR_PATH", help="Hub id or local model folder")
    run.add_argument("--tasks", required=True, help="PatenTEB, demo, external or task names, comma-separated")
    run.add_argument("--data-dir", type=Path, help="local PatenTEB data (default: $PATENTEB_DATA_DIR or the Hub)")
    run.add_argument("--name", help="the name to store scores under (required for a local path)")
    run.add_argument(
        "--revision", help="default: main for a Hub id, 'local' for a folder, the installed version for an offline model"
    )
    run.add_argument("--precision", default="float32", choices=PRECISIONS)
    run.add_argument("--no-prompts", action="store_true",
                     help=f"evaluate without the model's own prompts, stored as its own row (NAME{NO_PROMPTS_VARIANT})")
    run.add_argument("--trust-remote-code", action="store_true", help="run the model's own code")
    _add_device_options(run)
    return parser


def _add_device_options(command: argparse.ArgumentParser) -> None:
    from evaluator.devices import DEFAULT_BATCH_SIZE, DEVICES, RAY_LOCAL_CLUSTER

    command.add_argument(
        "--device", choices=DEVICES,
        help=f"where the model runs (default: ${settings.DEVICE.name} or auto: CUDA when torch sees a GPU); the submitted "
        "float16/bfloat16 is used on a GPU, float32 on a CPU",
    )
    command.add_argument(
        "--batch-size", type=int,
        help=f"texts per model call (default: ${settings.BATCH_SIZE.name} or "
        + ", ".join(f"{size} on {device}" for device, size in DEFAULT_BATCH_SIZE.items()) + ")",
    )
    command.add_argument(
        "--ray", nargs="?", const=RAY_LOCAL_CLUSTER, metavar="ADDRESS",
        help="run the tasks as Ray tasks: on the cluster at ADDRESS (host:port from `ray start --head`, or auto), "
        "or on a Ray cluster started here when no ADDRESS is given; this process alone writes the store",
    )


COMMANDS = {
    "submit": cmd_submit,
    "queue": cmd_queue,
    "worker": cmd_worker,
    "allow-remote-code": cmd_allow_remote_code,
    "run": cmd_run,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("evaluator").setLevel(logging.INFO)
    return run_command(COMMANDS[args.command], args)
