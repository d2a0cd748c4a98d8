"""The real app for the public API tests: a copy of the seeded store, 300 real abstracts, and a model registry
with BM25, a tiny local BERT and a model that cannot be loaded here."""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd

from patenteb.shipped import USPTO_SAMPLE
from tests.browser import running_app

CORPUS_SIZE = 300
TINY = "tiny-bert"
UNREACHABLE = "patenteb-tests/not-on-this-machine"


def write_corpus(path: Path) -> Path:
    shipped = pd.read_parquet(USPTO_SAMPLE)
    rows = shipped.iloc[:: len(shipped) // CORPUS_SIZE][:CORPUS_SIZE]
    with path.open("w", encoding="utf-8") as handle:
        for row in rows.itertuples():
            handle.write(json.dumps({"id": row.id, "text": row.text, "codes": ";".join(row.codes)}) + "\n")
    return path


def write_registry(path: Path, tiny_model_path: Path) -> Path:
    path.write_text(
        f"""
[[models]]
name = "bm25"
kind = "bm25"
default = true

[[models]]
name = "{TINY}"
kind = "sentence-transformers"
path = "{tiny_model_path}"

[[models]]
name = "{UNREACHABLE}"
kind = "sentence-transformers"
hub_id = "{UNREACHABLE}"
""",
        encoding="utf-8",
    )
    return path


@contextmanager
def api_app(folder: Path, store_template: Path, tiny_model_path: Path) -> Iterator[tuple[str, Path]]:
    """(the app's URL, its store file) while `python app.py` runs without a worker."""
    store = folder / "store.duckdb"
    shutil.copy(store_template, store)
    environment = {
        "PATENTEB_NO_WORKER": "1",
        "PATENTEB_EXPLORER_CORPUS": str(write_corpus(folder / "patents.jsonl")),
        "PATENTEB_EXPLORER_MODELS": str(write_registry(folder / "models.toml", tiny_model_path)),
    }
    with running_app(store, folder / "app.log", environment) as url:
        yield url, store
