"""Comparisons rendered for people: HTML result columns and small tables (no UI library imported here)."""

from __future__ import annotations

import html

import pandas as pd

from explorer.builds import BUILDING, FAILED, READY, BuildStatus
from explorer.corpus import SECTION_TITLES, Corpus
from explorer.search import snippet_html, term_pattern
from explorer.service import Comparison

STATE_MARKS = {READY: "✅", FAILED: "❌", BUILDING: "⏳"}

STYLE = """
<style>
.explorer-results-grid {display: grid; gap: 12px; align-items: start;}
.explorer-result-column h4 {margin: 0 0 2px 0;}
.explorer-result-column .explorer-meta {font-size: 0.85em; opacity: 0.75; margin: 0 0 6px 0;}
.explorer-result-column table {width: 100%; border-collapse: collapse; font-size: 0.85em;}
.explorer-result-column td {vertical-align: top; padding: 4px 3px; border-top: 1px solid rgba(128,128,128,0.25);}
.explorer-result-column .explorer-section {font-weight: 700;}
.explorer-result-column .explorer-same-section {background: rgba(84,162,75,0.18); border-radius: 3px; padding: 0 3px;}
.explorer-result-column mark {padding: 0 1px;}
</style>
"""


def results_html(comparison: Comparison, corpus: Corpus) -> str:
    """One column per model: rank, patent id, codes, score and a highlighted snippet."""
    if not comparison.results:
        return ""
    pattern = term_pattern(comparison.terms)
    columns = [_column(result, comparison, corpus, pattern) for result in comparison.results]
    grid = f'repeat({len(columns)}, minmax(0, 1fr))'
    return (
        STYLE
        + f'<div class="explorer-results-grid" style="grid-template-columns: {grid};">'
        + "".join(columns)
        + "</div>"
    )


def _column(result, comparison: Comparison, corpus: Corpus, pattern) -> str:
    meta = [f"{result.seconds * 1000:.0f} ms", f"{len(result.hits)} hits"]
    if result.section_share is not None:
        meta.append(f"{result.section_share:.0%} in section {comparison.query_section}")
    rows = []
    for hit in result.hits:
        rows.append(
            "<tr>"
            f"<td>{hit.rank}</td>"
            f"<td><code>{html.escape(hit.id)}</code><br>{_codes_html(corpus, hit.position, comparison.query_section)}</td>"
            f"<td>{_score(hit.score)}</td>"
            f"<td>{snippet_html(corpus.texts[hit.position], pattern)}</td>"
            "</tr>"
        )
    body = "".join(rows) or '<tr><td colspan="4">No results.</td></tr>'
    return (
        f'<div class="explorer-result-column" data-model="{html.escape(result.name, quote=True)}">'
        f"<h4>{html.escape(result.label)}</h4>"
        + (f'<p class="explorer-meta explorer-recipe">{html.escape(result.description)}</p>' if result.description else "")
        + f'<p class="explorer-meta">{" · ".join(meta)}</p>'
        "<table><thead><tr><th>#</th><th>patent · codes</th><th>score</th><th>abstract</th></tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def _codes_html(corpus: Corpus, position: int, query_section: str | None) -> str:
    codes = corpus.codes[position]
    if not codes:
        return "<small>unlabelled</small>"
    section = corpus.sections[position]
    section_class = "explorer-section" + (" explorer-same-section" if section and section == query_section else "")
    title = html.escape("; ".join(codes), quote=True)
    section_title = html.escape(SECTION_TITLES.get(section, "unknown section"), quote=True)
    more = f" +{len(codes) - 1}" if len(codes) > 1 else ""
    return (
        f'<small title="{title}"><span class="{section_class}" title="{section_title}">{html.escape(section)}</span> '
        f"{html.escape(corpus.classes[position] or '')} · {html.escape(codes[0])}{more}</small>"
    )


def _score(score: float) -> str:
    return f"{score:.3f}" if abs(score) < 10 else f"{score:.2f}"


def overlap_frame(comparison: Comparison) -> pd.DataFrame:
    rows = comparison.overlaps()
    frame = pd.DataFrame(rows, columns=["model_a", "model_b", "jaccard_at_k", "rbo"])
    names = {"model_a": "model A", "model_b": "model B", "jaccard_at_k": f"Jaccard@{comparison.k}", "rbo": "RBO (p=0.9)"}
    return frame.rename(columns=names)


def model_frame(comparison: Comparison) -> pd.DataFrame:
    """Hits and time per model, plus (prior-art mode) the share of hits in the query patent's section."""
    columns = ["model", "hits", "time (ms)"]
    share_column = f"share in section {comparison.query_section}" if comparison.query_section else None
    rows = []
    for result in comparison.results:
        row = {"model": result.label, "hits": len(result.hits), "time (ms)": round(result.seconds * 1000, 1)}
        if share_column:
            row[share_column] = None if result.section_share is None else round(result.section_share, 2)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns + ([share_column] if share_column else []))


def notes_markdown(comparison: Comparison, corpus: Corpus) -> str:
    lines = []
    if comparison.patent_id:
        position = corpus.position_of(comparison.patent_id)
        section = comparison.query_section
        where = f"section {section} ({SECTION_TITLES[section]})" if section else "no CPC code"
        lines.append(
            f"**Prior-art mode:** patent `{comparison.patent_id}` ({where}) is the query and is left out of its own "
            f"results. Its abstract: _{html.escape(_shorten(corpus.texts[position], 400))}_"
        )
    if comparison.section_filter:
        lines.append(f"Only patents whose first code is in section {comparison.section_filter} are searched.")
    for name, reason in comparison.unavailable.items():
        lines.append(f"⚠️ {html.escape(reason)}")
    for note in comparison.notes:
        lines.append(f"ℹ️ {html.escape(note)}")
    return "\n\n".join(lines)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def preparation_markdown(statuses: list[BuildStatus], map_activity: str = "") -> str:
    """What the background is doing: each model's state while any is being prepared, a one-line summary after."""
    blocks = []
    ready = [status for status in statuses if status.state == READY]
    if statuses and len(ready) == len(statuses):
        blocks.append("✅ Models ready: " + ", ".join(html.escape(status.label) for status in statuses) + ".")
    elif statuses:
        blocks.append(
            f"**Preparing models in the background: {len(ready)} of {len(statuses)} ready.** The page works "
            "meanwhile; a search skips a model that is not ready yet and says so."
        )
        blocks.append(
            "\n".join(f"- {STATE_MARKS.get(status.state, '⏳')} {html.escape(status.line())}" for status in statuses)
        )
    if map_activity:
        blocks.append(f"🗺️ {html.escape(map_activity)}")
    return "\n\n".join(blocks)


def is_preparing(statuses: list[BuildStatus]) -> bool:
    return any(status.state not in (READY, FAILED) for status in statuses)
