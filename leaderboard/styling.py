"""Presentation of a built table: number formats, provenance markers, cell styles, CSV. No gradio import.

`gradio_value` returns the dict form gr.Dataframe accepts ({headers, data, metadata}); the raw numbers stay in
`data` (so sorting by a column sorts numbers) and `metadata.display_value` carries the formatted text (with the
cell's 95% interval when asked: gr.Dataframe has no per-cell tooltip, only display text and style).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leaderboard import views as v
from leaderboard.tables import LeaderboardTable
from results.vocabulary import NO_PROMPTS_VARIANT, PROVENANCE_DESCRIPTIONS

MARKERS = {
    "paper": "ᴾ",
    "authors-readme": "ᴿ",
    "paper-secondary": "†",
    "mteb-results": "ᴹ",
    "evaluated": "ᴱ",
}
DISAGREEMENT_MARKER = "≠"
HIDDEN_COLUMNS = (v.BORDA_POINTS,)
"""Kept in the frame for sorting, shown nowhere."""
GRID_ONLY_HIDDEN = (v.TIED,)
"""In the CSV and the API; the grid marks the Rank cell with v.TIED_MARKER instead."""
SECONDARY_STYLE = "background-color: rgba(255, 170, 0, 0.16);"
BEST_STYLE = "font-weight: 700;"
HUB_URL = "https://huggingface.co/"


def interval_settings(interval_cells: pd.DataFrame) -> str:
    """How the stored intervals were computed, from their own records ('percentile bootstrap, 1000 resamples,
    seed 0'); several when the store holds intervals computed in different ways."""
    if interval_cells.empty:
        return ""
    methods = sorted({str(method) for method in interval_cells["method"].dropna()})
    if methods:
        return "; ".join(methods)
    counts = sorted({int(count) for count in interval_cells["n_resamples"].dropna()})
    return "percentile bootstrap, " + " or ".join(f"{count:,}" for count in counts) + " resamples"


def legend_markdown(interval_cells: pd.DataFrame | None = None) -> str:
    """The table's legend; `interval_cells` (Board.interval_cells) names how the stored intervals were computed."""
    entries = [f"**{MARKERS[name]}** {PROVENANCE_DESCRIPTIONS[name]}" for name in MARKERS]
    entries.append(f"**{DISAGREEMENT_MARKER}** another source reports a different value for this cell")
    settings = interval_settings(interval_cells) if interval_cells is not None else ""
    intervals = (
        f"95% intervals ({settings}) exist for the {len(interval_cells)} scores this leaderboard's worker evaluated "
        "with per-example data"
        if settings
        else "No score shown has a 95% interval yet: intervals need per-example data, which only evaluations by "
        "this leaderboard's worker keep"
    )
    return (
        "Sources: " + " · ".join(entries) + ". Shaded cells are secondary quotes. Bold: best in column.  \n"
        f"{intervals}; paper, third-party and MTEB scores come without them (their authors published no "
        f"per-example results), as do means. **{v.RANK_RANGE}**: where the rank falls in 95% of resampled "
        f"tables; **{v.TIED_MARKER}** after a rank: statistically tied with the row above (their ranges "
        "overlap).  \n"
        f"**{v.PROMPT_EFFECT}** (where a model was also evaluated without its prompts, the row `…"
        f"{NO_PROMPTS_VARIANT}`): its mean with prompts minus its mean without, on the tasks both rows have.  \n"
        f"**{v.ZERO_SHOT}**: *no* for models trained on PatenTEB's own training split (the patembed family, per "
        "their model cards), *yes* where the training data is known and excludes it, blank where it is unknown. "
        "The status line warns when a column's scores ran on different dataset revisions.  \n"
        f"Efficiency ({v.HARDWARE}, {v.THROUGHPUT}, {v.PEAK_MEMORY}, {v.EVAL_WALL}): measured by this "
        "leaderboard's worker on the hardware named; blank where the score shown has no cost record (paper, "
        "third-party and MTEB imports). How they are combined: see below."
    )


def _missing(values: pd.Series) -> np.ndarray:
    return values.isna().to_numpy()


def _formatted(values: pd.Series, template: str) -> np.ndarray:
    """Numbers formatted with `template` (a %-format), missing values as empty strings. A comprehension over the
    floats is three times faster than numpy's vectorised `np.char.mod`, which formats one element at a time too."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    text = np.empty(len(numbers), dtype=object)
    text[:] = ["" if number != number else template % number for number in numbers.tolist()]
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
    """The grid's columns."""
    return [c for c in table.frame.columns if c not in HIDDEN_COLUMNS and c not in GRID_ONLY_HIDDEN]


def interval_text(low: pd.Series, high: pd.Series) -> np.ndarray:
    """' [69.8, 72.6]' per row (one decimal, ×100 values), '' where there is no interval."""
    both = _formatted(low, "%.1f"), _formatted(high, "%.1f")
    present = (both[0] != "") & (both[1] != "")
    return np.where(present, " [" + both[0].astype(str) + ", " + both[1].astype(str) + "]", "").astype(object)


def _score_column(
    table: LeaderboardTable, column: str, with_intervals: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    if with_intervals and column in table.ci_low.columns:
        display = np.where(display != "", display + interval_text(table.ci_low[column], table.ci_high[column]), display)
    if values.notna().any():
        style = np.where((values == values.max()).to_numpy(), style + BEST_STYLE, style)
    return data, display, style


def gradio_value(table: LeaderboardTable, model_names: pd.DataFrame, with_intervals: bool = False) -> dict:
    """Columns are formatted whole (vectorised), then transposed into the row lists gr.Dataframe expects.
    `with_intervals`: score cells with an interval show it after the value ('71.23ᴱ [69.8, 72.6]')."""
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
            data, display, style = _score_column(table, column, with_intervals)
        elif column == v.COVERAGE:
            data = values.astype(int).to_numpy(dtype=object)
            display = np.char.add(values.astype(int).to_numpy().astype(str), f"/{table.coverage_of}").astype(object)
        elif column == v.PARAMS:
            data = _as_data(values, float)
            display = np.where(values.fillna(0).to_numpy() >= 10, _formatted(values, "%.0f"), _formatted(values, "%.1f"))
        elif column == v.THROUGHPUT:
            data = _as_data(values.round(2), float)
            display = np.where(values.fillna(0).to_numpy() >= 100, _formatted(values, "%.0f"), _formatted(values, "%.1f"))
        elif column == v.PROMPT_EFFECT:
            data = _as_data(values.round(2), float)
            display = _formatted(values, "%+.2f")
        elif column == v.PEAK_MEMORY:
            data = _as_data(values.round(3), float)
            display = _formatted(values, "%.2f")
        elif column == v.EVAL_WALL:
            data = _as_data(values.round(2), float)
            display = _formatted(values, "%.1f")
        elif column == v.RANK:
            data = _as_data(values, int)
            tied = frame[v.TIED].to_numpy(dtype=bool) if v.TIED in frame.columns else np.zeros(len(frame), bool)
            display = np.where(tied, _formatted(values, "%.0f") + " " + v.TIED_MARKER, _formatted(values, "%.0f"))
        elif column in (v.DIM, v.MAX_TOKENS):
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


GRID_DATATYPES = ["number", "markdown"]
"""The grid's column types, one list for every view: each view's grid starts (Rank, Model), the model a markdown
link, and Gradio reads a column past the list as "str", which a read-only grid shows as the cell's display text
(sorting follows the raw values either way). A per-view list would make a table switch send the grid's config anew
and keep a copy of the component per visitor session."""
GRID_LEADING_COLUMNS = [v.RANK, v.MODEL]


def csv_frame(table: LeaderboardTable) -> pd.DataFrame:
    """The shown table for download: numbers ×100 rounded to two decimals; per score its provenance and, for a
    task's score, `<column> ci_low` / `<column> ci_high` (its 95% interval, blank without per-example data);
    the rank's range and whether it ties with the row above; the efficiency columns (texts/s, GiB and seconds
    to two decimals) where the view has them."""
    frame = table.frame[[c for c in table.frame.columns if c not in HIDDEN_COLUMNS]].copy()
    rounded = (*table.mean_columns, *table.score_columns, *table.efficiency_columns,
               *([v.PROMPT_EFFECT] if v.PROMPT_EFFECT in frame.columns else []))
    for column in rounded:
        if column != v.HARDWARE:
            frame[column] = frame[column].round(2)
    for column in table.score_columns:
        position = frame.columns.get_loc(column) + 1
        frame.insert(position, f"{column} source", table.provenance[column].values)
        if column in table.interval_columns:
            frame.insert(position + 1, f"{column} ci_low", table.ci_low[column].round(2).values)
            frame.insert(position + 2, f"{column} ci_high", table.ci_high[column].round(2).values)
    return frame
