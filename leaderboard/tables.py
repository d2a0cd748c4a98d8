"""Wide leaderboard tables built by pure functions from the long score frame.

`choose_cells` picks one value per (model, task, subset); `build_table` turns those cells into one view's
table with means, coverage, Borda rank and model metadata. No styling here (see styling.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leaderboard import views as v
from results.vocabulary import DEFAULT_SUBSET, FAMILIES, PROVENANCE_PREFERENCE, REPORTED_OVERALL_TASK

CELL_KEY = ["model", "task", "subset"]


@dataclass(frozen=True)
class LeaderboardTable:
    view: v.View
    frame: pd.DataFrame
    """Display columns in order; score and mean columns hold values ×100 (unrounded)."""
    score_columns: tuple[str, ...]
    """Columns whose cells come from one stored score (they carry a provenance)."""
    mean_columns: tuple[str, ...]
    """Columns computed here from several scores."""
    provenance: pd.DataFrame
    """Same index as `frame`, one column per score column: the provenance of the value shown."""
    disagreement: pd.DataFrame
    """Same shape as `provenance`: True where another source reports a different value for that cell."""
    column_tasks: dict[str, tuple[str, str]]
    """Score column -> (task, subset)."""
    coverage_of: int
    """How many PatenTEB tasks the Coverage column counts against."""

    @property
    def empty(self) -> bool:
        return self.frame.empty


def _version_sort_key(version) -> str:
    if not isinstance(version, str):
        return ""
    parts = []
    for part in version.split(".")[:4]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(f"{int(digits) if digits else 0:06d}")
    return ".".join(parts)


def choose_cells(scores: pd.DataFrame, provenances: tuple[str, ...] | None = None) -> pd.DataFrame:
    """One row per (model, task, subset): the value to show and where it comes from.

    Preference: provenance in PROVENANCE_PREFERENCE order, then the newest evaluation (evaluation date, then
    mteb version). Missing values (NaN in a result file) never win over a number.
    """
    frame = scores[scores["value"].notna()]
    if provenances is not None:
        frame = frame[frame["provenance"].isin(provenances)]
    columns = CELL_KEY + ["value", "provenance", "revision", "source", "notes"]
    if frame.empty:
        return pd.DataFrame(columns=columns + ["n_sources", "disagreement"])
    preference = {name: rank for rank, name in enumerate(PROVENANCE_PREFERENCE)}
    frame = frame.assign(
        _preference=frame["provenance"].map(preference).fillna(len(preference)),
        _evaluated=pd.to_datetime(frame["evaluated_at"]),
        _version=frame["mteb_version"].map(_version_sort_key),
    ).sort_values(
        CELL_KEY + ["_preference", "_evaluated", "_version", "revision"],
        ascending=[True, True, True, True, False, False, True],
        na_position="last",
        kind="stable",
    )
    chosen = frame.drop_duplicates(CELL_KEY, keep="first").set_index(CELL_KEY)[columns[3:]]
    shown = (frame["value"] * 100).round(2)
    spread = shown.groupby([frame[c] for c in CELL_KEY]).agg(["size", "min", "max"])
    chosen["n_sources"] = spread["size"]
    chosen["disagreement"] = spread["min"] != spread["max"]
    return chosen.reset_index()


def borda_points(scores: pd.DataFrame) -> pd.Series:
    """Per model: on every column, one point per model with a strictly lower score; no score, no points."""
    if scores.shape[1] == 0:
        return pd.Series(0.0, index=scores.index)
    beaten = scores.rank(method="min", ascending=True) - 1
    return beaten.fillna(0).sum(axis=1)


def rank_from_points(points: pd.Series) -> pd.Series:
    return points.rank(method="min", ascending=False).astype(int)


def strict_mean(scores: pd.DataFrame) -> pd.Series:
    """Row mean that is missing as soon as any input is missing."""
    if scores.shape[1] == 0:
        return pd.Series(np.nan, index=scores.index)
    return scores.mean(axis=1, skipna=False)


def column_label(task_label: str, subset: str) -> str:
    return task_label if subset == DEFAULT_SUBSET else f"{task_label} ({subset.replace('_', ' ')})"


def _task_columns(cells: pd.DataFrame, view_task_rows: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Ordered score columns for the view's tasks: every task, and every extra subset that has data."""
    subsets = cells.groupby("task")["subset"].unique().to_dict() if not cells.empty else {}
    columns: dict[str, tuple[str, str]] = {}
    for row in view_task_rows.itertuples(index=False):
        label = row.label if isinstance(row.label, str) and row.label else row.task
        present = sorted(subsets.get(row.task, []), key=lambda s: (s != DEFAULT_SUBSET, s))
        for subset in present or [DEFAULT_SUBSET]:
            columns[column_label(label, subset)] = (row.task, subset)
    return columns


def _pivot(cells: pd.DataFrame, columns: dict[str, tuple[str, str]], field: str) -> pd.DataFrame:
    wanted = pd.DataFrame(
        [(label, task, subset) for label, (task, subset) in columns.items()], columns=["column", "task", "subset"]
    )
    joined = cells.merge(wanted, on=["task", "subset"], how="inner")
    wide = joined.pivot(index="model", columns="column", values=field)
    return wide.reindex(columns=list(columns))


