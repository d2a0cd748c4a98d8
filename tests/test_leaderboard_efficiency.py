"""Efficiency columns and the score-vs-throughput plot, from a real store written through Store.upsert_scores
with cost records, checked against sums and a Pareto set computed here independently."""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluator.devices import GPU_MEMORY, RESIDENT_MEMORY, TaskCost
from leaderboard import figures, styling
from leaderboard import views as v
from leaderboard.filters import Filters
from leaderboard.page import build_page
from leaderboard.tables import build_table, choose_cells, prepare_board
from patenteb.plots import failure_drawn
from results.seed import task_catalogue
from results.store import Store

TASKS = task_catalogue()
PATENTEB_TASKS = TASKS.loc[TASKS["benchmark"] == "PatenTEB", "task"].tolist()
DEMO_TASKS = TASKS.loc[TASKS["benchmark"] == "demo", "task"].tolist()
CLASSIFICATION = TASKS.loc[(TASKS["benchmark"] == "PatenTEB") & (TASKS["family"] == "classification"), "task"].tolist()
FACTS = TASKS.set_index("task")
CPU = dict(device="cpu", device_name="AMD EPYC 7763 64-Core Processor", threads=2, precision="float32",
           batch_size=32, memory_kind=RESIDENT_MEMORY)
GPU = dict(device="cuda", device_name="NVIDIA H200", threads=16, precision="bfloat16", batch_size=128,
           memory_kind=GPU_MEMORY)
CPU_LABEL = "CPU AMD EPYC 7763 64-Core Processor, 2 threads"
GPU_LABEL = "GPU NVIDIA H200, bfloat16"


def score_rows(model: str, values: dict[str, float], revision="r1", provenance="evaluated",
               evaluated_at="2026-11-20") -> pd.DataFrame:
    return pd.DataFrame([
        {"model": model, "revision": revision, "task": task, "split": FACTS.loc[task, "eval_split"],
         "subset": "default", "metric": FACTS.loc[task, "main_metric"], "value": value, "provenance": provenance,
         "source": "test", "mteb_version": "2.26.24", "evaluated_at": pd.Timestamp(evaluated_at)}
        for task, value in values.items()
    ])


def cost_rows(model: str, costs: dict[str, TaskCost], revision="r1") -> pd.DataFrame:
    """What the evaluator's runner writes: TaskCost.as_record() keyed by (model, revision, task)."""
    return pd.DataFrame([
        {"model": model, "revision": revision, "task": task, **cost.as_record(),
         "evaluated_at": pd.Timestamp("2026-11-20")}
        for task, cost in costs.items()
    ])


def task_costs(tasks: list[str], hardware: dict, seed: int, speed: float) -> dict[str, TaskCost]:
    """Uneven tasks, so that total texts / total seconds differs from a mean of per-task rates."""
    rng = np.random.default_rng(seed)
    costs = {}
    for task in tasks:
        encoded = int(rng.integers(50, 5000))
        encode_s = encoded / (speed * rng.uniform(0.5, 2.0))
        costs[task] = TaskCost(
            **hardware, texts_requested=encoded + int(rng.integers(0, 100)), texts_encoded=encoded,
            encode_s=encode_s, peak_memory_gib=float(rng.uniform(0.5, 3.0)), wall_s=encode_s + float(rng.uniform(0.1, 5)),
            host="test-host",
        )
    return costs


def evaluate(store, model: str, values: dict[str, float], costs: dict[str, TaskCost], revision="r1",
             evaluated_at="2026-11-20"):
    """Scores, the model's facts and the tasks' costs in one write (the runner makes one such write per task)."""
    models = pd.DataFrame([{"model": model, "display_name": model.split("/")[-1]}])
    store.upsert_scores(score_rows(model, values, revision, evaluated_at=evaluated_at), models,
                        costs=cost_rows(model, costs, revision) if costs else None)


def uniform(tasks: list[str], value: float) -> dict[str, float]:
    return dict.fromkeys(tasks, value)


COSTS = {
    "lab/fast-cpu": task_costs(PATENTEB_TASKS + DEMO_TASKS, CPU, seed=1, speed=2000),
    "lab/big-gpu": task_costs(PATENTEB_TASKS, GPU, seed=2, speed=300),
    "lab/dominated": task_costs(PATENTEB_TASKS, CPU, seed=3, speed=100),
    "lab/quoted": task_costs(PATENTEB_TASKS, CPU, seed=4, speed=400),
    "lab/old-records": task_costs(PATENTEB_TASKS[:10], CPU, seed=5, speed=600),
    "lab/mixed": {**task_costs(PATENTEB_TASKS[:7], CPU, seed=6, speed=300),
                  **task_costs(PATENTEB_TASKS[7:], GPU, seed=7, speed=2500)},
}


