"""The results store: the only package that speaks SQL."""

from results.store import Snapshot, Store, StoreBusy, StoreCorrupt, UpsertCounts, default_store_path

__all__ = ["Snapshot", "Store", "StoreBusy", "StoreCorrupt", "UpsertCounts", "default_store_path"]