def _metadata(models: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    meta = models.set_index("model").reindex(index)
    prompts = meta["uses_prompts"].map({True: "yes", False: "no"})
    return pd.DataFrame(
        {
            v.PARAMS: pd.to_numeric(meta["params_m"], errors="coerce"),
            v.DIM: pd.to_numeric(meta["embedding_dim"], errors="coerce"),
            v.MAX_TOKENS: pd.to_numeric(meta["max_tokens"], errors="coerce"),
            v.PROMPTS: prompts.where(prompts.notna(), None),
        },
        index=index,
    )


def build_table(
    cells: pd.DataFrame,
    tasks: pd.DataFrame,
    models: pd.DataFrame,
    view: v.View | str,
    model_subset: list[str] | None = None,
) -> LeaderboardTable:
    """One view's table. `model_subset` (already filtered model ids) restricts rows before ranking."""
    view = v.VIEWS_BY_KEY[view] if isinstance(view, str) else view
    task_rows = v.view_tasks(tasks, view)
    columns = _task_columns(cells, task_rows)
    extra: dict[str, tuple[str, str]] = {}
    if view.key == "overall":
        extra = {v.REPORTED: (REPORTED_OVERALL_TASK, DEFAULT_SUBSET)}
    all_columns = {**columns, **extra}

    values = _pivot(cells, all_columns, "value") * 100
    provenance = _pivot(cells, all_columns, "provenance")
    disagreement = _pivot(cells, all_columns, "disagreement").fillna(False).astype(bool)
    if model_subset is not None:
        values = values[values.index.isin(model_subset)]
    values = values.dropna(how="all")
    provenance = provenance.reindex(values.index)
    disagreement = disagreement.reindex(values.index).fillna(False).astype(bool)

    task_values = values[list(columns)]
    patenteb = v.view_tasks(tasks, v.VIEWS_BY_KEY["overall"])
    coverage_tasks = patenteb["task"].tolist()
    all_cells_of_model = cells[cells["task"].isin(coverage_tasks) & (cells["subset"] == DEFAULT_SUBSET)]
    coverage = all_cells_of_model.groupby("model")["task"].nunique().reindex(values.index).fillna(0).astype(int)

    points = borda_points(task_values)
    table = pd.DataFrame(index=values.index)
    table[v.RANK] = rank_from_points(points) if len(points) else pd.Series(dtype=int)
    table[v.MODEL] = values.index
    mean_columns: list[str] = []
    if view.key == "overall":
        family_means = {}
        for family in FAMILIES:
            family_columns = [
                label for label, (task, _) in columns.items() if task in set(task_rows.loc[task_rows["family"] == family, "task"])
            ]
            family_means[v.FAMILY_TITLES[family]] = strict_mean(task_values[family_columns])
        table[v.OVERALL] = strict_mean(pd.DataFrame(family_means))
        table[v.MEAN_TASKS] = strict_mean(task_values)
        for title, mean in family_means.items():
            table[title] = mean
        table[v.REPORTED] = values[v.REPORTED]
        mean_columns = [v.OVERALL, v.MEAN_TASKS, *family_means]
        score_columns = [v.REPORTED]
        headline = v.OVERALL
    else:
        if view.has_mean:
            table[v.MEAN] = strict_mean(task_values)
            mean_columns = [v.MEAN]
        for label in columns:
            table[label] = task_values[label]
        score_columns = list(columns)
        headline = v.MEAN if view.has_mean else (score_columns[0] if score_columns else None)
    if view.benchmark == v.PATENTEB:
        table[v.COVERAGE] = coverage
    table = table.join(_metadata(models, table.index))
    table[v.BORDA_POINTS] = points

    order_keys = [v.RANK] + ([headline] if headline else []) + [v.MODEL]
    ascending = [True] + ([False] if headline else []) + [True]
    table = table.sort_values(order_keys, ascending=ascending, na_position="last", kind="stable")
    table = table.reset_index(drop=True)
    order = pd.Index(table[v.MODEL])
    return LeaderboardTable(
        view=view,
        frame=table,
        score_columns=tuple(score_columns),
        mean_columns=tuple(mean_columns),
        provenance=provenance.reindex(order)[score_columns].reset_index(drop=True),
        disagreement=disagreement.reindex(order)[score_columns].reset_index(drop=True),
        column_tasks={label: all_columns[label] for label in score_columns},
        coverage_of=len(coverage_tasks),
    )


def family_means(cells: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """Per model and PatenTEB view (symmetric/asymmetric retrieval split out), the strict family mean ×100."""
    means = {}
    for view in v.VIEWS:
        if view.benchmark != v.PATENTEB or view.key == "overall":
            continue
        task_names = v.view_tasks(tasks, view)["task"].tolist()
        subset = cells[cells["task"].isin(task_names) & (cells["subset"] == DEFAULT_SUBSET)]
        wide = subset.pivot(index="model", columns="task", values="value").reindex(columns=task_names)
        means[view.title] = strict_mean(wide) * 100
    return pd.DataFrame(means)