@pytest.fixture(scope="module")
def costed_template(seeded_store_template, tmp_path_factory) -> Path:
    """The seeded store (paper, third-party and MTEB scores, no costs) plus models evaluated here; built once."""
    path = tmp_path_factory.mktemp("costed") / "store.duckdb"
    shutil.copy(seeded_store_template, path)
    store, costs = Store(path, record=None), COSTS
    evaluate(store, "lab/fast-cpu", uniform(PATENTEB_TASKS + DEMO_TASKS, 0.40), costs["lab/fast-cpu"])
    evaluate(store, "lab/big-gpu", uniform(PATENTEB_TASKS, 0.60), costs["lab/big-gpu"])
    evaluate(store, "lab/dominated", uniform(PATENTEB_TASKS, 0.30), costs["lab/dominated"])
    evaluate(store, "lab/quoted", uniform(PATENTEB_TASKS, 0.50), costs["lab/quoted"])
    store.upsert_scores(score_rows("lab/quoted", {"retrieval_IN": 0.55}, revision="paper", provenance="paper"))
    evaluate(store, "lab/old-records", uniform(PATENTEB_TASKS, 0.45), costs["lab/old-records"])
    evaluate(store, "lab/mixed", uniform(PATENTEB_TASKS, 0.35), costs["lab/mixed"])
    evaluate(store, "lab/cost-of-another-revision", uniform(CLASSIFICATION, 0.5), {}, revision="r2",
             evaluated_at="2026-11-25")
    store.upsert_scores(
        score_rows("lab/cost-of-another-revision", uniform(CLASSIFICATION, 0.4), revision="r1"),
        costs=cost_rows("lab/cost-of-another-revision", task_costs(CLASSIFICATION, CPU, seed=8, speed=500), "r1"),
    )
    return path


@pytest.fixture
def costed_store(costed_template, tmp_path) -> tuple[Store, dict]:
    path = tmp_path / "store.duckdb"
    shutil.copy(costed_template, path)
    return Store(path, record=None), COSTS


def expected_efficiency(costs: dict[str, TaskCost], shown_tasks: list[str], scored_tasks: list[str]) -> dict:
    """By hand: the cost records of the shown tasks, summed and maxed in plain Python."""
    records = [costs[task] for task in shown_tasks if task in costs]
    texts = sum(cost.texts_encoded for cost in records)
    seconds = sum(cost.encode_s for cost in records)
    labels = sorted({CPU_LABEL if cost.device == "cpu" else GPU_LABEL for cost in records})
    return {
        v.HARDWARE: " + ".join(labels),
        v.THROUGHPUT: texts / seconds,
        v.PEAK_MEMORY: max(cost.peak_memory_gib for cost in records),
        v.EVAL_WALL: sum(cost.wall_s for cost in records) if len(records) == len(scored_tasks) else None,
    }


def board_of(store):
    snapshot = store.snapshot()
    return snapshot, prepare_board(choose_cells(snapshot.scores), snapshot.tasks, snapshot.models, snapshot.costs)


def row_of(table, model: str) -> pd.Series:
    return table.frame.set_index(v.MODEL).loc[model]


def assert_efficiency(row: pd.Series, expected: dict) -> None:
    assert row[v.HARDWARE] == expected[v.HARDWARE]
    assert row[v.THROUGHPUT] == pytest.approx(expected[v.THROUGHPUT], rel=1e-9)
    assert row[v.PEAK_MEMORY] == pytest.approx(expected[v.PEAK_MEMORY], rel=1e-9)
    if expected[v.EVAL_WALL] is None:
        assert math.isnan(row[v.EVAL_WALL])
    else:
        assert row[v.EVAL_WALL] == pytest.approx(expected[v.EVAL_WALL], rel=1e-9)


