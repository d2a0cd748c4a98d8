"""One settings module: every environment variable is declared in patenteb/settings.py, documented in the README,
and read nowhere else."""

from __future__ import annotations

import ast
import re

from patenteb import settings
from tests.conftest import REPO

SOURCE_PACKAGES = ("app.py", "patenteb", "results", "leaderboard", "explorer", "evaluator", "webapi")
README_VARIABLE = re.compile(r"^\| `([A-Z][A-Z0-9_]+)` \|", re.MULTILINE)


def documented_variables() -> set[str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Configuration"):]
    section = section[: section.index("\n## ", 1)]
    return set(README_VARIABLE.findall(section))


def source_files():
    for name in SOURCE_PACKAGES:
        path = REPO / name
        yield from [path] if path.is_file() else sorted(path.rglob("*.py"))


def environment_reads(tree: ast.AST):
    """Line numbers of os.environ.get(...), os.getenv(...) and os.environ[...] used as a value."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = ast.unparse(node.func)
            if target in ("os.environ.get", "os.getenv"):
                yield node.lineno
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and ast.unparse(node.value) == "os.environ":
            yield node.lineno


def test_the_readme_documents_exactly_the_declared_variables():
    declared = {variable.name for variable in settings.VARIABLES}
    documented = documented_variables()
    assert not declared - documented, f"undocumented in the README: {sorted(declared - documented)}"
    assert not documented - declared, f"documented but never read: {sorted(documented - declared)}"


def test_no_module_but_settings_reads_the_environment():
    offenders = []
    for path in source_files():
        if path == REPO / "patenteb" / "settings.py":
            continue
        for line in environment_reads(ast.parse(path.read_text(), filename=str(path))):
            offenders.append(f"{path.relative_to(REPO)}:{line}")
    assert not offenders, "read the environment through patenteb.settings: " + ", ".join(offenders)


def test_the_check_finds_every_form_of_read():
    sample = ast.parse("import os\na = os.environ.get('A')\nb = os.getenv('B')\nc = os.environ['C']\nos.environ['D'] = '1'\n")
    assert list(environment_reads(sample)) == [2, 3, 4]
