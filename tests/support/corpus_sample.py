"""Real patent abstracts for tests, read from the shared USPTO sample."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

USPTO_JSONL = Path(__file__).resolve().parents[3] / "shared/data/patents/pygrams_uspto_random_10000/uspto_random_10000.jsonl"


@lru_cache(maxsize=1)
def patent_records() -> tuple[dict, ...]:
    with USPTO_JSONL.open(encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle)


def patent_abstracts(limit: int) -> list[str]:
    return [record["abstract"] for record in patent_records()[:limit]]