def test_efficiency_is_aggregated_per_model_over_the_views_tasks(costed_store):
    store, costs = costed_store
    _, board = board_of(store)
    overall = build_table(board, "overall")
    classification = build_table(board, "classification")
    demo = build_table(board, "demo")
    assert overall.efficiency_columns == v.EFFICIENCY_COLUMNS
    assert list(overall.frame.columns[-5:]) == [*v.EFFICIENCY_COLUMNS, v.BORDA_POINTS]
    for model in ("lab/fast-cpu", "lab/big-gpu", "lab/dominated", "lab/mixed"):
        assert_efficiency(row_of(overall, model), expected_efficiency(costs[model], PATENTEB_TASKS, PATENTEB_TASKS))
        assert_efficiency(row_of(classification, model),
                          expected_efficiency(costs[model], CLASSIFICATION, CLASSIFICATION))
    assert row_of(overall, "lab/mixed")[v.HARDWARE] == f"{CPU_LABEL} + {GPU_LABEL}"
    assert_efficiency(row_of(demo, "lab/fast-cpu"), expected_efficiency(costs["lab/fast-cpu"], DEMO_TASKS, DEMO_TASKS))

    without_paper_cell = [task for task in PATENTEB_TASKS if task != "retrieval_IN"]
    quoted = row_of(overall, "lab/quoted")
    assert_efficiency(quoted, expected_efficiency(costs["lab/quoted"], without_paper_cell, PATENTEB_TASKS))
    assert row_of(overall, "lab/old-records")[v.THROUGHPUT] == pytest.approx(
        expected_efficiency(costs["lab/old-records"], PATENTEB_TASKS, PATENTEB_TASKS)[v.THROUGHPUT])
    assert math.isnan(row_of(overall, "lab/old-records")[v.EVAL_WALL])

    for model in ("datalyes/patembed-large", "lab/cost-of-another-revision"):
        blank = row_of(classification if model.startswith("lab") else overall, model)
        assert blank[v.HARDWARE] is None or pd.isna(blank[v.HARDWARE])
        assert blank[[v.THROUGHPUT, v.PEAK_MEMORY, v.EVAL_WALL]].isna().all()


def test_views_without_any_cost_record_have_no_efficiency_columns(costed_store):
    snapshot, board = board_of(costed_store[0])
    external = build_table(board, "external")
    assert external.efficiency_columns == () and not set(v.EFFICIENCY_COLUMNS) & set(external.frame.columns)
    assert set(board.efficiency) == {view.key for view in v.VIEWS if view.key != "external"}
    without_evaluated = choose_cells(snapshot.scores, ("paper", "authors-readme", "paper-secondary", "mteb-results"))
    assert prepare_board(without_evaluated, snapshot.tasks, snapshot.models, snapshot.costs).efficiency == {}


def test_exports_and_the_shown_table_carry_the_efficiency_columns(costed_store):
    store, costs = costed_store
    snapshot, board = board_of(store)
    table = build_table(board, "overall")
    expected = expected_efficiency(costs["lab/big-gpu"], PATENTEB_TASKS, PATENTEB_TASKS)

    csv = pd.read_csv(io.StringIO(styling.csv_frame(table).to_csv(index=False))).set_index(v.MODEL)
    assert csv.loc["lab/big-gpu", v.HARDWARE] == GPU_LABEL
    assert csv.loc["lab/big-gpu", v.THROUGHPUT] == pytest.approx(round(expected[v.THROUGHPUT], 2))
    assert csv.loc["lab/big-gpu", v.EVAL_WALL] == pytest.approx(round(expected[v.EVAL_WALL], 2))
    assert pd.isna(csv.loc["datalyes/patembed-large", v.THROUGHPUT])

    from webapi.core import PublicApi

    api = PublicApi(store)
    answer = json.loads(api.leaderboard_body(api.leaderboard_query("overall"), "json"))
    assert answer["columns"] == list(styling.csv_frame(table).columns)
    rows = {row[v.MODEL]: row for row in answer["rows"]}
    assert rows["lab/big-gpu"][v.PEAK_MEMORY] == pytest.approx(round(expected[v.PEAK_MEMORY], 2))
    assert rows["datalyes/patembed-large"][v.THROUGHPUT] is None
    served_csv = pd.read_csv(io.BytesIO(api.leaderboard_body(api.leaderboard_query("demo"), "csv")))
    assert served_csv.set_index(v.MODEL).loc["lab/fast-cpu", v.HARDWARE] == CPU_LABEL

    value = styling.gradio_value(table, board.model_names)
    position = value["headers"].index(v.THROUGHPUT)
    shown = {row[1]: row for row in value["metadata"]["display_value"]}
    data = {row[1]: row for row in value["data"]}
    gpu_row = next(key for key in data if "big-gpu" in key)
    assert data[gpu_row][position] == pytest.approx(round(expected[v.THROUGHPUT], 2))
    assert shown[gpu_row][position] == f"{expected[v.THROUGHPUT]:.0f}"
    paper_row = next(key for key in data if "patembed-large" in key)
    assert shown[paper_row][position] == "" and data[paper_row][position] is None
    assert value["headers"].index(v.HARDWARE) >= len(styling.GRID_DATATYPES), "shown as text"
    assert "no cost record" in styling.legend_markdown()


