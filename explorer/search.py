"""Pure retrieval and comparison functions: arrays in, arrays and numbers out."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import numpy as np

WORD = re.compile(r"(?u)\b\w\w+\b")
UNHIGHLIGHTED = frozenset(
    "about all also any are been being between can comprises comprising could does each first from had has have "
    "having her his include includes including into its least may more most not one only other our over said "
    "same second should some such than their them then there these they thereby therefor therefrom therein "
    "thereof thereon those through under upon very was were what when where which while who whereby wherein "
    "whose within would".split()
)


def top_k(scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Positions and scores of the k best documents, best first (ties by position); `allowed` filters."""
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
        k = min(k, int(np.count_nonzero(allowed)))
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = np.lexsort((candidates, -scores[candidates]))
    best = candidates[order]
    return best.astype(np.int64), scores[best].astype(np.float32)


def dense_top_k(
    vectors: np.ndarray, query_vector: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine top-k: `vectors` rows and `query_vector` are already L2-normalised, so a matmul is the cosine."""
    return top_k(vectors @ query_vector, k, allowed)


def bm25_top_k(retriever, query_terms: list[str], k: int, allowed: np.ndarray | None = None):
    """bm25s's own retrieve, filtered by `allowed`; documents sharing no term with the query are dropped."""
    n_documents = retriever.scores["num_docs"]
    k = min(k, n_documents)
    if k <= 0 or not query_terms:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    weight_mask = None if allowed is None else allowed.astype(np.float32)
    documents, scores = retriever.retrieve(
        [query_terms], k=k, weight_mask=weight_mask, show_progress=False, n_threads=0
    )
    documents, scores = documents[0], scores[0]
    keep = scores > 0
    if allowed is not None:
        keep &= allowed[documents]
    return documents[keep].astype(np.int64), scores[keep].astype(np.float32)


def jaccard_at_k(first: Sequence, second: Sequence) -> float:
    """|A ∩ B| / |A ∪ B| of two top-k lists (1.0 when both are empty)."""
    a, b = set(first), set(second)
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def rank_biased_overlap(first: Sequence, second: Sequence, p: float = 0.9) -> float:
    """Extrapolated rank-biased overlap (Webber, Moffat & Zobel 2010, eq. 32) at the depth of the shorter list.

    1.0 for identical rankings, 0.0 for disjoint ones; agreement near the top weighs more (p sets how much).
    """
    depth = min(len(first), len(second))
    if depth == 0:
        return 1.0 if len(first) == len(second) else 0.0
    seen_first, seen_second = set(), set()
    overlap = 0
    weighted_sum = 0.0
    for d in range(1, depth + 1):
        x, y = first[d - 1], second[d - 1]
        if x == y:
            overlap += 1
        else:
            overlap += (x in seen_second) + (y in seen_first)
        seen_first.add(x)
        seen_second.add(y)
        weighted_sum += overlap / d * p**d
    return float(overlap / depth * p**depth + (1 - p) / p * weighted_sum)


def section_share(hit_sections: Sequence[str], query_section: str | None) -> float | None:
    """Share of hits whose section is the query patent's; None when there is no section to compare."""
    if not query_section or len(hit_sections) == 0:
        return None
    return sum(section == query_section for section in hit_sections) / len(hit_sections)


def highlight_terms(text: str, stopwords: frozenset[str] = frozenset()) -> list[str]:
    """Distinct lower-case words of a query worth highlighting (no stopwords or claim boilerplate, 3+ characters)."""
    seen: dict[str, None] = {}
    for word in WORD.findall(text.lower()):
        if len(word) >= 3 and word not in stopwords and word not in UNHIGHLIGHTED:
            seen.setdefault(word, None)
    return list(seen)


def term_pattern(terms: Sequence[str]) -> re.Pattern | None:
    """One case-insensitive pattern matching the terms as whole words, singular or plural."""
    if not terms:
        return None
    alternatives = "|".join(_singular_or_plural(term) for term in sorted(terms, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


def _singular_or_plural(term: str) -> str:
    if term.endswith("ies") and len(term) > 4:
        return re.escape(term[:-3]) + "(?:y|ies)"
    if term.endswith("y") and len(term) > 3:
        return re.escape(term[:-1]) + "(?:y|ies)"
    if term.endswith("s") and not term.endswith("ss") and len(term) > 3:
        term = term[:-1]
    return re.escape(term) + "(?:e?s)?"


def snippet_html(text: str, pattern: re.Pattern | None, width: int = 320) -> str:
    """HTML-escaped excerpt of `text` around its first matching term, with matches wrapped in <mark>."""
    first = pattern.search(text) if pattern else None
    start = 0
    if first and first.start() > width // 3:
        start = text.rfind(" ", 0, first.start() - width // 4) + 1
    end = len(text)
    if end - start > width:
        end = text.rfind(" ", start, start + width)
        end = end if end > start else start + width
    excerpt = text[start:end]
    marked = []
    cursor = 0
    for match in pattern.finditer(excerpt) if pattern else ():
        marked.append(html.escape(excerpt[cursor : match.start()]))
        marked.append(f"<mark>{html.escape(match.group(0))}</mark>")
        cursor = match.end()
    marked.append(html.escape(excerpt[cursor:]))
    return ("… " if start > 0 else "") + "".join(marked) + (" …" if end < len(text) else "")
