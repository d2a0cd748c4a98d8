"""The USPTO sample this repository ships: where it lies and how to credit it.

10,000 real US patent grant abstracts with their classification codes (see explorer/data/SOURCE.md). The
explorer searches and maps it, the evaluator builds its demo tasks from it, tests and benches draw real texts
from it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
USPTO_SAMPLE_RELATIVE = "explorer/data/uspto_random_10000.parquet"
USPTO_SAMPLE = REPO / USPTO_SAMPLE_RELATIVE
USPTO_SAMPLE_LABEL = f"{USPTO_SAMPLE_RELATIVE} (USPTO grant abstracts via pyGrams, OGL v3)"


@lru_cache(maxsize=1)
def _abstracts() -> tuple[str, ...]:
    import pandas as pd

    return tuple(pd.read_parquet(USPTO_SAMPLE, columns=["text"])["text"])


def patent_abstracts(limit: int) -> list[str]:
    """The first `limit` abstracts of the sample, in its shipped order."""
    return list(_abstracts()[:limit])
