"""The "Compare two models" view in the real app and real Chromium: opened by a share link, reached from the
table's "Compare models" box, drilled into, and refusing bad share links with a clear message.

The store is a copy of a newly seeded store: the seed holds the shipped demo runs (results/seeds/demo_runs: real
evaluations of MiniLM, WordLlama and multilingual-e5-small by this repository's evaluator) with their per-example
rows, so a fresh `make run` can compare them: no model runs here.

Expected values are recomputed in this test from the store, not by the product's statistics: each task's two
scores (the leaderboard's stored main score for retrieval and classification; scikit-learn's V-measure of the
stored cluster assignments for clustering, which is what a paired comparison can use), the difference, a numpy
paired bootstrap interval and sign-flip permutation p-value for retrieval (mean NDCG@10), Holm's adjustment of the
p-values shown, and the drill-down's examples and texts (the evaluator's own split of the shipped demo data).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import v_measure_score

from patenteb.catalogue import DEMO_TASKS
from results.store import Store
from tests.browser import chromium_page, running_app

MINILM, WORDLLAMA = "sentence-transformers/all-MiniLM-L6-v2", "wordllama/l2_supercat-256"
PAPER_MODEL = "datalyes/patembed-large"
"""A seeded model whose scores are quoted from the paper: no per-example data."""
RETRIEVAL, CLUSTERING, CLASSIFICATION = "demo_uspto_retrieval", "demo_uspto_clustering", "demo_uspto_classification"
COLUMNS = ["Task", "Family", "Examples", "A", "B", "Δ (A − B)", "95% CI of Δ", "p", "p (Holm)", "Result"]
VERDICT = re.compile(
    r"^(?P<a>\S+) against (?P<b>\S+): better on (?P<better>\d+), worse on (?P<worse>\d+), no significant difference "
    r"on (?P<same>\d+) of (?P<total>\d+) tasks \(Holm-adjusted p < 0\.05\)\.$"
)
SHOWN_ROUNDING = 0.005
"""Scores and differences are shown ×100 to two decimals."""
STORED_ROUNDING = 0.0011
"""The stored main scores (×100) are mteb's, rounded to 5–6 decimals: a difference of two adds both roundings."""
RESAMPLES = 4000
TEXT_CHARACTERS = 300
WAIT_MS = 60_000


@dataclass(frozen=True)
class Expected:
    """What the page should show, computed here from the store before the app starts."""

    scores: dict[tuple[str, str], float]
    """(model, task) -> score ×100 of what both models' examples give."""
    examples: dict[str, pd.DataFrame]
    """model -> its per-example rows."""


