"""The explorer's rows in the store: which corpus indexes exist, and UMAP projections already computed.

Vectors themselves live in files beside the store (`Store.index_dir`); a row here records
where, for which (model, revision, corpus hash), and how it was built. Explorer writes do not bump the
store's generation: nothing the leaderboard reads changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from results.store import Store

INDEX_COLUMNS = (
    "model", "revision", "corpus_hash", "kind", "vector_path", "n_documents", "dim", "settings", "built_at",
    "build_seconds",
)


@dataclass(frozen=True)
class IndexRecord:
    model: str
    revision: str
    corpus_hash: str
    kind: str
    vector_path: str
    n_documents: int
    dim: int | None
    settings: str
    built_at: datetime
    build_seconds: float | None


@dataclass(frozen=True)
class ProjectionRecord:
    model: str
    revision: str
    corpus_hash: str
    sample: str
    parameters: str
    positions: np.ndarray
    coordinates: np.ndarray
    metrics: dict
    computed_at: datetime
    compute_seconds: float | None


def explorer_folder(store: Store):
    """Where index files are written: beside the store, so a store and its vectors move together."""
    return store.index_dir


def find_index(store: Store, model: str, revision: str, corpus_hash: str) -> IndexRecord | None:
    with store.connect() as connection:
        row = connection.execute(
            f"SELECT {', '.join(INDEX_COLUMNS)} FROM explorer_indexes "
            "WHERE model = ? AND revision = ? AND corpus_hash = ?",
            [model, revision, corpus_hash],
        ).fetchone()
    return IndexRecord(*row) if row else None


def record_index(store: Store, record: IndexRecord) -> None:
    """Insert or replace the row for (model, revision, corpus hash)."""
    values = [getattr(record, column) for column in INDEX_COLUMNS]
    with store.transaction() as connection:
        connection.execute(
            f"INSERT OR REPLACE INTO explorer_indexes ({', '.join(INDEX_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in INDEX_COLUMNS)})",
            values,
        )


def list_indexes(store: Store, corpus_hash: str | None = None) -> list[IndexRecord]:
    query = f"SELECT {', '.join(INDEX_COLUMNS)} FROM explorer_indexes"
    parameters: list = []
    if corpus_hash is not None:
        query += " WHERE corpus_hash = ?"
        parameters.append(corpus_hash)
    with store.connect() as connection:
        rows = connection.execute(query + " ORDER BY model, built_at", parameters).fetchall()
    return [IndexRecord(*row) for row in rows]


def find_projection(
    store: Store, model: str, revision: str, corpus_hash: str, sample: str, parameters: str
) -> ProjectionRecord | None:
    with store.connect() as connection:
        row = connection.execute(
            "SELECT positions, x, y, metrics, computed_at, compute_seconds FROM explorer_projections "
            "WHERE model = ? AND revision = ? AND corpus_hash = ? AND sample = ? AND parameters = ?",
            [model, revision, corpus_hash, sample, parameters],
        ).fetchnumpy()
    if len(row["positions"]) == 0:
        return None
    coordinates = np.column_stack([np.asarray(row["x"][0], dtype=np.float32), np.asarray(row["y"][0], dtype=np.float32)])
    return ProjectionRecord(
        model=model,
        revision=revision,
        corpus_hash=corpus_hash,
        sample=sample,
        parameters=parameters,
        positions=np.asarray(row["positions"][0], dtype=np.int64),
        coordinates=coordinates,
        metrics=json.loads(row["metrics"][0]),
        computed_at=row["computed_at"][0].astype("datetime64[us]").item(),
        compute_seconds=_optional_float(row["compute_seconds"][0]),
    )


def record_projection(store: Store, record: ProjectionRecord) -> None:
    with store.transaction() as connection:
        connection.execute(
            "INSERT OR REPLACE INTO explorer_projections (model, revision, corpus_hash, sample, parameters, "
            "positions, x, y, metrics, computed_at, compute_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                record.model,
                record.revision,
                record.corpus_hash,
                record.sample,
                record.parameters,
                record.positions.astype(np.int32).tolist(),
                record.coordinates[:, 0].astype(np.float32).tolist(),
                record.coordinates[:, 1].astype(np.float32).tolist(),
                json.dumps(record.metrics),
                record.computed_at,
                record.compute_seconds,
            ],
        )


def count_projections(store: Store, model: str | None = None) -> int:
    query = "SELECT count(*) FROM explorer_projections"
    parameters: list = []
    if model is not None:
        query += " WHERE model = ?"
        parameters.append(model)
    with store.connect() as connection:
        return connection.execute(query, parameters).fetchone()[0]


def _optional_float(value) -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return float(value)
