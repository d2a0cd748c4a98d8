"""Two models compared task by task on the examples both scored, and the examples behind a difference.

Pure: per-example frames (the columns of Store.example_scores) and the store's score frame in; a comparison, its
verdict, a figure and a drill-down table out. The tests are patenteb/statistics.py's (`compare`: paired
bootstrap interval of the difference, paired permutation p-value, Holm over the tasks compared; `verdict`).

Texts are shown only for the shipped demo tasks (built from the USPTO sample this repository ships); PatenTEB's
data is gated (CC BY-NC-SA 4.0, no redistribution), so its examples are named by id only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from leaderboard.tables import choose_cells
from patenteb.catalogue import BY_NAME, DEMO_TASKS
from patenteb.plots import fail_safe, message_figure
from patenteb.statistics import (
    CLASSIFICATION,
    CLUSTERING,
    COMPARE_METHOD,
    RETRIEVAL,
    StatisticsInputError,
    compare,
    dataset_revision_warning,
    differing_dataset_revisions,
    example_metric,
    verdict,
)
from results.vocabulary import EVALUATED

SIGNIFICANCE = 0.05
"""A task counts as a difference when its Holm-adjusted p-value is below this."""
DRILL_DOWN_ROWS = 10
"""Examples shown on each side: where A beats B most, and where B beats A most."""
TEXT_CHARACTERS = 300
DRILLABLE_FAMILIES = (RETRIEVAL, CLASSIFICATION)
GATED_NOTE = (
    "Texts are shown only for the shipped demo tasks; PatenTEB's data is gated (CC BY-NC-SA 4.0, no "
    "redistribution), so examples of other tasks are named by id."
)
FIGURE_TITLE = "Difference A − B per task, with its 95% paired-bootstrap interval"
CLUSTERING_NOTE = (
    "Clustering rows compare the V-measure of each model's one stored k-means assignment (what can be resampled "
    "example by example); the table's clustering score is mteb's mean over several k-means runs, so the two differ."
)


class ComparisonError(StatisticsInputError):
    """A comparison that cannot be made, with a message fit to show as it is."""


@dataclass(frozen=True)
class ModelComparison:
    model_a: str
    model_b: str
    table: pd.DataFrame
    """statistics.COMPARE_COLUMNS, one row per task, on the metric's own scale (0–1)."""
    verdict: str
    differing_data: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Tasks compared whose two scores ran on different dataset revisions: {task: (revision of A, of B)}."""

    @property
    def data_warning(self) -> str:
        return dataset_revision_warning(self.differing_data)

    @property
    def notes(self) -> list[str]:
        """What a reader must know to read this comparison: data revisions that differ, how clustering is scored."""
        notes = [f"⚠ {self.data_warning}"] if self.data_warning else []
        if (self.table["family"] == CLUSTERING).any():
            notes.append(CLUSTERING_NOTE)
        return notes

    @property
    def tasks(self) -> list[str]:
        return self.table["task"].tolist()


def evaluated_revisions(scores: pd.DataFrame) -> pd.DataFrame:
    """(model, task, revision) of each model's evaluated score the leaderboard would show (the newest), so that a
    comparison uses the examples of the very run whose score is in the table."""
    cells = choose_cells(scores, (EVALUATED,))
    if cells.empty:
        return pd.DataFrame(columns=["model", "task", "revision"])
    return cells[["model", "task", "revision"]].drop_duplicates(["model", "task"]).reset_index(drop=True)


def of_revisions(examples: pd.DataFrame, revisions: pd.DataFrame) -> pd.DataFrame:
    """The rows of `examples` from the revision named for their (model, task); rows of a (model, task) that
    `revisions` does not name are kept as they are."""
    if examples.empty or revisions.empty:
        return examples
    named = examples.merge(revisions.rename(columns={"revision": "_shown"}), on=["model", "task"], how="left")
    keep = named["_shown"].isna() | (named["revision"].astype(str) == named["_shown"].astype(str))
    return examples[keep.to_numpy()]


def check_pair(model_a: str, model_b: str, known_models: set[str], models_with_examples: set[str]) -> None:
    """A clear message for a pair that cannot be compared (unknown model, a model with itself, no examples)."""
    for model in (model_a, model_b):
        if not model or not model.strip():
            raise ComparisonError("choose two models to compare")
    for model in (model_a, model_b):
        if model not in known_models:
            raise ComparisonError(f"unknown model {model!r}")
    if model_a == model_b:
        raise ComparisonError(f"{model_a} is compared with itself: choose two different models")
    with_data = sorted(models_with_examples)
    for model in (model_a, model_b):
        if model not in models_with_examples:
            listed = ", ".join(with_data[:10]) + (f" and {len(with_data) - 10} more" if len(with_data) > 10 else "")
            raise ComparisonError(
                f"{model} has no per-example data: only scores evaluated by this leaderboard's worker keep it "
                f"(paper, third-party and MTEB scores do not). Models with data: {listed or 'none yet'}"
            )


def compare_models(
    examples: pd.DataFrame, model_a: str, model_b: str, tasks: Sequence[str] | None = None,
    scores: pd.DataFrame | None = None, draws: Mapping[tuple[str, str, str], np.ndarray] | None = None,
) -> ModelComparison:
    """Both models' per-example rows (`examples`, one revision per model and task) -> the comparison on every
    task both have (or on `tasks`); `scores` (the store's main scores) tell on which dataset revision each ran;
    `draws`, the saved bootstrap draws by (model, revision, task), spare resampling where they apply."""
    table = compare(examples, model_a, model_b, list(tasks) if tasks else None, draws=draws)
    differing = ({} if scores is None
                 else differing_dataset_revisions(scores, examples, model_a, model_b, table["task"].tolist()))
    return ModelComparison(model_a, model_b, table, verdict_line(model_a, model_b, table), differing)


def verdict_line(model_a: str, model_b: str, table: pd.DataFrame) -> str:
    return f"{model_a} against {model_b}: {verdict(table, SIGNIFICANCE)} (Holm-adjusted p < {SIGNIFICANCE})."


def outcome(table: pd.DataFrame, model_a: str, model_b: str) -> list[str]:
    """Per task: which model is significantly better, or 'no significant difference'."""
    significant = table["p_holm"].to_numpy() < SIGNIFICANCE
    better_a = significant & (table["delta"].to_numpy() > 0)
    better_b = significant & (table["delta"].to_numpy() < 0)
    return [
        f"{model_a} better" if a else f"{model_b} better" if b else "no significant difference"
        for a, b in zip(better_a, better_b)
    ]


def comparison_display(comparison: ModelComparison) -> pd.DataFrame:
    """The comparison as the app shows it: scores and differences ×100 to two decimals, p-values to three."""
    table = comparison.table
    return pd.DataFrame(
        {
            "Task": table["task"],
            "Family": table["family"],
            "Examples": table["n_examples"].astype(int),
            "A": (table["a"] * 100).round(2),
            "B": (table["b"] * 100).round(2),
            "Δ (A − B)": (table["delta"] * 100).round(2),
            "95% CI of Δ": [
                f"[{low * 100:.2f}, {high * 100:.2f}]" if np.isfinite(low) and np.isfinite(high) else ""
                for low, high in zip(table["ci_low"], table["ci_high"])
            ],
            "p": table["p_value"].round(4),
            "p (Holm)": table["p_holm"].round(4),
            "Result": outcome(table, "A", "B"),
        }
    )


def _finite(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def comparison_json(comparison: ModelComparison) -> dict:
    """The comparison as the API gives it: the shape of `python -m results compare --json`, on the metric's own
    scale (0–1), plus the verdict and the method."""
    table = comparison.table
    return {
        "model_a": comparison.model_a,
        "model_b": comparison.model_b,
        "verdict": comparison.verdict,
        "dataset_revisions_differ": {task: list(pair) for task, pair in comparison.differing_data.items()},
        "method": COMPARE_METHOD,
        "tasks": [
            {
                "task": row.task, "family": row.family, "n_examples": int(row.n_examples), "a": _finite(row.a),
                "b": _finite(row.b), "delta": _finite(row.delta), "ci_low": _finite(row.ci_low),
                "ci_high": _finite(row.ci_high), "p_value": _finite(row.p_value), "p_holm": _finite(row.p_holm),
                "result": result,
            }
            for row, result in zip(table.itertuples(index=False), outcome(table, "a", "b"))
        ],
    }


@fail_safe(title=FIGURE_TITLE)
def delta_figure(comparison: ModelComparison | None) -> go.Figure:
    """Each task's difference A − B (×100) with its interval; significant differences drawn filled."""
    if comparison is None or comparison.table.empty:
        return message_figure("Choose two models with per-example data and press Compare.", FIGURE_TITLE)
    table = comparison.table.iloc[::-1]
    delta = table["delta"].to_numpy() * 100
    low, high = table["ci_low"].to_numpy() * 100, table["ci_high"].to_numpy() * 100
    significant = table["p_holm"].to_numpy() < SIGNIFICANCE
    figure = go.Figure()
    for chosen, name, symbol in ((significant, "significant (Holm p < 0.05)", "circle"),
                                 (~significant, "not significant", "circle-open")):
        if not chosen.any():
            continue
        figure.add_trace(go.Scatter(
            x=delta[chosen], y=table["task"].to_numpy()[chosen], mode="markers", name=name,
            marker={"symbol": symbol, "size": 10},
            error_x={"type": "data", "symmetric": False, "array": (high - delta)[chosen],
                     "arrayminus": (delta - low)[chosen]},
            hovertemplate="%{y}: Δ %{x:.2f}<extra></extra>",
        ))
    figure.add_vline(x=0, line_dash="dot", line_color="gray")
    figure.update_layout(
        title=FIGURE_TITLE, xaxis_title=f"{comparison.model_a} − {comparison.model_b} (×100)",
        height=max(260, 60 + 28 * len(table)), margin={"l": 10, "r": 10, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


# ---------------------------------------------------------------------------------------------------------------
# Drill-down: the examples behind a difference.


@dataclass(frozen=True)
class DrillDown:
    frame: pd.DataFrame
    note: str


def _task_rows(examples: pd.DataFrame, model: str, task: str, family: str) -> pd.DataFrame:
    rows = examples[(examples["model"] == model) & (examples["task"] == task)]
    rows = rows[rows["metric"] == example_metric(task, family)]
    if rows.empty:
        raise ComparisonError(f"{model} has no per-example data on {task}")
    if rows["revision"].nunique() > 1:
        raise ComparisonError(f"{model} has per-example data of several revisions on {task}: pick one")
    return rows


def _shortened(text: str | None) -> str:
    if not isinstance(text, str):
        return ""
    return text if len(text) <= TEXT_CHARACTERS else text[: TEXT_CHARACTERS - 1] + "…"


def drill_down(
    examples: pd.DataFrame, model_a: str, model_b: str, task: str,
    texts: Callable[[str], dict[str, str] | None] | None = None, limit: int = DRILL_DOWN_ROWS,
) -> DrillDown:
    """Where A beats B most on `task`, then where B beats A most (`limit` each): retrieval by each query's
    NDCG@10 (with the documents each model ranked first), classification by right against wrong. `texts(task)`
    gives the showable texts by id (None: ids only)."""
    known = BY_NAME.get(task)
    family = known.family if known is not None else None
    if family not in DRILLABLE_FAMILIES:
        raise ComparisonError(
            f"{task} is a {family or 'unknown'} task: drill-down covers retrieval (each query's NDCG@10) and "
            "classification (each example right or wrong); clustering's V-measure and paraphrase's Pearson r do "
            "not split into per-example scores"
        )
    rows_a, rows_b = _task_rows(examples, model_a, task, family), _task_rows(examples, model_b, task, family)
    key = ["split", "subset", "example_id"]
    kept = ["value", "gold", "predicted", "retrieved"]
    paired = rows_a[key + kept].merge(rows_b[key + kept], on=key, suffixes=("_a", "_b"))
    if paired.empty:
        raise ComparisonError(f"{model_a} and {model_b} share no example id on {task}")
    paired["delta"] = paired["value_a"].astype(float) - paired["value_b"].astype(float)
    a_wins = paired[paired["delta"] > 0].sort_values(["delta", "example_id"], ascending=[False, True]).head(limit)
    b_wins = paired[paired["delta"] < 0].sort_values(["delta", "example_id"], ascending=[True, True]).head(limit)
    chosen = pd.concat([a_wins, b_wins], ignore_index=True)
    better = np.where(chosen["delta"] > 0, "A", "B")
    if family == RETRIEVAL:
        frame = pd.DataFrame({
            "Better": better, "Query id": chosen["example_id"],
            "A NDCG@10": (chosen["value_a"] * 100).round(2), "B NDCG@10": (chosen["value_b"] * 100).round(2),
            "Δ (A − B)": (chosen["delta"] * 100).round(2),
            "A retrieved (best first)": chosen["retrieved_a"].fillna(""),
            "B retrieved (best first)": chosen["retrieved_b"].fillna(""),
        })
    else:
        frame = pd.DataFrame({
            "Better": better, "Example id": chosen["example_id"], "Gold": chosen["gold_a"],
            "A predicted": chosen["predicted_a"], "B predicted": chosen["predicted_b"],
        })
    showable = texts(task) if texts is not None else None
    if showable is not None:
        frame.insert(2, "Text", [_shortened(showable.get(example_id)) for example_id in chosen["example_id"]])
        if family == RETRIEVAL:
            for side in ("a", "b"):
                first = chosen[f"retrieved_{side}"].fillna("").str.split().str[0]
                frame[f"{side.upper()}'s first document"] = [_shortened(showable.get(doc)) for doc in first]
    ties = int((paired["delta"] == 0).sum())
    note = (
        f"{len(paired):,} examples of {task} scored by both: {model_a} (A) better on {int((paired['delta'] > 0).sum()):,}, "
        f"{model_b} (B) better on {int((paired['delta'] < 0).sum()):,}, equal on {ties:,}. The {len(a_wins)} where A "
        f"beats B most, then the {len(b_wins)} where B beats A most."
    )
    if showable is None:
        note += " " + GATED_NOTE
    return DrillDown(frame, note)


@lru_cache(maxsize=len(DEMO_TASKS) + 1)
def demo_texts(task: str) -> dict[str, str] | None:
    """The texts of a shipped demo task by the ids its per-example rows use (queries, documents, items); None for
    any other task. The ids are the evaluator's own (demo data and retrieval ids), so they always match."""
    if task not in DEMO_TASKS:
        return None
    from evaluator.tasks.demo import demo_frames
    from evaluator.tasks.retrieval import text_id

    texts: dict[str, str] = {}
    for split in demo_frames()[task].values():
        if {"first_sentence", "rest"} <= set(split.columns):
            texts.update({f"q{key}": query for key, query in zip(split["q"], split["first_sentence"])})
            texts.update({text_id(document): document for document in split["rest"]})
        else:
            texts.update(zip(split["q"].astype(str), split["text"]))
    return texts