def brute_force_front(points: list[tuple[float, float]]) -> set[int]:
    """Indexes of points that no other point dominates (at least as good on both, better on one)."""
    return {
        i for i, (x, y) in enumerate(points)
        if not any(ox >= x and oy >= y and (ox > x or oy > y) for j, (ox, oy) in enumerate(points) if j != i)
    }


@pytest.mark.parametrize("seed", range(5))
def test_pareto_front_equals_the_brute_force_set(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 12, size=120).astype(float)
    y = rng.integers(1, 12, size=120).astype(float)
    expected = brute_force_front(list(zip(x, y)))
    assert set(np.flatnonzero(figures.pareto_front(x, y))) == expected
    assert 0 < len(expected) < len(x)


def test_pareto_front_keeps_equal_points_together():
    x, y = [1.0, 1.0, 2.0, 2.0, 0.5], [5.0, 5.0, 3.0, 3.0, 1.0]
    assert figures.pareto_front(x, y).tolist() == [True, True, True, True, False]


def test_throughput_plot_marks_the_pareto_frontier_of_the_patenteb_table(costed_store):
    store, _ = costed_store
    evaluate(store, "lab/fast-cpu-copy", uniform(PATENTEB_TASKS + DEMO_TASKS, 0.40), COSTS["lab/fast-cpu"])
    snapshot, board = board_of(store)
    page = build_page(snapshot, board, "classification", Filters())
    assert {name: failure_drawn(figure) for name, figure in page.figures.items()} == dict.fromkeys(page.figures)
    figure = page.figures["efficiency"]
    assert figure.layout.title.text.startswith("PatenTEB overall")
    assert figure.layout.xaxis.type == "log"

    overall = build_table(board, "overall").frame.dropna(subset=[v.OVERALL, v.THROUGHPUT])
    points = list(zip(overall[v.THROUGHPUT], overall[v.OVERALL]))
    expected = sorted(points[i] for i in brute_force_front(points))
    [frontier] = [trace for trace in figure.data if trace.name == "Pareto frontier"]
    assert sorted(zip(map(float, frontier.x), map(float, frontier.y))) == expected
    assert list(frontier.x) == sorted(frontier.x)
    plotted = {name for trace in figure.data if trace.name != "Pareto frontier" for name in trace.text}
    assert plotted == {model.split("/")[-1] for model in overall[v.MODEL]}
    assert {trace.name for trace in figure.data} == {CPU_LABEL, GPU_LABEL, f"{CPU_LABEL} + {GPU_LABEL}",
                                                     "Pareto frontier"}
    front_names = set(frontier.text)
    assert {"fast-cpu", "fast-cpu-copy", "big-gpu"} <= front_names and "dominated" not in front_names


def test_throughput_plot_falls_back_to_demo_then_to_a_message(empty_store, seeded_store):
    costs = task_costs(DEMO_TASKS + PATENTEB_TASKS[:3], CPU, seed=9, speed=700)
    evaluate(empty_store, "lab/demo-only", uniform(DEMO_TASKS + PATENTEB_TASKS[:3], 0.5), costs)
    snapshot, board = board_of(empty_store)
    figure = build_page(snapshot, board, "demo", Filters()).figures["efficiency"]
    assert failure_drawn(figure) is None
    assert figure.layout.title.text.startswith("Demo (USPTO sample): mean")
    [points] = [trace for trace in figure.data if trace.name == CPU_LABEL]
    texts = sum(costs[task].texts_encoded for task in DEMO_TASKS)
    assert list(points.x) == pytest.approx([texts / sum(costs[task].encode_s for task in DEMO_TASKS)])

    snapshot, board = board_of(seeded_store)
    nothing = build_page(snapshot, board, "overall", Filters()).figures["efficiency"]
    assert failure_drawn(nothing) is None and "measured throughput" in nothing.layout.annotations[0].text
    assert all(table_view.key not in board.efficiency for table_view in v.VIEWS)


def test_a_failing_throughput_plot_is_drawn_as_a_message():
    figure = figures.score_vs_throughput([None], None)
    assert "could not be drawn: AttributeError" in failure_drawn(figure)

