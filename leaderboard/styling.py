"""Presentation of a built table: number formats, provenance markers, cell styles, CSV. No gradio import.

`gradio_value` returns the dict form gr.Dataframe accepts ({headers, data, metadata}); the raw numbers stay in
`data` (so sorting by a column sorts numbers) and `metadata.display_value` carries the formatted text.
"""

from __future__ import annotations

import math

import pandas as pd

from leaderboard import views as v
from leaderboard.tables import LeaderboardTable
from results.vocabulary import PROVENANCE_DESCRIPTIONS

MARKERS = {
    "paper": "ᴾ",
    "authors-readme": "ᴿ",
    "paper-secondary": "†",
    "mteb-results": "ᴹ",
    "evaluated": "ᴱ",
}
DISAGREEMENT_MARKER = "≠"
HIDDEN_COLUMNS = (v.BORDA_POINTS,)
SECONDARY_STYLE = "background-color: rgba(255, 170, 0, 0.16);"
BEST_STYLE = "font-weight: 700;"
HUB_URL = "https://huggingface.co/"


def legend_markdown() -> str:
    entries = [f"**{MARKERS[name]}** {PROVENANCE_DESCRIPTIONS[name]}" for name in MARKERS]
    entries.append(f"**{DISAGREEMENT_MARKER}** another source reports a different value for this cell")
    return "Sources: " + " · ".join(entries) + ". Shaded cells are secondary quotes. Bold: best in column."


def _number(value, decimals: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return f"{value:.{decimals}f}"


def _plain(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _params(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def model_link(model: str, display_name: str | None, hub_id: str | None) -> str:
    name = display_name if isinstance(display_name, str) and display_name else model
    name = name.replace("[", "(").replace("]", ")")
    if isinstance(hub_id, str) and hub_id:
        return f"[{name}]({HUB_URL}{hub_id})"
    return name


def visible_columns(table: LeaderboardTable) -> list[str]:
    return [c for c in table.frame.columns if c not in HIDDEN_COLUMNS]


def gradio_value(table: LeaderboardTable, models: pd.DataFrame) -> dict:
    columns = visible_columns(table)
    frame = table.frame
    meta = models.set_index("model")[["display_name", "hub_id"]].reindex(frame[v.MODEL])
    links = [model_link(m, d, h) for m, d, h in zip(frame[v.MODEL], meta["display_name"], meta["hub_id"])]
    numeric = set(table.score_columns) | set(table.mean_columns)
    best = {c: frame[c].max() for c in numeric if frame[c].notna().any()}

    data, display, styling = [], [], []
    for row in range(len(frame)):
        data_row, display_row, style_row = [], [], []
        for column in columns:
            value = frame.at[row, column]
            style = ""
            if column == v.MODEL:
                data_value = display_value = links[row]
            elif column in numeric:
                data_value = None if pd.isna(value) else round(float(value), 4)
                display_value = _number(value)
                if column in table.provenance.columns and display_value:
                    provenance = table.provenance.at[row, column]
                    display_value += MARKERS.get(provenance, "")
                    if table.disagreement.at[row, column]:
                        display_value += DISAGREEMENT_MARKER
                    if provenance == "paper-secondary":
                        style += SECONDARY_STYLE
                if data_value is not None and column in best and value == best[column]:
                    style += BEST_STYLE
            elif column == v.COVERAGE:
                data_value = int(value)
                display_value = f"{int(value)}/{table.coverage_of}"
            elif column == v.PARAMS:
                data_value = None if pd.isna(value) else float(value)
                display_value = _params(value)
            elif column in (v.DIM, v.MAX_TOKENS):
                data_value = None if pd.isna(value) else int(value)
                display_value = _plain(data_value)
            else:
                data_value = None if value is None or (not isinstance(value, str) and pd.isna(value)) else value
                display_value = _plain(data_value)
            data_row.append(data_value)
            display_row.append(display_value)
            style_row.append(style)
        data.append(data_row)
        display.append(display_row)
        styling.append(style_row)
    return {"headers": columns, "data": data, "metadata": {"display_value": display, "styling": styling}}


def datatypes(table: LeaderboardTable) -> list[str]:
    return ["markdown" if c == v.MODEL else "str" if c == v.PROMPTS else "number" for c in visible_columns(table)]


def csv_frame(table: LeaderboardTable) -> pd.DataFrame:
    """The shown table for download: numbers ×100 rounded to two decimals, one provenance column per score."""
    frame = table.frame[visible_columns(table)].copy()
    for column in (*table.mean_columns, *table.score_columns):
        frame[column] = frame[column].round(2)
    for column in table.score_columns:
        frame.insert(frame.columns.get_loc(column) + 1, f"{column} source", table.provenance[column].values)
    return frame
