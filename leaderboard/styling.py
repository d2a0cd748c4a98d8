"""Presentation of a built table: number formats, provenance markers, cell styles, CSV. No gradio import.

`gradio_value` returns the dict form gr.Dataframe accepts ({headers, data, metadata}); the raw numbers stay in
`data` (so sorting by a column sorts numbers) and `metadata.display_value` carries the formatted text.
"""

from __future__ import annotations

import numpy as np
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
    return (
        "Sources: " + " · ".join(entries) + ". Shaded cells are secondary quotes. Bold: best in column.  \n"
        f"Efficiency ({v.HARDWARE}, {v.THROUGHPUT}, {v.PEAK_MEMORY}, {v.EVAL_WALL}): measured by this "
        "leaderboard's worker on the hardware named; blank where the score shown has no cost record (paper, "
        "third-party and MTEB imports). How they are combined: see below."
    )


def _missing(values: pd.Series) -> np.ndarray:
    return values.isna().to_numpy()


def _formatted(values: pd.Series, template: str) -> np.ndarray:
    """Vectorised number formatting; missing values become empty strings."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    missing = np.isnan(numbers)
    text = np.char.mod(template, np.where(missing, 0.0, numbers)).astype(object)
    text[missing] = ""
    return text


def _as_data(values: pd.Series, cast=None) -> np.ndarray:
    """Cell values for gr.Dataframe: `cast` applied to present values, None for missing ones."""
    data = np.empty(len(values), dtype=object)
    data[:] = [
        None if missing else (cast(x) if cast else x) for x, missing in zip(values.to_numpy(), _missing(values))
    ]
    return data


def model_link(model: str, display_name: str | None, hub_id: str | None) -> str:
    name = display_name if isinstance(display_name, str) and display_name else model
    name = name.replace("[", "(").replace("]", ")")
    if isinstance(hub_id, str) and hub_id:
        return f"[{name}]({HUB_URL}{hub_id})"
    return name


def visible_columns(table: LeaderboardTable) -> list[str]:
    return [c for c in table.frame.columns if c not in HIDDEN_COLUMNS]


def _score_column(table: LeaderboardTable, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = table.frame[column]
    data = _as_data(values.round(4), float)
    display = _formatted(values, "%.2f")
    style = np.full(len(values), "", dtype=object)
    if column in table.provenance.columns:
        provenance = table.provenance[column]
        shown = display != ""
        markers = provenance.map(MARKERS).fillna("").to_numpy(dtype=object)
        conflicts = np.where(table.disagreement[column].to_numpy(dtype=bool), DISAGREEMENT_MARKER, "")
        display = np.where(shown, display + markers + conflicts, display)
        style = np.where(shown & (provenance == "paper-secondary").to_numpy(), SECONDARY_STYLE, style)
    if values.notna().any():
        style = np.where((values == values.max()).to_numpy(), style + BEST_STYLE, style)
    return data, display, style


def gradio_value(table: LeaderboardTable, model_names: pd.DataFrame) -> dict:
    """Columns are formatted whole (vectorised), then transposed into the row lists gr.Dataframe expects."""
    frame = table.frame
    columns = visible_columns(table)
    numeric = set(table.score_columns) | set(table.mean_columns)
    no_style = np.full(len(frame), "", dtype=object)
    data_columns, display_columns, style_columns = [], [], []
    for column in columns:
        values = frame[column]
        style = no_style
        if column == v.MODEL:
            meta = model_names.reindex(values.to_numpy(dtype=object))
            data = display = np.array(
                [model_link(m, d, h) for m, d, h in zip(values, meta["display_name"], meta["hub_id"])], dtype=object
            )
        elif column in numeric:
            data, display, style = _score_column(table, column)
        elif column == v.COVERAGE:
            data = values.astype(int).to_numpy(dtype=object)
            display = np.char.add(values.astype(int).to_numpy().astype(str), f"/{table.coverage_of}").astype(object)
        elif column == v.PARAMS:
            data = _as_data(values, float)
            display = np.where(values.fillna(0).to_numpy() >= 10, _formatted(values, "%.0f"), _formatted(values, "%.1f"))
        elif column == v.THROUGHPUT:
            data = _as_data(values.round(2), float)
            display = np.where(values.fillna(0).to_numpy() >= 100, _formatted(values, "%.0f"), _formatted(values, "%.1f"))
        elif column == v.PEAK_MEMORY:
            data = _as_data(values.round(3), float)
            display = _formatted(values, "%.2f")
        elif column == v.EVAL_WALL:
            data = _as_data(values.round(2), float)
            display = _formatted(values, "%.1f")
        elif column in (v.RANK, v.DIM, v.MAX_TOKENS):
            data = _as_data(values, int)
            display = _formatted(values, "%.0f")
        else:
            data = _as_data(values)
            display = np.where(_missing(values), "", values.astype(str).to_numpy()).astype(object)
        data_columns.append(data)
        display_columns.append(display)
        style_columns.append(style)

    def rows(column_arrays: list[np.ndarray]) -> list[list]:
        if not len(frame):
            return []
        return np.stack([np.asarray(array, dtype=object) for array in column_arrays], axis=1).tolist()

    return {
        "headers": columns,
        "data": rows(data_columns),
        "metadata": {"display_value": rows(display_columns), "styling": rows(style_columns)},
    }


def datatypes(table: LeaderboardTable) -> list[str]:
    text = {v.PROMPTS, v.HARDWARE}
    return ["markdown" if c == v.MODEL else "str" if c in text else "number" for c in visible_columns(table)]


def csv_frame(table: LeaderboardTable) -> pd.DataFrame:
    """The shown table for download: numbers ×100 rounded to two decimals, one provenance column per score,
    and the efficiency columns (texts/s, GiB and seconds to two decimals) where the view has them."""
    frame = table.frame[visible_columns(table)].copy()
    for column in (*table.mean_columns, *table.score_columns, *table.efficiency_columns):
        if column != v.HARDWARE:
            frame[column] = frame[column].round(2)
    for column in table.score_columns:
        frame.insert(frame.columns.get_loc(column) + 1, f"{column} source", table.provenance[column].values)
    return frame


def csv_text(table: LeaderboardTable) -> str:
    return csv_frame(table).to_csv(index=False)
