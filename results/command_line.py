"""What the three CLIs (`python -m results | evaluator | explorer`) share: the --store option, opening the store,
and running one command so that an expected failure is one line on stderr and an exit status, never a traceback.

    parser.add_subparsers(...).add_parser("queue", parents=[store_option()])
    return run_command(COMMANDS[args.command], args, failures={ExplorerError: 1})

Exit statuses: 0 done; 1 the command's own failure (a refused submission, a failed evaluation); 2 usage or store
problems (busy, damaged, unreadable); 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping

from results.store import Store, StoreBusy, StoreCorrupt, default_store_path

STORE_PROBLEM = 2
INTERRUPTED = 130


class CommandError(Exception):
    """A problem to report in one line, with the exit status to leave with."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def store_option() -> argparse.ArgumentParser:
    """A parent parser with --store, for every subcommand."""
    option = argparse.ArgumentParser(add_help=False)
    option.add_argument("--store", help="DuckDB file (default: $PATENTEB_STORE or data/patenteb.duckdb)")
    return option


def store_from(args: argparse.Namespace) -> Store:
    return Store(args.store or default_store_path())


def run_command(
    command: Callable[[argparse.Namespace], int],
    args: argparse.Namespace,
    failures: Mapping[type[Exception], int] | None = None,
) -> int:
    """`command(args)`'s exit status; a CommandError, a store problem or one of `failures` (exception type → exit
    status) becomes `error: <message>` on stderr."""
    expected = {StoreBusy: STORE_PROBLEM, StoreCorrupt: STORE_PROBLEM, **(failures or {})}
    try:
        return command(args)
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.status
    except tuple(expected) as error:
        print(f"error: {error}", file=sys.stderr)
        return next(status for kind, status in expected.items() if isinstance(error, kind))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
