"""Plotly figures from built tables. Every builder is fail-safe: an error is logged and drawn as a message."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from leaderboard import views as v
from leaderboard.tables import LeaderboardTable
from patenteb import plots
from patenteb.catalogue import SYMMETRIC_RETRIEVAL
from results.vocabulary import DEFAULT_SUBSET

BIGPATENT = "BigPatentClustering.v2"
RADAR_AXES = tuple(view.title for view in v.VIEWS if view.benchmark == v.PATENTEB and view.key != "overall")
GRID = dict(gridcolor="#e5e7eb", zerolinecolor="#d1d5db", linecolor="#d1d5db")
LAYOUT = dict(
    template="none", paper_bgcolor="white", plot_bgcolor="white", font=dict(family="sans-serif", size=12),
    margin=dict(l=60, r=20, t=60, b=50), height=420, xaxis=GRID, yaxis=GRID,
)
BASE_LAYOUT = go.Layout(**LAYOUT)
"""LAYOUT validated once; every figure starts from a copy of it instead of validating LAYOUT again."""
MOST_LINES = 12
MOST_LABELS = 25
MESSAGE_FIGURES_KEPT = 64


@functools.lru_cache(maxsize=MESSAGE_FIGURES_KEPT)
def message_figure(title: str, message: str) -> go.Figure:
    """A figure saying why there is nothing to plot. Made once per (title, message) and shared (plotly's checks
    make each new figure cost about 1.7 ms), so no caller may change it."""
    return plots.message_figure(message, title, BASE_LAYOUT)


def _headline(table: LeaderboardTable) -> tuple[str | None, str]:
    frame = table.frame
    if table.view.key == "overall":
        if frame[v.OVERALL].notna().any():
            return v.OVERALL, "PatenTEB overall (mean of family means)"
        if frame[v.REPORTED].notna().any():
            return v.REPORTED, "PatenTEB overall, as reported by the authors"
        return None, ""
    if table.mean_columns and frame[table.mean_columns[0]].notna().any():
        return table.mean_columns[0], f"{table.view.title}: mean"
    for column in table.score_columns:
        if frame[column].notna().any():
            return column, f"{table.view.title}: {column}"
    return None, ""


@plots.fail_safe("Score vs model size", layout=BASE_LAYOUT)
def score_vs_params(table: LeaderboardTable, names: Mapping[str, str]) -> go.Figure:
    title = "Score vs model size"
    column, label = _headline(table)
    if column is None:
        return message_figure(title, "No model in this table has a complete score to plot.")
    points = table.frame[[v.MODEL, v.PARAMS, column]].dropna()
    points = points[points[v.PARAMS] > 0]
    if points.empty:
        return message_figure(title, f"No model with a {label.lower()} has a known parameter count.")
    figure = go.Figure(
        layout=BASE_LAYOUT,
        data=go.Scatter(
            x=points[v.PARAMS], y=points[column], mode="markers+text" if len(points) <= MOST_LABELS else "markers",
            text=[names.get(m, m) for m in points[v.MODEL]], textposition="top center", cliponaxis=False,
            marker=dict(size=10), hovertemplate="%{text}<br>%{x:,.0f}M parameters<br>%{y:.2f}<extra></extra>",
        )
    )
    figure.update_layout(title=f"{label} vs parameters", xaxis_title="parameters (millions, log scale)",
                         yaxis_title=label)
    figure.update_xaxes(type="log")
    return figure


@plots.fail_safe("Family profile", layout=BASE_LAYOUT)
def family_radar(family_means: pd.DataFrame, chosen_models: list[str], names: Mapping[str, str]) -> go.Figure:
    title = "Family profile (family means ×100)"
    rows = family_means.reindex([m for m in chosen_models if m in family_means.index]).dropna(how="all")
    if rows.empty:
        return message_figure(title, "None of these models has a complete PatenTEB family yet.")
    axes = list(RADAR_AXES)
    figure = go.Figure(layout=BASE_LAYOUT)
    for model, row in rows.iterrows():
        values = [row.get(axis) for axis in axes]
        values = [None if value is None or (isinstance(value, float) and math.isnan(value)) else value for value in values]
        figure.add_trace(go.Scatterpolar(r=values + values[:1], theta=axes + axes[:1], name=names.get(model, model),
                                         mode="lines+markers", connectgaps=False))
    missing = sum(1 for axis in axes if rows[axis].isna().all()) if set(axes) <= set(rows.columns) else len(axes)
    subtitle = f" — {missing} of {len(axes)} families have no complete scores yet" if missing else ""
    figure.update_layout(title=title + subtitle, polar=dict(radialaxis=dict(visible=True)))
    return figure


@plots.fail_safe("IN → MIXED → OUT", layout=BASE_LAYOUT)
def domain_drop(cells: pd.DataFrame, names: Mapping[str, str], chosen_models: list[str] | None = None) -> go.Figure:
    title = "Symmetric retrieval: IN → MIXED → OUT (NDCG@10 ×100)"
    subset = cells[cells["task"].isin(SYMMETRIC_RETRIEVAL) & (cells["subset"] == DEFAULT_SUBSET)]
    wide = subset.pivot(index="model", columns="task", values="value").reindex(columns=list(SYMMETRIC_RETRIEVAL))
    wide = wide.dropna() * 100
    if chosen_models:
        wide = wide[wide.index.isin(chosen_models)]
    if wide.empty:
        return message_figure(title, "No model has all three of retrieval_IN, retrieval_MIXED and retrieval_OUT.")
    if len(wide) > MOST_LINES:
        title += f" — top {MOST_LINES} of {len(wide)} by mean; pick models above to compare others"
        wide = wide.loc[wide.mean(axis=1).nlargest(MOST_LINES).index]
    figure = go.Figure(layout=BASE_LAYOUT)
    for model, row in wide.sort_values("retrieval_IN", ascending=False).iterrows():
        figure.add_trace(go.Scatter(
            x=["IN", "MIXED", "OUT"], y=row.values, mode="lines+markers", name=names.get(model, model),
            hovertemplate=f"{names.get(model, model)}<br>%{{x}}: %{{y:.2f}}<br>OUT/IN = {row.iloc[2] / row.iloc[0]:.2f}<extra></extra>",
        ))
    figure.update_layout(title=title, xaxis_title="domain regime of query and positive",
                         yaxis_title="NDCG@10 ×100")
    return figure


@plots.fail_safe("PatenTEB vs BigPatentClustering.v2", layout=BASE_LAYOUT)
def patenteb_vs_bigpatent(
    overall: LeaderboardTable, cells: pd.DataFrame, names: Mapping[str, str]
) -> go.Figure:
    title = "PatenTEB score vs BigPatentClustering.v2"
    bigpatent = cells[(cells["task"] == BIGPATENT) & (cells["subset"] == DEFAULT_SUBSET)].set_index("model")["value"] * 100
    frame = overall.frame.set_index(v.MODEL)
    figure = go.Figure(layout=BASE_LAYOUT)
    for column, label, symbol in ((v.OVERALL, "computed here (mean of family means)", "circle"),
                                  (v.REPORTED, "as reported by the authors", "diamond")):
        both = pd.concat([frame[column].rename("y"), bigpatent.rename("x")], axis=1, join="inner").dropna()
        if both.empty:
            continue
        figure.add_trace(go.Scatter(
            x=both["x"], y=both["y"], mode="markers+text", name=label, marker=dict(size=11, symbol=symbol),
            text=[names.get(m, m) for m in both.index], textposition="top center", cliponaxis=False,
            hovertemplate="%{text}<br>BigPatent v2 %{x:.2f}<br>PatenTEB %{y:.2f}<extra></extra>",
        ))
    if not figure.data:
        return message_figure(title, "No model has both a PatenTEB overall score and a BigPatentClustering.v2 score.")
    figure.update_layout(title=title, xaxis_title="BigPatentClustering.v2 V-measure ×100",
                         yaxis_title="PatenTEB overall ×100", showlegend=True,
                         legend=dict(orientation="h", y=-0.25))
    return figure


def pareto_front(x, y) -> np.ndarray:
    """Which points no other point beats: none has at least the same x and y and more of one of them.

    Equal points share the front. Per distinct x: the best y there, and the best y at any larger x; a point is
    on the front when it is the best at its x and better than everything at a larger x.
    """
    points = pd.DataFrame({"x": np.asarray(x, dtype=float), "y": np.asarray(y, dtype=float)})
    best_at = points.groupby("x")["y"].max().sort_index(ascending=False)
    best_beyond = best_at.cummax().shift(1, fill_value=-np.inf)
    return ((points["y"] == points["x"].map(best_at)) & (points["y"] > points["x"].map(best_beyond))).to_numpy()


def throughput_points(table: LeaderboardTable) -> tuple[pd.DataFrame, str]:
    """Models of `table` with both a complete headline score and a measured throughput, and the score's label.

    The PatenTEB table's score is the computed overall (the authors' reported figure has no cost record)."""
    frame = table.frame
    if v.THROUGHPUT not in frame:
        return pd.DataFrame(), ""
    if table.view.key == "overall":
        column, label = v.OVERALL, "PatenTEB overall ×100"
    elif table.mean_columns:
        column, label = table.mean_columns[0], f"{table.view.title}: mean ×100"
    else:
        return pd.DataFrame(), ""
    points = frame[[v.MODEL, column, v.THROUGHPUT, v.HARDWARE]].dropna(subset=[column, v.THROUGHPUT])
    points = points[points[v.THROUGHPUT] > 0].rename(columns={column: "score"})
    return points.reset_index(drop=True), label


@plots.fail_safe("Score vs encode throughput", layout=BASE_LAYOUT)
def score_vs_throughput(tables: Iterable[LeaderboardTable], names: Mapping[str, str]) -> go.Figure:
    """The first of `tables` (PatenTEB, then Demo) with points: score against texts/s, the Pareto front marked."""
    title = "Score vs encode throughput"
    for table in tables:
        points, label = throughput_points(table)
        if not points.empty:
            break
    else:
        return message_figure(
            title, "No model has both a complete PatenTEB or Demo score and a measured throughput yet "
            "(throughput is recorded only for models this leaderboard evaluated).",
        )
    points["name"] = [names.get(m, m) for m in points[v.MODEL]]
    labelled = len(points) <= MOST_LABELS
    figure = go.Figure(layout=BASE_LAYOUT)
    for hardware, group in points.groupby(v.HARDWARE, sort=True):
        figure.add_trace(go.Scatter(
            x=group[v.THROUGHPUT], y=group["score"], mode="markers+text" if labelled else "markers",
            name=hardware, text=group["name"], textposition="top center", cliponaxis=False, marker=dict(size=10),
            hovertemplate="%{text}<br>%{x:,.1f} texts/s<br>%{y:.2f}<extra>" + hardware + "</extra>",
        ))
    front = points[pareto_front(points[v.THROUGHPUT], points["score"])].sort_values([v.THROUGHPUT, "score"])
    figure.add_trace(go.Scatter(
        x=front[v.THROUGHPUT], y=front["score"], mode="lines+markers", name="Pareto frontier",
        text=front["name"], line=dict(color="#111827", dash="dot", width=1.5),
        marker=dict(size=16, symbol="circle-open", color="#111827"),
        hovertemplate="%{text}: on the frontier (no model is both faster and better)<extra></extra>",
    ))
    figure.update_layout(
        title=f"{label} vs encode throughput — Pareto frontier marked", showlegend=True,
        xaxis_title="encode throughput (texts/s on each model's hardware, log scale)", yaxis_title=label,
        legend=dict(orientation="h", y=-0.25),
    )
    figure.update_xaxes(type="log")
    return figure
