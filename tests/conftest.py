"""Shared fixtures: real DuckDB stores on disk, real tiny sentence-transformers models, offline environment."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PATENTEB_COMPILE_MAPS", "0")  # each app a test starts would spend ~25 CPU-s compiling UMAP
os.environ.setdefault("PATENTEB_WORKER_NICENESS", "0")  # the test run fills every CPU; a niced worker would starve
os.environ.setdefault("OMP_NUM_THREADS", "1")  # one torch thread per process: with every CPU busy, more threads only spin-wait

_TEST_CACHES = Path(tempfile.mkdtemp(prefix="patenteb-test-caches-"))
atexit.register(shutil.rmtree, _TEST_CACHES, ignore_errors=True)
os.environ["MTEB_CACHE"] = str(_TEST_CACHES / "mteb")
os.environ["HF_HOME"] = str(_TEST_CACHES / "hf")


@pytest.fixture(scope="session")
def seeded_store_template(tmp_path_factory):
    """A store seeded once per session; tests copy it instead of seeding again."""
    from results.seed import seed
    from results.store import Store

    path = tmp_path_factory.mktemp("template") / "seeded.duckdb"
    report = seed(Store(path))
    assert report.mteb_sample.ok
    return path


@pytest.fixture
def seeded_store(seeded_store_template, tmp_path):
    from results.store import Store

    path = tmp_path / "store.duckdb"
    shutil.copy(seeded_store_template, path)
    return Store(path)


@pytest.fixture
def empty_store(tmp_path):
    from results.store import Store

    return Store(tmp_path / "empty.duckdb")


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    """A 2-layer random BERT sentence-transformers model with a vocabulary from real patent abstracts."""
    from patenteb.shipped import patent_abstracts
    from patenteb.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-bert", patent_abstracts(500))


SLOW_FIXTURES = {"benchmark_run", "evaluated", "evaluated_site", "explorer", "app_url"}
"""Module fixtures that evaluate models with mteb, embed a corpus or start the app: every test using one is slow."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Tests using a SLOW_FIXTURES fixture are marked slow (before `-m "not slow"` deselects). Modules holding a
    slow test come first, so that with several workers the longest tests start early instead of running alone at
    the end; each module's tests stay together and in order."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    modules_with_slow_tests = {item.module for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module not in modules_with_slow_tests)
