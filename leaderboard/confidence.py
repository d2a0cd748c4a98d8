"""How sure the leaderboard's numbers are: the stored 95% intervals of the cells shown, and each rank's range.

Pure: chosen cells, the store's intervals and per-example rows in; wide frames and rank tables out. The
statistics themselves (bootstrap, rank intervals) are patenteb/statistics.py's.

Only a cell this leaderboard's worker evaluated has per-example data, so only such a cell (provenance
`evaluated`, and the interval of the very revision shown) gets an interval and bootstrap draws.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from patenteb.statistics import rank_intervals, task_bootstrap
from results.vocabulary import EVALUATED

CELL_REVISION_KEY = ["model", "revision", "task", "subset"]
INTERVAL_CELL_COLUMNS = [*CELL_REVISION_KEY, "split", "value", "low", "high", "n_resamples", "method"]
RANK_COLUMNS = ["rank_low", "rank_high", "rank_range"]

CellKey = tuple[str, str, str]
"""(model, task, subset): one cell of the board."""


def cells_with_intervals(cells: pd.DataFrame, intervals: pd.DataFrame | None) -> pd.DataFrame:
    """The chosen cells that were evaluated here and have a stored interval of the revision shown
    (INTERVAL_CELL_COLUMNS; low and high on the metric's scale, 0–1)."""
    if cells.empty or intervals is None or intervals.empty:
        return pd.DataFrame(columns=INTERVAL_CELL_COLUMNS)
    evaluated = cells.loc[cells["provenance"] == EVALUATED, [*CELL_REVISION_KEY, "value"]]
    stored = intervals[[*CELL_REVISION_KEY, "split", "low", "high", "n_resamples", "method"]]
    stored = stored[stored["low"].notna() & stored["high"].notna()].drop_duplicates(CELL_REVISION_KEY)
    joined = evaluated.merge(stored, on=CELL_REVISION_KEY, how="inner")
    joined[["low", "high"]] = joined[["low", "high"]].astype(float)
    return joined[INTERVAL_CELL_COLUMNS].reset_index(drop=True)


def interval_grids(with_intervals: pd.DataFrame, like: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(low, high) as wide frames shaped like the board's `values` (models × (task, subset)); NaN: no interval."""
    if with_intervals.empty:
        empty = pd.DataFrame(np.nan, index=like.index, columns=like.columns)
        return empty, empty.copy()

    def wide(field: str) -> pd.DataFrame:
        grid = with_intervals.pivot(index="model", columns=["task", "subset"], values=field)
        return grid.reindex(index=like.index, columns=like.columns).astype(float)

    return wide("low"), wide("high")


def cell_bootstrap(examples: pd.DataFrame, revision: str, split: str, subset: str) -> np.ndarray:
    """The bootstrap distribution (statistics.task_bootstrap, its default resamples and seed) of one cell's score,
    from its model's per-example rows on that task; the same resampled examples for every model of the task."""
    rows = examples[
        (examples["revision"] == revision) & (examples["split"] == split) & (examples["subset"] == subset)
    ]
    return task_bootstrap(rows)


def rank_ranges(
    task_values: pd.DataFrame, columns: Mapping[str, tuple[str, str]], draws: Mapping[CellKey, np.ndarray]
) -> pd.DataFrame | None:
    """Per model (the index of `task_values`): rank_low, rank_high and rank_range ('2–4') of the table's Borda
    rank under resampling (statistics.rank_intervals). `task_values`: the table's task columns ×100; `columns`:
    its labels' (task, subset); `draws`: the bootstrap distributions (metric scale) of cells with examples.
    Columns no model has a score in are left out (resampling them would only add all-tied tables). None when
    there is no model or no task score to rank on."""
    task_values = task_values.loc[:, task_values.notna().any(axis=0)]
    if task_values.empty or task_values.shape[1] == 0:
        return None
    label_of = {cell: label for label, cell in columns.items() if label in task_values.columns}
    shown = set(task_values.index)
    view_draws = {}
    for (model, task, subset), values in draws.items():
        label = label_of.get((task, subset))
        if label is not None and model in shown and pd.notna(task_values.at[model, label]):
            view_draws[(model, label)] = np.asarray(values, dtype=np.float64) * 100
    ranges = rank_intervals(task_values, view_draws)
    return ranges[RANK_COLUMNS]


def tied_with_above(rank_low: pd.Series, rank_high: pd.Series) -> pd.Series:
    """In the table's row order: True where a row's rank range overlaps the range of the row above."""
    return (rank_low <= rank_high.shift(1)).fillna(False).astype(bool)
