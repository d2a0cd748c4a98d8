"""Real patent abstracts for tests and benches: the shipped USPTO sample, in its shipped order."""

from __future__ import annotations

from functools import lru_cache

from tests.support.patenteb_fixtures import USPTO_SAMPLE


@lru_cache(maxsize=1)
def _abstracts() -> tuple[str, ...]:
    import pandas as pd

    return tuple(pd.read_parquet(USPTO_SAMPLE, columns=["text"])["text"])


def patent_abstracts(limit: int) -> list[str]:
    return list(_abstracts()[:limit])
