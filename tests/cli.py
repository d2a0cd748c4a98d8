"""Run a CLI's `main(argv)` inside the test process, as a maintainer's shell would see it: exit code, stdout, stderr.

Usage and error paths need no fresh interpreter (importing torch and mteb again costs seconds); each CLI keeps one
real subprocess test of its own.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@contextmanager
def environment(changes: Mapping[str, str] | None) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in changes or {}}
    os.environ.update(changes or {})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_in_process(main: Callable[[list[str]], int], args: list[str], env: Mapping[str, str] | None = None) -> CliResult:
    stdout, stderr = io.StringIO(), io.StringIO()
    with environment(env), redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            code = main(list(args))
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    return CliResult(code, stdout.getvalue(), stderr.getvalue())


IMPORT_TIME_LINE = re.compile(r"^import time:\s*\d+ \|\s*\d+ \|\s*([\w.]+)\s*$", re.MULTILINE)
"""One line of `python -X importtime`'s report on stderr; its last field names the module imported."""


def imported_packages(importtime_stderr: str) -> set[str]:
    """The top-level packages a `python -X importtime …` process imported, read from its stderr."""
    modules = IMPORT_TIME_LINE.findall(importtime_stderr)
    assert modules, "no -X importtime report on stderr"
    return {module.split(".")[0] for module in modules}
