"""Wide leaderboard tables built by pure functions from the long score frame.

`choose_cells` picks one value per (model, task, subset); `prepare_board` pivots those cells once per store
generation, with their stored 95% intervals, and aggregates what the shown evaluations cost per view
(`efficiency`); `build_table` cuts one view's table from the board, with means, coverage, Borda rank and its
range under resampling (kept on the board per set of models ranked), model metadata and efficiency. No styling
here (see styling.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from leaderboard import views as v
from leaderboard.confidence import CellKey, cells_with_intervals, interval_grids, rank_ranges, tied_with_above
from patenteb.lru import LruCache
from results.vocabulary import (
    DEFAULT_SUBSET,
    EVALUATED,
    FAMILIES,
    NO_PROMPTS_VARIANT,
    PROVENANCE_PREFERENCE,
    REPORTED_OVERALL_TASK,
)

CELL_KEY = ["model", "task", "subset"]
MAX_RANK_TABLES = 32
"""Rank ranges kept per board: one per (view, set of models ranked)."""
MAX_SELECTIONS = 64
"""Grids cut to a view's columns kept per board: a few per view."""


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
    coverage_of: int
    """How many PatenTEB tasks the Coverage column counts against."""
    efficiency_columns: tuple[str, ...] = ()
    """v.EFFICIENCY_COLUMNS when any score of this view has a cost record, else none."""
    ci_low: pd.DataFrame = field(default_factory=pd.DataFrame)
    ci_high: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Same index as `frame`, one column per `interval_columns`: the 95% interval of the value shown, ×100; NaN
    where the value has no per-example data."""

    @property
    def interval_columns(self) -> tuple[str, ...]:
        """Score columns that can carry an interval (one task each; not the authors' reported overall)."""
        return tuple(column for column in self.score_columns if column != v.REPORTED)

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
    columns = CELL_KEY + ["value", "provenance", "revision", "source", "notes", "dataset_revision"]
    if "dataset_revision" not in frame.columns:
        frame = frame.assign(dataset_revision=None)
    if frame.empty:
        return pd.DataFrame(columns=columns + ["disagreement"])
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
    spread = shown.groupby([frame[c] for c in CELL_KEY]).agg(["min", "max"])
    chosen["disagreement"] = spread["min"] != spread["max"]
    return chosen.reset_index()


def mixed_dataset_revisions(
    cells: pd.DataFrame, columns: dict[str, tuple[str, str]], models: list[str] | pd.Index
) -> dict[str, list[str]]:
    """The columns of a table (label -> (task, subset)) whose shown scores of `models` ran on more than one known
    dataset revision, with those revisions in order: scores of the same task on different data do not compare."""
    if cells.empty or "dataset_revision" not in cells.columns:
        return {}
    shown = cells[cells["model"].isin(list(models)) & cells["dataset_revision"].notna()]
    by_column = shown.groupby(["task", "subset"])["dataset_revision"]
    mixed = by_column.nunique()
    mixed = set(mixed.index[mixed > 1])
    if not mixed:
        return {}
    revisions = by_column.unique()
    return {label: sorted(revisions[key]) for label, key in columns.items() if key in mixed}


def prompt_effects(task_values: pd.DataFrame) -> pd.Series:
    """Per model evaluated both with and without its prompts (a row named `<model>@no-prompts`): the mean of its
    scores minus the variant's, on the columns both have; on both rows, NaN elsewhere."""
    effects = pd.Series(np.nan, index=task_values.index, dtype=float)
    for variant in [name for name in task_values.index if str(name).endswith(NO_PROMPTS_VARIANT)]:
        model = variant[: -len(NO_PROMPTS_VARIANT)]
        if model not in task_values.index:
            continue
        both = task_values.loc[model].notna() & task_values.loc[variant].notna()
        if both.any():
            effects[[model, variant]] = task_values.loc[model, both].mean() - task_values.loc[variant, both].mean()
    return effects


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


@dataclass(frozen=True)
class Board:
    """Everything the tables need that does not depend on the view or the filters.

    Built once per store generation and provenance choice: the chosen cells pivoted to one row per model and
    one column per (task, subset), the columns of every view, and the model metadata columns.
    """

    cells: pd.DataFrame
    values: pd.DataFrame
    provenance: pd.DataFrame
    disagreement: pd.DataFrame
    view_columns: dict[str, dict[str, tuple[str, str]]]
    family_tasks: dict[str, frozenset[str]]
    coverage_columns: dict[str, tuple[str, str]]
    metadata: pd.DataFrame
    model_names: pd.DataFrame
    """display_name and hub_id per model id."""
    display_names: dict[str, str] = field(default_factory=dict)
    """What figures call each model id: its display name, or the id where it has none."""
    efficiency: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Per view key with any cost record: v.EFFICIENCY_COLUMNS per model id (see `efficiency`)."""
    interval_low: pd.DataFrame | None = None
    interval_high: pd.DataFrame | None = None
    """Shaped like `values`: the stored 95% interval of each cell evaluated here with per-example data; NaN else."""
    interval_cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Those cells as rows (confidence.INTERVAL_CELL_COLUMNS), with the method and resample count stored."""
    draws: dict[CellKey, np.ndarray] = field(default_factory=dict)
    """Bootstrap distributions (metric scale) of the cells with per-example data, for the rank ranges."""
    rank_tables: LruCache = field(default_factory=lambda: LruCache(MAX_RANK_TABLES), compare=False, repr=False)
    selections: LruCache = field(default_factory=lambda: LruCache(MAX_SELECTIONS), compare=False, repr=False)

    def selected(self, grid: str, columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
        """One of the board's grids (`values`, `provenance`, `disagreement`, `interval_low`, `interval_high`) cut to a
        view's columns, kept for the next switch to that view; callers must not change it."""
        return self.selections.get((grid, tuple(columns.items())), lambda: _select(getattr(self, grid), columns))


def _as_object_index(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_axis(frame.index.astype(object), axis=0)


def _view_columns(values: pd.DataFrame, view_task_rows: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Ordered score columns for a view's tasks: every task, and every extra subset that has data."""
    subsets: dict[str, list[str]] = {}
    for task, subset in values.columns:
        subsets.setdefault(task, []).append(subset)
    columns: dict[str, tuple[str, str]] = {}
    for task, label in zip(view_task_rows["task"], view_task_rows["label"]):
        label = label if isinstance(label, str) and label else task
        present = sorted(subsets.get(task, []), key=lambda s: (s != DEFAULT_SUBSET, s))
        for subset in present or [DEFAULT_SUBSET]:
            columns[column_label(label, subset)] = (task, subset)
    return columns


def _metadata(models: pd.DataFrame) -> pd.DataFrame:
    meta = models.set_index(models["model"].astype(object))
    return pd.DataFrame(
        {
            v.PARAMS: pd.to_numeric(meta["params_m"], errors="coerce"),
            v.DIM: pd.to_numeric(meta["embedding_dim"], errors="coerce"),
            v.MAX_TOKENS: pd.to_numeric(meta["max_tokens"], errors="coerce"),
            v.PROMPTS: yes_no(meta["uses_prompts"]),
            v.ZERO_SHOT: yes_no(meta["zero_shot"]) if "zero_shot" in meta else None,
        },
        index=meta.index,
    )


def yes_no(flags: pd.Series) -> pd.Series:
    """'yes' / 'no' per flag, None where it is unknown."""
    labels = flags.map({True: "yes", False: "no"})
    return labels.astype(object).where(labels.notna(), None)


COST_FIELDS = ["texts_encoded", "encode_s", "peak_memory_gib", "wall_s"]
HARDWARE_FIELDS = ["device", "device_name", "threads", "precision"]


def hardware_labels(costs: pd.DataFrame) -> pd.Series:
    """'GPU <name>, <precision>' or 'CPU <name>, <n> threads' for each row of HARDWARE_FIELDS."""
    name = costs["device_name"].fillna(costs["device"]).astype(str)
    threads = pd.to_numeric(costs["threads"], errors="coerce")
    thread_text = pd.Series(
        [f", {int(n)} thread{'' if n == 1 else 's'}" if pd.notna(n) else "" for n in threads], index=costs.index
    )
    gpu = "GPU " + name + ", " + costs["precision"].fillna("unknown precision").astype(str)
    cpu = "CPU " + name + thread_text
    return gpu.where(costs["device"].eq("cuda"), cpu)


def shown_costs(cells: pd.DataFrame, costs: pd.DataFrame | None) -> pd.DataFrame:
    """One cost row per (model, task) whose shown score this leaderboard evaluated: the cost record of the
    same (model, revision, task), with COST_FIELDS as floats and its hardware label."""
    columns = ["model", "task", "hardware", *COST_FIELDS]
    if cells.empty or costs is None or costs.empty:
        return pd.DataFrame(columns=columns)
    evaluated = cells.loc[cells["provenance"] == EVALUATED, ["model", "revision", "task"]]
    evaluated = evaluated.drop_duplicates(["model", "task"])
    joined = evaluated.merge(costs, on=["model", "revision", "task"], how="inner")
    if joined.empty:
        return pd.DataFrame(columns=columns)
    hardware = joined[HARDWARE_FIELDS].drop_duplicates()
    hardware = hardware.assign(hardware=hardware_labels(hardware))
    joined = joined.merge(hardware, on=HARDWARE_FIELDS, how="left")
    for name in COST_FIELDS:
        joined[name] = pd.to_numeric(joined[name], errors="coerce").astype(float)
    return joined[columns].reset_index(drop=True)


@dataclass(frozen=True)
class CostGrid:
    """The shown scores' cost records as model × task arrays, so that each view's totals are row sums."""

    models: pd.Index
    tasks: list[str]
    fields: dict[str, np.ndarray]
    """COST_FIELDS and 'hardware' (a code into `hardware_labels`), each models × tasks; NaN: no record."""
    hardware_labels: np.ndarray
    """Hardware labels in alphabetical order."""

    @classmethod
    def of(cls, task_costs: pd.DataFrame) -> "CostGrid":
        codes, labels = pd.factorize(task_costs["hardware"].astype(str), sort=True)
        wide = task_costs.assign(hardware=codes.astype(float)).pivot(
            index="model", columns="task", values=[*COST_FIELDS, "hardware"]
        )
        tasks = list(wide["hardware"].columns)
        return cls(
            models=wide.index.astype(object),
            tasks=tasks,
            fields={name: wide[name].reindex(columns=tasks).to_numpy(dtype=float) for name in [*COST_FIELDS, "hardware"]},
            hardware_labels=np.asarray(labels, dtype=object),
        )


def _row_sums(values: np.ndarray) -> np.ndarray:
    """Sums over present values; NaN for a row with none."""
    return np.where(np.isnan(values).all(axis=1), np.nan, np.nansum(values, axis=1))


def efficiency(grid: CostGrid, tasks: set[str], scored_tasks: pd.Series) -> pd.DataFrame | None:
    """Per model with a cost record among `tasks`: its hardware (several joined by ' + '), texts encoded /
    seconds encoding, the highest peak memory, and the summed wall time, which is missing unless every one of
    the model's `scored_tasks` (a count per model) has a cost record. None when no model has one."""
    columns = [position for position, task in enumerate(grid.tasks) if task in tasks]
    codes = grid.fields["hardware"][:, columns]
    costed = (~np.isnan(codes)).sum(axis=1)
    rows = costed > 0
    if not rows.any():
        return None

    def field(name: str) -> np.ndarray:
        return grid.fields[name][np.ix_(rows, columns)]

    codes, costed, models = codes[rows], costed[rows], grid.models[rows]
    texts, encode_s = np.nansum(field("texts_encoded"), axis=1), np.nansum(field("encode_s"), axis=1)
    lowest, highest = np.fmin.reduce(codes, axis=1).astype(int), np.fmax.reduce(codes, axis=1).astype(int)
    hardware = grid.hardware_labels[lowest].copy()
    for row in np.flatnonzero(lowest != highest):
        used = np.unique(codes[row][~np.isnan(codes[row])]).astype(int)
        hardware[row] = " + ".join(grid.hardware_labels[used])
    measured = (texts > 0) & (encode_s > 0)
    complete = costed == scored_tasks.reindex(models).fillna(0).to_numpy()
    return pd.DataFrame(
        {
            v.HARDWARE: hardware,
            v.THROUGHPUT: np.where(measured, texts / np.where(measured, encode_s, 1.0), np.nan),
            v.PEAK_MEMORY: np.fmax.reduce(field("peak_memory_gib"), axis=1),
            v.EVAL_WALL: np.where(complete, _row_sums(field("wall_s")), np.nan),
        },
        index=models,
    )


def _view_efficiency(values: pd.DataFrame, task_costs: pd.DataFrame, view_columns: dict) -> dict[str, pd.DataFrame]:
    if task_costs.empty:
        return {}
    grid = CostGrid.of(task_costs)
    scored = values.notna().T.groupby(level="task").any().T
    by_view = {}
    for key, columns in view_columns.items():
        tasks = {task for label, (task, _) in columns.items() if label != v.REPORTED}
        scored_tasks = scored[[task for task in scored.columns if task in tasks]].sum(axis=1)
        view_efficiency = efficiency(grid, tasks, scored_tasks)
        if view_efficiency is not None:
            by_view[key] = view_efficiency
    return by_view


def prepare_board(
    cells: pd.DataFrame,
    tasks: pd.DataFrame,
    models: pd.DataFrame,
    costs: pd.DataFrame | None = None,
    intervals: pd.DataFrame | None = None,
    draws: dict[CellKey, np.ndarray] | None = None,
) -> Board:
    """`costs`: the store's evaluation_costs rows (Snapshot.costs); without them no view has efficiency columns.
    `intervals`: the store's intervals of main scores (Snapshot.intervals); without them no cell has one.
    `draws`: bootstrap distributions per (model, task, subset) with examples; without them rank ranges resample
    only the tasks."""
    if cells.empty:
        columns = pd.MultiIndex.from_tuples([], names=["task", "subset"])
        empty = pd.DataFrame(index=pd.Index([], name="model", dtype=object), columns=columns)
        values, provenance, disagreement = empty.astype(float), empty.astype(object), empty.astype(bool)
    else:
        def wide(field: str) -> pd.DataFrame:
            return _as_object_index(cells.pivot(index="model", columns=["task", "subset"], values=field))

        values = wide("value").astype(float)
        provenance = wide("provenance").astype(object)
        disagreement = wide("disagreement").eq(True)
    patenteb = v.view_tasks(tasks, v.VIEWS_BY_KEY["overall"])
    view_columns = {view.key: _view_columns(values, v.view_tasks(tasks, view)) for view in v.VIEWS}
    view_columns["overall"][v.REPORTED] = (REPORTED_OVERALL_TASK, DEFAULT_SUBSET)
    interval_cells = cells_with_intervals(cells, intervals)
    interval_low, interval_high = interval_grids(interval_cells, values)
    return Board(
        cells=cells,
        values=values,
        provenance=provenance,
        disagreement=disagreement,
        view_columns=view_columns,
        family_tasks={f: frozenset(patenteb.loc[patenteb["family"] == f, "task"]) for f in FAMILIES},
        coverage_columns={task: (task, DEFAULT_SUBSET) for task in patenteb["task"]},
        metadata=_metadata(models),
        model_names=models.set_index(models["model"].astype(object))[["display_name", "hub_id"]].astype(object),
        display_names={
            model: name if isinstance(name, str) and name else model
            for model, name in zip(models["model"], models["display_name"])
        },
        efficiency=_view_efficiency(values, shown_costs(cells, costs), view_columns),
        interval_low=interval_low,
        interval_high=interval_high,
        interval_cells=interval_cells,
        draws=dict(draws or {}),
    )


def _select(frame: pd.DataFrame, columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    selected = frame.reindex(columns=pd.MultiIndex.from_tuples(list(columns.values()), names=["task", "subset"]))
    return selected.set_axis(list(columns), axis=1)


def build_table(
    board: Board, view: v.View | str, model_subset: list[str] | None = None, with_rank_ranges: bool = True
) -> LeaderboardTable:
    """One view's table. `model_subset` (already filtered model ids) restricts rows before ranking. Rank ranges
    are computed once per (view, models ranked) and kept on the board; `with_rank_ranges=False` leaves them
    blank (a table built only to draw a figure)."""
    view = v.VIEWS_BY_KEY[view] if isinstance(view, str) else view
    all_columns = board.view_columns[view.key]
    columns = {label: key for label, key in all_columns.items() if label != v.REPORTED}

    values = board.selected("values", all_columns) * 100
    if model_subset is not None:
        values = values[values.index.isin(model_subset)]
    values = values.dropna(how="all")
    provenance = board.selected("provenance", all_columns).reindex(values.index)
    disagreement = board.selected("disagreement", all_columns).reindex(values.index).eq(True)
    coverage = board.selected("values", board.coverage_columns).reindex(values.index).notna().sum(axis=1)

    task_values = values[list(columns)]
    points = borda_points(task_values)
    ranges = None
    if with_rank_ranges:
        ranges = board.rank_tables.get(
            (view.key, tuple(values.index)), lambda: rank_ranges(task_values, columns, board.draws)
        )
    table = pd.DataFrame(index=values.index)
    table[v.RANK] = rank_from_points(points) if len(points) else pd.Series(dtype=int)
    table[v.MODEL] = values.index
    table[v.RANK_RANGE] = ranges["rank_range"] if ranges is not None else None
    mean_columns: list[str] = []
    if view.key == "overall":
        family_means = {
            v.FAMILY_TITLES[family]: strict_mean(
                task_values[[label for label, (task, _) in columns.items() if task in board.family_tasks[family]]]
            )
            for family in FAMILIES
        }
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
        table[v.COVERAGE] = coverage.astype(int)
    table = table.join(board.metadata.reindex(table.index))
    effects = prompt_effects(task_values)
    if effects.notna().any():
        table[v.PROMPT_EFFECT] = effects
    efficiency_columns = ()
    if view.key in board.efficiency:
        table = table.join(board.efficiency[view.key].reindex(table.index))
        efficiency_columns = v.EFFICIENCY_COLUMNS
    table[v.BORDA_POINTS] = points

    order_keys = [v.RANK] + ([headline] if headline else []) + [v.MODEL]
    ascending = [True] + ([False] if headline else []) + [True]
    table = table.sort_values(order_keys, ascending=ascending, na_position="last", kind="stable")
    order = pd.Index(table[v.MODEL])
    tied = np.zeros(len(order), dtype=bool)
    if ranges is not None:
        tied = tied_with_above(ranges["rank_low"].reindex(order), ranges["rank_high"].reindex(order)).to_numpy()
    table.insert(table.columns.get_loc(v.RANK_RANGE) + 1, v.TIED, tied)
    interval_columns = {label: key for label, key in all_columns.items() if label in score_columns and label != v.REPORTED}

    def interval_part(grid: str) -> pd.DataFrame:
        if getattr(board, grid) is None:
            return pd.DataFrame(np.nan, index=range(len(order)), columns=list(interval_columns))
        return (board.selected(grid, interval_columns).reindex(order) * 100).reset_index(drop=True)

    return LeaderboardTable(
        view=view,
        frame=table.reset_index(drop=True),
        score_columns=tuple(score_columns),
        mean_columns=tuple(mean_columns),
        provenance=provenance.reindex(order)[score_columns].reset_index(drop=True),
        disagreement=disagreement.reindex(order)[score_columns].reset_index(drop=True),
        coverage_of=len(board.coverage_columns),
        efficiency_columns=efficiency_columns,
        ci_low=interval_part("interval_low"),
        ci_high=interval_part("interval_high"),
    )


def family_means(board: Board) -> pd.DataFrame:
    """Per model and PatenTEB view (symmetric/asymmetric retrieval split out), the strict family mean ×100."""
    return pd.DataFrame(
        {
            view.title: strict_mean(board.selected("values", board.view_columns[view.key])) * 100
            for view in v.VIEWS
            if view.benchmark == v.PATENTEB and view.key != "overall"
        }
    )