@pytest.fixture(scope="module")
def app(seeded_store_template, tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare-app")
    path = folder / "store.duckdb"
    shutil.copy(seeded_store_template, path)
    store = Store(path, record=None)
    assert {MINILM, WORDLLAMA} <= set(store.score_intervals()["model"])

    main = store.main_scores().query("provenance == 'evaluated'").set_index(["model", "task"])["value"]
    examples = {model: store.example_scores(model=model) for model in (MINILM, WORDLLAMA)}
    scores = {}
    for model, rows in examples.items():
        for task in (RETRIEVAL, CLASSIFICATION):
            scores[model, task] = float(main.loc[(model, task)]) * 100
        clusters = rows[rows["task"] == CLUSTERING]
        scores[model, CLUSTERING] = v_measure_score(clusters["gold"], clusters["value"]) * 100
    with running_app(path, folder / "app.log", {"PATENTEB_NO_WORKER": "1"}) as url:
        yield url, Expected(scores, examples)


# ---------------------------------------------------------------------------------------------------------------
# The page


class Console:
    """Every error the page logs or throws."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))


def text_of(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def wait_for_text(page, selector: str, text: str) -> None:
    page.wait_for_function(
        "([selector, text]) => (document.querySelector(selector) || {innerText: ''}).innerText.includes(text)",
        arg=[selector, text], timeout=WAIT_MS,
    )


GRID_JS = """
(id) => {
    const root = document.getElementById(id);
    const headers = Array.from(root.querySelectorAll('[role=columnheader] .header-content'), c => c.innerText.trim());
    const rows = Array.from(root.querySelectorAll('[role=row].virtual-row'))
        .sort((x, y) => Number(x.dataset.index) - Number(y.dataset.index))
        .map(row => Array.from(row.querySelectorAll('[role=gridcell]'), c => c.innerText.trim()));
    return [headers, rows];
}
"""


def grid(page, elem_id: str, rows: int | None = None) -> pd.DataFrame:
    """A Gradio Dataframe as rendered (the rows its virtual table has drawn), as text; waits for `rows` rows, or
    for at least one."""
    count = f"=== {rows}" if rows is not None else "> 0"
    page.wait_for_function(
        f"document.querySelectorAll('#{elem_id} [role=row].virtual-row').length {count}", timeout=WAIT_MS
    )
    headers, cells = page.evaluate(GRID_JS, elem_id)
    return pd.DataFrame(cells, columns=headers)


def choose(page, elem_id: str, value: str, typed: str | None = None) -> None:
    """Pick `value` in a Gradio dropdown the way a visitor does: open it, type part of the name, click the option."""
    box = page.locator(f"#{elem_id} input[role=combobox]")
    box.click()
    if typed:
        box.press_sequentially(typed, delay=20)
    page.locator(f'[role=option][aria-label="{value}"]').click()


def verdict_of(page) -> str:
    """The verdict's first line (the second names A and B)."""
    return text_of(page, "#lb-compare-verdict").splitlines()[0]


def no_failure_shown(page, console: Console) -> None:
    body = page.locator("body").inner_text()
    assert "Traceback" not in body
    assert page.locator('[data-testid="toast-body"]').count() == 0
    assert console.errors == []


# ---------------------------------------------------------------------------------------------------------------
# Independent statistics


def shared_values(expected: Expected, task: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Both models' rows of `task` paired by example id, and MiniLM − WordLlama per example."""
    a, b = (rows[rows["task"] == task] for rows in (expected.examples[MINILM], expected.examples[WORDLLAMA]))
    paired = a.merge(b, on=["split", "subset", "example_id"], suffixes=("_a", "_b"), validate="one_to_one")
    return paired, (paired["value_a"] - paired["value_b"]).to_numpy(dtype=float)


def mean_difference_bootstrap(differences: np.ndarray) -> tuple[float, float, float]:
    """Paired percentile bootstrap interval (×100) of a mean difference, and a two-sided sign-flip permutation p."""
    rng = np.random.default_rng(12345)
    means = differences[rng.integers(0, len(differences), (RESAMPLES, len(differences)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5]) * 100
    flipped = np.abs((rng.choice([-1.0, 1.0], (RESAMPLES, len(differences))) * differences).mean(axis=1))
    p = (np.sum(flipped >= abs(differences.mean()) - 1e-12) + 1) / (RESAMPLES + 1)
    return low, high, p


def holm(p_values: list[float]) -> list[float]:
    order = np.argsort(p_values, kind="stable")
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def interval(text: str) -> tuple[float, float]:
    low, high = re.fullmatch(r"\[(-?\d+\.\d+), (-?\d+\.\d+)\]", text).groups()
    return float(low), float(high)


def check_comparison(page, expected: Expected) -> tuple[str, pd.DataFrame]:
    """The verdict and the per-task table of MiniLM (A) against WordLlama (B), checked; both returned."""
    verdict = verdict_of(page)
    found = VERDICT.match(verdict)
    assert found, verdict
    assert (found["a"], found["b"]) == (MINILM, WORDLLAMA)
    assert f"A = {MINILM}, B = {WORDLLAMA}" in text_of(page, "#lb-compare-verdict")

    table = grid(page, "lb-compare-table", rows=len(DEMO_TASKS))
    assert list(table.columns) == COLUMNS
    assert table["Task"].tolist() == list(DEMO_TASKS)
    assert table["Family"].tolist() == ["retrieval", "clustering", "classification"]
    for row in table.itertuples(index=False):
        task = row.Task
        paired, differences = shared_values(expected, task)
        a, b = expected.scores[MINILM, task], expected.scores[WORDLLAMA, task]
        shown_a, shown_b, shown_delta = float(row.A), float(row.B), float(row[5])
        assert int(row.Examples) == len(paired), task
        assert shown_a == pytest.approx(a, abs=SHOWN_ROUNDING + STORED_ROUNDING), task
        assert shown_b == pytest.approx(b, abs=SHOWN_ROUNDING + STORED_ROUNDING), task
        assert shown_delta == pytest.approx(a - b, abs=SHOWN_ROUNDING + 2 * STORED_ROUNDING), task
        low, high = interval(row[6])
        assert low <= shown_delta + SHOWN_ROUNDING and shown_delta - SHOWN_ROUNDING <= high, task
        assert 0 < float(row.p) <= float(row[8]) <= 1, task
        if task == RETRIEVAL:
            assert shown_delta == pytest.approx(differences.mean() * 100, abs=SHOWN_ROUNDING + 1e-9)
            my_low, my_high, my_p = mean_difference_bootstrap(differences)
            assert (low, high) == pytest.approx((my_low, my_high), abs=0.6)
            assert float(row.p) == pytest.approx(my_p, abs=0.01)
            assert my_p * len(DEMO_TASKS) < 0.05  # so MiniLM is significantly better on retrieval

    shown_p, shown_holm = table["p"].astype(float).tolist(), table["p (Holm)"].astype(float).tolist()
    assert shown_holm == pytest.approx(holm(shown_p), abs=3e-4)
    delta = table["Δ (A − B)"].astype(float).to_numpy()
    significant = np.array(shown_holm) < 0.05
    assert table["Result"].tolist() == [
        "A better" if s and d > 0 else "B better" if s and d < 0 else "no significant difference"
        for s, d in zip(significant, delta)
    ]
    assert table.set_index("Task").at[RETRIEVAL, "Result"] == "A better"
    better, worse = int(np.sum(significant & (delta > 0))), int(np.sum(significant & (delta < 0)))
    assert (int(found["better"]), int(found["worse"]), int(found["same"]), int(found["total"])) == (
        better, worse, len(DEMO_TASKS) - better - worse, len(DEMO_TASKS))
    return verdict, table


# ---------------------------------------------------------------------------------------------------------------
# Tests


@pytest.mark.slow
def test_a_share_link_opens_the_comparison_and_its_drill_down(app):
    url, expected = app
    with chromium_page() as page:
        console = Console(page)
        page.goto(url + f"?compare={MINILM},{WORDLLAMA}")
        wait_for_text(page, "#lb-compare-verdict", " against ")
        assert page.locator("#lb-compare-verdict").is_visible()  # the section opened by itself
        check_comparison(page, expected)
        assert page.locator("#lb-compare-a input").input_value() == MINILM
        assert page.locator("#lb-compare-b input").input_value() == WORDLLAMA
        page.wait_for_function(
            "document.querySelector('#lb-compare-share textarea, #lb-compare-share input').value.includes('compare=')"
        )
        share = page.locator("#lb-compare-share textarea, #lb-compare-share input").first.input_value()
        assert share == url + f"?compare={MINILM},{WORDLLAMA}"

        choose(page, "lb-drill-task", CLASSIFICATION)
        wait_for_text(page, "#lb-drill-note", f"examples of {CLASSIFICATION} scored by both")
        drilled = grid(page, "lb-drill-table")
        assert list(drilled.columns) == ["Better", "Example id", "Text", "Gold", "A predicted", "B predicted"]
        first = drilled.iloc[0]
        assert first["Better"] == "A" and first["A predicted"] == first["Gold"] != first["B predicted"]

        choose(page, "lb-drill-task", RETRIEVAL)
        wait_for_text(page, "#lb-drill-note", f"examples of {RETRIEVAL} scored by both")
        check_retrieval_drill_down(page, expected)
        no_failure_shown(page, console)


def check_retrieval_drill_down(page, expected: Expected) -> None:
    """The note's counts, and the first row: the query where MiniLM beats WordLlama most, with its text and the
    document each model ranked first."""
    paired, differences = shared_values(expected, RETRIEVAL)
    note = text_of(page, "#lb-drill-note")
    assert (f"{len(paired)} examples of {RETRIEVAL} scored by both: {MINILM} (A) better on {np.sum(differences > 0)}, "
            f"{WORDLLAMA} (B) better on {np.sum(differences < 0)}, equal on {np.sum(differences == 0)}.") in note
    drilled = grid(page, "lb-drill-table")
    assert list(drilled.columns) == [
        "Better", "Query id", "Text", "A NDCG@10", "B NDCG@10", "Δ (A − B)", "A retrieved (best first)",
        "B retrieved (best first)", "A's first document", "B's first document",
    ]
    best = paired.assign(delta=differences).sort_values(["delta", "example_id"], ascending=[False, True]).iloc[0]
    first = drilled.iloc[0]
    assert first["Better"] == "A" and first["Query id"] == best["example_id"]
    assert float(first["A NDCG@10"]) == pytest.approx(best["value_a"] * 100, abs=SHOWN_ROUNDING)
    assert float(first["B NDCG@10"]) == pytest.approx(best["value_b"] * 100, abs=SHOWN_ROUNDING)
    assert float(first["Δ (A − B)"]) == pytest.approx(best["delta"] * 100, abs=SHOWN_ROUNDING)
    assert first["A retrieved (best first)"].split() == best["retrieved_a"].split()
    from evaluator.tasks.demo import demo_frames  # imports mteb (seconds): only when a test gets here
    from evaluator.tasks.retrieval import asymmetric_split

    split = asymmetric_split(demo_frames()[RETRIEVAL]["test"], "first_sentence", "rest")
    for column, shown_id in (("Text", best["example_id"]), ("A's first document", best["retrieved_a"].split()[0]),
                             ("B's first document", best["retrieved_b"].split()[0])):
        text = (split.queries if column == "Text" else split.corpus)[shown_id]
        text = text if len(text) <= TEXT_CHARACTERS else text[: TEXT_CHARACTERS - 1] + "…"
        assert " ".join(first[column].split()) == " ".join(text.split()), column


@pytest.mark.slow
def test_two_models_chosen_in_the_table_are_compared_with_the_same_verdict(app):
    url, expected = app
    with chromium_page() as page:
        console = Console(page)
        page.goto(url)
        page.wait_for_selector("#lb-table table")
        choose(page, "lb-models", MINILM, typed="MiniLM")
        choose(page, "lb-models", WORDLLAMA, typed="l2_supercat")
        page.keyboard.press("Escape")
        page.wait_for_function(
            "(models) => document.querySelector('#lb-share textarea, #lb-share input').value.includes(models)",
            arg=f"models={MINILM},{WORDLLAMA}", timeout=WAIT_MS,
        )  # the table now shows only the two
        page.locator("#lb-compare-chosen").click()
        wait_for_text(page, "#lb-compare-verdict", " against ")
        verdict, table = check_comparison(page, expected)
        assert page.locator("#lb-compare-a input").input_value() == MINILM
        assert page.locator("#lb-compare-b input").input_value() == WORDLLAMA
        no_failure_shown(page, console)

        shared = page.context.new_page()
        shared_console = Console(shared)
        shared.goto(url + f"?compare={MINILM},{WORDLLAMA}")
        wait_for_text(shared, "#lb-compare-verdict", " against ")
        assert verdict_of(shared) == verdict
        pd.testing.assert_frame_equal(grid(shared, "lb-compare-table", rows=len(DEMO_TASKS)), table)
        no_failure_shown(shared, shared_console)


@pytest.mark.slow
def test_bad_share_links_say_why_they_cannot_compare(app):
    url, _ = app
    with chromium_page() as page:
        console = Console(page)
        page.goto(url + "?compare=unknown,model")
        wait_for_text(page, "#lb-compare-verdict", "Cannot compare")
        assert page.locator("#lb-compare-verdict").is_visible()
        assert text_of(page, "#lb-compare-verdict") == (
            "Cannot compare: the share link's compare='unknown,model' does not name two known models")
        assert page.locator("#lb-compare-table [role=row].virtual-row").count() == 0
        assert page.locator("#lb-table [role=row].virtual-row").count() > 0  # the rest of the page still works
        no_failure_shown(page, console)

    with chromium_page() as page:
        console = Console(page)
        page.goto(url + f"?compare={PAPER_MODEL},{MINILM}")
        wait_for_text(page, "#lb-compare-verdict", "Cannot compare")
        assert text_of(page, "#lb-compare-verdict").startswith(
            f"Cannot compare: {PAPER_MODEL} has no per-example data: only scores evaluated by this leaderboard's worker")
        assert page.locator("#lb-compare-table [role=row].virtual-row").count() == 0
        no_failure_shown(page, console)
