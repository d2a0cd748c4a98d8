"""Prebuilt corpus indexes that ship with the code, so a fresh clone searches at once instead of embedding first.

One folder per model under explorer/indexes/: `vectors.npy` (float16: half the size, and a cosine moves by
at most ~1e-3) and `index.json` saying what they were built from: model, revision (a hash of the weights),
corpus hash, the index settings, and the vectors' SHA-256. An index is used only when all of these match the
model as loaded and the corpus as read; otherwise it is rebuilt (in the background in the app, see
explorer.builds). `python -m explorer index --defaults --rebuild` writes them again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PREBUILT_FOLDER = Path(__file__).resolve().parent / "indexes"
VECTORS_FILE = "vectors.npy"
METADATA_FILE = "index.json"
SHIPPED_DTYPE = np.float16


@dataclass(frozen=True)
class Prebuilt:
    folder: Path
    model: str
    revision: str
    corpus_hash: str
    settings: str
    n_documents: int
    dim: int
    sha256: str
    built_at: str
    build_seconds: float | None

    @property
    def vectors_path(self) -> Path:
        return self.folder / VECTORS_FILE

    def vectors(self) -> np.ndarray:
        return np.load(self.vectors_path)


def folder_for(model_name: str, root: Path = PREBUILT_FOLDER) -> Path:
    return Path(root) / "".join(ch if ch.isalnum() or ch in "._-" else "__" for ch in model_name)


def read_prebuilt(model_name: str, root: Path = PREBUILT_FOLDER) -> Prebuilt | None:
    folder = folder_for(model_name, root)
    try:
        metadata = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
        return Prebuilt(folder=folder, **metadata)
    except (OSError, ValueError, TypeError):
        return None


def mismatch(prebuilt: Prebuilt | None, model_name: str, revision: str, corpus_hash: str, settings: str) -> str | None:
    """Why this prebuilt index cannot serve (None when it can); the vectors' checksum is verified last."""
    if prebuilt is None:
        return "no prebuilt index ships for this model"
    differences = [
        f"{what} {theirs} (here {ours})"
        for what, theirs, ours in (
            ("model", prebuilt.model, model_name),
            ("revision", prebuilt.revision, revision),
            ("corpus", prebuilt.corpus_hash, corpus_hash),
            ("settings", prebuilt.settings, settings),
        )
        if theirs != ours
    ]
    if differences:
        return "the prebuilt index was built for " + ", ".join(differences)
    if not prebuilt.vectors_path.exists():
        return f"{prebuilt.vectors_path} is missing"
    if file_sha256(prebuilt.vectors_path) != prebuilt.sha256:
        return f"{prebuilt.vectors_path} does not match its checksum"
    return None


def write_prebuilt(
    model_name: str,
    revision: str,
    corpus_hash: str,
    settings: str,
    vectors: np.ndarray,
    built_at: str,
    build_seconds: float | None,
    root: Path = PREBUILT_FOLDER,
) -> Prebuilt:
    """Write vectors (as float16) and their metadata; each file replaced atomically."""
    folder = folder_for(model_name, root)
    folder.mkdir(parents=True, exist_ok=True)
    _replace_atomically(folder / VECTORS_FILE, lambda handle: np.save(handle, np.asarray(vectors, dtype=SHIPPED_DTYPE)))
    prebuilt = Prebuilt(
        folder=folder,
        model=model_name,
        revision=revision,
        corpus_hash=corpus_hash,
        settings=settings,
        n_documents=int(vectors.shape[0]),
        dim=int(vectors.shape[1]),
        sha256=file_sha256(folder / VECTORS_FILE),
        built_at=built_at,
        build_seconds=build_seconds,
    )
    metadata = {key: value for key, value in prebuilt.__dict__.items() if key != "folder"}
    text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    _replace_atomically(folder / METADATA_FILE, lambda handle: handle.write(text.encode()))
    return prebuilt


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _replace_atomically(target: Path, write) -> None:
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".partial")
    with os.fdopen(handle, "wb") as file:
        write(file)
    os.chmod(partial, 0o644)
    os.replace(partial, target)
